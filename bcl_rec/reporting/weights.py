"""BCL's importance weight omega and true-negative posterior pi_TN as curves over the rank u.

The curves come from the loss's own functions (``g_inverse``, ``weights_from_t``); the endpoint
values come from the closed forms of spec 1.4, so a figure that draws both shows they agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bcl_rec.losses._checks import check_alpha, check_beta, check_tau_plus
from bcl_rec.losses.bcl_weights import g_inverse, weights_from_t


@dataclass(frozen=True)
class WeightParams:
    """One BCL parameter set, validated like ``loss.alpha``, ``loss.beta``, ``loss.tau_plus``."""

    alpha: float
    beta: float
    tau_plus: float

    def __post_init__(self) -> None:
        check_alpha(self.alpha)
        check_beta(self.beta)
        check_tau_plus(self.tau_plus)

    @property
    def label(self) -> str:
        return f"α={self.alpha:g}, β={self.beta:g}, τ+={self.tau_plus:g}"


@dataclass(frozen=True)
class Endpoints:
    """omega and pi_TN at the lowest (u = 0) and highest (u = 1) unlabeled score."""

    omega0: float
    omega1: float
    pi_tn0: float
    pi_tn1: float


def weight_curves(
    params: WeightParams, points: int = 501
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``u`` on an even grid of [0, 1] and ``omega(G^-1(u))``, ``pi_TN(G^-1(u))`` in float64."""
    u = torch.linspace(0.0, 1.0, points, dtype=torch.float64)
    t = g_inverse(u, params.alpha, params.tau_plus)
    omega, pi_tn = weights_from_t(t, params.alpha, params.beta, params.tau_plus)
    return u, omega, pi_tn


def closed_form_endpoints(params: WeightParams) -> Endpoints:
    """Spec 1.4: ``omega(0) = alpha(1-beta) / (Z (alpha tau- + (1-alpha) tau+))``,
    ``omega(1) = (1-alpha) beta / (Z ((1-alpha) tau- + alpha tau+))`` with
    ``Z = alpha(1-beta) + (1-alpha) beta``; ``pi_TN`` is ``tau- p_tn / p_u`` at ``t = 0, 1``."""
    a, b, tp = params.alpha, params.beta, params.tau_plus
    tm = 1.0 - tp
    z = a * (1 - b) + (1 - a) * b
    low = a * tm + (1 - a) * tp  # p_u(0) / 2
    high = (1 - a) * tm + a * tp  # p_u(1) / 2
    return Endpoints(
        omega0=a * (1 - b) / (z * low),
        omega1=(1 - a) * b / (z * high),
        pi_tn0=tm * a / low,
        pi_tn1=tm * (1 - a) / high,
    )
