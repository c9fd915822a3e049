"""Per-user orderings of a log (by time, or seeded random), shared by the filters and splits."""

from __future__ import annotations

import numpy as np


def user_time_order(users: np.ndarray, timestamps: np.ndarray | None) -> np.ndarray:
    """Row positions sorted by user, then timestamp, then file position (stable).

    When user and time ranges allow, the three keys are packed into one int64 and sorted once
    with a stable sort, which is several times faster than a three-key ``lexsort``.
    """
    users = np.asarray(users, dtype=np.int64)
    if len(users) == 0:
        return np.zeros(0, dtype=np.int64)
    if timestamps is None:
        return np.argsort(users, kind="stable")
    timestamps = np.asarray(timestamps, dtype=np.int64)
    t_min = int(timestamps.min())
    span = int(timestamps.max()) - t_min
    if span < 2**32 and int(users.max()) < 2**31:
        key = (users << 32) | (timestamps - t_min)
        return np.argsort(key, kind="stable")
    return np.lexsort((timestamps, users))


def user_random_order(users: np.ndarray, seed: int) -> np.ndarray:
    """Row positions sorted by user, in a seeded random order within each user."""
    users = np.asarray(users, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.lexsort((rng.permutation(len(users)), users))


def rank_within_user(sorted_users: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """For rows already grouped by user: each row's 0-based rank in its user, and user counts."""
    counts = np.bincount(sorted_users, minlength=n_users)
    starts = np.cumsum(counts) - counts
    rank = np.arange(len(sorted_users), dtype=np.int64) - starts[sorted_users]
    return rank, counts
