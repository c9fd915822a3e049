"""Filters: minimum rating, latest row per pair, iterative k-core (fixpoint and maximality)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from data_helpers import make_log
from hypothesis import given, settings
from hypothesis import strategies as st

from bcl_rec.data.errors import DataError
from bcl_rec.data.filters import (
    apply_filters,
    deduplicate_latest,
    k_core,
    k_core_mask,
    latest_per_pair,
    min_rating_filter,
)
from bcl_rec.data.interactions import Interactions


def test_latest_per_pair_keeps_latest_then_later_line():
    log = make_log([("a", 1, 5), ("a", 1, 9), ("a", 2, 1), ("a", 1, 9), ("b", 1, 0)])
    assert latest_per_pair(log).tolist() == [False, False, True, True, True]


def test_latest_per_pair_without_timestamps_keeps_last_line():
    log = Interactions.from_raw(pd.DataFrame({"user": [1, 1, 2, 1], "item": [5, 6, 5, 5]}))
    assert latest_per_pair(log).tolist() == [False, True, True, True]


def test_deduplicate_keeps_id_maps_when_nothing_disappears():
    log = make_log([("a", 1, 1), ("b", 2, 2), ("a", 1, 3)])
    out = deduplicate_latest(log)
    assert len(out) == 2 and out.user_ids.tolist() == log.user_ids.tolist()
    assert out.meta["removed_duplicates"] == 1


def test_k_core_chain_reaction():
    # user c has 2 items; dropping c leaves item 3 with one user, which then drops user b ...
    rows = [("a", 1, 0), ("a", 2, 0), ("b", 1, 0), ("b", 2, 0), ("b", 3, 0),
            ("c", 3, 0), ("c", 4, 0)]
    log = make_log(rows)
    out = k_core(log, 2, 2)
    assert sorted(out.user_ids.tolist()) == ["a", "b"]
    assert sorted(out.item_ids.tolist()) == [1, 2]
    assert len(out) == 4 and out.meta["removed_by_k_core"] == 3


def test_k_core_to_nothing_is_an_error():
    with pytest.raises(DataError, match="k-core"):
        k_core(make_log([("a", 1, 0), ("b", 2, 0)]), 2, 2)


def test_min_rating_needs_ratings():
    with pytest.raises(DataError, match="no rating column"):
        min_rating_filter(make_log([("a", 1, 0)]), 3)


def test_min_rating_compacts_ids():
    raw = pd.DataFrame({"user": [1, 2, 2], "item": [7, 8, 9], "rating": [1.0, 5.0, 4.0]})
    out = apply_filters(Interactions.from_raw(raw), 4, 0, 0)
    assert out.user_ids.tolist() == [2] and out.item_ids.tolist() == [8, 9]


pair_lists = st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), max_size=120,
                      unique=True)


@settings(max_examples=80, deadline=None)
@given(rows=pair_lists, uk=st.integers(0, 5), ik=st.integers(0, 5))
def test_k_core_is_the_largest_fixpoint(rows, uk, ik):
    users = np.array([r[0] for r in rows], dtype=np.int64)
    items = np.array([r[1] for r in rows], dtype=np.int64)
    keep = k_core_mask(users, items, 13, 13, uk, ik)
    kept_u, kept_i = users[keep], items[keep]
    # fixpoint: every remaining user and item meets its threshold
    if keep.any():
        assert np.bincount(kept_u)[np.unique(kept_u)].min() >= uk
        assert np.bincount(kept_i)[np.unique(kept_i)].min() >= ik
    # idempotent
    again = k_core_mask(kept_u, kept_i, 13, 13, uk, ik)
    assert again.all()
    # maximal: no dropped row's user and item both survive with room to spare... checked by
    # brute force: the k-core is the union of all sub-logs meeting the thresholds, so greedy
    # peeling from the full log can only remove rows that are in no such sub-log.
    current = np.ones(len(rows), dtype=bool)
    changed = True
    while changed:
        changed = False
        for r in np.flatnonzero(current):
            cu = (users[current] == users[r]).sum()
            ci = (items[current] == items[r]).sum()
            if cu < uk or ci < ik:
                current[r] = False
                changed = True
    assert current.tolist() == keep.tolist()
