"""BCL: Bayesian contrastive learning adapted to (user, positive, N unlabeled items) rows.

Each unlabeled item gets a constant importance weight ``omega_j`` (see :mod:`.bcl_weights`) that
turns averages over uniformly sampled unlabeled items into averages over hard *true* negatives:
``E_{p_htn}[f] = E_{p_u}[omega f]``. Likely false negatives (top-ranked unlabeled items when
alpha > 0.5) are down-weighted through ``p_u``; beta > 0.5 up-weights hard negatives.
"""

from __future__ import annotations

from torch import Tensor

from ._checks import check_alpha, check_beta, check_choice, check_tau_plus
from ._numerics import row_mean, softplus, weighted_logsumexp
from .base import LossOutput, RecLoss, register
from .bcl_weights import ECDF_RULES, _bcl_weights

__all__ = ["BCLLoss", "BCLNCELoss"]

ECDF_SOURCES = ("sampled", "catalogue")


def set_weight_params(
    loss: RecLoss,
    alpha: float,
    beta: float,
    tau_plus: float,
    ecdf: str,
    ecdf_source: str,
    self_normalise: bool,
    warn: bool,
) -> None:
    """Validate BCL's weight parameters once and store them on ``loss`` (``_alpha``, ``beta``,
    ``tau_plus``, ``ecdf``, ``ecdf_source``, ``self_normalise``); ``warn`` on a large tau_plus."""
    loss._alpha = check_alpha(alpha)
    loss.beta = check_beta(beta)
    loss.tau_plus = check_tau_plus(tau_plus, warn=warn)
    loss.ecdf = check_choice(ecdf, "ecdf", ECDF_RULES)
    loss.ecdf_source = check_choice(ecdf_source, "ecdf_source", ECDF_SOURCES)
    loss.self_normalise = bool(self_normalise)


class _BCLBase(RecLoss):
    """Shared parameters, weights and stats of the two BCL forms."""

    def __init__(
        self,
        alpha: float = 0.9,
        beta: float = 1.0,
        tau_plus: float = 0.05,
        ecdf: str = "max",
        ecdf_source: str = "sampled",
        self_normalise: bool = False,
        temperature: float = 1.0,
    ) -> None:
        super().__init__(temperature=temperature)
        set_weight_params(self, alpha, beta, tau_plus, ecdf, ecdf_source, self_normalise, True)
        self.uses_reference = self.ecdf_source == "catalogue"

    @property
    def alpha(self) -> float:
        """Current location parameter (may change during training, see :meth:`set_alpha`)."""
        return self._alpha

    def set_alpha(self, value: float) -> None:
        """Validate and set alpha in [0.5, 1) (linear schedule or AUC-based adaptive alpha)."""
        self._alpha = check_alpha(value)

    def weights(self, neg: Tensor, ref: Tensor | None) -> tuple[Tensor, Tensor]:
        """``(omega, pi_tn)`` for the raw (unscaled) unlabeled scores; constants, no gradient."""
        # parameters checked once, in __init__/set_alpha: the per-batch path does not re-check
        return _bcl_weights(neg, self._alpha, self.beta, self.tau_plus, self.ecdf, ref)

    @staticmethod
    def weight_stats(omega: Tensor, pi_tn: Tensor) -> dict[str, Tensor]:
        return {
            "mean_weight": omega.mean(),
            "max_weight": omega.max(),
            "min_weight": omega.min(),
            "mean_pi_tn": pi_tn.mean(),
        }

    def extra_repr(self) -> str:
        return (
            f"alpha={self._alpha}, beta={self.beta}, tau_plus={self.tau_plus}, "
            f"ecdf={self.ecdf!r}, ecdf_source={self.ecdf_source!r}, "
            f"self_normalise={self.self_normalise}, temperature={self.temperature}"
        )


@register("bcl")
class BCLLoss(_BCLBase):
    """Pairwise (BPR-style) BCL loss, the main recommender form (spec 1.6, forms 1 and 2).

    ``l = (1/N) sum_j omega_j softplus(s_j - s_+)``; with ``self_normalise=True``
    ``l = sum_j omega_j softplus(s_j - s_+) / sum_j omega_j`` (a row whose weights are all 0,
    possible only with a catalogue ECDF and beta = 1, contributes 0). ``omega`` is a constant
    computed from the raw scores' ranks; the temperature (default 1) divides the scores inside
    the softplus. At alpha = beta = 0.5 the weights are exactly 1 and both forms equal mean BPR.
    Extra positives are not used (the reference BCL never sees them).

    Args:
        alpha: location parameter in [0.5, 1): P(positive > negative) within a coupled pair.
        beta: concentration in [0.5, 1]: 0.5 = debias only, 1 = strongest hard-negative tilt.
        tau_plus: prior probability that an unlabeled item is a hidden positive, in [0, 1).
        ecdf: ``"max"`` (reference, right-continuous) or ``"mid"`` (midpoint rule, less biased).
        ecdf_source: ``"sampled"`` (rank among the N sampled items) or ``"catalogue"`` (rank
            among the finite entries of ``ref``).
        self_normalise: divide by ``sum omega`` instead of N.
        temperature: scores are divided by it inside the loss (> 0); weights are unaffected.

    Shape:
        - pos: :math:`(B,)`
        - neg: :math:`(B, N)`
        - ref: :math:`(B, K)`, required iff ``ecdf_source="catalogue"``
        - output: scalar ``loss``; stats ``mean_weight``, ``max_weight``, ``min_weight``,
          ``mean_pi_tn``
    """

    def compute(
        self, pos: Tensor, neg: Tensor, extra: Tensor | None, ref: Tensor | None
    ) -> LossOutput:
        omega, pi_tn = self.weights(neg, ref)
        sp, sn = self.scale(pos), self.scale(neg)
        weighted = omega * softplus(sn - sp.unsqueeze(-1))
        if self.self_normalise:
            w_sum = omega.sum(-1)
            row = weighted.sum(-1) / w_sum.masked_fill(w_sum <= 0, 1.0)
        else:
            row = row_mean(weighted)
        return LossOutput(row.mean(), self.weight_stats(omega, pi_tn))


@register("bcl-nce")
class BCLNCELoss(_BCLBase):
    """Contrastive (InfoNCE) BCL loss, exactly the reference estimator (spec 1.6, forms 3 and 4).

    ``l = -log(e^{s_+} / (e^{s_+} + sum_j omega_j e^{s_j})) = softplus(L - s_+)`` with
    ``L = log sum_j omega_j e^{s_j}`` evaluated as a log-sum-exp over the items with
    ``omega_j > 0``. With ``self_normalise=True`` the negative term is
    ``N sum_j omega_j e^{s_j} / sum_j omega_j`` (``l = softplus(L - log mean(omega) - s_+)``).
    Scores are temperature-scaled; ``omega`` is computed from the raw scores' ranks. At
    alpha = beta = 0.5 both forms equal sampled softmax exactly. Extra positives are not used.

    Args: as :class:`BCLLoss`.

    Shape:
        - pos: :math:`(B,)`
        - neg: :math:`(B, N)`
        - ref: :math:`(B, K)`, required iff ``ecdf_source="catalogue"``
        - output: scalar ``loss``; stats ``mean_weight``, ``max_weight``, ``min_weight``,
          ``mean_pi_tn``
    """

    def compute(
        self, pos: Tensor, neg: Tensor, extra: Tensor | None, ref: Tensor | None
    ) -> LossOutput:
        omega, pi_tn = self.weights(neg, ref)
        sp, sn = self.scale(pos), self.scale(neg)
        log_ng = weighted_logsumexp(sn, omega)
        if self.self_normalise:
            w_mean = row_mean(omega)
            log_ng = log_ng - _log_or_zero(w_mean)
        row = softplus(log_ng - sp)
        return LossOutput(row.mean(), self.weight_stats(omega, pi_tn))


def _log_or_zero(w_mean: Tensor) -> Tensor:
    """``log`` of a non-negative constant, with 0 mapped to 0 (its row's ``log_ng`` is already
    ``-inf``, so the loss of that row is exactly 0)."""
    return w_mean.masked_fill(w_mean <= 0, 1.0).log()
