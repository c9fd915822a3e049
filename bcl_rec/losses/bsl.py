"""BSL: the bilateral softmax loss (Wu et al., ICDE 2024), spec 8.3."""

from __future__ import annotations

import torch
from torch import Tensor

from ._checks import check_positive
from .base import LossOutput, register
from .weighting import WeightedLSELoss

__all__ = ["BSLLoss"]


@register("bsl")
class BSLLoss(WeightedLSELoss):
    """Bilateral softmax: ``l = -s_+/T + gamma * LSE_j(s_j/T)``.

    ``gamma`` (> 0) is the ratio of the two DRO temperatures of the paper (positive side over
    negative side): ``gamma = 1`` is sampled softmax without the positive in the denominator,
    ``gamma < 1`` is more robust to noisy positives. With ``weights="bcl"`` the LSE is
    ``log sum_j omega_j e^{s_j/T}`` (a row whose weights are all 0 contributes 0). Meant for
    cosine scores (``model.score: cosine``); the rows' loss is unbounded below on dot scores.

    Args:
        gamma: weight of the negative term (> 0).
        others: as :class:`.weighting.WeightedLSELoss`.

    Shape:
        - pos: :math:`(B,)`
        - neg: :math:`(B, N)`
        - output: scalar ``loss``; BCL weight stats with ``weights="bcl"``
    """

    def __init__(self, gamma: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.gamma = check_positive(gamma, "gamma")

    def compute(
        self, pos: Tensor, neg: Tensor, extra: Tensor | None, ref: Tensor | None
    ) -> LossOutput:
        lse, stats = self.log_sum(self.scale(neg), neg, ref)
        row = self.gamma * lse - self.scale(pos)
        if self.weights == "bcl":
            row = torch.where(torch.isfinite(lse), row, torch.zeros_like(row))
        return LossOutput(row.mean(), stats)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, temperature={self.temperature}, {self.weight_repr()}"
