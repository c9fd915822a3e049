"""MovieLens 100K reader (GroupLens ``ml-100k`` folder layout)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bcl_rec.data.delimited import read_delimited
from bcl_rec.data.errors import DataError
from bcl_rec.data.interactions import Interactions

ML100K_COLUMNS = ("user", "item", "rating", "timestamp")
ML100K_DTYPES = {"user": "int64", "item": "int64", "rating": "float32", "timestamp": "int64"}


def read_ml100k(folder: str | Path, min_rating: float | None = None) -> Interactions:
    """Read MovieLens 100K: every row of ``u.data`` is one interaction, titles from ``u.item``.

    Args:
        folder: the ``ml-100k`` folder as GroupLens distributes it.
        min_rating: keep only ratings ``>= min_rating`` (None keeps every rating).
    """
    folder = Path(folder)
    raw = read_delimited(folder / "u.data", ML100K_COLUMNS, ML100K_DTYPES, sep="\t")
    raw = filter_min_rating(raw, min_rating, folder / "u.data")
    titles = read_ml100k_titles(folder / "u.item") if (folder / "u.item").is_file() else None
    return Interactions.from_raw(raw, source=folder, titles=titles)


def filter_min_rating(raw: pd.DataFrame, min_rating: float | None, path: Path) -> pd.DataFrame:
    """Keep rows with ``rating >= min_rating``; an error if nothing is left."""
    if min_rating is None:
        return raw
    kept = raw[raw["rating"].to_numpy() >= min_rating].reset_index(drop=True)
    if len(kept) == 0:
        raise DataError(f"no interaction has rating >= {min_rating} (data.min_rating)", path)
    return kept


def read_ml100k_titles(path: str | Path) -> dict[int, str]:
    """Map movie id to title from ``u.item`` (pipe-separated, latin-1)."""
    frame = read_delimited(
        path,
        ("item", "title"),
        {"item": "int64", "title": "str"},
        sep="|",
        usecols=(0, 1),
        encoding="latin-1",
    )
    return dict(zip(frame["item"].to_numpy(dtype=np.int64).tolist(), frame["title"], strict=True))
