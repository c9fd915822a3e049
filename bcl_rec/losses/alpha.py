"""Map a measured AUC to BCL's location parameter alpha (spec 1.9)."""

from __future__ import annotations

from ._checks import check_alpha, check_choice, check_finite, check_tau_plus

__all__ = [
    "ADAPTIVE",
    "ALPHA_MAPPINGS",
    "alpha_from_auc",
    "check_alpha_setting",
    "is_adaptive",
    "starting_alpha",
]

ALPHA_MAPPINGS = ("model", "reference")
ADAPTIVE = "auto"  # loss.alpha: auto = adaptive alpha, re-estimated from the validation AUC
STARTING_ALPHA = 0.5  # adaptive alpha starts with no debiasing


def check_alpha_setting(value: object, name: str = "loss.alpha") -> float | str:
    """A ``loss.alpha`` setting: a number in [0.5, 1) or ``"auto"`` (returned as given)."""
    if value == ADAPTIVE and isinstance(value, str):
        return ADAPTIVE
    try:
        return check_alpha(value, name)
    except ValueError:
        raise ValueError(
            f"{name} must be a number in [0.5, 1) or {ADAPTIVE!r}, got {value!r}"
        ) from None


def is_adaptive(alpha: float | str) -> bool:
    """Whether a ``loss.alpha`` setting asks for adaptive alpha."""
    return isinstance(alpha, str) and alpha == ADAPTIVE


def starting_alpha(alpha: float | str) -> float:
    """The alpha a loss is built with: the setting, or 0.5 for adaptive alpha."""
    return STARTING_ALPHA if is_adaptive(alpha) else float(alpha)


def alpha_from_auc(
    auc: float, tau_plus: float, mapping: str = "model", alpha_max: float = 0.99
) -> float:
    """Estimate alpha from the per-user (macro) AUC of observed positives vs unlabeled items.

    ``mapping="model"`` inverts the generative model of spec 1.1 for independently drawn scores:
    ``AUC_PU = tau_minus AUC_PN + tau_plus / 2`` and ``AUC_PN = 1/2 + (2 alpha - 1) / 3``, so
    ``alpha = 1/2 + (3/2) ((AUC_PU - tau_plus/2) / tau_minus - 1/2)``.
    ``mapping="reference"`` sets ``alpha = AUC`` as the BCL reference code does. Either result is
    clipped to ``[0.5, alpha_max]`` (an AUC at or below chance gives 0.5). The model mapping is a
    proposal: the paper may link AUC and alpha differently.

    Args:
        auc: measured AUC in [0, 1].
        tau_plus: hidden-positive prior in [0, 1).
        mapping: ``"model"`` or ``"reference"``.
        alpha_max: upper clip in [0.5, 1).
    """
    auc = check_finite(auc, "auc")
    if not 0.0 <= auc <= 1.0:
        raise ValueError(f"auc must be in [0, 1], got {auc!r}")
    tau_plus = check_tau_plus(tau_plus)
    check_choice(mapping, "mapping", ALPHA_MAPPINGS)
    alpha_max = check_alpha(alpha_max, "alpha_max")
    if mapping == "model":
        auc_pn = (auc - tau_plus / 2.0) / (1.0 - tau_plus)
        alpha = 0.5 + 1.5 * (auc_pn - 0.5)
    else:
        alpha = auc
    return min(max(alpha, 0.5), alpha_max)
