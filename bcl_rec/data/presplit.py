"""Pre-split data: train/validation/test files read separately, checked, and put on one id map.

``presplit_policy="miss"`` follows the published LightGCN / DPL protocols: a held-out item that
never occurs in train stays held out as an item that can never be ranked (a miss, counted per user
in ``Split.valid_missing`` / ``Split.test_missing`` and kept out of the catalogue, so it never gets
an untrained embedding); the other violations below (user not in train, pair also in train,
repeated pair) are dropped as with ``"drop"``.

Held-out rows (validation and test) must be usable by a model trained on the train file: their
user and item must occur in train, they must not repeat a training pair, and a pair may be held
out only once. With ``presplit_policy="error"`` the first violation is an error naming the file,
the line and the id; with ``"drop"`` such rows are removed (and counted). Without a validation
file, ``valid_ratio`` of each user's training items (the latest, or seeded random ones without
timestamps; at least one for users with two or more; exactly one when ``valid_ratio`` is None
or 0) are held out for validation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bcl_rec.data.errors import DataError
from bcl_rec.data.filters import latest_per_pair
from bcl_rec.data.interactions import Interactions, align_titles, plain_ids
from bcl_rec.data.ordering import rank_within_user
from bcl_rec.data.rawlog import RawLog
from bcl_rec.data.split import Split, ratio_counts, resolve_order, to_csr, user_order

PARTS = ("train", "valid", "test")


@dataclass
class PresplitReport:
    """What assembling the parts did: rows per part, rows dropped by each check, and per held-out
    part (``by_part``) the rows each check dropped (``unseen_user_users``: their distinct users)
    or kept as misses (``missing``)."""

    rows: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    valid_from_train: bool = False
    by_part: dict[str, dict[str, int]] = field(default_factory=dict)


def presplit_summary(report: dict) -> list[str]:
    """One line per held-out part that lost rows or kept misses, from :class:`PresplitReport`'s
    fields (as stored in a cached split's notes), e.g. ``test: 3 held-out rows with items not in
    train kept as misses (policy miss); 2 rows of 1 user not in train dropped``."""
    lines = []
    by_part = report.get("by_part", {})
    for part in (p for p in PARTS if p in by_part):
        counts, said = by_part[part], []
        if counts.get("missing"):
            said.append(f"{_rows(counts['missing'], 'held-out ')} with items not in train kept "
                        "as misses (policy miss)")
        if counts.get("unseen_user"):
            users = counts["unseen_user_users"]
            said.append(f"{_rows(counts['unseen_user'])} of {users} user{'s' * (users != 1)} "
                        "not in train dropped")
        if counts.get("unseen_item"):
            said.append(f"{_rows(counts['unseen_item'])} with items not in train dropped")
        if counts.get("train_pair"):
            said.append(f"{_rows(counts['train_pair'])} also in train dropped")
        if counts.get("repeated_heldout"):
            said.append(f"{_rows(counts['repeated_heldout'], 'repeated ')} dropped")
        if said:
            lines.append(f"{part}: " + "; ".join(said))
    return lines


def _rows(n: int, kind: str = "") -> str:
    return f"{n} {kind}row{'s' * (n != 1)}"


def assemble_presplit(
    parts: dict[str, RawLog],
    min_rating: float | None = None,
    policy: str = "error",
    order: str = "auto",
    seed: int = 0,
    valid_ratio: float | None = None,
    titles: pd.Series | None = None,
    source: str = "",
) -> tuple[Split, PresplitReport]:
    """Build a :class:`Split` from ``{"train": log, "test": log, ["valid": log]}``."""
    if "train" not in parts or "test" not in parts:
        raise DataError("pre-split data needs a train file and a test file (data.train_file, "
                        "data.test_file)", source)
    names = [p for p in PARTS if p in parts]
    report = PresplitReport(rows={p: len(parts[p]) for p in names})
    frames = [parts[p].frame for p in names]
    label = np.concatenate([np.full(len(f), PARTS.index(p), dtype=np.int8)
                            for p, f in zip(names, frames, strict=True)])
    row_in_part = np.concatenate([np.arange(len(f)) for f in frames])
    optional = [c for c in ("rating", "timestamp") if all(c in f.columns for f in frames)]
    raw_users = _joined_ids([f["user"] for f in frames])
    raw_items = _joined_ids([f["item"] for f in frames])
    columns = {c: np.concatenate([f[c].to_numpy() for f in frames]) for c in optional}
    keep = np.ones(len(label), dtype=bool)
    if min_rating is not None:
        if "rating" not in optional:
            raise DataError(f"data.min_rating={min_rating} is set, but not every pre-split "
                            "file has a rating column", source)
        keep &= columns["rating"] >= min_rating
        report.dropped["min_rating"] = int((~keep).sum())
    users, user_ids = pd.factorize(raw_users, sort=False)
    items, item_ids = pd.factorize(raw_items, sort=False)
    checker = _Checker(parts, label, row_in_part, users, items, raw_users, raw_items, policy,
                       report)
    keep, missing = checker.run(keep)
    valid_missing, test_missing = (_misses_per_user(users, keep, missing & (label == k))
                                   for k in (1, 2))
    frame = {"user": users.astype(np.int64), "item": items.astype(np.int64), **columns}
    item_ids = plain_ids(item_ids)
    log = Interactions(
        frame=pd.DataFrame(frame, copy=False),
        user_ids=plain_ids(user_ids),
        item_ids=item_ids,
        item_titles=None if titles is None else align_titles(item_ids, titles),
        source=source,
    )
    label_kept = label[keep]
    log = log.take(keep)
    if not (label_kept == 0).any():
        raise DataError("no training interactions left", parts["train"].path)
    if not (label_kept == 2).any() and not (missing & (label == 2)).any():
        raise DataError("no test interactions left", parts["test"].path)
    if "valid" not in parts:
        label_kept = _valid_from_train(log, label_kept, order, seed, valid_ratio)
        report.valid_from_train = True
    users = log.frame["user"].to_numpy()
    items = log.frame["item"].to_numpy()

    def matrix(k: int):
        mask = label_kept == k
        return to_csr(users[mask], items[mask], log.n_users, log.n_items)

    split = Split(
        train=matrix(0), valid=matrix(1), test=matrix(2), user_ids=log.user_ids,
        item_ids=log.item_ids, item_titles=log.item_titles,
        valid_missing=valid_missing, test_missing=test_missing,
    )
    return split, report


def _misses_per_user(users: np.ndarray, keep: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Rows of ``missing`` per user, on the user ids left after keeping the rows ``keep`` (ids
    compacted in order, as :meth:`Interactions.take` does; a missing row's user is kept)."""
    n = int(users.max()) + 1
    kept_users = np.bincount(users[keep], minlength=n) > 0
    return np.bincount(users[missing], minlength=n)[kept_users].astype(np.int64)


def _joined_ids(columns: list[pd.Series]) -> np.ndarray:
    """Raw ids of all parts as one array; mixed int/str parts are compared as text."""
    arrays = [np.asarray(c.to_numpy()) for c in columns]
    if len({a.dtype.kind in "iu" for a in arrays}) > 1:
        arrays = [a.astype(str) for a in arrays]
    return np.concatenate(arrays)


class _Checker:
    """The held-out row checks, applied in file order of the parts.

    :meth:`run` returns the rows to keep and, with policy ``miss``, the held-out rows whose item
    is not in train (kept as misses, outside ``keep``).
    """

    def __init__(self, parts, label, row_in_part, users, items, raw_users, raw_items, policy,
                 report: PresplitReport) -> None:
        self.parts, self.label, self.row_in_part = parts, label, row_in_part
        self.users, self.items = users, items
        self.raw_users, self.raw_items = raw_users, raw_items
        self.policy, self.report = policy, report

    def run(self, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        train = keep & (self.label == 0)
        in_train_user = np.bincount(self.users[train], minlength=self.users.max() + 1) > 0
        in_train_item = np.bincount(self.items[train], minlength=self.items.max() + 1) > 0
        held = keep & (self.label > 0)
        train_name = self.parts["train"].path.name
        keep = self._apply(keep, held & ~in_train_user[self.users], "unseen_user",
                           lambda r: f"user {_show(self.raw_users[r])} does not occur in the train "
                           f"file ({train_name})")
        held &= keep
        missing = np.zeros(len(keep), dtype=bool)
        if self.policy == "miss":  # kept aside as misses; only the repeat check still applies
            missing = held & ~in_train_item[self.items]
            keep = keep & ~missing
        else:
            keep = self._apply(keep, held & ~in_train_item[self.items], "unseen_item",
                               lambda r: f"item {_show(self.raw_items[r])} does not occur in the "
                               f"train file ({train_name})")
        held &= keep
        n_items = np.int64(self.items.max() + 1)
        pair = self.users.astype(np.int64) * n_items + self.items
        in_train = held & np.isin(pair, pair[keep & (self.label == 0)])
        keep = self._apply(keep, in_train, "train_pair",
                           lambda r: f"{self._pair(r)} is also in the train file ({train_name})")
        held &= keep
        repeat = np.zeros(len(pair), dtype=bool)
        held_rows = np.flatnonzero(held | missing)
        repeat[held_rows] = pd.Series(pair[held_rows]).duplicated(keep="first").to_numpy()
        keep = self._apply(keep, repeat, "repeated_heldout",
                           lambda r: f"{self._pair(r)} is held out more than once")
        missing &= ~repeat
        self._count_part(missing, "missing")
        return keep, missing

    def _count_part(self, rows: np.ndarray, what: str, distinct: np.ndarray | None = None
                    ) -> None:
        """Record per held-out part the number of ``rows`` (or of distinct values among them)."""
        for k, part in enumerate(PARTS[1:], start=1):
            if part not in self.parts:
                continue
            mine = rows & (self.label == k)
            n = int(mine.sum()) if distinct is None else len(np.unique(distinct[mine]))
            if n:
                self.report.by_part.setdefault(part, {})[what] = n

    def _pair(self, row: int) -> str:
        return f"user {_show(self.raw_users[row])} / item {_show(self.raw_items[row])}"

    def _apply(self, keep: np.ndarray, bad: np.ndarray, what: str, message) -> np.ndarray:
        if not bad.any():
            return keep
        if self.policy in ("drop", "miss"):
            self.report.dropped[what] = int(bad.sum())
            self._count_part(bad, what)
            if what == "unseen_user":
                self._count_part(bad, "unseen_user_users", distinct=self.users)
            return keep & ~bad
        row = int(np.argmax(bad))
        part = self.parts[PARTS[self.label[row]]]
        hint = " (or miss to count them as misses)" if what == "unseen_item" else ""
        error = part.error_at(int(self.row_in_part[row]), message(row) + (
            f"; {int(bad.sum())} such row(s) in all. Set data.presplit_policy=drop to drop "
            f"them{hint}"))
        raise error


def _show(value: object) -> str:
    """A raw id as written in messages (numpy scalars as plain Python values)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _valid_from_train(log: Interactions, label: np.ndarray, order: str, seed: int,
                      ratio: float | None = None) -> np.ndarray:
    """Relabel the last training rows of each user as validation: ``floor(ratio * n)`` of a
    user's ``n`` training items, at least one when ``n >= 2`` (:func:`ratio_counts`' rounding);
    exactly one (for ``n >= 2``) when ``ratio`` is None or 0.

    Repeated training pairs are first reduced to their latest row (the others get label -1 and
    are left out), so a validation item is never also a training item.
    """
    train_rows = np.flatnonzero(label == 0)
    train = _sub_log(log, train_rows)
    unique = latest_per_pair(train)
    out = label.copy()
    out[train_rows[~unique]] = -1
    train_rows = train_rows[unique]
    train = _sub_log(log, train_rows)
    rows = user_order(train, resolve_order(order, train), seed)
    users = train.frame["user"].to_numpy()[rows]
    rank, counts = rank_within_user(users, log.n_users)
    if ratio:
        held = ratio_counts(counts, (1.0 - ratio, ratio, 0.0))[:, 1]
    else:
        held = (counts >= 2).astype(np.int64)
    last = rank >= counts[users] - held[users]
    out[train_rows[rows[last]]] = 1
    return out


def _sub_log(log: Interactions, rows: np.ndarray) -> Interactions:
    """The rows of ``log`` at ``rows`` on the same id maps (no compaction)."""
    frame = pd.DataFrame({c: log.frame[c].to_numpy()[rows] for c in log.frame.columns}, copy=False)
    return Interactions(frame=frame, user_ids=log.user_ids, item_ids=log.item_ids,
                        source=log.source)
