"""Ranking metrics per user from the positions of the held-out items (numpy, float64).

Inputs are flat over held-out entries grouped by user (CSR order); every user has at least one
entry. Sums run in a fixed order over each user's entries, so equal positions give bitwise
equal metrics however the positions were computed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def user_metrics(
    nonheld_above: np.ndarray,
    held_above: np.ndarray,
    indptr: np.ndarray,
    n_candidates: np.ndarray,
    topk: Sequence[int],
    n_missing: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """``recall@K``, ``ndcg@K``, ``mrr@K`` and ``auc`` per user (see the ranking module).

    Args:
        nonheld_above: per held-out entry, the candidates that are not held out and score at
            least as high (ties count against the held-out item).
        held_above: per entry, the user's other held-out items placed above it.
        indptr: ``[n_users + 1]`` entry offsets of each user.
        n_candidates: per user, the candidates that are not held out.
        topk: cut-offs K.
        n_missing: per user, held-out items that cannot be ranked (not in the catalogue): they
            are never a hit but count in |H| (recall's denominator, the ideal DCG) and add 0 to
            the AUC sum. None means none.
    """
    starts = indptr[:-1]
    n_ranked = np.diff(indptr)
    n_held = n_ranked if n_missing is None else n_ranked + n_missing
    pos = nonheld_above + held_above
    pos_f = pos.astype(np.float64)
    out: dict[str, np.ndarray] = {}
    best = np.minimum.reduceat(pos, starts)
    gain = 1.0 / np.log2(pos_f + 2.0)
    for k in topk:
        hit = pos < k
        ideal = np.minimum(n_held, k)
        idcg = np.cumsum(1.0 / np.log2(np.arange(k, dtype=np.float64) + 2.0))[ideal - 1]
        out[f"recall@{k}"] = np.add.reduceat(hit.astype(np.float64), starts) / n_held
        out[f"ndcg@{k}"] = np.add.reduceat(np.where(hit, gain, 0.0), starts) / idcg
        out[f"mrr@{k}"] = np.where(best < k, 1.0 / (best + 1.0), 0.0)
    cand = np.repeat(n_candidates, n_ranked).astype(np.float64)
    below = cand - nonheld_above
    out["auc"] = np.add.reduceat(below / np.maximum(cand, 1.0), starts) / n_held
    return out
