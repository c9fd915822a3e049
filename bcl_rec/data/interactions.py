"""The interaction table every reader produces: dense ids, kept id maps, optional titles."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from bcl_rec.data.errors import DataError


@dataclass(frozen=True)
class Interactions:
    """An implicit-feedback log with dense user and item indices.

    Attributes:
        frame: one row per interaction, in file order, with int64 columns ``user`` and ``item``
            (dense indices into ``user_ids`` / ``item_ids``) and, when the source has them,
            ``rating`` (float32) and ``timestamp`` (int64).
        user_ids: raw id of each dense user index.
        item_ids: raw id of each dense item index.
        item_titles: display title of each dense item index, when the source has titles.
        source: where the log came from (a path or a dataset name), for messages.
        meta: free-form notes from the readers and filters (e.g. rows removed by each filter).
    """

    frame: pd.DataFrame
    user_ids: np.ndarray
    item_ids: np.ndarray
    item_titles: np.ndarray | None = None
    source: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def has_timestamp(self) -> bool:
        return "timestamp" in self.frame.columns

    @property
    def has_rating(self) -> bool:
        return "rating" in self.frame.columns

    def __len__(self) -> int:
        return len(self.frame)

    @classmethod
    def from_raw(
        cls,
        raw: pd.DataFrame,
        source: str | Path = "",
        titles: dict | pd.Series | None = None,
    ) -> Interactions:
        """Build from a frame with raw ``user`` and ``item`` ids (plus optional rating/timestamp).

        Dense ids are assigned in order of first appearance, so they are stable for a given file.
        ``titles`` maps raw item ids to display titles (items without one get ``""``).
        """
        if len(raw) == 0:
            raise DataError("no interactions left (file empty or everything filtered out)", source)
        users, user_ids = pd.factorize(raw["user"], sort=False)
        items, item_ids = pd.factorize(raw["item"], sort=False)
        columns = {"user": users.astype(np.int64, copy=False),
                   "item": items.astype(np.int64, copy=False)}
        if "rating" in raw.columns:
            columns["rating"] = raw["rating"].to_numpy(dtype=np.float32)
        if "timestamp" in raw.columns:
            columns["timestamp"] = raw["timestamp"].to_numpy(dtype=np.int64)
        item_ids = plain_ids(item_ids)
        return cls(
            frame=pd.DataFrame(columns, copy=False),
            user_ids=plain_ids(user_ids),
            item_ids=item_ids,
            item_titles=None if titles is None else align_titles(item_ids, titles),
            source=str(source),
        )

    def take(self, rows: np.ndarray, note: dict | None = None) -> Interactions:
        """The log restricted to ``rows`` (a boolean mask or sorted positions), ids compacted.

        Users and items left without interactions are dropped; the others keep their relative
        order, so when nothing is dropped the dense ids are unchanged.
        """
        rows = np.asarray(rows)
        if rows.dtype == bool:
            if rows.all():
                return self if note is None else replace(self, meta={**self.meta, **note})
            rows = np.flatnonzero(rows)
        if len(rows) == 0:
            raise DataError(
                "no interactions left after filtering (data.min_rating, data.user_core, "
                "data.item_core)",
                self.source,
            )
        old = self.frame
        users, user_keep = _compact(old["user"].to_numpy()[rows], self.n_users)
        items, item_keep = _compact(old["item"].to_numpy()[rows], self.n_items)
        columns = {"user": users, "item": items}
        for name in old.columns:
            if name not in columns:
                columns[name] = old[name].to_numpy()[rows]
        return Interactions(
            frame=pd.DataFrame(columns, copy=False),
            user_ids=self.user_ids[user_keep],
            item_ids=self.item_ids[item_keep],
            item_titles=None if self.item_titles is None else self.item_titles[item_keep],
            source=self.source,
            meta={**self.meta, **(note or {})},
        )


def _compact(codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Renumber ``codes`` to 0..k-1 keeping their order; also return the kept old codes."""
    present = np.bincount(codes, minlength=n) > 0
    if present.all():
        return codes, np.arange(n)
    new_code = np.cumsum(present) - 1
    return new_code[codes], np.flatnonzero(present)


def plain_ids(ids) -> np.ndarray:
    """Raw ids as a numpy array: int64 for integer ids, str otherwise."""
    array = np.asarray(ids)
    if array.dtype.kind in "iu":
        return array.astype(np.int64, copy=False)
    if array.dtype.kind == "f" and len(array) and np.all(np.mod(array, 1) == 0):
        return array.astype(np.int64)
    return array.astype(str) if len(array) else array.astype(str)


def align_titles(item_ids: np.ndarray, titles: dict | pd.Series) -> np.ndarray:
    """Title of each raw item id (``""`` where there is none), looked up in one vector step."""
    if isinstance(titles, dict):
        titles = pd.Series(list(titles.values()), index=list(titles.keys()), dtype=object)
    titles = titles[~titles.index.duplicated(keep="first")]
    index = titles.index
    keys = item_ids
    if index.dtype.kind in "iu" and item_ids.dtype.kind not in "iu":
        index = index.astype(str)
    elif index.dtype.kind not in "iu" and item_ids.dtype.kind in "iu":
        keys = item_ids.astype(str)
    positions = pd.Index(index).get_indexer(keys)
    values = np.asarray(titles.to_numpy(dtype=object), dtype=object)
    out = np.full(len(item_ids), "", dtype=object)
    found = positions >= 0
    out[found] = values[positions[found]]
    return out
