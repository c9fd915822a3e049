"""Probabilistic contrastive loss (Li, Xu, Hooi 2021), read as von Mises-Fisher embeddings.

Every embedding is a direction ``mu_x = e_x / ||e_x||`` with a concentration ``kappa_x`` (its
confidence). Form A keeps the softmax over ``kappa_u mu_u . mu_j`` with a per-user concentration;
form B scores candidates by the mutual likelihood of two vMF distributions (spec 5.2).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import check_choice, check_non_negative, check_positive
from ._numerics import softplus, weighted_logsumexp
from .base import LossOutput, RecLoss, register

__all__ = ["PCLLoss", "log_bessel_iv", "log_vmf_normaliser"]

PCL_FORMS = ("A", "B")
KAPPA_SOURCES = ("learned", "norm")
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def log_bessel_iv(nu: float, x: Tensor) -> Tensor:
    """``log I_nu(x)`` by the uniform asymptotic expansion (leading term), for ``nu > 0``:

    ``eta + nu log(x / (nu + eta)) - log(2 pi)/2 - log(eta)/2`` with ``eta = sqrt(nu^2 + x^2)``.
    The error of ``log I`` is ``O(1/nu)`` (the next term is ``u_1(t)/nu``, ``|u_1| <= 1/12``):
    below 0.012 for ``d = 2 nu + 2 >= 16``.
    """
    eta = torch.sqrt(nu * nu + x * x)
    return eta + nu * torch.log(x / (nu + eta)) - _HALF_LOG_2PI - 0.5 * torch.log(eta)


def log_vmf_normaliser(kappa_sq: Tensor, d: int) -> Tensor:
    """``log C_d(kappa)`` of the vMF density on the sphere in R^d, from ``kappa^2`` (>= 0).

    ``log C_d(k) = (d/2 - 1) log k - (d/2) log 2 pi - log I_{d/2-1}(k)`` with
    :func:`log_bessel_iv`; the ``log k`` terms cancel, leaving
    ``-eta + nu log(nu + eta) + log(eta)/2 + log(2 pi)/2 - (d/2) log 2 pi``,
    ``eta = sqrt(nu^2 + k^2)``: smooth in ``k^2`` down to 0 (no ``sqrt`` or ``log`` of 0).
    """
    nu = d / 2.0 - 1.0
    eta = torch.sqrt(nu * nu + torch.clamp(kappa_sq, min=0.0))
    return (
        -eta
        + nu * torch.log(nu + eta)
        + 0.5 * torch.log(eta)
        + _HALF_LOG_2PI
        - (d / 2.0) * math.log(2.0 * math.pi)
    )


@register("pcl")
class PCLLoss(RecLoss):
    """Probabilistic contrastive loss with vMF concentrations (needs the rows' embeddings).

    - Form ``"A"``: ``l = softplus(LSE_j k_u mu_u.mu_j - k_u mu_u.mu_+) + lambda k_u^2``.
    - Form ``"B"``: ``logit_x = log C_d(k_x) - log C_d(||k_u mu_u + k_x mu_x||)`` for the positive
      and each j, ``l = softplus(LSE_j logit_j - logit_+) + lambda (k_u^2 + mean_x k_x^2)``
      (the mean over the positive and the N items).

    Concentrations: ``kappa="learned"``: ``k_x = kappa_min + softplus(w^T e_x + b)`` with one
    head ``(w, b)`` for users and one for items (form B), the loss's own parameters, which the
    trainer optimises with the model's (they start at ``w = 0, b = 0``, so the run's seed alone
    fixes them); ``kappa="norm"``: ``k_x = ||e_x||``. Both are clamped to
    ``[kappa_min, kappa_max]`` (no gradient where clamped). The penalty keeps kappa from growing
    without bound on easy users. The scores passed in are not used (kappa replaces 1/T).

    Args:
        dim: embedding dimension d (form B needs d >= 3; its Bessel expansion is accurate for
            d >= 16).
        form: ``"A"`` or ``"B"``.
        kappa: ``"learned"`` or ``"norm"``.
        kappa_min, kappa_max: the clamp, ``0 < kappa_min < kappa_max``.
        lam: penalty weight lambda >= 0.

    Shape:
        - vectors: ``(user (B, d), pos (B, d), neg (B, N, d))``
        - output: scalar ``loss``; stats ``mean_kappa``, ``penalty``
    """

    needs_vectors = True

    def __init__(
        self,
        dim: int,
        form: str = "A",
        kappa: str = "learned",
        kappa_min: float = 5.0,
        kappa_max: float = 50.0,
        lam: float = 1e-4,
    ) -> None:
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be an integer >= 1 (the embedding dimension), got {dim!r}")
        self.form = check_choice(form, "form", PCL_FORMS)
        if self.form == "B" and dim < 3:
            raise ValueError(f"dim must be >= 3 for form 'B' (Bessel order d/2 - 1 > 0), got {dim}")
        self.dim = dim
        self.kappa = check_choice(kappa, "kappa", KAPPA_SOURCES)
        self.kappa_min = check_positive(kappa_min, "kappa_min")
        self.kappa_max = check_positive(kappa_max, "kappa_max")
        if self.kappa_max <= self.kappa_min:
            raise ValueError(f"kappa_max must be > kappa_min, got {kappa_max} <= {kappa_min}")
        self.lam = check_non_negative(lam, "lam")
        if self.kappa == "learned":
            self.user_head = nn.Parameter(torch.zeros(dim + 1))
            if self.form == "B":
                self.item_head = nn.Parameter(torch.zeros(dim + 1))

    def concentration(self, e: Tensor, head: str) -> Tensor:
        """``kappa`` of each row of ``e`` (shape ``e.shape[:-1]``), clamped."""
        if self.kappa == "norm":
            k = torch.linalg.vector_norm(e, dim=-1)
        else:
            wb = getattr(self, head).to(e.dtype)
            k = self.kappa_min + F.softplus(e @ wb[:-1] + wb[-1])
        return torch.clamp(k, self.kappa_min, self.kappa_max)

    def compute(
        self, pos: Tensor, neg: Tensor, extra: Tensor | None, ref: Tensor | None
    ) -> LossOutput:
        raise ValueError("pcl needs the rows' embeddings: call it with vectors=(user, pos, neg)")

    def compute_with(self, pos, neg, extra, ref, items, vectors) -> LossOutput:
        eu, ep, en = vectors
        cand = torch.cat([ep.unsqueeze(1), en], dim=1)  # [B, 1 + N, d]
        mu_u = F.normalize(eu, dim=-1)
        cos = (F.normalize(cand, dim=-1) * mu_u.unsqueeze(1)).sum(-1)  # [B, 1 + N]
        k_u = self.concentration(eu, "user_head")
        if self.form == "A":
            logits = k_u.unsqueeze(-1) * cos
            penalty = self.lam * k_u**2
            k_mean = k_u
        else:
            k_x = self.concentration(cand, "item_head")
            ku = k_u.unsqueeze(-1)
            joint_sq = ku**2 + k_x**2 + 2.0 * ku * k_x * cos
            logits = log_vmf_normaliser(k_x**2, self.dim) - log_vmf_normaliser(joint_sq, self.dim)
            penalty = self.lam * (k_u**2 + (k_x**2).mean(-1))
            k_mean = torch.cat([k_u.unsqueeze(-1), k_x], dim=-1).mean(-1)
        rows = softplus(weighted_logsumexp(logits[:, 1:]) - logits[:, 0]) + penalty
        stats = {"mean_kappa": k_mean.mean().detach(), "penalty": penalty.mean().detach()}
        return LossOutput(rows.mean(), stats)

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, form={self.form!r}, kappa={self.kappa!r}, "
            f"kappa_min={self.kappa_min}, kappa_max={self.kappa_max}, lam={self.lam}"
        )
