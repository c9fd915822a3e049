"""BPR (Rendle et al., 2009) on N sampled unlabeled items: the pairwise baseline."""

from __future__ import annotations

from torch import Tensor

from ._numerics import row_mean, softplus
from .base import LossOutput, RecLoss, register

__all__ = ["BPRLoss"]


@register("bpr")
class BPRLoss(RecLoss):
    """Bayesian personalised ranking loss, averaged over the N unlabeled items of a row.

    ``l = (1/N) sum_j softplus(s_j - s_+) = mean_j -log sigmoid(s_+ - s_j)``, with scores divided
    by ``temperature`` (default 1, i.e. plain BPR). Its gradient ``sigmoid(s_j - s_+)`` is in
    [0, 1] for every finite score. With ``first_only=True`` only the first unlabeled item is used,
    which is what the DPL reference code calls BPR. Extra positives and ``ref`` are ignored.

    Args:
        first_only: use only ``neg[:, 0]`` (reference parity) instead of the mean over N.
        temperature: scores are divided by it (> 0).

    Shape:
        - pos: :math:`(B,)`
        - neg: :math:`(B, N)`
        - output: scalar ``loss`` (mean over rows); no stats
    """

    def __init__(self, first_only: bool = False, temperature: float = 1.0) -> None:
        super().__init__(temperature=temperature)
        self.first_only = bool(first_only)

    def compute(
        self, pos: Tensor, neg: Tensor, extra: Tensor | None, ref: Tensor | None
    ) -> LossOutput:
        sp, sn = self.scale(pos), self.scale(neg)
        if self.first_only:
            row = softplus(sn[:, 0] - sp)
        else:
            row = row_mean(softplus(sn - sp.unsqueeze(-1)))
        return LossOutput(row.mean(), {})

    def extra_repr(self) -> str:
        return f"first_only={self.first_only}, temperature={self.temperature}"
