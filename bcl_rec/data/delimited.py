"""Fast delimited-file parsing with exact, line-numbered errors on bad input.

The fast path lets pandas' C parser read typed columns. Only when it fails (or leaves missing
values) is the file re-read as text to find the first offending line, so good files pay nothing
for the diagnostics.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bcl_rec.data.errors import DataError


def read_delimited(
    path: str | Path,
    columns: Sequence[str],
    dtypes: dict[str, str],
    sep: str = "\t",
    header: bool = False,
    usecols: Sequence[int] | None = None,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read a delimited file into typed columns, or raise :class:`DataError` naming the line.

    Args:
        path: the file.
        columns: names given to the fields (in file order, or in ``usecols`` order).
        dtypes: numpy dtype per column name (``"int64"``, ``"float32"``, ``"str"``).
        sep: field separator (a single character, or a regular expression like ``"::"``).
        header: whether the first line is a header to skip.
        usecols: positions of the fields to keep; all fields when None.
        encoding: text encoding of the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path)
    if path.stat().st_size == 0:
        raise DataError("file is empty", path)
    engine = "c" if len(sep) == 1 else "python"
    try:
        frame = pd.read_csv(
            path,
            sep=sep,
            header=0 if header else None,
            names=list(columns),
            usecols=list(usecols) if usecols is not None else None,
            dtype={c: dtypes[c] for c in columns if dtypes.get(c) != "str"},
            encoding=encoding,
            engine=engine,
            quoting=csv.QUOTE_MINIMAL if sep == "," else csv.QUOTE_NONE,
            skip_blank_lines=False,
        )
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError):
        frame = None
    if frame is not None and len(frame) > 0 and not frame.isna().to_numpy().any():
        return frame
    _raise_first_bad_line(path, columns, dtypes, sep, header, usecols, encoding)
    raise DataError("no interactions in file", path)  # pragma: no cover - only an empty body


def _raise_first_bad_line(
    path: Path,
    columns: Sequence[str],
    dtypes: dict[str, str],
    sep: str,
    header: bool,
    usecols: Sequence[int] | None,
    encoding: str,
) -> None:
    """Scan the file line by line (slow path, only on failure) and raise on the first bad line."""
    positions = list(usecols) if usecols is not None else list(range(len(columns)))
    need = max(positions) + 1
    splitter = _splitter(sep)
    with open(path, encoding=encoding, errors="strict", newline="") as handle:
        lineno = 0
        while True:
            lineno += 1
            try:
                raw = handle.readline()
            except UnicodeDecodeError as err:
                raise DataError(f"not valid {encoding} text ({err.reason})", path, lineno) from None
            if raw == "":
                break
            if header and lineno == 1:
                continue
            text = raw.rstrip("\r\n")
            if text.strip() == "":
                raise DataError("empty line", path, lineno, text)
            fields = splitter(text)
            if len(fields) < need or (usecols is None and len(fields) != len(columns)):
                want = len(columns) if usecols is None else f"at least {need}"
                raise DataError(f"expected {want} fields, found {len(fields)}", path, lineno, text)
            for name, pos in zip(columns, positions, strict=True):
                kind = dtypes.get(name, "str")
                if kind != "str" and not _parses(fields[pos], kind):
                    raise DataError(
                        f"field {pos + 1} ({name}) is not a valid {kind}: {fields[pos]!r}",
                        path,
                        lineno,
                        text,
                    )
    if header and lineno <= 2:
        raise DataError("file has a header but no data lines", path)


def _splitter(sep: str):
    if len(sep) == 1 and sep != ",":
        return lambda text: text.split(sep)
    if sep == ",":
        return lambda text: next(csv.reader([text]))
    return lambda text: text.split(sep)


def _parses(value: str, kind: str) -> bool:
    value = value.strip()
    if value == "":
        return False
    try:
        if kind.startswith("int"):
            number = int(value)
            info = np.iinfo(np.dtype(kind))
            return info.min <= number <= info.max
        number = float(value)
        return bool(np.isfinite(number))
    except ValueError:
        return False
