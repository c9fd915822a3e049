"""What a reader returns: the rows of one file with raw ids, and the way back to line numbers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bcl_rec.data.errors import DataError


@dataclass(frozen=True)
class RawLog:
    """Rows of one interaction file, in file order.

    Attributes:
        frame: columns ``user`` and ``item`` (raw ids as in the file: int64 or str) and, when the
            file has them, ``rating`` (float32) and ``timestamp`` (int64 seconds).
        path: the file, for messages.
        first_line: the line number of row 0 when rows and lines correspond one to one.
        lines: the line number of every row, when they do not (one line holds many rows).
        unit: what a position in the file is called in messages (``line`` or ``row``).
    """

    frame: pd.DataFrame
    path: Path
    first_line: int = 1
    lines: np.ndarray | None = None
    unit: str = "line"

    def line_of(self, row: int) -> int:
        """The 1-based line (or row) number of ``row``."""
        if self.lines is not None:
            return int(self.lines[row])
        return int(row) + self.first_line

    def error_at(
        self, row: int, message: str, text: str | None = None, column: str | None = None
    ) -> DataError:
        """A :class:`DataError` pointing at ``row``'s line (or row, for Parquet)."""
        return error_at(self.path, self.line_of(row), message, text, column, self.unit)

    def __len__(self) -> int:
        return len(self.frame)


def error_at(
    path: Path,
    number: int,
    message: str,
    text: str | None = None,
    column: str | None = None,
    unit: str = "line",
) -> DataError:
    """A :class:`DataError` at line ``number`` of ``path`` (or at a row, for columnar files)."""
    if unit == "line":
        return DataError(message, path, number, text, column=column)
    return DataError(f"{unit} {number}: {message}", path, None, text, column=column)


def frame_of(columns: dict[str, np.ndarray | pd.Series]) -> pd.DataFrame:
    """A DataFrame over the given arrays without copying them."""
    return pd.DataFrame(columns, copy=False)


def parse_times(
    values: pd.Series, time_format: str | None, error_at: Callable[[int, str], DataError]
) -> np.ndarray:
    """Timestamps as int64 seconds from numbers, datetimes, or date text (ISO 8601 or a format).

    Text columns are numbers (seconds) when their first value is one, dates otherwise. A value
    that cannot be read is an error built by ``error_at(row, message)``.
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = pd.Series(values)
    elif pd.api.types.is_numeric_dtype(values.dtype) and time_format is None:
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(numbers)
        if bad.any():
            row = int(np.argmax(bad))
            raise error_at(row, _time_message(values.iloc[row]))
        return np.floor(numbers).astype(np.int64)
    else:
        text = values.astype(str)
        if time_format is None:
            # A column is numbers or dates, decided by its first value; a value of the other
            # kind is the error, so it is reported on its own line.
            numeric = pd.to_numeric(text, errors="coerce")
            if numeric.notna().iloc[0]:
                return parse_times(numeric, None, error_at)
        parsed = pd.to_datetime(text, format=time_format or "ISO8601", errors="coerce", utc=True)
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise error_at(row, _time_message(values.iloc[row]))
    if parsed.dt.tz is None:
        parsed = parsed.dt.tz_localize("UTC")
    # The epoch in the column's own unit: a date outside nanoseconds' range (year 1000) stays exact.
    epoch = pd.Timestamp(0, tz="UTC").as_unit(parsed.dt.unit)
    seconds = (parsed - epoch) // pd.Timedelta(seconds=1)
    return seconds.to_numpy(dtype=np.int64)


def _time_message(value: object) -> str:
    return f"timestamp {value!r} is neither a number nor a date"
