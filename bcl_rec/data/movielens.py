"""MovieLens readers for every GroupLens release layout, plus movie titles for display.

* 100K: ``u.data`` (``user \\t item \\t rating \\t timestamp``), titles in ``u.item`` (latin-1).
* 1M, 10M: ``ratings.dat`` (``user::item::rating::timestamp``), titles in ``movies.dat``
  (latin-1 in 1M, UTF-8 in 10M; both are accepted).
* 20M, 25M, 32M, ml-latest, ml-latest-small: ``ratings.csv`` with the header
  ``userId,movieId,rating,timestamp``, titles in ``movies.csv`` (UTF-8, quoted titles).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bcl_rec.data.columns import ColumnSpec
from bcl_rec.data.delimited import read_delimited
from bcl_rec.data.errors import DataError
from bcl_rec.data.filters import filter_min_rating
from bcl_rec.data.interactions import Interactions
from bcl_rec.data.rawlog import RawLog, frame_of
from bcl_rec.data.tabular import TableOptions, read_table

ML100K_COLUMNS = ("user", "item", "rating", "timestamp")
ML100K_DTYPES = {"user": "int64", "item": "int64", "rating": "float32", "timestamp": "int64"}

#: Ratings file and titles file of each MovieLens format, by registry/config format name.
RATINGS_FILE = {"movielens-100k": "u.data", "movielens-dat": "ratings.dat",
                "movielens-csv": "ratings.csv"}
TITLES_FILE = {"movielens-100k": "u.item", "movielens-dat": "movies.dat",
               "movielens-csv": "movies.csv"}


def read_movielens_ratings(path: str | Path, fmt: str) -> RawLog:
    """Read a MovieLens ratings file of format ``fmt`` (see :data:`RATINGS_FILE`)."""
    path = Path(path)
    if fmt == "movielens-csv":
        options = TableOptions(
            sep=",",
            header=True,
            columns=ColumnSpec(user="userId", item="movieId", rating="rating",
                               timestamp="timestamp"),
            id_kind="int",
            guess=False,
        )
        return read_table(path, options)
    sep = {"movielens-100k": "\t", "movielens-dat": "::"}[fmt]
    frame = read_delimited(path, ML100K_COLUMNS, ML100K_DTYPES, sep=sep)
    return RawLog(frame=frame_of({c: frame[c].to_numpy() for c in ML100K_COLUMNS}), path=path)


def read_movielens_titles(path: str | Path) -> pd.Series:
    """Movie titles by raw movie id from ``u.item``, ``movies.dat`` or ``movies.csv``."""
    path = Path(path)
    if path.name == "movies.csv":
        frame = read_delimited(
            path, ("item", "title"), {"item": "int64", "title": "text"}, sep=",", header=True,
            usecols=(0, 1),
        )
    elif path.name == "movies.dat":
        try:
            frame = _read_dat_titles(path, "utf-8")
        except DataError:
            frame = _read_dat_titles(path, "latin-1")
    else:
        frame = read_delimited(
            path, ("item", "title"), {"item": "int64", "title": "text"}, sep="|", usecols=(0, 1),
            encoding="latin-1",
        )
    return pd.Series(
        frame["title"].to_numpy(dtype=object), index=frame["item"].to_numpy(dtype=np.int64)
    )


def _read_dat_titles(path: Path, encoding: str) -> pd.DataFrame:
    return read_delimited(
        path, ("item", "title"), {"item": "int64", "title": "text"}, sep="::", usecols=(0, 1),
        encoding=encoding,
    )


def read_ml100k(folder: str | Path, min_rating: float | None = None) -> Interactions:
    """Read MovieLens 100K: every row of ``u.data`` is one interaction, titles from ``u.item``.

    Args:
        folder: the ``ml-100k`` folder as GroupLens distributes it.
        min_rating: keep only ratings ``>= min_rating`` (None keeps every rating).
    """
    folder = Path(folder)
    raw = read_movielens_ratings(folder / "u.data", "movielens-100k").frame
    raw = filter_min_rating(raw, min_rating, folder / "u.data")
    titles = read_movielens_titles(folder / "u.item") if (folder / "u.item").is_file() else None
    return Interactions.from_raw(raw, source=folder, titles=titles)
