"""Read one file of a :class:`~bcl_rec.data.source.Source` with the reader its format names."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bcl_rec.data.columns import ColumnSpec, spec_from_config
from bcl_rec.data.config import DataConfig
from bcl_rec.data.errors import DataError
from bcl_rec.data.jsonlines import YELP_COLUMNS, read_jsonl
from bcl_rec.data.lightgcn import read_lightgcn
from bcl_rec.data.movielens import read_movielens_ratings, read_movielens_titles
from bcl_rec.data.rawlog import RawLog
from bcl_rec.data.tabular import (
    TableOptions,
    read_parquet,
    read_recbole,
    read_recbole_titles,
    read_table,
    sniff_separator,
)

#: Formats whose columns are fixed by the publisher (``data.user_col`` etc. do not apply).
FIXED_COLUMNS = ("movielens-100k", "movielens-dat", "movielens-csv", "lightgcn")


def read_file(path: Path, fmt: str, config: DataConfig) -> RawLog:
    """Read one interaction file of format ``fmt`` with the column and parsing options of
    ``config``."""
    spec = spec_from_config(config.__dict__)
    if fmt in FIXED_COLUMNS:
        given = [k for k, v in spec.as_dict().items() if v is not None]
        if given:
            raise DataError(
                f"the {given[0]} column cannot be chosen for format {fmt} (its columns are "
                "fixed); use data.format=delimited to read the file with a column mapping",
                path,
            )
        if fmt == "lightgcn":
            return read_lightgcn(path)
        return read_movielens_ratings(path, fmt)
    if fmt == "yelp":
        merged = {**YELP_COLUMNS.as_dict(),
                  **{k: v for k, v in spec.as_dict().items() if v is not None}}
        return read_jsonl(path, ColumnSpec(**merged), config.time_format, config.encoding)
    if fmt == "jsonl":
        return read_jsonl(path, spec, config.time_format, config.encoding)
    if fmt == "recbole":
        return read_recbole(path, spec, config.encoding)
    if fmt == "parquet":
        return read_parquet(path, spec, config.time_format)
    if fmt == "delimited":
        sep = config.sep or _separator_for(path, config.encoding)
        options = TableOptions(
            sep=sep, header=config.header, columns=spec, encoding=config.encoding,
            time_format=config.time_format,
        )
        return read_table(path, options)
    raise DataError(f"unknown data.format {fmt!r}")


def _separator_for(path: Path, encoding: str) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return ","
    if suffix == ".tsv":
        return "\t"
    return sniff_separator(path, encoding)


def read_titles(path: Path | None, fmt: str) -> pd.Series | None:
    """Item titles by raw item id for display, or None (a broken titles file is an error)."""
    if path is None:
        return None
    if fmt == "recbole":
        return read_recbole_titles(path)
    return read_movielens_titles(path)
