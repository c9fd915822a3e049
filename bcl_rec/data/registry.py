"""The dataset registry (``datasets/*.yaml``) and where a dataset's files are found on disk.

Lookup order for a registered name: ``--data-dir`` (the dataset folder itself, or a folder that
contains it), then ``$BCL_REC_DATA/<folder>``, then the per-user cache
(``$BCL_REC_CACHE`` or ``$XDG_CACHE_HOME/bcl-rec`` or ``~/.cache/bcl-rec``), then a verified
download into that cache.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from bcl_rec.data.errors import DatasetNotFoundError


@dataclass(frozen=True)
class DatasetInfo:
    """One registry entry."""

    name: str
    url: str | None
    folder: str
    format: str
    md5: str | None = None
    sha256: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    title: str = ""
    homepage: str = ""
    license: str = ""
    defaults: dict = field(default_factory=dict)


def registry() -> dict[str, DatasetInfo]:
    """All registered datasets by name."""
    out = {}
    for entry in resources.files("bcl_rec.datasets").iterdir():
        if entry.name.endswith(".yaml"):
            raw = yaml.safe_load(entry.read_text())
            info = DatasetInfo(**raw)
            out[info.name] = info
    return out


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry for ``name``, or a KeyError listing the valid names."""
    entries = registry()
    if name not in entries:
        raise KeyError(f"unknown dataset {name!r}; registered: {', '.join(sorted(entries))}")
    return entries[name]


def cache_dir() -> Path:
    """The per-user download cache."""
    if os.environ.get("BCL_REC_CACHE"):
        return Path(os.environ["BCL_REC_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bcl-rec"


def locate(
    info: DatasetInfo, data_dir: str | Path | None = None, download: bool = True
) -> Path:
    """The folder holding ``info``'s files; downloads into the cache when found nowhere."""
    candidates: list[Path] = []
    if data_dir is not None:
        data_dir = Path(data_dir)
        candidates += [data_dir, data_dir / info.folder]
    if os.environ.get("BCL_REC_DATA"):
        candidates.append(Path(os.environ["BCL_REC_DATA"]) / info.folder)
    cached = cache_dir() / info.folder
    candidates.append(cached)
    required = list(info.files) or []
    for folder in candidates:
        if folder.is_dir() and all((folder / f).is_file() for f in required):
            return folder
    if not download or info.url is None:
        raise DatasetNotFoundError(_where_message(info, candidates))
    from bcl_rec.data.download import download_dataset

    try:
        return download_dataset(info, cache_dir())
    except OSError as err:
        raise DatasetNotFoundError(
            f"{_where_message(info, candidates)}\nDownload from {info.url} failed: {err}"
        ) from None


def _where_message(info: DatasetInfo, looked: list[Path]) -> str:
    files = ", ".join(info.files) or "its files"
    places = "\n  ".join(str(p) for p in looked)
    return (
        f"dataset {info.name!r} not found. Looked in:\n  {places}\n"
        f"Put the folder {info.folder!r} (with {files}) under one of these, pass --data-dir, "
        f"or set BCL_REC_DATA to the folder that contains it. Official source: {info.homepage}"
    )
