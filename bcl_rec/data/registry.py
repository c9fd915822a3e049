"""The dataset registry (``bcl_rec/datasets/*.yaml``) and where a dataset's files are found on disk.

Lookup order for a registered name: ``--data-dir`` (the dataset folder itself, or a folder that
contains it), then ``$BCL_REC_DATA/<folder>``, then the per-user cache
(``$BCL_REC_CACHE`` or ``$XDG_CACHE_HOME/bcl-rec`` or ``~/.cache/bcl-rec``), then a verified
download into that cache.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path

import yaml

from bcl_rec.data.errors import DataError, DatasetNotFoundError


@dataclass(frozen=True)
class DatasetInfo:
    """One registry entry.

    ``url`` is an archive (zip) that unpacks to ``folder``; ``urls`` instead lists plain files to
    fetch into ``folder`` one by one. ``md5``/``sha256`` check the archive, ``files`` gives the
    SHA-256 of members (checked after download, and used to find the folder on disk).
    ``checksum_note`` says where the checksums come from, or why one is missing.
    """

    name: str
    folder: str
    format: str
    url: str | None = None
    urls: dict[str, str] = field(default_factory=dict)
    md5: str | None = None
    sha256: str | None = None
    files: dict[str, str | None] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    title: str = ""
    homepage: str = ""
    license: str = ""
    checksum_note: str = ""
    defaults: dict = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        """Whether a download of this dataset can be checked against a known checksum."""
        if self.url is not None:
            return bool(self.md5 or self.sha256 or any(self.files.values()))
        return bool(self.urls) and all(self.files.get(name) for name in self.urls)


def parse_entry(raw: dict, origin: str) -> DatasetInfo:
    """A :class:`DatasetInfo` from one YAML mapping, with errors naming the file and key."""
    if not isinstance(raw, dict):
        raise DataError("a registry entry must be a mapping", origin)
    valid = {f.name for f in fields(DatasetInfo)}
    bad = sorted(set(raw) - valid)
    if bad:
        raise DataError(f"unknown registry key {bad[0]!r}; valid: {', '.join(sorted(valid))}",
                        origin)
    try:
        info = DatasetInfo(**raw)
    except TypeError as err:
        raise DataError(f"bad registry entry: {err}", origin) from None
    from bcl_rec.data.config import DataConfig

    try:
        DataConfig().with_defaults(info.defaults)
    except ValueError as err:
        raise DataError(f"bad defaults: {err}", origin) from None
    return info


def registry() -> dict[str, DatasetInfo]:
    """All registered datasets by name."""
    out = {}
    for entry in resources.files("bcl_rec.datasets").iterdir():
        if entry.name.endswith(".yaml"):
            info = parse_entry(yaml.safe_load(entry.read_text()), entry.name)
            out[info.name] = info
    return out


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry for ``name``, or a KeyError listing the valid names."""
    entries = registry()
    if name not in entries:
        raise KeyError(f"unknown dataset {name!r}; registered: {', '.join(sorted(entries))}")
    return entries[name]


def cache_dir() -> Path:
    """The per-user cache (downloads and prepared splits)."""
    if os.environ.get("BCL_REC_CACHE"):
        return Path(os.environ["BCL_REC_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bcl-rec"


def candidate_folders(info: DatasetInfo, data_dir: str | Path | None = None) -> list[Path]:
    """Where :func:`locate` looks for ``info``'s folder, in order."""
    candidates: list[Path] = []
    if data_dir is not None:
        data_dir = Path(data_dir)
        candidates += [data_dir, data_dir / info.folder]
    if os.environ.get("BCL_REC_DATA"):
        candidates.append(Path(os.environ["BCL_REC_DATA"]) / info.folder)
    candidates.append(cache_dir() / info.folder)
    return candidates


def locate(
    info: DatasetInfo,
    data_dir: str | Path | None = None,
    download: bool = True,
    allow_unverified: bool = False,
) -> Path:
    """The folder holding ``info``'s files; downloads into the cache when found nowhere."""
    candidates = candidate_folders(info, data_dir)
    required = list(info.files)
    for folder in candidates:
        if folder.is_dir() and all((folder / f).is_file() for f in required):
            return folder
    if not download or (info.url is None and not info.urls):
        raise DatasetNotFoundError(_where_message(info, candidates))
    from bcl_rec.data.download import download_dataset

    try:
        return download_dataset(info, cache_dir(), allow_unverified=allow_unverified)
    except OSError as err:
        raise DatasetNotFoundError(
            f"{_where_message(info, candidates)}\nDownload from "
            f"{info.url or ', '.join(info.urls.values())} failed: {err}"
        ) from None


def _where_message(info: DatasetInfo, looked: list[Path]) -> str:
    files = ", ".join(info.files) or "its files"
    places = "\n  ".join(str(p) for p in looked)
    return (
        f"dataset {info.name!r} not found. Looked in:\n  {places}\n"
        f"Put the folder {info.folder!r} (with {files}) under one of these, pass --data-dir, "
        f"or set BCL_REC_DATA to the folder that contains it. Official source: {info.homepage}"
    )
