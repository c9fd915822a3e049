"""From a data config to a :class:`Split`: find the files, read them, split them."""

from __future__ import annotations

from pathlib import Path

from bcl_rec.data.errors import DataError
from bcl_rec.data.interactions import Interactions
from bcl_rec.data.movielens import read_ml100k
from bcl_rec.data.registry import dataset_info, locate, registry
from bcl_rec.data.split import Split, leave_one_out

READERS = {"movielens-100k": read_ml100k}


def read_dataset(
    name: str, data_dir: str | Path | None = None, min_rating: float | None = None
) -> Interactions:
    """Read a registered dataset (by name) or a dataset folder (by path)."""
    if name in registry():
        info = dataset_info(name)
        folder = locate(info, data_dir)
        return READERS[info.format](folder, min_rating=min_rating)
    path = Path(name)
    if path.is_dir() and (path / "u.data").is_file():
        return read_ml100k(path, min_rating=min_rating)
    raise DataError(
        f"data.name {name!r} is neither a registered dataset ({', '.join(sorted(registry()))}) "
        "nor a folder in a known layout"
    )


def load_split(
    name: str,
    data_dir: str | Path | None = None,
    min_rating: float | None = None,
    split: str = "leave-one-out",
    seed: int = 0,
) -> Split:
    """Read and split a dataset as a run config asks."""
    log = read_dataset(name, data_dir, min_rating)
    if split == "leave-one-out":
        return leave_one_out(log, seed=seed)
    raise DataError(f"unknown data.split {split!r}")
