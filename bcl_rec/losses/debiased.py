"""DCL (Chuang et al. 2020) and HCL (Robinson et al. 2021) estimators, in log space.

Both estimate the true-negative term ``Ng`` of ``l = -log(e^{s_+} / (e^{s_+} + Ng))
= softplus(log Ng - s_+)`` by subtracting the expected hidden-positive mass from the unlabeled
mass::

    Ng = max( (S - tau_plus N e^{s_pos}) / tau_minus,  N e^{s_min} )

with ``S = sum_j e^{s_j}`` (DCL) or ``S = N sum_j w_j e^{s_j} / sum_j w_j``, ``w_j = e^{gamma s_j}``
(HCL). Everything is evaluated as ``log S + log1mexp(log(tau_plus N e^{s_pos}) - log S)``, so no
exponential of a score is ever formed and large scores cannot overflow.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._checks import check_choice, check_finite, check_non_negative, check_tau_plus
from ._numerics import log1mexp, softplus, weighted_logsumexp
from .base import LossOutput, RecLoss, register

__all__ = ["DCLLoss", "HCLLoss"]

POS_SOURCES = ("anchor", "extras")


@register("dcl")
class DCLLoss(RecLoss):
    """Debiased contrastive loss on (positive, N unlabeled items) rows, in log space.

    ``Ng = max((sum_j e^{s_j} - tau_plus N e^{s_pos}) / tau_minus, N e^{s_min})`` and
    ``l = softplus(log Ng - s_+)`` on temperature-scaled scores.

    ``pos_source="anchor"`` uses ``s_pos = s_+`` (the reference); ``"extras"`` uses
    ``e^{s_pos} = (1/M) sum_m e^{s_{k_m}}`` over the M extra positives (the DCL paper's M-positive
    estimator), which then become required.

    ``s_min`` is the floor *on the temperature-scaled score scale* (``-1/T`` reproduces the
    reference for cosine scores). With ``s_min=None`` there is no floor and a row whose estimate
    ``Ng`` is <= 0 raises ``ValueError``. Where the floor is active the loss gets no gradient
    through ``Ng`` (clamp semantics); the share of such rows is reported as ``floored_fraction``.
    With tau_plus = 0 and an inactive floor it equals sampled softmax exactly.

    Args:
        tau_plus: prior probability that an unlabeled item is a hidden positive, in [0, 1).
        s_min: floor score on the scaled scale, or ``None`` for no floor.
        pos_source: ``"anchor"`` or ``"extras"``.
        temperature: scores are divided by it (> 0).

    Shape:
        - pos: :math:`(B,)`
        - neg: :math:`(B, N)`
        - extra: :math:`(B, M)`, required iff ``pos_source="extras"``
        - output: scalar ``loss``; stat ``floored_fraction``
    """

    def __init__(
        self,
        tau_plus: float = 0.05,
        s_min: float | None = None,
        pos_source: str = "anchor",
        temperature: float = 1.0,
    ) -> None:
        super().__init__(temperature=temperature)
        self.tau_plus = check_tau_plus(tau_plus, warn=True)
        self.s_min = None if s_min is None else check_finite(s_min, "s_min")
        self.pos_source = check_choice(pos_source, "pos_source", POS_SOURCES)
        # instance-level override of the class default: extras are needed only for this source
        self.needs_extras = self.pos_source == "extras"  # type: ignore[misc]

    def log_unlabeled_mass(self, sn: Tensor) -> Tensor:
        """``log S``: log of the (reweighted) sum of ``e^{s_j}``; overridden by HCL."""
        return weighted_logsumexp(sn)

    def compute(
        self, pos: Tensor, neg: Tensor, extra: Tensor | None, ref: Tensor | None
    ) -> LossOutput:
        sp, sn = self.scale(pos), self.scale(neg)
        n = sn.shape[-1]
        log_s = self.log_unlabeled_mass(sn)
        if self.tau_plus == 0.0:
            log_d = log_s
            valid = None
        else:
            if self.pos_source == "extras":
                if extra is None:
                    raise ValueError(f"{self.name}: pos_source='extras' needs extra (M >= 1)")
                se = self.scale(extra)
                log_pos = weighted_logsumexp(se) - math.log(se.shape[-1])
            else:
                log_pos = sp
            r = math.log(self.tau_plus * n) + log_pos - log_s
            valid = r < 0
            safe_r = torch.where(valid, r, torch.full_like(r, -1.0))
            log_d = torch.where(valid, log_s + log1mexp(safe_r), torch.full_like(r, float("-inf")))
        log_ng = log_d - math.log(1.0 - self.tau_plus)
        if self.s_min is None:
            if valid is not None and not bool(valid.all()):
                bad = int((~valid).sum())
                raise ValueError(
                    f"{self.name}: the estimated negative term Ng is <= 0 in {bad} row(s) "
                    "(positive mass exceeds the unlabeled mass); set s_min to floor it"
                )
            floored = torch.zeros_like(log_ng, dtype=torch.bool)
        else:
            log_floor = math.log(n) + self.s_min
            floored = log_ng < log_floor
            log_ng = torch.clamp(log_ng, min=log_floor)
        row = softplus(log_ng - sp)
        stats = {"floored_fraction": floored.to(row.dtype).mean().detach()}
        return LossOutput(row.mean(), stats)

    def extra_repr(self) -> str:
        return (
            f"tau_plus={self.tau_plus}, s_min={self.s_min}, pos_source={self.pos_source!r}, "
            f"temperature={self.temperature}"
        )


@register("hcl")
class HCLLoss(DCLLoss):
    """Hard-negative contrastive loss: DCL with exponentially tilted negatives.

    ``S = N sum_j w_j e^{s_j} / sum_j w_j`` with ``w_j = e^{gamma s_j}`` on the scaled score
    (``gamma = hcl_beta``; the reference's ``imp = neg**beta``), evaluated as
    ``log S = log N + LSE_j((1 + gamma) s_j) - LSE_j(gamma s_j)``; then as :class:`DCLLoss`.
    gamma = 0 gives DCL exactly. By default the weights keep their gradient, as in the
    reference; ``detach_weights=True`` treats them as constant importance weights.

    Args:
        tau_plus, s_min, pos_source, temperature: as :class:`DCLLoss`.
        hcl_beta: tilt strength gamma >= 0.
        detach_weights: stop the gradient through ``w_j``.

    Shape:
        - pos: :math:`(B,)`
        - neg: :math:`(B, N)`
        - extra: :math:`(B, M)`, required iff ``pos_source="extras"``
        - output: scalar ``loss``; stat ``floored_fraction``
    """

    def __init__(
        self,
        tau_plus: float = 0.05,
        hcl_beta: float = 1.0,
        detach_weights: bool = False,
        s_min: float | None = None,
        pos_source: str = "anchor",
        temperature: float = 1.0,
    ) -> None:
        super().__init__(
            tau_plus=tau_plus, s_min=s_min, pos_source=pos_source, temperature=temperature
        )
        self.hcl_beta = check_non_negative(hcl_beta, "hcl_beta")
        self.detach_weights = bool(detach_weights)

    def log_unlabeled_mass(self, sn: Tensor) -> Tensor:
        if self.hcl_beta == 0.0:
            return weighted_logsumexp(sn)
        tilt = self.hcl_beta * (sn.detach() if self.detach_weights else sn)
        return math.log(sn.shape[-1]) + weighted_logsumexp(tilt + sn) - weighted_logsumexp(tilt)

    def extra_repr(self) -> str:
        return (
            f"tau_plus={self.tau_plus}, hcl_beta={self.hcl_beta}, "
            f"detach_weights={self.detach_weights}, s_min={self.s_min}, "
            f"pos_source={self.pos_source!r}, temperature={self.temperature}"
        )
