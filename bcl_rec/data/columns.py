"""Which field of a file is the user, the item, the rating and the timestamp.

Columns are given by header name, JSON key or 0-based position (``data.user_col`` and friends,
``--user-col`` on the command line). When a file has a header and no column is given, common
names are recognised (``user_id``, ``userId``, ``movieId``, ``business_id``, ``rating``,
``stars``, ``timestamp``, ``date``...); anything else is an error that lists the file's columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bcl_rec.data.errors import DataError

ROLES = ("user", "item", "rating", "timestamp")
CONFIG_KEYS = {
    "user": "user_col", "item": "item_col", "rating": "rating_col", "timestamp": "time_col"
}

COMMON_NAMES: dict[str, tuple[str, ...]] = {
    "user": ("user", "user_id", "userid", "uid", "user_id:token", "visitorid", "customer_id",
             "reviewerid", "u"),
    "item": ("item", "item_id", "itemid", "iid", "movieid", "movie_id", "business_id",
             "product_id", "productid", "asin", "track_id", "song_id", "artist_id", "book_id",
             "isbn", "poi_id", "venue_id", "i"),
    "rating": ("rating", "ratings", "stars", "score", "rating_value", "r"),
    "timestamp": ("timestamp", "time", "ts", "date", "datetime", "unix_timestamp", "unixtime",
                  "unixreviewtime", "created_at", "t"),
}

ColumnRef = str | int | None


@dataclass(frozen=True)
class ColumnSpec:
    """Where each role is: a header name or JSON key (str), a field position (int), or absent."""

    user: ColumnRef = None
    item: ColumnRef = None
    rating: ColumnRef = None
    timestamp: ColumnRef = None

    def get(self, role: str) -> ColumnRef:
        return getattr(self, role)

    def as_dict(self) -> dict[str, ColumnRef]:
        return {role: self.get(role) for role in ROLES}


def spec_from_config(values: Mapping[str, ColumnRef]) -> ColumnSpec:
    """A spec from ``{"user_col": ..., ...}`` style values (missing keys are absent)."""
    return ColumnSpec(**{role: values.get(key) for role, key in CONFIG_KEYS.items()})


def guess_columns(names: Sequence[str], given: ColumnSpec) -> ColumnSpec:
    """Fill the roles ``given`` leaves open with recognised names from ``names``."""
    lowered = {name.lower(): name for name in names}
    out = given.as_dict()
    taken = {v for v in out.values() if v is not None}
    for role in ROLES:
        if out[role] is not None:
            continue
        for candidate in COMMON_NAMES[role]:
            found = lowered.get(candidate)
            if found is not None and found not in taken:
                out[role] = found
                taken.add(found)
                break
    return ColumnSpec(**out)


def resolve_positions(
    spec: ColumnSpec, names: Sequence[str] | None, n_fields: int, path: Path, what: str = "columns"
) -> dict[str, int]:
    """Map each present role to a 0-based field position, or raise a clear :class:`DataError`.

    ``names`` is the header (None for a file without one); ``n_fields`` the fields per line.
    """
    out: dict[str, int] = {}
    for role in ROLES:
        ref = spec.get(role)
        if ref is None:
            continue
        key = f"data.{CONFIG_KEYS[role]}"
        if isinstance(ref, int):
            if ref >= n_fields:
                raise DataError(
                    f"{key}={ref} is past the last field (lines have {n_fields} fields, "
                    "positions start at 0)",
                    path,
                )
            out[role] = ref
            continue
        if names is None:
            raise DataError(
                f"{key}={ref!r} names a column, but the file has no header; give a 0-based "
                "position instead, or set data.header=true",
                path,
            )
        if ref not in names:
            lowered = [n.lower() for n in names]
            if ref.lower() in lowered and lowered.count(ref.lower()) == 1:
                out[role] = lowered.index(ref.lower())
                continue
            raise DataError(
                f"unknown column {ref!r} ({key}); the file's {what} are: {', '.join(names)}", path
            )
        out[role] = list(names).index(ref)
    for role in ("user", "item"):
        if role not in out:
            listed = f"; the file's {what} are: {', '.join(names)}" if names else ""
            raise DataError(
                f"no {role} column: set data.{CONFIG_KEYS[role]} "
                f"(--{CONFIG_KEYS[role].replace('_', '-')}){listed}",
                path,
            )
    taken: dict[int, str] = {}
    for role, pos in out.items():
        if pos in taken:
            raise DataError(f"the {taken[pos]} and {role} columns are the same field", path)
        taken[pos] = role
    return out
