"""Filters applied before splitting: minimum rating, one row per (user, item), iterative k-core."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bcl_rec.data.errors import DataError
from bcl_rec.data.interactions import Interactions


def min_rating_mask(frame: pd.DataFrame, min_rating: float, source: object) -> np.ndarray:
    """Rows with ``rating >= min_rating``; an error if there is no rating or nothing is kept."""
    if "rating" not in frame.columns:
        raise DataError(
            f"data.min_rating={min_rating} is set, but the data has no rating column", source
        )
    keep = frame["rating"].to_numpy() >= min_rating
    if not keep.any():
        raise DataError(f"no interaction has rating >= {min_rating} (data.min_rating)", source)
    return keep


def filter_min_rating(raw: pd.DataFrame, min_rating: float | None, path: object) -> pd.DataFrame:
    """Keep raw rows (before dense ids are assigned) with ``rating >= min_rating``."""
    if min_rating is None:
        return raw
    keep = min_rating_mask(raw, min_rating, path)
    return raw if keep.all() else raw[keep].reset_index(drop=True)


def min_rating_filter(log: Interactions, min_rating: float | None) -> Interactions:
    """Keep rows of a log with ``rating >= min_rating`` (all rows when it is None)."""
    if min_rating is None:
        return log
    keep = min_rating_mask(log.frame, min_rating, log.source)
    return log.take(keep, {"removed_by_min_rating": int((~keep).sum())})


def latest_per_pair(log: Interactions) -> np.ndarray:
    """Boolean mask keeping one row per (user, item): the latest by timestamp, ties by file order.

    Repeats are detected by sorting the pair keys in place (no hash table over every row, which
    costs several times the memory on large logs); only rows whose pair repeats are then ordered.
    """
    users = log.frame["user"].to_numpy()
    items = log.frame["item"].to_numpy()
    keep = np.ones(len(users), dtype=bool)
    pair = users * np.int64(log.n_items) + items
    pair.sort()
    if len(pair) < 2 or not (pair[1:] == pair[:-1]).any():
        return keep
    del pair
    pair = users * np.int64(log.n_items) + items
    repeated = pd.Series(pair).duplicated(keep=False).to_numpy()
    rows = np.flatnonzero(repeated)
    keys = [rows, pair[rows]]
    if log.has_timestamp:
        keys.insert(1, log.frame["timestamp"].to_numpy()[rows])
    order = rows[np.lexsort(tuple(keys))]  # by pair, then time, then position
    sorted_pairs = pair[order]
    last = np.concatenate((sorted_pairs[1:] != sorted_pairs[:-1], [True]))
    keep[order[~last]] = False
    return keep


def deduplicate_latest(log: Interactions) -> Interactions:
    """Keep one row per (user, item): the latest by timestamp, ties broken by file order.

    The result is marked ``meta["unique_pairs"]`` (row subsets keep the mark), so later steps
    do not check again.
    """
    if log.meta.get("unique_pairs"):
        return log
    keep = latest_per_pair(log)
    note = {"unique_pairs": True, "removed_duplicates": int((~keep).sum())}
    return log.take(keep, note)


def k_core_mask(
    users: np.ndarray, items: np.ndarray, n_users: int, n_items: int, user_k: int, item_k: int
) -> np.ndarray:
    """Rows of the largest sub-log where every user has >= ``user_k`` and every item >= ``item_k``.

    Iterates to the fixpoint: dropping sparse users can make items sparse and vice versa.
    """
    keep = np.ones(len(users), dtype=bool)
    if user_k <= 1 and item_k <= 1:
        return keep
    while True:
        user_count = np.bincount(users[keep], minlength=n_users)
        item_count = np.bincount(items[keep], minlength=n_items)
        drop = keep & ((user_count[users] < user_k) | (item_count[items] < item_k))
        if not drop.any():
            return keep
        keep &= ~drop


def k_core(log: Interactions, user_k: int, item_k: int) -> Interactions:
    """The iterative k-core of ``log`` (see :func:`k_core_mask`), ids compacted."""
    if user_k <= 1 and item_k <= 1:
        return log
    keep = k_core_mask(
        log.frame["user"].to_numpy(), log.frame["item"].to_numpy(), log.n_users, log.n_items,
        user_k, item_k,
    )
    if not keep.any():
        raise DataError(
            f"no interactions survive the k-core filter (users >= {user_k}, items >= {item_k}; "
            "data.user_core / data.item_core)",
            log.source,
        )
    return log.take(keep, {"removed_by_k_core": int((~keep).sum())})


def apply_filters(
    log: Interactions, min_rating: float | None, user_core: int, item_core: int
) -> Interactions:
    """``min_rating``, then one row per (user, item) (latest kept), then the k-core."""
    log = min_rating_filter(log, min_rating)
    log = deduplicate_latest(log)
    return k_core(log, user_core, item_core)
