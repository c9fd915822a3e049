"""From ``data.name`` (a registered dataset or a path) to the files to read and the reader to use.

A folder in a published layout is recognised without flags:

=========================================  ===============================================
folder holds                               read as
=========================================  ===============================================
``u.data``                                 MovieLens 100K (titles from ``u.item``)
``ratings.dat``                            MovieLens 1M / 10M (titles from ``movies.dat``)
``ratings.csv``                            MovieLens 20M/25M/32M/latest (``movies.csv``)
``yelp_academic_dataset_review.json``      Yelp Open Dataset reviews
``X.train.inter`` + ``X.test.inter``       RecBole pre-split atomic files
one ``X.inter``                            RecBole atomic file (titles from ``X.item``)
``train.txt`` + ``test.txt`` (``valid.txt``  pre-split LightGCN adjacency lists or
optional), or one of them                  interaction lists, told apart by content
``train.csv`` + ``test.csv`` (or .tsv,     pre-split generic files
.parquet, .jsonl; ``valid.*`` optional)
=========================================  ===============================================

A single file is read by its name and extension (``.csv``/``.tsv``: delimited, ``.parquet``,
``.jsonl``/``.json``, ``.inter``), a ``.txt`` file by its first lines (LightGCN adjacency list
or delimited interaction list, see :mod:`bcl_rec.data.sniff`), or by ``data.format``. The files
of a pre-split dataset, found in a folder or given as ``data.train_file``/``valid_file``/
``test_file``, are judged together and must agree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from bcl_rec.data.config import DEFAULT_RATIOS, DataConfig
from bcl_rec.data.errors import DataError
from bcl_rec.data.jsonlines import YELP_REVIEW_FILE
from bcl_rec.data.movielens import RATINGS_FILE, TITLES_FILE
from bcl_rec.data.registry import dataset_info, locate, registry
from bcl_rec.data.sniff import DELIMITED, LIGHTGCN, TextGuess, choose_format, guess_text_format
from bcl_rec.errors import did_you_mean

PRESPLIT_NAMES = {
    "train": ("train",),
    "valid": ("valid", "validation", "val", "dev"),
    "test": ("test",),
}
PRESPLIT_ALIASES = frozenset(a for v in PRESPLIT_NAMES.values() for a in v)
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".jsonl", ".json", ".inter", ".txt")


@dataclass(frozen=True)
class Source:
    """The resolved input of a run.

    Attributes:
        label: the registered name or the path as given, for messages.
        format: the reader (one of :data:`bcl_rec.data.config.FORMATS` except ``auto``).
        files: ``{"log": path}`` for one log, or ``{"train": ..., "test": ..., ["valid": ...]}``.
        titles: a file with item titles for display, if any.
        config: the effective data config (registry defaults filled in, ``split`` and
            ``ratios`` resolved).
    """

    label: str
    format: str
    files: dict[str, Path]
    titles: Path | None
    config: DataConfig

    @property
    def presplit(self) -> bool:
        return "train" in self.files


def resolve_source(config: DataConfig, data_dir: str | Path | None = None) -> Source:
    """Find the files and the reader for ``config`` (see the module docstring)."""
    entries = registry()
    if config.name in entries:
        info = dataset_info(config.name)
        config = config.with_defaults(info.defaults)
        folder = locate(info, data_dir)
        fmt = config.format if config.format != "auto" else info.format
        return _finish(_folder_source(folder, fmt, config, config.name))
    path = Path(config.name).expanduser()
    if not path.exists() and data_dir is not None and (Path(data_dir) / path).exists():
        path = Path(data_dir) / path
    if not path.exists():
        raise DataError(
            f"data.name {config.name!r}{did_you_mean(config.name, entries)} is neither a "
            f"registered dataset ({', '.join(sorted(entries))}) nor an existing file or folder"
        )
    if path.is_dir():
        return _finish(_folder_source(path, config.format, config, config.name))
    return _finish(_file_source(path, config.format, config, config.name))


def _finish(source: Source) -> Source:
    """Resolve ``split=auto`` and the default ratios; check the split fits the files."""
    config = source.config
    split = config.split
    if split == "auto":
        split = "presplit" if source.presplit else "leave-one-out"
    if split == "presplit" and not source.presplit:
        raise DataError(
            f"data.split=presplit, but {source.label} is a single log: give data.train_file and "
            "data.test_file (and optionally data.valid_file)"
        )
    ratios = config.ratios if config.ratios is not None else DEFAULT_RATIOS
    cores = {k: getattr(config, k) or 0 for k in ("user_core", "item_core")}
    if split == "presplit" and (cores["user_core"] > 1 or cores["item_core"] > 1):
        raise DataError("data.user_core / data.item_core (k-core) are not applied to pre-split "
                        "data: filter the files before splitting them")
    resolved = replace(config, split=split, ratios=ratios, **cores)
    return Source(source.label, source.format, source.files, source.titles, resolved)


def _explicit_parts(base: Path, config: DataConfig) -> dict[str, Path]:
    parts = {}
    for part, key in (("train", "train_file"), ("valid", "valid_file"), ("test", "test_file")):
        value = getattr(config, key)
        if value is not None:
            path = Path(value).expanduser()
            parts[part] = path if path.is_absolute() else base / path
    if parts and ("train" not in parts or "test" not in parts):
        raise DataError("pre-split data needs both data.train_file and data.test_file")
    for part, path in parts.items():
        if not path.is_file():
            raise DataError(f"data.{part}_file: file not found", path)
    return parts


def _parts_source(label: str, parts: dict[str, Path], fmt: str, config: DataConfig) -> Source:
    if fmt == "auto":
        fmt = detect_files_format(list(parts.values()), config.encoding)
    return Source(label, fmt, parts, None, config)


def _folder_source(folder: Path, fmt: str, config: DataConfig, label: str) -> Source:
    explicit = _explicit_parts(folder, config)
    if explicit:
        return _parts_source(label, explicit, fmt, config)
    if fmt in RATINGS_FILE:
        return _movielens(folder, fmt, config, label)
    if fmt == "auto":
        for candidate in RATINGS_FILE:
            if (folder / RATINGS_FILE[candidate]).is_file():
                return _movielens(folder, candidate, config, label)
    if fmt in ("auto", "yelp") and (folder / YELP_REVIEW_FILE).is_file():
        return Source(label, "yelp", {"log": folder / YELP_REVIEW_FILE}, None, config)
    if fmt in ("auto", "recbole"):
        found = _recbole_folder(folder, config, label)
        if found is not None:
            return found
    parts = _generic_parts(folder)
    if parts:
        return _parts_source(label, parts, fmt, config)
    if fmt in ("auto", "lightgcn", "delimited"):
        alone = [folder / f"{p}.txt" for p in ("train", "test") if (folder / f"{p}.txt").is_file()]
        if len(alone) == 1:
            return _file_source(alone[0], fmt, config, label)
    listing = ", ".join(sorted(p.name for p in folder.iterdir())[:20]) or "nothing"
    raise DataError(
        f"{folder} is not in a known dataset layout (it holds: {listing}). Known layouts: "
        "MovieLens (u.data, ratings.dat, ratings.csv), Yelp (yelp_academic_dataset_review.json), "
        "RecBole (*.inter), LightGCN (train.txt/test.txt), pre-split train.*/test.*. "
        "Pass the interaction file itself, or data.train_file/data.test_file"
    )


def _movielens(folder: Path, fmt: str, config: DataConfig, label: str) -> Source:
    ratings = folder / RATINGS_FILE[fmt]
    if not ratings.is_file():
        raise DataError(f"data.format={fmt} needs {RATINGS_FILE[fmt]}", folder)
    titles = folder / TITLES_FILE[fmt]
    return Source(label, fmt, {"log": ratings}, titles if titles.is_file() else None, config)


def _recbole_folder(folder: Path, config: DataConfig, label: str) -> Source | None:
    inter = sorted(folder.glob("*.inter"))
    if not inter:
        return None
    by_name = {p.name: p for p in inter}
    for path in inter:
        stem = path.name[: -len(".train.inter")] if path.name.endswith(".train.inter") else None
        if stem is None:
            continue
        parts = {"train": path}
        for part in ("valid", "test"):
            for alias in PRESPLIT_NAMES[part]:
                if f"{stem}.{alias}.inter" in by_name:
                    parts[part] = by_name[f"{stem}.{alias}.inter"]
                    break
        if "test" in parts:
            return Source(label, "recbole", parts, None, config)
    plain = [p for p in inter if p.name.count(".") == 1]
    if len(plain) != 1:
        raise DataError(
            f"{folder} holds several RecBole files ({', '.join(p.name for p in inter)}); "
            "pass one of them as data.name"
        )
    titles = plain[0].with_suffix(".item")
    return Source(label, "recbole", {"log": plain[0]}, titles if titles.is_file() else None,
                  config)


def _generic_parts(folder: Path) -> dict[str, Path]:
    parts: dict[str, Path] = {}
    for part, aliases in PRESPLIT_NAMES.items():
        for alias in aliases:
            hits = [folder / f"{alias}{s}" for s in TABLE_SUFFIXES if (folder / f"{alias}{s}")
                    .is_file()]
            if hits:
                parts[part] = hits[0]
                break
    return parts if "train" in parts and "test" in parts else {}


def _file_source(path: Path, fmt: str, config: DataConfig, label: str) -> Source:
    explicit = _explicit_parts(path.parent, config)
    if explicit:
        return _parts_source(label, explicit, fmt, config)
    fmt = detect_file_format(path, config.encoding) if fmt == "auto" else fmt
    titles = None
    if fmt in TITLES_FILE and (path.parent / TITLES_FILE[fmt]).is_file():
        titles = path.parent / TITLES_FILE[fmt]
    if fmt == "recbole" and path.with_suffix(".item").is_file():
        titles = path.with_suffix(".item")
    return Source(label, fmt, {"log": path}, titles, config)


def detect_file_format(path: Path, encoding: str = "utf-8") -> str:
    """The reader for one file: by its name and extension, a ``.txt`` file by its content."""
    return detect_files_format([path], encoding)


def detect_files_format(paths: list[Path], encoding: str = "utf-8") -> str:
    """The one reader for the files of a dataset (the parts of a pre-split one), judged
    together: a ``.txt`` part that fits both readers takes the format of the others.

    Raises :class:`DataError` when the files disagree, or when ``.txt`` files could be read
    either as LightGCN adjacency lists or as interaction lists with different results.
    """
    guesses: dict[Path, TextGuess] = {}
    for path in paths:
        named = _format_by_name(path)
        guesses[path] = (TextGuess(frozenset({named})) if named is not None
                         else guess_text_format(path, encoding))
    by_stem = all(p.stem.lower() in PRESPLIT_ALIASES for p in paths)
    return choose_format(guesses, preferred=LIGHTGCN if by_stem else DELIMITED)


def _format_by_name(path: Path) -> str | None:
    """The reader a file's name and extension imply; None for a ``.txt`` file (its content
    decides)."""
    name = path.name.lower()
    suffix = path.suffix.lower()
    if name == "u.data":
        return "movielens-100k"
    if name == "ratings.dat":
        return "movielens-dat"
    if name == "ratings.csv":
        from bcl_rec.data.delimited import read_first_line

        header = read_first_line(path).split(",")
        if header[:2] == ["userId", "movieId"]:
            return "movielens-csv"
    if suffix == ".inter":
        return "recbole"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if name == YELP_REVIEW_FILE:
        return "yelp"
    if suffix in (".json", ".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".txt":
        return None
    return DELIMITED
