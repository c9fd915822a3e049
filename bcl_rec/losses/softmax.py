"""Sampled softmax / InfoNCE over the positive and N uniformly sampled unlabeled items."""

from __future__ import annotations

from torch import Tensor

from ._numerics import softplus, weighted_logsumexp
from .base import LossOutput, RecLoss, register

__all__ = ["SampledSoftmaxLoss"]


@register("ssm")
class SampledSoftmaxLoss(RecLoss):
    """Sampled softmax (InfoNCE) with the positive in the denominator (SimCLR convention).

    ``l = -s_+ + LSE(s_+, s_1..s_N) = softplus(LSE_j s_j - s_+)`` on temperature-scaled scores;
    with ``positive_in_denominator=False``, ``l = LSE_j s_j - s_+``. On cosine scores this is
    SL (spec 8.2). With uniform sampling over unlabeled items the logQ correction is a constant
    and is omitted. Extra positives and ``ref`` are ignored.

    Args:
        temperature: scores are divided by it (> 0).
        positive_in_denominator: keep the positive's own term in the softmax denominator.

    Shape:
        - pos: :math:`(B,)`
        - neg: :math:`(B, N)`
        - output: scalar ``loss`` (mean over rows); no stats
    """

    def __init__(self, temperature: float = 1.0, positive_in_denominator: bool = True) -> None:
        super().__init__(temperature=temperature)
        self.positive_in_denominator = bool(positive_in_denominator)

    def compute(
        self, pos: Tensor, neg: Tensor, extra: Tensor | None, ref: Tensor | None
    ) -> LossOutput:
        sp, sn = self.scale(pos), self.scale(neg)
        margin = weighted_logsumexp(sn) - sp
        row = softplus(margin) if self.positive_in_denominator else margin
        return LossOutput(row.mean(), {})

    def extra_repr(self) -> str:
        return (
            f"temperature={self.temperature}, "
            f"positive_in_denominator={self.positive_in_denominator}"
        )
