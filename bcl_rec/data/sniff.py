"""Which reader a ``.txt`` interaction file needs, judged from its first lines.

Two published layouts share the ``train.txt``/``test.txt`` names. A LightGCN adjacency line is
``user item item ...``: space-separated digit ids, a variable number per line. An interaction
list has one ``user item [weight]`` per line: SELFRec's ``user item 1``, tab-separated weights,
CSV with a header. On the first :data:`SAMPLE_LINES` lines:

* a separator other than a space on most lines, a header (a first line without a digit-only
  field), or text other than digits on most lines (string ids, decimal weights): interaction list;
* lines with different numbers of fields: adjacency list;
* exactly two fields on every line: both readers give the same pairs;
* the same number (three or more) of fields on every line: an interaction list when the third
  field is the same on every line (a constant weight such as ``1`` is never an item every user
  interacted with), otherwise ambiguous: an error naming both formats, never a silent choice.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bcl_rec.data.errors import DataError

#: Lines looked at to judge a file.
SAMPLE_LINES = 4000

LIGHTGCN = "lightgcn"
DELIMITED = "delimited"
_DIGITS_AND_SPACES = frozenset("0123456789 ")
_SEPARATORS = ("\t", "::", ",", "|", ";")
_FIELD_BREAK = re.compile(r"[\s,;|:]+")


@dataclass(frozen=True)
class TextGuess:
    """What the sampled lines of one file allow.

    Attributes:
        fits: the readers the lines are consistent with (``lightgcn``, ``delimited`` or both).
        doubt: when both fit but would read different pairs, why (for the error); else ``""``.
    """

    fits: frozenset[str]
    doubt: str = ""


def guess_text_format(path: Path, encoding: str = "utf-8") -> TextGuess:
    """Judge one text file from its first lines (see the module docstring).

    A few malformed lines do not sway the verdict: the separator is the one most lines hold,
    and lines with text other than digits and spaces are left out of the count when they are
    a minority, so the reader chosen names them as errors.
    """
    try:
        lines = [line.decode(encoding) for line in _sample(path)]
    except UnicodeDecodeError as err:
        raise DataError(f"not valid {encoding} text ({err.reason})", path) from None
    if not lines:
        raise DataError("file is empty", path)
    lines[0] = lines[0].lstrip("\ufeff")
    held = {sep: sum(sep in line for line in lines) for sep in _SEPARATORS}
    sep = max(held, key=held.__getitem__)
    if 2 * held[sep] > len(lines):
        return TextGuess(frozenset({DELIMITED}))
    if not any(token.isdigit() for token in _FIELD_BREAK.split(lines[0])):
        return TextGuess(frozenset({DELIMITED}))  # a header line
    plain = [line.split() for line in lines if _DIGITS_AND_SPACES.issuperset(line)]
    if 2 * len(plain) <= len(lines):
        return TextGuess(frozenset({DELIMITED}))  # text ids or decimal weights
    counts = {len(f) for f in plain}
    if len(counts) > 1 or counts == {1}:
        return TextGuess(frozenset({LIGHTGCN}))
    both = frozenset({LIGHTGCN, DELIMITED})
    (count,) = counts
    if count == 2:
        return TextGuess(both)
    if len({f[2] for f in plain}) == 1 and len(plain) >= 2:
        return TextGuess(frozenset({DELIMITED}))
    doubt = (f"its only line has {count} space-separated ids" if len(plain) == 1 else
             f"each of its first {len(plain)} lines has {count} space-separated ids and the "
             "third varies")
    return TextGuess(both, doubt=doubt)


def choose_format(guesses: Mapping[Path, TextGuess], preferred: str) -> str:
    """The one reader for all ``guesses`` (the files of one dataset), or a :class:`DataError`.

    ``preferred`` breaks a tie only where both readers give the same pairs.
    """
    fits = frozenset.intersection(*[g.fits for g in guesses.values()])
    if not fits:
        shown = ", ".join(f"{p.name}: {' or '.join(sorted(g.fits))}" for p, g in guesses.items())
        raise DataError(f"the files have different formats ({shown}); set data.format")
    if len(fits) == 1:
        return next(iter(fits))
    doubtful = [(p, g) for p, g in guesses.items() if g.doubt]
    if doubtful:
        path, guess = doubtful[0]
        raise DataError(
            f"cannot tell the format: {guess.doubt}, so it is either a LightGCN adjacency list "
            "(user item item ...) or an interaction list (user item weight). Set "
            "data.format: lightgcn or data.format: delimited",
            path,
        )
    return preferred


def _sample(path: Path) -> list[bytes]:
    """The first non-blank lines of ``path``, without line breaks."""
    with open(path, "rb") as handle:
        lines = [line.rstrip(b"\r\n") for line in itertools.islice(handle, SAMPLE_LINES)]
    return [line for line in lines if line.strip()]


def is_weighted_list(path: Path, sep: str, encoding: str = "utf-8") -> bool:
    """Whether every sampled line of a file without a header is three numbers separated by
    ``sep``: ``user item weight`` (SELFRec's ``user item 1``, tab-separated weights)."""
    for line in _sample(path):
        text = line.decode(encoding, errors="replace").lstrip("\ufeff").strip()
        fields = text.split(sep) if sep != " " else text.split()
        if len(fields) != 3:
            return False
        try:
            [float(f) for f in fields]
        except ValueError:
            return False
    return True
