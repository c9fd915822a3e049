"""The batched full-ranking evaluator against a slow, obvious per-user reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bcl_rec.data.split import to_csr
from bcl_rec.evaluation.ranking import FullRankingEvaluator


def reference_metrics(scores, heldout, exclude, topk):
    """Per user: sort candidates by (score desc, held-out items after ties), count hits."""
    n_users, n_items = scores.shape
    sums = {f"{m}@{k}": 0.0 for m in ("recall", "ndcg", "mrr") for k in topk}
    sums["auc"] = 0.0
    n_eval = 0
    for u in range(n_users):
        held = sorted(heldout[u])
        if not held:
            continue
        n_eval += 1
        excl = set(exclude[u]) - set(held)
        others = [j for j in range(n_items) if j not in excl and j not in held]
        positions = []
        for idx, h in enumerate(held):
            s = scores[u, h]
            above = sum(1 for j in others if scores[u, j] >= s)
            above += sum(
                1 for jdx, g in enumerate(held)
                if g != h and (scores[u, g] > s or (scores[u, g] == s and jdx < idx))
            )
            positions.append(above)
        aucs = []
        for h in held:
            nonheld_above = sum(1 for j in others if scores[u, j] >= scores[u, h])
            aucs.append((len(others) - nonheld_above) / max(len(others), 1))
        sums["auc"] += sum(aucs) / len(aucs)
        for k in topk:
            hits = [p for p in positions if p < k]
            ideal = min(k, len(held))
            sums[f"recall@{k}"] += len(hits) / ideal
            idcg = sum(1 / math.log2(r + 2) for r in range(ideal))
            sums[f"ndcg@{k}"] += sum(1 / math.log2(p + 2) for p in hits) / idcg
            best = min(positions)
            sums[f"mrr@{k}"] += 1 / (best + 1) if best < k else 0.0
    return {k: v / n_eval for k, v in sums.items()}


def as_csr(lists, n_users, n_items):
    users = [u for u, row in enumerate(lists) for _ in row]
    items = [i for row in lists for i in row]
    users, items = np.array(users, dtype=np.int64), np.array(items, dtype=np.int64)
    return to_csr(users, items, n_users, n_items)


def random_case(seed, n_users=40, n_items=30, max_held=1, integer_scores=True):
    rng = np.random.default_rng(seed)
    if integer_scores:  # many ties
        scores = rng.integers(-3, 4, size=(n_users, n_items)).astype(np.float32)
    else:
        scores = rng.standard_normal((n_users, n_items)).astype(np.float32)
    held, excl = [], []
    for u in range(n_users):
        perm = rng.permutation(n_items)
        k = 0 if u % 7 == 3 else int(rng.integers(1, max_held + 1))
        held.append(perm[:k].tolist())
        excl.append(perm[k : k + int(rng.integers(0, 10))].tolist())
    return scores, held, excl


class FixedScores:
    """Scores = user one-hot @ table: exact scores through the embedding interface."""

    def __init__(self, scores):
        self.user = torch.eye(scores.shape[0], dtype=torch.float32)
        self.item = torch.as_tensor(scores).T.contiguous()


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


def test_memory_budget_sets_users_per_batch():
    ev = FullRankingEvaluator(as_csr([[1]] * 10, 10, 1000), as_csr([[]] * 10, 10, 1000),
                              max_memory_mb=1.0)
    assert ev.users_per_batch == int(2**20 // (1000 * 12))
