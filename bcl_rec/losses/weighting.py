"""Optional BCL importance weights for the log-sum-exp term of the softmax-family losses.

BSL and PSL both end in ``log sum_j exp(x_j)`` over the N unlabeled items. With ``weights="bcl"``
that term becomes ``log sum_j omega_j exp(x_j)``, the same constant, rank-based ``omega`` that
BCL uses (:func:`.bcl_weights.bcl_weights`, spec 1.4 and 8.5); with ``weights="none"`` it is the
plain log-sum-exp. The alpha of the weights can move during training exactly as BCL's does.
"""

from __future__ import annotations

from torch import Tensor

from ._checks import check_alpha, check_choice
from ._numerics import row_mean, weighted_logsumexp
from .base import RecLoss
from .bcl import BCLLoss, set_weight_params
from .bcl_weights import _bcl_weights

__all__ = ["WEIGHTS", "WeightedLSELoss"]

#: Values of the ``weights`` option.
WEIGHTS = ("none", "bcl")


class WeightedLSELoss(RecLoss):
    """A loss whose negative term is ``log sum_j w_j exp(x_j)``, ``w = 1`` or BCL's ``omega``.

    Args:
        weights: ``"none"`` (every ``w_j = 1``) or ``"bcl"`` (``w = omega``).
        alpha, beta, tau_plus, ecdf, ecdf_source, self_normalise: BCL's weight parameters, as in
            :class:`.bcl.BCLLoss` (validated always, used with ``weights="bcl"`` only).
            ``self_normalise`` divides the weighted sum by ``mean(omega)``.
        temperature: scores are divided by it (> 0).
    """

    def __init__(
        self,
        weights: str = "none",
        alpha: float = 0.9,
        beta: float = 1.0,
        tau_plus: float = 0.05,
        ecdf: str = "max",
        ecdf_source: str = "sampled",
        self_normalise: bool = False,
        temperature: float = 1.0,
    ) -> None:
        super().__init__(temperature=temperature)
        self.weights = check_choice(weights, "weights", WEIGHTS)
        set_weight_params(
            self, alpha, beta, tau_plus, ecdf, ecdf_source, self_normalise, weights == "bcl"
        )
        self.uses_reference = weights == "bcl" and self.ecdf_source == "catalogue"

    @property
    def alpha(self) -> float | None:
        """The weights' alpha, or ``None`` without BCL weights (nothing for a schedule to move)."""
        return self._alpha if self.weights == "bcl" else None

    def set_alpha(self, value: float) -> None:
        """Validate and set alpha in [0.5, 1) (linear schedule or AUC-based adaptive alpha)."""
        self._alpha = check_alpha(value)

    def log_sum(
        self, x: Tensor, neg: Tensor, ref: Tensor | None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """``(log sum_j w_j exp(x_j), stats)`` per row; ``neg`` are the raw unlabeled scores the
        weights are ranked on. A row whose BCL weights are all 0 gives ``-inf`` (zero gradient)."""
        if self.weights == "none":
            return weighted_logsumexp(x), {}
        # parameters checked once, in __init__/set_alpha: the per-batch path does not re-check
        omega, pi_tn = _bcl_weights(neg, self._alpha, self.beta, self.tau_plus, self.ecdf, ref)
        out = weighted_logsumexp(x, omega)
        if self.self_normalise:
            w_mean = row_mean(omega)
            out = out - w_mean.masked_fill(w_mean <= 0, 1.0).log()
        return out, BCLLoss.weight_stats(omega, pi_tn)

    def weight_repr(self) -> str:
        if self.weights == "none":
            return "weights='none'"
        return (
            f"weights='bcl', alpha={self._alpha}, beta={self.beta}, tau_plus={self.tau_plus}, "
            f"ecdf={self.ecdf!r}, ecdf_source={self.ecdf_source!r}, "
            f"self_normalise={self.self_normalise}"
        )
