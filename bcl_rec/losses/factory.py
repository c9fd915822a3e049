"""Build a loss module from a :class:`LossConfig`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import RecLoss, get_loss_class
from .config import LossConfig

__all__ = ["build_loss", "loss_kwargs"]


def _bcl_kwargs(cfg: LossConfig) -> dict[str, Any]:
    return {
        # adaptive alpha ("auto") starts at 0.5 (no debiasing); the trainer calls set_alpha()
        "alpha": 0.5 if cfg.alpha == "auto" else cfg.alpha,
        "beta": cfg.beta,
        "tau_plus": cfg.tau_plus,
        "ecdf": cfg.ecdf,
        "ecdf_source": cfg.ecdf_source,
        "self_normalise": cfg.self_normalise,
        "temperature": cfg.temperature,
    }


def _dcl_kwargs(cfg: LossConfig) -> dict[str, Any]:
    return {
        "tau_plus": cfg.tau_plus,
        "s_min": cfg.s_min,
        "pos_source": cfg.dcl_pos,
        "temperature": cfg.temperature,
    }


_KWARGS: dict[str, Callable[[LossConfig], dict[str, Any]]] = {
    "bpr": lambda c: {"first_only": c.bpr_first_only, "temperature": c.temperature},
    "bcl": _bcl_kwargs,
    "bcl-nce": _bcl_kwargs,
    "dpl": lambda c: {
        "tau_plus": c.tau_plus,
        "floor": c.dpl_floor,
        "normalize_by_tau_minus": c.normalize_by_tau_minus,
        "temperature": c.temperature,
    },
    "dcl": _dcl_kwargs,
    "hcl": lambda c: {
        **_dcl_kwargs(c),
        "hcl_beta": c.hcl_beta,
        "detach_weights": c.detach_weights,
    },
    "ssm": lambda c: {
        "temperature": c.temperature,
        "positive_in_denominator": c.ssm_positive_in_denominator,
    },
    "bsl": lambda c: {**_bcl_kwargs(c), "weights": c.weights, "gamma": c.bsl_gamma},
    "psl": lambda c: {
        **_bcl_kwargs(c),
        "weights": c.weights,
        "activation": c.psl_activation,
        "psl_temperature": c.psl_temperature,
    },
}


def loss_kwargs(cfg: LossConfig) -> dict[str, Any]:
    """The explicit constructor kwargs that :func:`build_loss` passes for ``cfg.name``."""
    get_loss_class(cfg.name)  # unknown name -> ValueError listing the valid names
    if cfg.name not in _KWARGS:
        raise ValueError(f"loss {cfg.name!r} is registered but has no config mapping")
    return _KWARGS[cfg.name](cfg)


def build_loss(cfg: LossConfig) -> RecLoss:
    """Instantiate the registered loss ``cfg.name`` with kwargs taken from ``cfg``."""
    return get_loss_class(cfg.name)(**loss_kwargs(cfg))
