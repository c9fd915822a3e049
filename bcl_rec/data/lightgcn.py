"""LightGCN adjacency files (yelp2018, gowalla, amazon-book): ``user item item ...`` per line.

Each line lists one user id followed by the ids of the items that user interacted with, separated
by spaces. The file is parsed as bytes with numpy (no Python loop over interactions): digit runs
are tokens, the first token of a line is its user. Anything but digits, spaces and line
breaks is an error naming the line, as is an empty line (a final line break is fine) or an id
longer than 18 digits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bcl_rec.data.errors import DataError
from bcl_rec.data.rawlog import RawLog, frame_of

_MAX_DIGITS = 18
_POW10 = 10 ** np.arange(_MAX_DIGITS + 1, dtype=np.int64)


def read_lightgcn(path: str | Path) -> RawLog:
    """Read a LightGCN ``train.txt``/``test.txt`` into one row per (user, item) pair."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path)
    data = np.fromfile(path, dtype=np.uint8)
    if len(data) == 0:
        raise DataError("file is empty", path)
    newline = data == 10
    digit = (data >= 48) & (data <= 57)
    blank = (data == 32) | (data == 13)
    bad = ~(digit | newline | blank)
    if bad.any():
        pos = int(np.argmax(bad))
        raise _error_at(data, pos, f"unexpected character {chr(data[pos])!r}", path)
    # token boundaries
    prev_digit = np.concatenate(([False], digit[:-1]))
    next_digit = np.concatenate((digit[1:], [False]))
    starts = np.flatnonzero(digit & ~prev_digit)
    ends = np.flatnonzero(digit & ~next_digit)  # inclusive
    lengths = ends - starts + 1
    if len(starts) and lengths.max() > _MAX_DIGITS:
        pos = int(starts[np.argmax(lengths > _MAX_DIGITS)])
        raise _error_at(data, pos, f"id longer than {_MAX_DIGITS} digits", path)
    # lines: line k spans between newline k-1 and newline k
    line_of_byte = np.cumsum(newline) - newline  # 0-based line of each byte
    n_lines = int(newline.sum()) + (0 if newline[-1] else 1)
    token_line = line_of_byte[starts]
    per_line = np.bincount(token_line, minlength=n_lines)
    empty = np.flatnonzero(per_line == 0)
    if len(empty):
        line = int(empty[0])
        raise DataError("empty line (expected a user id and its item ids)", path, line + 1,
                        _line_text(data, newline, line))
    values = _token_values(data, starts, ends, lengths)
    first_of_line = np.concatenate(([True], token_line[1:] != token_line[:-1]))
    users_per_line = values[first_of_line]
    is_item = ~first_of_line
    item_line = token_line[is_item]
    frame = frame_of({"user": users_per_line[item_line], "item": values[is_item]})
    if len(frame) == 0:
        raise DataError("no interactions: every line holds only a user id", path)
    return RawLog(frame=frame, path=path, lines=(item_line + 1).astype(np.int64))


def _token_values(data: np.ndarray, starts: np.ndarray, ends: np.ndarray, lengths: np.ndarray
                  ) -> np.ndarray:
    """Integer value of each digit run, exactly (int64 place values summed per token)."""
    digit_pos = np.flatnonzero((data >= 48) & (data <= 57))
    digits = data[digit_pos].astype(np.int64) - 48
    token_of_digit = np.repeat(np.arange(len(starts)), lengths)
    place = ends[token_of_digit] - digit_pos
    weighted = digits * _POW10[place]
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    return np.add.reduceat(weighted, offsets) if len(starts) else weighted


def _line_text(data: np.ndarray, newline: np.ndarray, line: int) -> str:
    breaks = np.flatnonzero(newline)
    start = 0 if line == 0 else int(breaks[line - 1]) + 1
    end = int(breaks[line]) if line < len(breaks) else len(data)
    return bytes(data[start:end]).decode("utf-8", errors="replace").rstrip("\r")


def _error_at(data: np.ndarray, pos: int, message: str, path: Path) -> DataError:
    newline = data == 10
    line = int(newline[:pos].sum())
    return DataError(message, path, line + 1, _line_text(data, newline, line))
