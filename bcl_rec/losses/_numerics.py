"""Stable log-space building blocks used by every loss.

Rules they follow: ``exp`` only appears inside a log-sum-exp, a softplus or ``log1mexp`` on
arguments <= 0; ``log`` of a quantity that can reach 0 is masked to ``-inf`` and the masked branch
is fed a harmless value so no NaN can leak into the backward pass through ``torch.where``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["log1mexp", "row_mean", "softplus", "weighted_logsumexp"]

_LOG_HALF = -math.log(2.0)


def softplus(x: Tensor) -> Tensor:
    """``log(1 + e^x)`` without overflow or a threshold approximation.

    ``torch.logaddexp(x, 0)`` evaluates ``max(x, 0) + log1p(exp(-|x|))`` and its gradient is the
    exact ``sigmoid(x)`` (0.5 at x = 0, which matters for tied scores).
    """
    return torch.logaddexp(x, torch.zeros((), dtype=x.dtype, device=x.device))


def log1mexp(x: Tensor) -> Tensor:
    """``log(1 - e^x)`` for ``x < 0``: Maechler's two-branch form, accurate on both sides of -log 2.

    Both branches are evaluated on clamped copies, so the unused branch never produces inf/NaN
    gradients.
    """
    near = torch.clamp(x, min=_LOG_HALF)  # x in [-log 2, 0): log(-expm1(x))
    far = torch.clamp(x, max=_LOG_HALF)  # x < -log 2: log1p(-exp(x))
    return torch.where(x > _LOG_HALF, torch.log(-torch.expm1(near)), torch.log1p(-torch.exp(far)))


def row_mean(x: Tensor) -> Tensor:
    """Mean over the last dim as ``sum / count`` with a tensor count.

    Using the same ``sum / tensor`` expression everywhere keeps forms that are mathematically equal
    (e.g. BCL with omega == 1 and BPR) bit-identical.
    """
    total = x.sum(-1)
    return total / torch.full_like(total, x.shape[-1])


def weighted_logsumexp(s: Tensor, w: Tensor | None = None) -> Tensor:
    """``log sum_j w_j exp(s_j)`` over the last dim, with non-negative constant weights ``w``.

    Entries with ``w_j = 0`` are dropped (``log 0`` never enters an arithmetic expression that
    feeds the gradient). A row whose weights are all 0 returns ``-inf`` with zero gradient.

    Shape:
        - s: :math:`(B, N)`
        - w: :math:`(B, N)` or ``None`` (all weights 1)
        - output: :math:`(B,)`
    """
    if w is None:
        return torch.logsumexp(s, dim=-1)
    positive = w > 0
    neg_inf = s.new_full((), float("-inf"))
    log_w = torch.where(positive, torch.log(torch.where(positive, w, torch.ones_like(w))), neg_inf)
    z = s + log_w
    has_any = positive.any(dim=-1)
    z = torch.where(has_any.unsqueeze(-1), z, torch.zeros_like(z))
    return torch.where(has_any, torch.logsumexp(z, dim=-1), neg_inf)
