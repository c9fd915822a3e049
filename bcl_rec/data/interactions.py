"""The interaction table every reader produces: dense ids, kept id maps, optional titles."""

from __future__ import annotations

from dataclasses import dataclass, field
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

    def __len__(self) -> int:
        return len(self.frame)

    @classmethod
    def from_raw(
        cls,
        raw: pd.DataFrame,
        source: str | Path = "",
        titles: dict | None = None,
    ) -> Interactions:
        """Build from a frame with raw ``user`` and ``item`` ids (plus optional rating/timestamp).

        Dense ids are assigned in order of first appearance, so they are stable for a given file.
        """
        if len(raw) == 0:
            raise DataError("no interactions left (file empty or everything filtered out)", source)
        users, user_ids = pd.factorize(raw["user"], sort=False)
        items, item_ids = pd.factorize(raw["item"], sort=False)
        frame = pd.DataFrame({"user": users.astype(np.int64), "item": items.astype(np.int64)})
        if "rating" in raw.columns:
            frame["rating"] = raw["rating"].to_numpy(dtype=np.float32)
        if "timestamp" in raw.columns:
            frame["timestamp"] = raw["timestamp"].to_numpy(dtype=np.int64)
        item_ids = np.asarray(item_ids)
        item_titles = None
        if titles is not None:
            item_titles = np.array([titles.get(i, "") for i in item_ids.tolist()], dtype=object)
        return cls(
            frame=frame,
            user_ids=np.asarray(user_ids),
            item_ids=item_ids,
            item_titles=item_titles,
            source=str(source),
        )
