"""DPL: debiased pairwise learning (Liu, Luo, Wang 2023), reference form by default."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._checks import check_positive, check_tau_plus
from ._numerics import log1mexp, softplus
from .base import LossOutput, RecLoss, register

__all__ = ["DPLLoss"]

# Below this floor the direct form can no longer represent the clamped probability reliably in
# float32, so the log-space form is used instead (spec 2, "Stable evaluation").
LOG_SPACE_BELOW = 1e-30


@register("dpl")
class DPLLoss(RecLoss):
    """Debiased pairwise loss from two empirical win probabilities.

    ``P_U = (1/N) sum_j sigmoid(s_+ - s_j)`` (positive beats an unlabeled item) and
    ``P_P = (1/M) sum_m sigmoid(s_+ - s_{k_m})`` (positive beats another observed positive of the
    same user). Since ``E_U = tau_minus E_neg + tau_plus E_pos``, ``P_U - tau_plus P_P`` estimates
    ``tau_minus`` times the true-negative win probability.

    Reference form (default): ``l = -log(max(P_U - tau_plus P_P, floor))``.
    With ``normalize_by_tau_minus=True``:
    ``l = -log(max((P_U - tau_plus P_P) / tau_minus, floor))``, i.e. the reference loss plus
    ``log tau_minus`` when unclamped (same gradients; the floor then acts at
    ``floor * tau_minus`` on the unnormalised difference).

    Rows under the floor get zero gradient (clamp semantics): the hardest rows are dropped, and
    their share is reported as ``floored_fraction``. For ``floor >= 1e-30`` the direct form is
    used (bit-compatible with the reference); below it, an equivalent log-space form. Scores are
    divided by ``temperature`` (default 1, as in the reference).

    Args:
        tau_plus: prior probability that an unlabeled item is a hidden positive, in [0, 1).
        floor: lower clamp of the probability (> 0); 0.01 in the reference.
        normalize_by_tau_minus: use the paper-style normalised form.
        temperature: scores are divided by it (> 0).

    Shape:
        - pos: :math:`(B,)`
        - neg: :math:`(B, N)`
        - extra: :math:`(B, M)` with M >= 1 (required)
        - output: scalar ``loss``; stats ``floored_fraction``, ``mean_p_u``, ``mean_p_p``
    """

    needs_extras = True

    def __init__(
        self,
        tau_plus: float = 0.05,
        floor: float = 0.01,
        normalize_by_tau_minus: bool = False,
        temperature: float = 1.0,
    ) -> None:
        super().__init__(temperature=temperature)
        self.tau_plus = check_tau_plus(tau_plus, warn=True)
        self.floor = check_positive(floor, "floor")
        self.normalize_by_tau_minus = bool(normalize_by_tau_minus)

    def compute(
        self, pos: Tensor, neg: Tensor, extra: Tensor | None, ref: Tensor | None
    ) -> LossOutput:
        if extra is None:  # forward() already enforces this; kept for direct calls
            raise ValueError("dpl: extra positives are required (M >= 1)")
        sp = self.scale(pos).unsqueeze(-1)
        sn, se = self.scale(neg), self.scale(extra)
        tau_minus = 1.0 - self.tau_plus
        if self.floor >= LOG_SPACE_BELOW:
            p_u = torch.sigmoid(sp - sn)
            p_p = torch.sigmoid(sp - se)
            diff = p_u.mean(dim=-1) - (self.tau_plus * p_p).mean(dim=-1)
            if self.normalize_by_tau_minus:
                diff = diff / tau_minus
            floored = diff < self.floor
            row = -torch.log(torch.clamp(diff, min=self.floor))
            mean_p_u, mean_p_p = p_u.mean(), p_p.mean()
        else:
            # log P = LSE(log sigmoid(s_+ - s)) - log n, with log sigmoid(x) = -softplus(-x)
            log_pu = torch.logsumexp(-softplus(sn - sp), dim=-1) - math.log(sn.shape[-1])
            log_pp = torch.logsumexp(-softplus(se - sp), dim=-1) - math.log(se.shape[-1])
            if self.tau_plus == 0.0:
                log_diff = log_pu
            else:
                r = math.log(self.tau_plus) + log_pp - log_pu
                valid = r < 0
                safe_r = torch.where(valid, r, torch.full_like(r, -1.0))
                log_diff = torch.where(
                    valid, log_pu + log1mexp(safe_r), torch.full_like(r, float("-inf"))
                )
            if self.normalize_by_tau_minus:
                log_diff = log_diff - math.log(tau_minus)
            log_floor = math.log(self.floor)
            floored = log_diff < log_floor
            row = -torch.clamp(log_diff, min=log_floor)
            mean_p_u, mean_p_p = log_pu.detach().exp().mean(), log_pp.detach().exp().mean()
        stats = {
            "floored_fraction": floored.to(row.dtype).mean().detach(),
            "mean_p_u": mean_p_u.detach(),
            "mean_p_p": mean_p_p.detach(),
        }
        return LossOutput(row.mean(), stats)

    def extra_repr(self) -> str:
        return (
            f"tau_plus={self.tau_plus}, floor={self.floor}, "
            f"normalize_by_tau_minus={self.normalize_by_tau_minus}, temperature={self.temperature}"
        )
