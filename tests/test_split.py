"""Leave-one-out by time on hand-made logs and on ML-100K."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bcl_rec.data.errors import DataError
from bcl_rec.data.interactions import Interactions
from bcl_rec.data.movielens import read_ml100k
from bcl_rec.data.split import leave_one_out


def make_log(rows):
    raw = pd.DataFrame(rows, columns=["user", "item", "timestamp"])
    return Interactions.from_raw(raw)


def items_of(matrix, log, raw_user):
    u = list(log.user_ids).index(raw_user)
    row = matrix[u].indices
    return sorted(log.item_ids[row].tolist())


def test_hand_made_log():
    rows = [
        ("a", 10, 5), ("a", 11, 1), ("a", 12, 3), ("a", 13, 4),   # a: order 11,12,13,10
        ("b", 10, 7), ("b", 14, 7), ("b", 15, 7),                 # b: all tied: file order
        ("c", 11, 1), ("c", 12, 2),                               # c: < 3 -> train only
        ("d", 13, 9), ("d", 14, 2), ("d", 10, 9),                 # d: tie at 9 -> file order
    ]
    log = make_log(rows)
    split = leave_one_out(log)
    assert items_of(split.test, log, "a") == [10]
    assert items_of(split.valid, log, "a") == [13]
    assert items_of(split.train, log, "a") == [11, 12]
    assert items_of(split.test, log, "b") == [15]
    assert items_of(split.valid, log, "b") == [14]
    assert items_of(split.train, log, "b") == [10]
    assert items_of(split.test, log, "c") == [] and items_of(split.valid, log, "c") == []
    assert items_of(split.train, log, "c") == [11, 12]
    assert items_of(split.test, log, "d") == [10]
    assert items_of(split.valid, log, "d") == [13]
    assert items_of(split.train, log, "d") == [14]


def test_duplicates_keep_latest():
    rows = [("a", 1, 1), ("a", 2, 2), ("a", 1, 5), ("a", 3, 3)]  # item 1 seen again last
    log = make_log(rows)
    split = leave_one_out(log)
    assert items_of(split.test, log, "a") == [1]
    assert items_of(split.valid, log, "a") == [3]
    assert items_of(split.train, log, "a") == [2]


def test_no_eligible_user():
    with pytest.raises(DataError, match="3 interactions"):
        leave_one_out(make_log([("a", 1, 1), ("a", 2, 2)]))


def test_ml100k_invariants(ml100k):
    log = read_ml100k(ml100k)
    split = leave_one_out(log)
    assert split.test.nnz == split.valid.nnz == 943  # every ML-100K user has >= 20 ratings
    total = split.train + split.valid + split.test
    assert total.nnz == 100_000 and total.max() == 1  # disjoint, union = input
    # the test item is each user's latest interaction (ties: later line)
    frame = log.frame.assign(pos=np.arange(len(log.frame)))
    latest = frame.sort_values(["user", "timestamp", "pos"]).groupby("user").tail(1)
    expected = dict(zip(latest["user"], latest["item"], strict=True))
    got = {u: int(split.test[u].indices[0]) for u in range(split.n_users)}
    assert got == expected
    # validation items are not later than the test item
    cols = zip(frame["user"], frame["item"], frame["timestamp"], strict=True)
    ts = {(u, i): t for u, i, t in cols}
    for u in range(split.n_users):
        v, t = split.valid[u].indices[0], split.test[u].indices[0]
        assert ts[(u, v)] <= ts[(u, t)]
        assert max(ts[(u, i)] for i in split.train[u].indices) <= ts[(u, v)]
