"""Build a loss module from a :class:`LossConfig`."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

from .alpha import is_adaptive, starting_alpha
from .base import CONFIG_MAPPINGS, RecLoss, get_loss_class
from .config import LossConfig

__all__ = ["build_loss", "loss_kwargs", "unused_loss_keys", "used_loss_keys"]


def _bcl_kwargs(cfg: LossConfig) -> dict[str, Any]:
    return {
        "alpha": starting_alpha(cfg.alpha),  # "auto": the trainer calls set_alpha() later
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
    return _mapping(cfg.name)(cfg)


def _mapping(name: str) -> Callable[[LossConfig], dict[str, Any]]:
    """How loss ``name`` reads its config: built in, given to ``register``, or no keys at all."""
    return _KWARGS.get(name) or CONFIG_MAPPINGS.get(name) or (lambda c: {})


def build_loss(cfg: LossConfig, embedding_dim: int | None = None) -> RecLoss:
    """Instantiate the registered loss ``cfg.name`` with kwargs taken from ``cfg``.

    ``cfg`` was checked (and warned about, e.g. ``loss.tau_plus >= 0.5``) when it was built, so
    the constructor's own warnings would only repeat those.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return get_loss_class(cfg.name)(**loss_kwargs(cfg, embedding_dim))


# Keys the trainer (not the loss constructor) reads, and when each one has an effect for a built
# loss; together with the constructor kwargs above they say which loss.* keys a loss uses.
_TRAINER_KEYS: dict[str, Callable[[LossConfig, RecLoss], bool]] = {
    "name": lambda c, loss: True,
    "num_negatives": lambda c, loss: True,
    "num_extras": lambda c, loss: bool(getattr(loss, "needs_extras", False)),
    "alpha_schedule": lambda c, loss: hasattr(loss, "set_alpha"),
    "alpha_every": lambda c, loss: hasattr(loss, "set_alpha") and c.alpha_schedule == "linear",
    "alpha_steps": lambda c, loss: hasattr(loss, "set_alpha") and c.alpha_schedule == "linear",
    "alpha_max": lambda c, loss: hasattr(loss, "set_alpha") and is_adaptive(c.alpha),
    "alpha_from_auc": lambda c, loss: hasattr(loss, "set_alpha") and is_adaptive(c.alpha),
    "ecdf_sample": lambda c, loss: bool(getattr(loss, "uses_reference", False)),
}


class _ReadRecorder:
    """Stands in for a :class:`LossConfig` and records which fields a kwargs mapping reads."""

    def __init__(self, cfg: LossConfig) -> None:
        self._cfg = cfg
        self.read: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        self.read.add(name)
        return getattr(self._cfg, name)


# any embedding size: only which keys the loss reads matters
_PROBE_DIM = 8


def used_loss_keys(cfg: LossConfig) -> frozenset[str]:
    """The ``loss.*`` keys that have an effect for ``cfg`` (its loss's kwargs + trainer keys)."""
    recorder = _ReadRecorder(cfg)
    if cfg.name == "pcl":
        _pcl_kwargs(recorder, _PROBE_DIM)  # type: ignore[arg-type]
    else:
        _mapping(cfg.name)(recorder)  # type: ignore[arg-type]
    loss = build_loss(cfg, embedding_dim=_PROBE_DIM)
    return frozenset(recorder.read) | {k for k, used in _TRAINER_KEYS.items() if used(cfg, loss)}


def unused_loss_keys(cfg: LossConfig, given: Iterable[str]) -> list[str]:
    """The keys among ``given`` (written in a config) that ``cfg``'s loss ignores, sorted."""
    used = used_loss_keys(cfg)
    return sorted(k for k in set(given) if k not in used)
