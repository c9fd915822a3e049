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


def _detector_kwargs(cfg: LossConfig) -> dict[str, Any]:
    return {
        "source": cfg.ifnd_source,
        "clusters": cfg.ifnd_clusters,
        "every": cfg.ifnd_every,
        "warmup": cfg.ifnd_warmup,
        "end": cfg.ifnd_end,
        "threshold": cfg.ifnd_threshold,
        "alpha": _posterior_alpha(cfg),
        "tau_plus": cfg.tau_plus,
        "ecdf": cfg.ecdf,
    }


def _posterior_alpha(cfg: LossConfig) -> float:
    return 0.5 if cfg.alpha == "auto" else float(cfg.alpha)


def _pcl_kwargs(cfg: LossConfig, embedding_dim: int | None) -> dict[str, Any]:
    if embedding_dim is None:
        raise ValueError("loss.name='pcl' needs the model's embedding dimension (embedding_dim)")
    return {
        "dim": embedding_dim,
        "form": cfg.pcl_form,
        "kappa": cfg.pcl_kappa,
        "kappa_min": cfg.pcl_kappa_min,
        "kappa_max": cfg.pcl_kappa_max,
        "lam": cfg.pcl_lambda,
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
    "ifnd": lambda c: {
        "mode": c.ifnd_mode,
        "temperature": c.temperature,
        **_detector_kwargs(c),
    },
    "hscl": lambda c: {
        "gamma": c.hscl_gamma,
        "q_source": c.hscl_q,
        "detach_weights": c.detach_weights,
        "alpha": _posterior_alpha(c),
        "tau_plus": c.tau_plus,
        "ecdf": c.ecdf,
        "temperature": c.temperature,
        "detector": _detector_kwargs(c) if c.hscl_q == "ifnd" else None,
    },
}


def loss_kwargs(cfg: LossConfig, embedding_dim: int | None = None) -> dict[str, Any]:
    """The explicit constructor kwargs that :func:`build_loss` passes for ``cfg.name``.

    ``embedding_dim`` (the model's d) is needed by losses on embeddings (``pcl``) only.
    """
    get_loss_class(cfg.name)  # unknown name -> ValueError listing the valid names
    if cfg.name == "pcl":
        return _pcl_kwargs(cfg, embedding_dim)
    if cfg.name not in _KWARGS:
        raise ValueError(f"loss {cfg.name!r} is registered but has no config mapping")
    return _KWARGS[cfg.name](cfg)


def build_loss(cfg: LossConfig, embedding_dim: int | None = None) -> RecLoss:
    """Instantiate the registered loss ``cfg.name`` with kwargs taken from ``cfg``."""
    return get_loss_class(cfg.name)(**loss_kwargs(cfg, embedding_dim))
