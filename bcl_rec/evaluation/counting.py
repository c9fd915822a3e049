"""Column-wise "how many scores are at least this threshold" on a score tile, without sorting.

The evaluator's inner loop: for a tile ``S`` of ``[n_items, w]`` scores (one column per user) and
one threshold per column, count ``#{i : S[i, j] >= t_j}``. ``(S >= t).sum(0)`` is slow on the
CPU: comparisons into a bool tensor are not vectorised, and the sum widens every flag to int64.
Comparing *into a float tensor* is vectorised, and float32 sums of 0/1 flags are exact integers
up to 2**24 rows (float64 beyond), so the flags are written over the scores (no extra memory) or
into a scratch tile, and summed; this costs about a tenth of the product that made the tile.
"""

from __future__ import annotations

import torch


def exact_sum_dtype(n_rows: int) -> torch.dtype:
    """float32 sums of 0/1 flags are exact integers up to 2**24 rows; beyond, float64."""
    return torch.float32 if n_rows <= 2**24 else torch.float64


def count_at_least(
    scores: torch.Tensor, thresholds: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    """``[w]`` int64 counts ``#{i : scores[i, j] >= thresholds[j]}``.

    Args:
        scores: ``[n, w]`` floating scores.
        thresholds: ``[w]`` thresholds (a NaN score or threshold counts 0).
        out: where the 0/1 flags go, ``[n, w]`` of the scores' dtype; ``scores`` itself (the
            flags overwrite the scores) when None.
    """
    flags = torch.ge(scores, thresholds, out=scores if out is None else out)
    return flags.sum(0, dtype=exact_sum_dtype(scores.shape[0])).long()
