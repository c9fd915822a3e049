"""Interaction logs in tables: delimited text with a column mapping, RecBole atomic files, Parquet.

Ids are read as integers when every id is one and as strings otherwise; timestamps may be
numbers (seconds) or dates (ISO 8601, or ``data.time_format``). Every value problem is reported
with the file and the line (the row, for Parquet).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bcl_rec.data.columns import ROLES, ColumnSpec, guess_columns, resolve_positions
from bcl_rec.data.delimited import read_delimited, read_first_line, split_fields
from bcl_rec.data.errors import DataError
from bcl_rec.data.rawlog import RawLog, error_at, frame_of, parse_times
from bcl_rec.data.sniff import is_weighted_list

RECBOLE_COLUMNS = ColumnSpec(user="user_id", item="item_id", rating="rating", timestamp="timestamp")


@dataclass(frozen=True)
class TableOptions:
    """How to read one delimited file.

    ``header`` None means: a header is present when the first line holds a recognised column
    name or when a column is given by name. ``id_kind`` is ``int``, ``str`` or ``auto`` (integers
    when every id is one). ``typed_header`` strips RecBole's ``:token``/``:float`` suffixes.
    ``guess`` lets recognised header names fill the roles ``columns`` leaves open.
    """

    sep: str = ","
    header: bool | None = None
    columns: ColumnSpec = field(default_factory=ColumnSpec)
    id_kind: str = "auto"
    encoding: str = "utf-8"
    time_format: str | None = None
    typed_header: bool = False
    guess: bool = True


def sniff_separator(path: Path, encoding: str = "utf-8") -> str:
    """The separator of a delimited file from its first line: tab, ``::``, comma, ``|`` or space."""
    first = read_first_line(path, encoding)
    for sep in ("\t", "::", ",", "|", ";"):
        if sep in first:
            return sep
    return " "


def read_table(path: str | Path, options: TableOptions) -> RawLog:
    """Read a delimited interaction file into a :class:`RawLog` (raw ids, file order)."""
    path = Path(path)
    first = read_first_line(path, options.encoding)
    fields = split_fields(first, options.sep)
    names = [f.split(":", 1)[0] if options.typed_header else f for f in fields]
    names = [n.strip() for n in names]
    header = options.header
    spec = options.columns
    if header is None:
        named = any(isinstance(ref, str) for ref in spec.as_dict().values())
        guessed = guess_columns(names, ColumnSpec())
        header = named or guessed.user is not None or guessed.item is not None
    if header:
        if options.guess:
            spec = guess_columns(names, spec)
        positions = resolve_positions(spec, names, len(fields), path)
    else:
        if all(ref is None for ref in spec.as_dict().values()):
            weighted = is_weighted_list(path, options.sep, options.encoding)
            spec = ColumnSpec(user=0, item=1, rating=2 if weighted else None)
        elif spec.user is None and spec.item is None:
            spec = ColumnSpec(user=0, item=1, rating=spec.rating, timestamp=spec.timestamp)
        need = 1 + max(ref for ref in spec.as_dict().values() if isinstance(ref, int))
        fields = [""] * usual_field_count(path, options.sep, options.encoding, need)
        positions = resolve_positions(spec, None, len(fields), path)
    roles = [role for role in ROLES if role in positions]
    candidates = {role: _kinds(role, options) for role in roles}
    chosen = {role: 0 for role in roles}
    while True:
        dtypes = {role: candidates[role][chosen[role]] for role in roles}
        try:
            frame = read_delimited(
                path,
                roles,
                dtypes,
                sep=options.sep,
                header=header,
                usecols=[positions[r] for r in roles],
                encoding=options.encoding,
                n_fields=len(fields),
            )
            break
        except DataError as err:
            role = err.column
            if role not in chosen or chosen[role] + 1 >= len(candidates[role]):
                raise
            chosen[role] += 1
    log = RawLog(frame=frame, path=path, first_line=2 if header else 1)
    return finish_columns(log, options.time_format)


def usual_field_count(
    path: Path, sep: str, encoding: str, need: int = 1, sample: int = 1000
) -> int:
    """Fields per line of a file without a header: the most common count among its first lines
    that reaches the ``need`` fields the column positions ask for (ties: the smaller count).

    Taking the most common count (not the first line's) means a malformed first line is
    reported as the bad line rather than every line after it.
    """
    counts: dict[int, int] = {}
    with open(path, "rb") as handle:
        for raw in itertools.islice(handle, sample):
            text = raw.decode(encoding, errors="replace").lstrip("\ufeff").rstrip("\r\n")
            if text.strip():
                n = len(split_fields(text, sep))
                counts[n] = counts.get(n, 0) + 1
    usable = {n: c for n, c in counts.items() if n >= need} or counts
    if not usable:
        return 1
    return max(usable, key=lambda n: (usable[n], -n))


def _kinds(role: str, options: TableOptions) -> list[str]:
    if role in ("user", "item"):
        return {"int": ["int64"], "str": ["str"]}.get(options.id_kind, ["int64", "str"])
    if role == "rating":
        return ["float32"]
    if options.time_format is not None:
        return ["str"]
    return ["int64", "float64", "str"]


def finish_columns(log: RawLog, time_format: str | None) -> RawLog:
    """Give ``rating`` and ``timestamp`` their final types (float32, int64 seconds)."""
    frame = log.frame
    columns = {"user": frame["user"], "item": frame["item"]}
    if "rating" in frame.columns:
        rating = frame["rating"]
        if not pd.api.types.is_numeric_dtype(rating.dtype):
            numbers = pd.to_numeric(rating, errors="coerce")
            bad = numbers.isna().to_numpy()
            if bad.any():
                row = int(np.argmax(bad))
                raise log.error_at(
                    row, f"rating {rating.iloc[row]!r} is not a number", column="rating"
                )
            rating = numbers
        columns["rating"] = rating.to_numpy(dtype=np.float32)
    if "timestamp" in frame.columns:
        stamps = frame["timestamp"]
        if stamps.dtype == np.int64:
            columns["timestamp"] = stamps.to_numpy()
        else:
            columns["timestamp"] = parse_times(
                stamps,
                time_format,
                lambda row, message: log.error_at(row, message, column="timestamp"),
            )
    return RawLog(
        frame=frame_of(columns), path=log.path, first_line=log.first_line, lines=log.lines,
        unit=log.unit,
    )


def read_recbole(path: str | Path, columns: ColumnSpec | None = None, encoding: str = "utf-8"
                 ) -> RawLog:
    """Read a RecBole atomic ``.inter`` file (tab-separated, typed header ``name:type``).

    Ids are tokens (strings, as RecBole treats them); the rating and timestamp columns are used
    when present under RecBole's default names or the names given in ``columns``.
    """
    path = Path(path)
    first = read_first_line(path, encoding)
    names = [f.split(":", 1)[0].strip() for f in first.split("\t")]
    types = {f.split(":", 1)[0].strip(): f.split(":", 1)[1] if ":" in f else "" for f in
             first.split("\t")}
    if not all(types.values()):
        raise DataError(
            "not a RecBole atomic file: the header must give every column a type "
            "(e.g. 'user_id:token')",
            path,
            1,
            first,
        )
    given = (columns or ColumnSpec()).as_dict()
    for role in ROLES:
        default = RECBOLE_COLUMNS.get(role)
        if given[role] is None and default in names:
            given[role] = default
    options = TableOptions(
        sep="\t", header=True, columns=ColumnSpec(**given), id_kind="str", encoding=encoding,
        typed_header=True,
    )
    return read_table(path, options)


def read_parquet(path: str | Path, columns: ColumnSpec, time_format: str | None = None) -> RawLog:
    """Read interactions from a Parquet file (needs ``pyarrow``); errors name the row."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path)
    if path.stat().st_size == 0:
        raise DataError("file is empty", path)
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError("reading Parquet needs pyarrow (pip install pyarrow)", path) from None
    try:
        names = list(pq.read_schema(path).names)
    except Exception as err:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise DataError(f"not a readable Parquet file ({err})", path) from None
    spec = guess_columns(names, columns)
    positions = resolve_positions(spec, names, len(names), path)
    wanted = {role: names[pos] for role, pos in positions.items()}
    try:
        table = pd.read_parquet(path, columns=list(wanted.values()))
    except Exception as err:  # noqa: BLE001
        raise DataError(f"not a readable Parquet file ({err})", path) from None
    if len(table) == 0:
        raise DataError("no rows", path)
    for role, name in wanted.items():
        missing = table[name].isna().to_numpy()
        if missing.any():
            raise error_at(
                path, int(np.argmax(missing)) + 1, f"{role} column {name!r} is empty (null)",
                column=role, unit="row",
            )
    frame = frame_of({role: table[name] for role, name in wanted.items()})
    return finish_columns(RawLog(frame=frame, path=path, first_line=1, unit="row"), time_format)


def read_recbole_titles(path: str | Path, encoding: str = "utf-8") -> pd.Series | None:
    """Item titles from a RecBole ``.item`` file (a ``*title*`` or ``*name*`` column), or None."""
    path = Path(path)
    header = read_first_line(path, encoding)
    names = [f.split(":", 1)[0].strip() for f in header.split("\t")]
    title = next((k for k, n in enumerate(names) if "title" in n.lower()), None)
    if title is None:
        title = next((k for k, n in enumerate(names) if "name" in n.lower()), None)
    if title is None or title == 0:
        return None
    frame = read_delimited(
        path, ("item", "title"), {"item": "str", "title": "text"}, sep="\t", header=True,
        usecols=(0, title), encoding=encoding,
    )
    return pd.Series(frame["title"].to_numpy(dtype=object), index=frame["item"].to_numpy())
