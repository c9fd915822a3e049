"""Train/validation/test splits of an interaction log, as sparse user x item matrices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from bcl_rec.data.errors import DataError
from bcl_rec.data.interactions import Interactions


@dataclass(frozen=True)
class Split:
    """Binary user x item CSR matrices for train, validation and test, plus the id maps.

    Every matrix has shape ``(n_users, n_items)``, dtype float32, sorted column indices and no
    duplicates. Users with no validation (or test) item simply have an empty row there.
    """

    train: sp.csr_matrix
    valid: sp.csr_matrix
    test: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    item_titles: np.ndarray | None = None

    @property
    def n_users(self) -> int:
        return self.train.shape[0]

    @property
    def n_items(self) -> int:
        return self.train.shape[1]

    def train_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """All training (user, item) pairs in CSR order."""
        users = np.repeat(np.arange(self.n_users, dtype=np.int64), np.diff(self.train.indptr))
        return users, self.train.indices.astype(np.int64)


def to_csr(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int) -> sp.csr_matrix:
    """A binary CSR matrix with sorted indices from (user, item) pairs; duplicates collapse."""
    data = np.ones(len(users), dtype=np.float32)
    matrix = sp.csr_matrix((data, (users, items)), shape=(n_users, n_items))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    matrix.sort_indices()
    return matrix


def deduplicate_latest(log: Interactions) -> Interactions:
    """Keep one row per (user, item): the latest by timestamp, ties broken by file order."""
    frame = log.frame
    order = _time_order(frame)
    ordered = frame.iloc[order]
    keep = ~ordered.duplicated(subset=["user", "item"], keep="last").to_numpy()
    kept_positions = np.sort(order[keep])
    if len(kept_positions) == len(frame):
        return log
    return Interactions(
        frame=frame.iloc[kept_positions].reset_index(drop=True),
        user_ids=log.user_ids,
        item_ids=log.item_ids,
        item_titles=log.item_titles,
        source=log.source,
        meta=log.meta,
    )


def leave_one_out(log: Interactions, seed: int = 0) -> Split:
    """Leave-one-out by time: per user the latest interaction is test, the one before validation.

    Ties in timestamp are broken by file order (the later line counts as later). Users with fewer
    than 3 interactions stay in train only. Without timestamps the order within each user is a
    seeded random permutation. Repeated (user, item) pairs are first reduced to their latest row,
    so a held-out item is never also a training item.
    """
    log = deduplicate_latest(log)
    frame = log.frame
    if log.has_timestamp:
        order = _time_order(frame)
    else:
        rng = np.random.default_rng(seed)
        order = np.lexsort((rng.permutation(len(frame)), frame["user"].to_numpy()))
    users = frame["user"].to_numpy()[order]
    items = frame["item"].to_numpy()[order]
    counts = np.bincount(users, minlength=log.n_users)
    ends = np.cumsum(counts)[users]  # one past the user's last row, in sorted order
    from_end = ends - 1 - np.arange(len(users))
    eligible = counts[users] >= 3
    test_mask = eligible & (from_end == 0)
    valid_mask = eligible & (from_end == 1)
    train_mask = ~(test_mask | valid_mask)
    if not test_mask.any():
        raise DataError("no user has the 3 interactions leave-one-out needs", log.source)

    def build(mask: np.ndarray) -> sp.csr_matrix:
        return to_csr(users[mask], items[mask], log.n_users, log.n_items)

    return Split(
        train=build(train_mask),
        valid=build(valid_mask),
        test=build(test_mask),
        user_ids=log.user_ids,
        item_ids=log.item_ids,
        item_titles=log.item_titles,
    )


def _time_order(frame) -> np.ndarray:
    """Row positions sorted by user, then timestamp (when present), then file order."""
    position = np.arange(len(frame))
    if "timestamp" not in frame.columns:
        return np.lexsort((position, frame["user"].to_numpy()))
    return np.lexsort((position, frame["timestamp"].to_numpy(), frame["user"].to_numpy()))
