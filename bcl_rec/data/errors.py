"""Errors raised on bad input data: always name the file, the line and what was wrong."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """A data file is missing, malformed or unusable.

    The message names the file and, where one is at fault, the 1-based line number and the
    offending text, so a user can open the file and fix it. ``column`` names the field whose value
    could not be read, when the problem is a value rather than the shape of the line.
    """

    def __init__(
        self,
        message: str,
        path: str | Path | None = None,
        line: int | None = None,
        text: str | None = None,
        column: str | None = None,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.line = line
        self.text = text
        self.column = column
        self.reason = message
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f", line {line}"
            where += ": "
        shown = ""
        if text is not None:
            snippet = text if len(text) <= 200 else text[:200] + "..."
            shown = f" (got {snippet!r})"
        super().__init__(f"{where}{message}{shown}")

    def __reduce__(self):  # keep the fields when pickled (multiprocessing, pytest-xdist)
        return (type(self), (self.reason, self.path, self.line, self.text, self.column))


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is neither on disk nor downloadable; the message says where to put it."""
