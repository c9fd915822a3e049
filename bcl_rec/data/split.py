"""Train/validation/test splits of an interaction log, as sparse user x item matrices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from bcl_rec.data.errors import DataError
from bcl_rec.data.filters import deduplicate_latest
from bcl_rec.data.interactions import Interactions
from bcl_rec.data.ordering import user_random_order, user_time_order

__all__ = [
    "Split",
    "deduplicate_latest",
    "csr_from_counts",
    "grouped_csr",
    "leave_one_out",
    "ratio_split",
    "split_log",
    "to_csr",
    "user_order",
]


@dataclass(frozen=True)
class Split:
    """Binary user x item CSR matrices for train, validation and test, plus the id maps.

    Every matrix has shape ``(n_users, n_items)``, dtype float32, sorted column indices and no
    duplicates. Users with no validation (or test) item simply have an empty row there.

    ``valid_missing`` / ``test_missing`` count, per user, held-out items that are not in the
    catalogue (pre-split data read with ``data.presplit_policy: miss``): evaluation counts them
    as misses. Zeros (int64) when not given.
    """

    train: sp.csr_matrix
    valid: sp.csr_matrix
    test: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    item_titles: np.ndarray | None = None
    valid_missing: np.ndarray = None  # type: ignore[assignment]  # zeros when not given
    test_missing: np.ndarray = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        for name in ("valid_missing", "test_missing"):
            value = getattr(self, name)
            value = (np.zeros(self.n_users, dtype=np.int64) if value is None
                     else np.asarray(value, dtype=np.int64))
            if value.shape != (self.n_users,):
                raise ValueError(f"Split.{name} needs one count per user ({self.n_users}), got "
                                 f"shape {value.shape}")
            object.__setattr__(self, name, value)

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


def seen_matrix(split: Split) -> sp.csr_matrix:
    """Binary train + validation interactions: what a user has been seen with before test."""
    seen = (split.train + split.valid).tocsr()
    seen.data[:] = 1.0
    return seen


def to_csr(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int) -> sp.csr_matrix:
    """A binary CSR matrix with sorted indices from (user, item) pairs; duplicates collapse."""
    data = np.ones(len(users), dtype=np.float32)
    matrix = sp.csr_matrix((data, (users, items)), shape=(n_users, n_items))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    matrix.sort_indices()
    return matrix


def user_order(log: Interactions, order: str, seed: int) -> np.ndarray:
    """Row positions grouped by user, each user's rows by ``order``: ``time`` or ``random``.

    ``time`` sorts by timestamp with ties broken by file order (the later line counts as later);
    ``random`` is a seeded permutation within each user.
    """
    users = log.frame["user"].to_numpy()
    if order == "time":
        if not log.has_timestamp:
            raise DataError("data.order=time needs timestamps, and this data has none",
                            log.source)
        return user_time_order(users, log.frame["timestamp"].to_numpy())
    if order == "random":
        return user_random_order(users, seed)
    raise DataError(f"unknown data.order {order!r} (time or random)")


def resolve_order(order: str, log: Interactions) -> str:
    """``auto`` becomes ``time`` when the log has timestamps, else ``random``."""
    if order == "auto":
        return "time" if log.has_timestamp else "random"
    return order


def csr_from_counts(items: np.ndarray, counts: np.ndarray, n_items: int) -> sp.csr_matrix:
    """A binary CSR matrix from items grouped by user and each user's number of items.

    ``items`` lists user 0's items, then user 1's, ...; ``counts`` has one entry per user. Builds
    ``indptr`` by a cumulative sum instead of a COO conversion, which needs far less memory on
    large logs. Pairs must be unique (the splits deduplicate first).
    """
    index_type = np.int32 if max(n_items, len(items)) < 2**31 else np.int64
    indptr = np.zeros(len(counts) + 1, dtype=index_type)
    np.cumsum(counts, out=indptr[1:])
    matrix = sp.csr_matrix(
        (np.ones(len(items), dtype=np.float32), items.astype(index_type, copy=False), indptr),
        shape=(len(counts), n_items),
    )
    matrix.sort_indices()
    return matrix


def grouped_csr(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int
                ) -> sp.csr_matrix:
    """A binary CSR matrix from unique pairs already grouped by user (nondecreasing ``users``)."""
    return csr_from_counts(items, np.bincount(users, minlength=n_users), n_items)


def _sorted_items(log: Interactions, order: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Items in per-user order (user 0's first), as int32 when they fit, and rows per user."""
    rows = user_order(log, order, seed)
    items = log.frame["item"].to_numpy()
    if log.n_items < 2**31:
        items = items.astype(np.int32)
    sorted_items = np.take(items, rows)
    del rows
    counts = np.bincount(log.frame["user"].to_numpy(), minlength=log.n_users)
    return sorted_items, counts


def _build(log: Interactions, items: np.ndarray, parts: np.ndarray, sizes: np.ndarray) -> Split:
    """Split from per-row part labels (0 train, 1 valid, 2 test) over user-grouped ``items``,
    with ``sizes[u, k]`` rows of part ``k`` for user ``u``."""

    def part(k: int) -> sp.csr_matrix:
        return csr_from_counts(items[parts == k], sizes[:, k], log.n_items)

    return Split(
        train=part(0),
        valid=part(1),
        test=part(2),
        user_ids=log.user_ids,
        item_ids=log.item_ids,
        item_titles=log.item_titles,
    )


def _labels(counts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Per-row part labels for user-grouped rows: each user's first ``sizes[u, 0]`` rows are
    train (0), the next ``sizes[u, 1]`` validation (1), the rest test (2).

    Built from +1 marks where validation and test start, minus their sum at each user's end,
    summed cumulatively in int8, so no per-row index array is needed.
    """
    n = int(counts.sum())
    ends = np.cumsum(counts)
    starts = ends - counts
    valid_start = starts + sizes[:, 0]
    test_start = valid_start + sizes[:, 1]
    marks = np.zeros(n + 1, dtype=np.int8)
    to_valid = sizes[:, 1] + sizes[:, 2] > 0
    to_test = sizes[:, 2] > 0
    np.add.at(marks, valid_start[to_valid], 1)
    np.add.at(marks, test_start[to_test], 1)
    np.add.at(marks, ends, -(to_valid.astype(np.int8) + to_test.astype(np.int8)))
    return np.cumsum(marks[:n], dtype=np.int8)


def leave_one_out(log: Interactions, seed: int = 0, order: str = "auto") -> Split:
    """Leave-one-out: per user the last interaction is test, the one before it validation.

    "Last" is by time (ties broken by file order: the later line counts as later); without
    timestamps, or with ``order="random"``, the order within each user is a seeded random
    permutation. Users with fewer than 3 interactions stay in train only. Repeated (user, item)
    pairs are first reduced to their latest row, so a held-out item is never also a training item.
    """
    log = deduplicate_latest(log)
    items, counts = _sorted_items(log, resolve_order(order, log), seed)
    eligible = (counts >= 3).astype(np.int64)
    if not eligible.any():
        raise DataError("no user has the 3 interactions leave-one-out needs", log.source)
    sizes = np.stack([counts - 2 * eligible, eligible, eligible], axis=1)
    return _build(log, items, _labels(counts, sizes), sizes)


def ratio_counts(n: np.ndarray, ratios: tuple[float, float, float]) -> np.ndarray:
    """Per-user (train, valid, test) sizes for ``n`` interactions, with RecBole's rounding.

    Validation and test get ``floor(ratio * n)``, train the rest; then, from the last part
    backwards, a part whose share is below one item but above zero gets one item taken from
    train, as long as train keeps more than one. Returns an ``(len(n), 3)`` int64 array.
    """
    n = np.asarray(n, dtype=np.int64)
    counts = np.zeros((len(n), 3), dtype=np.int64)
    for k in (1, 2):
        counts[:, k] = np.floor(np.float64(ratios[k]) * n).astype(np.int64)
    counts[:, 0] = n - counts[:, 1] - counts[:, 2]
    for k in (2, 1):
        share = ratios[k] * n
        bump = (counts[:, 0] > 1) & (share > 0) & (share < 1)
        counts[bump, k] += 1
        counts[bump, 0] -= 1
    return counts


def ratio_split(
    log: Interactions,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    order: str = "auto",
) -> Split:
    """Per-user ratio split: the first ``ratios[0]`` of each user's rows train, then validation,
    then test, in time order (``order="time"``) or a seeded random order (``"random"``).

    ``auto`` means time when the log has timestamps. Part sizes follow :func:`ratio_counts`.
    Repeated (user, item) pairs are first reduced to their latest row.
    """
    log = deduplicate_latest(log)
    items, counts = _sorted_items(log, resolve_order(order, log), seed)
    sizes = ratio_counts(counts, ratios)
    if not sizes[:, 2].any():
        raise DataError("no user has enough interactions for a test item", log.source)
    return _build(log, items, _labels(counts, sizes), sizes)


def split_log(
    log: Interactions,
    split: str,
    seed: int = 0,
    order: str = "auto",
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
) -> Split:
    """Split a log with the named method (``leave-one-out`` or ``ratio``)."""
    if split == "leave-one-out":
        return leave_one_out(log, seed=seed, order=order)
    if split == "ratio":
        return ratio_split(log, ratios=ratios, seed=seed, order=order)
    raise DataError(f"unknown data.split {split!r} for a single log (leave-one-out, ratio)")
