"""Fast delimited-file parsing with exact, line-numbered errors on bad input.

The fast path lets pandas' C parser read typed columns. Only when it fails (or leaves empty,
missing or non-finite values) is the file re-read line by line to find the first offending line,
so good files pay nothing for the diagnostics. The two paths accept the same lines: every line
has exactly the expected number of fields, numbers parse, and no used field is empty.
"""

from __future__ import annotations

import csv
import itertools
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bcl_rec.data.errors import DataError

#: Rows parsed per chunk on the fast path: bounds the parser's working memory.
CHUNK_ROWS = 2_000_000

_PANDAS_ERRORS = (
    ValueError,
    OverflowError,
    UnicodeDecodeError,
    pd.errors.ParserError,
    pd.errors.ParserWarning,
)


def read_delimited(
    path: str | Path,
    columns: Sequence[str],
    dtypes: dict[str, str],
    sep: str = "\t",
    header: bool = False,
    usecols: Sequence[int] | None = None,
    encoding: str = "utf-8",
    n_fields: int | None = None,
) -> pd.DataFrame:
    """Read a delimited file into typed columns, or raise :class:`DataError` naming the line.

    Args:
        path: the file.
        columns: names given to the kept fields (in file order, or in ``usecols`` order).
        dtypes: per column name ``"int64"``, ``"float32"``, ``"float64"``, ``"str"`` (a
            non-empty string) or ``"text"`` (any string, empty included: titles).
        sep: field separator (one character, or a fixed string like ``"::"``).
        header: whether the first line is a header to skip.
        usecols: 0-based positions of the kept fields; all fields when None.
        encoding: text encoding of the file.
        n_fields: the exact number of fields every line must have. Defaults to ``len(columns)``
            when ``usecols`` is None; with ``usecols`` and no ``n_fields``, lines only need enough
            fields to reach the last kept one (for display files such as ``u.item``).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path)
    if path.stat().st_size == 0:
        raise DataError("file is empty", path)
    positions = list(usecols) if usecols is not None else list(range(len(columns)))
    if len(positions) != len(columns):
        raise ValueError("usecols and columns must have the same length")
    if n_fields is None and usecols is None:
        n_fields = len(columns)
    layout = _Layout(path, list(columns), dtypes, sep, header, positions, encoding, n_fields)
    frame, first_bad_row = layout.fast_read()
    if frame is not None and first_bad_row is None:
        if len(frame) == 0:
            raise DataError("file has a header but no data lines", path)
        return frame
    if first_bad_row is not None:
        layout.raise_first_bad_line(start_line=first_bad_row + 1 + int(header))
    layout.raise_first_bad_line(start_line=1)
    if len(sep) > 1:
        # Every line is well-formed, but a field holds part of the separator (``a:b::...``),
        # which the fast path's single-character split cannot handle: use the exact parser.
        return layout.exact_read()
    raise DataError("could not parse the file, although every line looks well-formed", path)


class _Layout:
    """One file's expected shape, with the fast reader and the line-by-line diagnosis."""

    def __init__(
        self,
        path: Path,
        columns: list[str],
        dtypes: dict[str, str],
        sep: str,
        header: bool,
        positions: list[int],
        encoding: str,
        n_fields: int | None,
    ) -> None:
        self.path = path
        self.columns = columns
        self.kinds = {c: dtypes.get(c, "str") for c in columns}
        self.sep = sep
        self.header = header
        self.positions = positions
        self.encoding = encoding
        self.n_fields = n_fields

    # -- fast path -------------------------------------------------------------------------

    def fast_read(self) -> tuple[pd.DataFrame | None, int | None]:
        """(frame, None) on success; (None, row) when the rows before ``row`` are known to be
        good and the problem is at or after it; (None, None) when nothing is known."""
        doubled = len(self.sep) == 2 and self.sep[0] == self.sep[1]
        if len(self.sep) > 1 and not (doubled and self.n_fields is not None):
            return self._read(engine="python")
        if doubled:
            return self._read_doubled()
        return self._read(engine="c")

    def _pandas_kwargs(self) -> dict:
        return {
            "header": 0 if self.header else None,
            "encoding": self.encoding,
            "index_col": False,
            "keep_default_na": False,
            "na_values": [""],
            "skip_blank_lines": False,
            "quoting": csv.QUOTE_MINIMAL if self.sep == "," else csv.QUOTE_NONE,
        }

    def _dtype(self, kind: str):
        return str if kind in ("str", "text") else kind

    def _read(self, engine: str) -> tuple[pd.DataFrame | None, int | None]:
        kwargs = self._pandas_kwargs()
        if self.n_fields is None:
            names, usecols = self.columns, self.positions
            dtype = {c: self._dtype(self.kinds[c]) for c in self.columns}
        else:
            by_position = dict(zip(self.positions, self.columns, strict=True))
            names = [by_position.get(k, f"_field{k}") for k in range(self.n_fields)]
            usecols = None
            dtype = {n: self._dtype(self.kinds.get(n, "str")) for n in names}
        sep = self.sep if engine == "c" else _regex_escape(self.sep)
        return self._collect(
            lambda: pd.read_csv(
                self.path, sep=sep, names=names, usecols=usecols, dtype=dtype, engine=engine,
                chunksize=CHUNK_ROWS, **kwargs,
            ),
            gaps=[],
        )

    def _collect(
        self, open_reader: Callable[[], pd.io.parsers.TextFileReader], gaps: list[str]
    ) -> tuple[pd.DataFrame | None, int | None]:
        """Read chunk by chunk into preallocated columns; stop at the first doubtful chunk.

        Returns (frame, None) on success, (None, row) when rows before ``row`` are known good
        and the problem is at or after it, (None, None) when nothing is known.
        """
        columns = _ColumnBuffers(self.columns, self.kinds, _count_lines(self.path))
        done = 0
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                with open_reader() as reader:
                    for chunk in reader:
                        bad = self._first_bad_row(chunk)
                        for gap in gaps:
                            filled = chunk[gap].notna().to_numpy()
                            if filled.any():
                                row = int(np.argmax(filled))
                                bad = row if bad is None else min(bad, row)
                        if bad is not None:
                            return None, done + bad
                        columns.add(chunk)
                        done += len(chunk)
        except _PANDAS_ERRORS:
            return None, done
        return columns.frame(), None

    def _read_doubled(self) -> tuple[pd.DataFrame | None, int | None]:
        """``a::b::c`` read as ``a:(empty):b:(empty):c`` by the C parser; the gaps must be empty."""
        assert self.n_fields is not None
        kwargs = self._pandas_kwargs()
        kwargs["quoting"] = csv.QUOTE_NONE
        by_position = dict(zip(self.positions, self.columns, strict=True))
        names, dtype, gaps = [], {}, []
        for k in range(self.n_fields):
            name = by_position.get(k, f"_field{k}")
            names.append(name)
            dtype[name] = self._dtype(self.kinds.get(name, "str"))
            if k < self.n_fields - 1:
                gaps.append(f"_gap{k}")
                names.append(gaps[-1])
                dtype[gaps[-1]] = "float64"
        return self._collect(
            lambda: pd.read_csv(
                self.path, sep=self.sep[0], names=names, dtype=dtype, engine="c",
                chunksize=CHUNK_ROWS, **kwargs,
            ),
            gaps=gaps,
        )

    def _first_bad_row(self, frame: pd.DataFrame) -> int | None:
        """First row with a missing value or a non-finite number (None when all are fine)."""
        bad = np.zeros(len(frame), dtype=bool)
        for name in self.columns:
            column = frame[name]
            if self.kinds[name] == "text":
                continue
            bad |= column.isna().to_numpy()
            if self.kinds[name].startswith("float"):
                bad |= ~np.isfinite(column.to_numpy())
        return int(np.argmax(bad)) if bad.any() else None

    def exact_read(self) -> pd.DataFrame:
        frame, first_bad_row = self._read(engine="python")
        if frame is None:
            raise DataError("could not parse the file", self.path)
        return frame

    # -- slow path -------------------------------------------------------------------------

    def raise_first_bad_line(self, start_line: int = 1) -> None:
        """Scan the file from ``start_line`` and raise on the first bad line (slow path only)."""
        need = max(self.positions) + 1
        split = _splitter(self.sep)
        data_lines = 0
        lineno = start_line - 1
        with open(self.path, "rb") as handle:
            for raw in itertools.islice(handle, start_line - 1, None):
                lineno += 1
                try:
                    text = raw.decode(self.encoding)
                except UnicodeDecodeError as err:
                    raise DataError(
                        f"not valid {self.encoding} text ({err.reason})",
                        self.path,
                        lineno,
                        raw.decode(self.encoding, errors="replace").rstrip("\r\n"),
                    ) from None
                if lineno == 1:
                    text = text.lstrip("\ufeff")
                if self.header and lineno == 1:
                    continue
                data_lines += 1
                self._check_line(text.rstrip("\r\n"), lineno, split, need)
        if self.header and start_line <= 2 and data_lines == 0:
            raise DataError("file has a header but no data lines", self.path)

    def _check_line(
        self, text: str, lineno: int, split: Callable[[str], list[str]], need: int
    ) -> None:
        if text.strip() == "":
            raise DataError("empty line", self.path, lineno, text)
        try:
            fields = split(text)
        except csv.Error as err:
            raise DataError(f"unbalanced quotes ({err})", self.path, lineno, text) from None
        if self.n_fields is not None and len(fields) != self.n_fields:
            raise DataError(
                f"expected {self.n_fields} fields, found {len(fields)}", self.path, lineno, text
            )
        if len(fields) < need:
            raise DataError(
                f"expected at least {need} fields, found {len(fields)}", self.path, lineno, text
            )
        for name, pos in zip(self.columns, self.positions, strict=True):
            kind = self.kinds[name]
            if not parses(fields[pos], kind):
                what = "an empty field" if kind == "str" else f"not a valid {kind}"
                raise DataError(
                    f"field {pos + 1} ({name}) is {what}: {fields[pos]!r}",
                    self.path,
                    lineno,
                    text,
                    column=name,
                )


class _ColumnBuffers:
    """Columns filled chunk by chunk: numbers into arrays sized from the line count (so the
    parse never holds two copies of a column), text as a list of chunks joined at the end."""

    def __init__(self, columns: list[str], kinds: dict[str, str], capacity: int) -> None:
        self.columns = columns
        self.kinds = kinds
        self.size = 0
        self.arrays: dict[str, np.ndarray] = {}
        self.pieces: dict[str, list[pd.Series]] = {}
        for name in columns:
            if kinds[name] in ("str", "text"):
                self.pieces[name] = []
            else:
                self.arrays[name] = np.empty(capacity, dtype=kinds[name])

    def add(self, chunk: pd.DataFrame) -> None:
        end = self.size + len(chunk)
        for name, array in self.arrays.items():
            if end > len(array):
                grown = np.empty(max(end, 2 * len(array)), dtype=array.dtype)
                grown[: self.size] = array[: self.size]
                self.arrays[name] = array = grown
            array[self.size:end] = chunk[name].to_numpy(dtype=array.dtype)
        for name, pieces in self.pieces.items():
            column = chunk[name]
            pieces.append(column.fillna("") if self.kinds[name] == "text" else column)
        self.size = end

    def frame(self) -> pd.DataFrame:
        out: dict[str, object] = {}
        for name in self.columns:
            if name in self.arrays:
                array = self.arrays[name]
                # a view unless most of the buffer is unused (then a right-sized copy)
                view = array[: self.size]
                out[name] = view if 2 * self.size >= len(array) else view.copy()
            else:
                pieces = self.pieces[name]
                out[name] = (pd.concat(pieces, ignore_index=True) if pieces else pd.Series(
                    [], dtype=str)).reset_index(drop=True)
        return pd.DataFrame(out, copy=False)


def _count_lines(path: Path) -> int:
    """Number of line breaks in a file (+1), read in blocks: an upper bound on its rows."""
    count = 1
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 24), b""):
            count += block.count(b"\n")
    return count


def _regex_escape(sep: str) -> str:
    import re

    return re.escape(sep)


def _splitter(sep: str) -> Callable[[str], list[str]]:
    if sep == ",":
        return lambda text: next(csv.reader([text], strict=True))
    return lambda text: text.split(sep)


def parses(value: str, kind: str) -> bool:
    """Whether ``value`` is a valid field of ``kind`` (the rule both parsing paths apply)."""
    if kind == "text":
        return True
    if kind == "str":
        return value != ""
    value = value.strip()
    if value == "" or "_" in value:
        return False
    try:
        if kind.startswith("int"):
            try:
                number = int(value)
            except ValueError:
                as_float = float(value)
                if not (np.isfinite(as_float) and as_float.is_integer()):
                    return False
                number = int(as_float)
            info = np.iinfo(np.dtype(kind))
            return info.min <= number <= info.max
        return bool(np.isfinite(float(value)))
    except (ValueError, OverflowError):
        return False


def read_first_line(path: str | Path, encoding: str = "utf-8") -> str:
    """The first line of a text file (without its line break or a byte-order mark)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path)
    with open(path, "rb") as handle:
        raw = handle.readline()
    if raw == b"":
        raise DataError("file is empty", path)
    try:
        return raw.decode(encoding).lstrip("\ufeff").rstrip("\r\n")
    except UnicodeDecodeError as err:
        raise DataError(f"not valid {encoding} text ({err.reason})", path, 1) from None


def split_fields(text: str, sep: str) -> list[str]:
    """Fields of one line, with CSV quoting when ``sep`` is a comma."""
    try:
        return _splitter(sep)(text)
    except csv.Error:
        return text.split(sep)
