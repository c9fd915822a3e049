"""H-SCL (Jiang et al. 2022): hard negatives among items known or believed to be true negatives."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ._checks import check_choice, check_non_negative
from ._numerics import softplus, weighted_logsumexp
from .base import LossOutput, RecLoss, register
from .bcl_weights import bcl_weights
from .ifnd import FalseNegativeDetector

__all__ = ["HSCLLoss", "hscl_rows"]

Q_SOURCES = ("ones", "posterior", "ifnd")


def hscl_rows(sp: Tensor, sn: Tensor, q: Tensor, gamma: float, detach_weights: bool) -> Tensor:
    """``softplus(log N + LSE_j(s_j + g s_j + log q_j) - LSE_j(g s_j + log q_j) - s_+)`` per row.

    ``q`` are constant non-negative true-negative weights; terms with ``q_j = 0`` are dropped, and
    a row with no such term has loss 0 (zero gradient). ``detach_weights`` stops the gradient
    through the tilt ``e^{g s_j}``.

    Shape: sp :math:`(B,)`, sn and q :math:`(B, N)`, output :math:`(B,)`.
    """
    tilt = gamma * (sn.detach() if detach_weights else sn)
    has_any = (q > 0).any(dim=-1)
    log_num = weighted_logsumexp(sn + tilt, q)
    log_den = weighted_logsumexp(tilt, q)
    zero = torch.zeros_like(log_num)
    diff = torch.where(has_any, log_num, zero) - torch.where(has_any, log_den, zero)
    rows = softplus(math.log(sn.shape[-1]) + diff - sp)
    return torch.where(has_any, rows, zero)


@register("hscl")
class HSCLLoss(RecLoss):
    """H-SCL on (positive, N unlabeled items) rows with true-negative weights ``q``.

    ``l = softplus(log N + LSE_j(s_j + g s_j + log q_j) - LSE_j(g s_j + log q_j) - s_+)`` on
    temperature-scaled scores (spec 5.3). ``q`` comes from ``q_source``:

    - ``"ones"``: every unlabeled item (H-UCL, equal to HCL with tau_plus = 0 and no floor);
    - ``"posterior"``: BCL's true-negative posterior ``pi_TN`` (soft, from the raw scores' ranks);
    - ``"ifnd"``: ``1 - m_uj`` with IFND's detected false negatives (``detector`` arguments).

    ``detach_weights=True`` (the default) treats ``e^{g s_j}`` as constant importance weights;
    H-SCL's reference ``main.py`` keeps their gradient (``False``).

    Args:
        gamma: hardening strength >= 0 (0 gives supervised contrastive learning).
        q_source: ``"ones"``, ``"posterior"`` or ``"ifnd"``.
        detach_weights: stop the gradient through the tilt.
        alpha, tau_plus, ecdf: BCL posterior parameters (``posterior``).
        temperature: scores are divided by it (> 0).
        detector: :class:`FalseNegativeDetector` arguments (``ifnd``).

    Shape:
        - pos: :math:`(B,)`; neg: :math:`(B, N)`; items: ids, for ``ifnd`` with k-means masks
        - output: scalar ``loss``; stat ``mean_q``
    """

    def __init__(
        self,
        gamma: float = 1.0,
        q_source: str = "ones",
        detach_weights: bool = True,
        alpha: float = 0.9,
        tau_plus: float = 0.05,
        ecdf: str = "max",
        temperature: float = 1.0,
        detector: dict | None = None,
    ) -> None:
        super().__init__(temperature=temperature)
        self.gamma = check_non_negative(gamma, "gamma")
        self.q_source = check_choice(q_source, "q_source", Q_SOURCES)
        self.detach_weights = bool(detach_weights)
        self.alpha, self.tau_plus, self.ecdf = alpha, tau_plus, ecdf
        if self.q_source == "posterior":
            bcl_weights(torch.zeros(1, 1), alpha, 1.0, tau_plus, ecdf)  # validates the parameters
        self.detector = (
            FalseNegativeDetector(**(detector or {})) if self.q_source == "ifnd" else None
        )
        if self.detector is not None:
            self.needs_items = self.detector.needs_items  # type: ignore[misc]
            self.needs_epoch_hook = True  # type: ignore[misc]

    def on_epoch_start(self, epoch: int, model: nn.Module, generator: torch.Generator) -> None:
        if self.detector is not None:
            self.detector.on_epoch_start(epoch, model, generator)

    def weights(self, neg: Tensor, items: tuple[Tensor, Tensor] | None) -> Tensor:
        """``q`` ``[B, N]`` for the raw unlabeled scores (a constant, no gradient)."""
        if self.q_source == "ones":
            return torch.ones_like(neg).detach()
        if self.q_source == "posterior":
            return bcl_weights(neg, self.alpha, 1.0, self.tau_plus, self.ecdf)[1]
        assert self.detector is not None
        return (~self.detector.mask(neg, items)).to(neg.dtype)

    def compute(
        self, pos: Tensor, neg: Tensor, extra: Tensor | None, ref: Tensor | None
    ) -> LossOutput:
        return self.compute_with(pos, neg, extra, ref, None, None)

    def compute_with(self, pos, neg, extra, ref, items, vectors) -> LossOutput:
        q = self.weights(neg, items)
        rows = hscl_rows(self.scale(pos), self.scale(neg), q, self.gamma, self.detach_weights)
        return LossOutput(rows.mean(), {"mean_q": q.mean().detach()})

    def extra_repr(self) -> str:
        src = self.detector.describe() if self.detector is not None else ""
        return (
            f"gamma={self.gamma}, q_source={self.q_source!r}, "
            f"detach_weights={self.detach_weights}, temperature={self.temperature}"
            + (f", {src}" if src else "")
        )
