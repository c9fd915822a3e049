"""JSON-lines interaction logs, streamed in chunks: the Yelp Open Dataset review file and others.

The Yelp review file has ~7M lines of ~700 bytes (mostly review text), so it is never held as one
Python list: lines are read in chunks of about ``chunk_bytes``, each chunk is parsed by pandas'
C JSON reader, only the four needed fields are kept (ids as per-chunk codes, merged at the end),
and a chunk that fails is re-read line by line to name the first bad line.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from bcl_rec.data.columns import ROLES, ColumnSpec, guess_columns
from bcl_rec.data.errors import DataError
from bcl_rec.data.rawlog import RawLog, frame_of, parse_times

YELP_REVIEW_FILE = "yelp_academic_dataset_review.json"
YELP_COLUMNS = ColumnSpec(user="user_id", item="business_id", rating="stars", timestamp="date")


def read_jsonl(
    path: str | Path,
    columns: ColumnSpec = YELP_COLUMNS,
    time_format: str | None = None,
    encoding: str = "utf-8",
    chunk_bytes: int = 16 << 20,
) -> RawLog:
    """Read a JSON-lines file (one object per line) into a :class:`RawLog`.

    ``columns`` names the keys; keys it leaves open are recognised from the first object
    (``user_id``, ``business_id``, ``stars``, ``date``...).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path)
    if path.stat().st_size == 0:
        raise DataError("file is empty", path)
    keys = _resolve_keys(path, columns, encoding)
    users, items = _ChunkedCodes(), _ChunkedCodes()
    ratings: list[np.ndarray] = []
    stamps: list[pd.Series] = []
    line0 = 1
    with open(path, "rb") as handle:
        while True:
            lines = handle.readlines(chunk_bytes)
            if not lines:
                break
            chunk = _parse_chunk(lines, line0, keys, path, encoding)
            try:
                users.add(chunk[keys["user"]])
                items.add(chunk[keys["item"]])
                if "rating" in keys:
                    ratings.append(_numbers(chunk[keys["rating"]], keys["rating"], line0, path))
                if "timestamp" in keys:
                    stamps.append(
                        _chunk_times(chunk[keys["timestamp"]], time_format, line0, path)
                    )
            except (TypeError, ValueError) as err:
                if isinstance(err, DataError):
                    raise
                _raise_first_bad_line(lines, line0, keys, path, encoding)
                raise
            line0 += len(lines)
    user_codes, user_ids = users.finish()
    item_codes, item_ids = items.finish()
    columns_out = {"user": user_ids[user_codes], "item": item_ids[item_codes]}
    if ratings:
        columns_out["rating"] = np.concatenate(ratings)
    if stamps:
        columns_out["timestamp"] = np.concatenate(stamps)
    return RawLog(frame=frame_of(columns_out), path=path)


def _resolve_keys(path: Path, columns: ColumnSpec, encoding: str) -> dict[str, str]:
    """Role -> JSON key, checked against the first object's keys."""
    with open(path, "rb") as handle:
        first = handle.readline()
    try:
        obj = json.loads(first.decode(encoding))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"not valid JSON ({err})", path, 1, _text(first, encoding)) from None
    if not isinstance(obj, dict):
        raise DataError("expected a JSON object on every line", path, 1, _text(first, encoding))
    names = list(obj)
    spec = guess_columns(names, columns) if columns == ColumnSpec() else columns
    keys = {}
    for role in ROLES:
        ref = spec.get(role)
        if ref is None:
            continue
        if not isinstance(ref, str):
            raise DataError(f"JSON fields are named, not numbered: got {ref!r} for the {role}",
                            path)
        if ref not in obj:
            if role in ("user", "item") or columns.get(role) is not None:
                raise DataError(
                    f"unknown key {ref!r} for the {role}; line 1 has keys: {', '.join(names)}",
                    path,
                    1,
                )
            continue
        keys[role] = ref
    for role in ("user", "item"):
        if role not in keys:
            raise DataError(f"no {role} key; line 1 has keys: {', '.join(names)}", path, 1)
    return keys


def _parse_chunk(
    lines: list[bytes], line0: int, keys: dict[str, str], path: Path, encoding: str
) -> pd.DataFrame:
    """Parse a chunk of lines with pandas; on any problem find the exact line and raise."""
    try:
        text = b"".join(lines).decode(encoding)
        frame = pd.read_json(io.StringIO(text), lines=True, dtype=False)
    except (ValueError, TypeError, UnicodeDecodeError):
        frame = None
    if frame is not None and len(frame) == len(lines):
        missing = [k for k in keys.values() if k not in frame.columns]
        bad = np.zeros(len(frame), dtype=bool)
        for key in keys.values():
            if key in frame.columns:
                column = frame[key]
                bad |= column.isna().to_numpy()
                if not pd.api.types.is_numeric_dtype(column.dtype):
                    bad |= (column.to_numpy() == "").astype(bool)
        if not missing and not bad.any():
            return frame
        start = int(np.argmax(bad)) if bad.any() else 0
        _raise_first_bad_line(lines[start:], line0 + start, keys, path, encoding)
    _raise_first_bad_line(lines, line0, keys, path, encoding)
    raise DataError(  # pragma: no cover - the line scan always finds the culprit
        f"could not parse lines {line0}-{line0 + len(lines) - 1}", path
    )


def _raise_first_bad_line(
    lines: list[bytes], line0: int, keys: dict[str, str], path: Path, encoding: str
) -> None:
    for offset, raw in enumerate(lines):
        lineno = line0 + offset
        text = _text(raw, encoding)
        try:
            decoded = raw.decode(encoding)
        except UnicodeDecodeError as err:
            raise DataError(f"not valid {encoding} text ({err.reason})", path, lineno,
                            text) from None
        if decoded.strip() == "":
            raise DataError("empty line", path, lineno, text)
        try:
            obj = json.loads(decoded)
        except json.JSONDecodeError as err:
            raise DataError(f"not valid JSON ({err.msg})", path, lineno, text) from None
        if not isinstance(obj, dict):
            raise DataError("expected a JSON object", path, lineno, text)
        for role, key in keys.items():
            value = obj.get(key)
            if value is None or value == "" or isinstance(value, (list, dict)):
                what = "missing" if key not in obj else f"not a usable value ({value!r})"
                raise DataError(f"key {key!r} ({role}) is {what}", path, lineno, text,
                                column=role)


def _numbers(values: pd.Series, key: str, line0: int, path: Path) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(numbers)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"key {key!r} (rating) is not a number: {values.iloc[row]!r}", path,
                        line0 + row, column="rating")
    return numbers.astype(np.float32)


def _chunk_times(values: pd.Series, time_format: str | None, line0: int, path: Path
                 ) -> np.ndarray:
    return parse_times(
        values.reset_index(drop=True),
        time_format,
        lambda row, message: DataError(message, path, line0 + row, column="timestamp"),
    )


def _text(raw: bytes, encoding: str) -> str:
    return raw.decode(encoding, errors="replace").rstrip("\r\n")


class _ChunkedCodes:
    """Ids seen chunk by chunk -> codes in order of first appearance, merged once at the end.

    Each chunk is factorised on its own (its uniques are small); at the end the per-chunk
    uniques are factorised together, mapping every chunk code to a global code in one step.
    """

    def __init__(self) -> None:
        self.codes: list[np.ndarray] = []
        self.uniques: list[np.ndarray] = []

    def add(self, values: pd.Series) -> None:
        values = values.to_numpy()
        codes, uniques = pd.factorize(values, sort=False)
        self.codes.append(codes.astype(np.int64, copy=False))
        self.uniques.append(np.asarray(uniques))

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        all_uniques = np.concatenate(self.uniques)
        global_codes, ids = pd.factorize(all_uniques, sort=False)
        offsets = np.cumsum([0] + [len(u) for u in self.uniques])
        merged = [global_codes[offsets[k] + c] for k, c in enumerate(self.codes)]
        return np.concatenate(merged), np.asarray(ids)
