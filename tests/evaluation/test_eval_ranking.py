"""The batched full-ranking evaluator against a slow, obvious per-user reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from eval_helpers import FixedScores, as_csr, random_case, reference_metrics

import bcl_rec.evaluation.plan as plan_module
from bcl_rec.evaluation.ranking import FullRankingEvaluator


@pytest.fixture(autouse=True, params=[None, 8], ids=["one-block", "blocks-of-8"])
def block_rows(request, monkeypatch):
    """Every test runs with the catalogue in one score block, and in blocks of 8 item rows
    (several blocks, the last one padded): the blocked path must rank exactly the same."""
    if request.param is not None:
        monkeypatch.setattr(plan_module, "CPU_BLOCK_ROWS", request.param)
    return request.param


@pytest.mark.parametrize("max_held", [1, 4])
@pytest.mark.parametrize("batch", [1, 3, 16, 1000])
@pytest.mark.parametrize("integer_scores", [True, False])
def test_matches_slow_reference(max_held, batch, integer_scores):
    topk = (1, 5, 10, 50)
    scores, held, excl = random_case(batch + max_held, max_held=max_held,
                                     integer_scores=integer_scores)
    n_users, n_items = scores.shape
    ev = FullRankingEvaluator(
        as_csr(held, n_users, n_items), as_csr(excl, n_users, n_items), topk=topk,
        users_per_batch=batch,
    )
    m = FixedScores(scores)
    got = ev.evaluate(m.user, m.item)
    want = reference_metrics(scores, held, excl, topk)
    assert set(got) == set(want)
    for name in want:
        assert got[name] == pytest.approx(want[name], abs=1e-12), name


def test_independent_of_batch_size():
    scores, held, excl = random_case(5, n_users=100, n_items=80, max_held=3, integer_scores=False)
    m = FixedScores(scores)
    results = [
        FullRankingEvaluator(as_csr(held, 100, 80), as_csr(excl, 100, 80), topk=(10,),
                             users_per_batch=b).evaluate(m.user, m.item)
        for b in (1, 7, 100)
    ]
    assert results[0] == results[1] == results[2]


def test_hand_computed_ties_count_against():
    # one user, items 0..4, held-out item 2 scored 1.0, items 0 and 1 tie with it, item 4 excluded
    scores = np.array([[1.0, 1.0, 1.0, 0.0, 5.0]], dtype=np.float32)
    ev = FullRankingEvaluator(as_csr([[2]], 1, 5), as_csr([[4]], 1, 5), topk=(1, 2, 3))
    m = FixedScores(scores)
    got = ev.evaluate(m.user, m.item)
    assert got["recall@2"] == 0.0 and got["recall@3"] == 1.0  # position 2 (0-based)
    assert got["ndcg@3"] == pytest.approx(1 / math.log2(4))
    assert got["mrr@3"] == pytest.approx(1 / 3)
    assert got["auc"] == pytest.approx(1 / 3)  # of items 0,1,3 only item 3 is below


def test_masked_item_is_not_counted_and_k_larger_than_catalogue():
    scores = np.array([[9.0, 1.0, 2.0]], dtype=np.float32)  # item 0 excluded
    ev = FullRankingEvaluator(as_csr([[1]], 1, 3), as_csr([[0]], 1, 3), topk=(1, 100))
    m = FixedScores(scores)
    got = ev.evaluate(m.user, m.item)
    assert got["recall@1"] == 0.0 and got["recall@100"] == 1.0
    assert got["ndcg@100"] == pytest.approx(1 / math.log2(3))




def float_case(seed=0, n_users=90, n_items=600, dim=64, max_held=3):
    """Real-valued embeddings with many ties that only rounding decides: every item has a twin
    with two pairs of components swapped, and every user weighs those components equally, so
    twin scores are equal up to the summation order of the product (which a narrower BLAS
    kernel changes)."""
    g = torch.Generator().manual_seed(seed)
    user = torch.randn(n_users, dim, generator=g)
    user[:, 1], user[:, 3] = user[:, 0], user[:, 2]
    base = torch.randn(n_items // 2, dim, generator=g)
    twin = base.clone()
    twin[:, [0, 1, 2, 3]] = base[:, [1, 0, 3, 2]]
    item = torch.cat([base, twin])
    _, held, excl = random_case(seed, n_users=n_users, n_items=n_items, max_held=max_held)
    return user, item, as_csr(held, n_users, n_items), as_csr(excl, n_users, n_items)


@pytest.mark.parametrize("max_held", [1, 3])
def test_bitwise_independent_of_batch_size_with_real_embeddings(max_held):
    user, item, held, excl = float_case(max_held=max_held)
    results, positions = [], []
    for batch in (None, 1, 5, 16, 17, 33, 64, 1000):
        ev = FullRankingEvaluator(held, excl, topk=(1, 10, 50), users_per_batch=batch)
        results.append(ev.evaluate(user, item))
        positions.append(ev.positions(user, item))
    assert all(r == results[0] for r in results)
    assert all(torch.equal(p, positions[0]) for p in positions)


def test_positions_match_reference_and_pad():
    scores, held, excl = random_case(3, n_users=50, n_items=40, max_held=4)
    ev = FullRankingEvaluator(as_csr(held, 50, 40), as_csr(excl, 50, 40), users_per_batch=7)
    m = FixedScores(scores)
    got = ev.positions(m.user, m.item)
    users = [u for u in range(50) if held[u]]
    assert got.shape == (len(users), max(len(h) for h in held))
    for row, u in enumerate(users):
        hs = sorted(held[u])
        others = [j for j in range(40) if j not in set(excl[u]) | set(hs)]
        for idx, h in enumerate(hs):
            s = scores[u, h]
            want = sum(scores[u, j] >= s for j in others) + sum(
                scores[u, g] > s or (scores[u, g] == s and jdx < idx)
                for jdx, g in enumerate(hs) if g != h
            )
            assert int(got[row, idx]) == want
        assert (got[row, len(hs):] == -1).all()


def test_infinite_and_nan_scores_match_reference():
    # one-dimensional embeddings give exact scores, infinities and NaN included
    rng = np.random.default_rng(4)
    n_users, n_items = 30, 25
    values = rng.integers(-2, 3, size=n_items).astype(np.float32)
    values[[1, 5]] = np.inf
    values[[2, 7]] = -np.inf
    values[9] = np.nan
    scale = np.where(np.arange(n_users) % 2 == 0, 1.0, -1.0).astype(np.float32)
    scores = scale[:, None] * values[None, :]
    _, held, excl = random_case(4, n_users=n_users, n_items=n_items, max_held=3)
    ev = FullRankingEvaluator(as_csr(held, n_users, n_items), as_csr(excl, n_users, n_items),
                              topk=(1, 5, 20), users_per_batch=4)
    got = ev.evaluate(torch.as_tensor(scale)[:, None], torch.as_tensor(values)[:, None])
    want = reference_metrics(scores, held, excl, (1, 5, 20))
    for name in want:
        assert got[name] == pytest.approx(want[name], abs=1e-12), name


def test_heldout_item_also_in_exclude_is_a_candidate():
    scores = np.array([[3.0, 2.0, 1.0, 0.0]], dtype=np.float32)
    m = FixedScores(scores)
    ev = FullRankingEvaluator(as_csr([[2]], 1, 4), as_csr([[0, 2]], 1, 4), topk=(1, 2))
    assert ev.positions(m.user, m.item).tolist() == [[1]]  # item 1 above it, item 0 excluded


def test_no_user_with_heldout_items():
    ev = FullRankingEvaluator(as_csr([[]] * 3, 3, 5), as_csr([[1]] * 3, 3, 5), topk=(5,))
    got = ev.evaluate(torch.ones(3, 2), torch.ones(5, 2))
    assert got == {"recall@5": 0.0, "ndcg@5": 0.0, "mrr@5": 0.0, "auc": 0.0}
    assert ev.positions(torch.ones(3, 2), torch.ones(5, 2)).shape == (0, 0)


def test_memory_budget_bounds_the_tile():
    n_users, n_items = 400, 3000
    held = as_csr([[u % n_items] for u in range(n_users)], n_users, n_items)
    excl = as_csr([[]] * n_users, n_users, n_items)
    for mb in (0.25, 1.0, 4.0):
        ev = FullRankingEvaluator(held, excl, max_memory_mb=mb)
        assert ev.workspace_bytes <= mb * 2**20
        assert ev.users_per_batch >= 16
    with pytest.raises(ValueError, match="too small"):
        FullRankingEvaluator(held, excl, max_memory_mb=0.1)
    ev = FullRankingEvaluator(held, excl, users_per_batch=3)
    assert ev.plan.users == 3 and ev.plan.width == 16  # narrow tiles are padded


@pytest.mark.parametrize("max_held", [1, 3])
def test_blocks_rank_like_one_product(monkeypatch, max_held):
    """Scoring in blocks of item rows (padded last block) gives the positions of one product
    over the whole catalogue, rounding-decided ties included, whatever the batch size."""
    user, item, held, excl = float_case(max_held=max_held)
    whole = FullRankingEvaluator(held, excl, topk=(1, 10, 50), users_per_batch=64)
    want = whole.positions(user, item)
    for rows in (16, 64, 100):
        monkeypatch.setattr(plan_module, "CPU_BLOCK_ROWS", rows)
        for batch in (None, 16, 33):
            ev = FullRankingEvaluator(held, excl, topk=(1, 10, 50), users_per_batch=batch)
            assert ev.plan.block_rows == rows
            assert torch.equal(ev.positions(user, item), want)


def test_excluded_corrections_in_small_chunks_match_reference(monkeypatch):
    """The excluded items' corrections run in CORRECTION_CHUNK pieces: chunks of 7 entries (many
    chunk boundaries, users split across them) rank exactly as the slow reference."""
    import bcl_rec.evaluation.ranking as ranking

    monkeypatch.setattr(ranking, "CORRECTION_CHUNK", 7)
    scores, held, excl = random_case(11, n_users=60, n_items=50, max_held=1,
                                     integer_scores=True)
    assert sum(map(len, excl)) > 10 * 7
    ev = FullRankingEvaluator(as_csr(held, 60, 50), as_csr(excl, 60, 50), topk=(1, 5, 10))
    m = FixedScores(scores)
    got, want = ev.evaluate(m.user, m.item), reference_metrics(scores, held, excl, (1, 5, 10))
    for name in want:
        assert got[name] == pytest.approx(want[name], abs=1e-12), name
