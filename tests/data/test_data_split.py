"""Splits: leave-one-out and ratio on hand-made logs, on the real data, and as properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from data_helpers import check_partition
from hypothesis import given, settings
from hypothesis import strategies as st

from bcl_rec.data.errors import DataError
from bcl_rec.data.filters import deduplicate_latest
from bcl_rec.data.interactions import Interactions
from bcl_rec.data.movielens import read_ml100k
from bcl_rec.data.split import leave_one_out, ratio_counts, ratio_split


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


# --- ratio split, random orders, and properties --------------------------------------------------


@pytest.mark.parametrize(
    "n, expected",
    [
        (1, (1, 0, 0)),   # train must keep its item
        (2, (1, 0, 1)),   # test gets the bump first
        (3, (1, 1, 1)),
        (10, (8, 1, 1)),
        (15, (13, 1, 1)),
        (20, (16, 2, 2)),
    ],
)
def test_ratio_counts_follow_recbole(n, expected):
    assert tuple(ratio_counts([n], (0.8, 0.1, 0.1))[0]) == expected


def test_ratio_split_by_time():
    rows = [("a", i, 100 - i) for i in range(10)]  # later items have earlier times
    log = make_log(rows)
    split = ratio_split(log, (0.8, 0.1, 0.1), order="time")
    assert items_of(split.test, log, "a") == [0]
    assert items_of(split.valid, log, "a") == [1]
    assert items_of(split.train, log, "a") == list(range(2, 10))


def test_random_orders_are_seeded():
    rows = [(u, i) for u in range(30) for i in range(8)]
    log = Interactions.from_raw(pd.DataFrame(rows, columns=["user", "item"]))
    a = ratio_split(log, seed=3)
    b = ratio_split(log, seed=3)
    c = ratio_split(log, seed=4)
    assert (a.test != b.test).nnz == 0 and (a.valid != b.valid).nnz == 0
    assert (a.test != c.test).nnz > 0
    loo1, loo2 = leave_one_out(log, seed=7), leave_one_out(log, seed=7)
    assert (loo1.test != loo2.test).nnz == 0


def test_order_time_without_timestamps_is_an_error():
    log = Interactions.from_raw(pd.DataFrame({"user": [1, 1, 1], "item": [1, 2, 3]}))
    with pytest.raises(DataError, match="timestamps"):
        leave_one_out(log, order="time")


def test_ml_latest_small_loo_and_ratio(ml_latest_small):
    from bcl_rec.data.load import read_dataset

    log = read_dataset(str(ml_latest_small))
    loo = leave_one_out(log)
    assert loo.test.nnz == loo.valid.nnz == 610
    check_partition(loo, log)
    ratio = ratio_split(log)
    check_partition(ratio, log)
    users = log.frame["user"].to_numpy()
    counts = np.bincount(users)
    sizes = ratio_counts(counts, (0.8, 0.1, 0.1))
    assert ratio.train.nnz == sizes[:, 0].sum() and ratio.test.nnz == sizes[:, 2].sum()
    # per user, every train time <= every valid time <= every test time
    keys = zip(users, log.frame["item"], strict=True)
    ts = dict(zip(keys, log.frame["timestamp"], strict=True))
    for u in range(0, log.n_users, 37):
        times = [[ts[(u, i)] for i in getattr(ratio, p)[u].indices] for p in ("train", "valid",
                                                                               "test")]
        assert max(times[0]) <= min(times[1]) and max(times[1]) <= min(times[2])


def test_yelp_sample_ratio_and_random_loo(yelp_sample):
    from bcl_rec.data.load import read_dataset

    log = read_dataset(str(yelp_sample))
    ratio = ratio_split(log, (0.8, 0.1, 0.1), seed=0)
    check_partition(ratio, log)
    assert ratio.train.nnz + ratio.valid.nnz + ratio.test.nnz == 324_147
    assert np.all(np.diff(ratio.test.indptr) >= 1)  # every user (>= 2 items) gets a test item
    loo = leave_one_out(log, seed=0)
    check_partition(loo, log)
    counts = np.bincount(log.frame["user"].to_numpy())
    assert loo.test.nnz == (counts >= 3).sum()


logs = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 9), st.integers(0, 4)), min_size=1, max_size=60
)


@settings(max_examples=60, deadline=None)
@given(rows=logs, seed=st.integers(0, 5), method=st.sampled_from(["loo", "ratio"]))
def test_split_properties(rows, seed, method):
    log = make_log(rows)
    try:
        split = leave_one_out(log, seed=seed) if method == "loo" else ratio_split(log, seed=seed)
    except DataError:
        distinct = {}
        for u, i, _ in rows:
            distinct.setdefault(u, set()).add(i)
        most = max(len(v) for v in distinct.values())
        assert most < (3 if method == "loo" else 2)
        return
    deduped = deduplicate_latest(make_log(rows))
    check_partition(split, deduped)
    # latest-item rule: a held-out item is never earlier than a train item of the same user
    latest = {}
    for pos, (u, i, t) in enumerate(rows):
        latest[(u, i)] = max(latest.get((u, i), (t, pos)), (t, pos))
    for u_dense in range(split.n_users):
        u = log.user_ids[u_dense]
        train = [latest[(u, log.item_ids[i])] for i in split.train[u_dense].indices]
        held = [latest[(u, log.item_ids[i])] for p in ("valid", "test")
                for i in getattr(split, p)[u_dense].indices]
        if train and held:
            assert max(train) <= min(held)
        if method == "loo" and split.test[u_dense].nnz:
            assert split.test[u_dense].nnz == 1
            assert latest[(u, log.item_ids[split.test[u_dense].indices[0]])] == max(
                latest[(u, log.item_ids[i])] for p in ("train", "valid", "test")
                for i in getattr(split, p)[u_dense].indices
            )
