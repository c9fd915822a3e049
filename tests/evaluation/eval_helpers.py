"""Shared helpers for the evaluator tests: a slow, obvious per-user reference and random cases."""

from __future__ import annotations

import math

import numpy as np
import torch

from bcl_rec.data.split import to_csr


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
            sums[f"recall@{k}"] += len(hits) / len(held)
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
