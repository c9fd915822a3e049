"""The RecBole config keys bcl-rec's models read, their defaults, and the loss they build.

A model class passed to RecBole's ``Config`` gets none of RecBole's per-model default files, so
the defaults live here, in one place, and are used whether or not the runner fills them in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bcl_rec.losses import LossConfig
from bcl_rec.losses.alpha import is_adaptive

#: Model keys shared by every bcl-rec model, with their defaults (bcl-rec's ``model`` section).
MODEL_DEFAULTS: dict[str, Any] = {
    "embedding_size": 64,
    "init": "xavier",
    "init_std": 0.1,
    "score": "dot",
}

#: Extra keys of BCLLightGCN (named as in RecBole's own LightGCN where one exists).
LIGHTGCN_DEFAULTS: dict[str, Any] = {"n_layers": 2, "layer_weights": None}


def setting(config: Any, key: str, defaults: Mapping[str, Any]) -> Any:
    """``config[key]``, or its default when the key is absent."""
    value = config[key] if key in config else None
    return defaults[key] if value is None else value


def negatives_per_positive(config: Any) -> int:
    """N, the unlabeled items RecBole samples per positive (``train_neg_sample_args``)."""
    args = config["train_neg_sample_args"] or {}
    distribution = args.get("distribution", "none")
    sample_num = args.get("sample_num", "none")
    if distribution in (None, "none") or sample_num in (None, "none"):
        raise ValueError(
            "bcl-rec models need RecBole to sample unlabeled items: set "
            "train_neg_sample_args: {distribution: uniform, sample_num: N}"
        )
    if isinstance(sample_num, bool) or not isinstance(sample_num, int) or sample_num < 1:
        raise ValueError(
            f"train_neg_sample_args.sample_num must be an integer >= 1, got {sample_num!r}"
        )
    return sample_num


def loss_section(config: Any) -> dict[str, Any]:
    """The ``loss`` setting as a mapping (``loss: bpr`` is short for ``loss: {name: bpr}``)."""
    raw = config["loss"] if "loss" in config else None
    if raw is None:
        return {}
    if isinstance(raw, str):
        return {"name": raw}
    if not isinstance(raw, Mapping):
        raise ValueError(f"loss must be a loss name or a mapping of loss settings, got {raw!r}")
    return dict(raw)


def loss_config(config: Any, num_negatives: int) -> LossConfig:
    """The :class:`LossConfig` of a RecBole config, with N taken from RecBole's sampler.

    ``loss.num_negatives``, when given, must equal ``train_neg_sample_args.sample_num``: RecBole
    draws the negatives, so a different value would be silently ignored otherwise.
    """
    raw = loss_section(config)
    given = raw.pop("num_negatives", None)
    if given is not None and given != num_negatives:
        raise ValueError(
            f"loss.num_negatives = {given} but RecBole samples "
            f"train_neg_sample_args.sample_num = {num_negatives} negatives per positive; "
            "set them equal (bcl-rec's runner copies loss.num_negatives over when "
            "train_neg_sample_args.sample_num is not set)"
        )
    cfg = LossConfig.from_dict({**raw, "num_negatives": num_negatives})
    if is_adaptive(cfg.alpha) or cfg.alpha_schedule != "constant":
        raise ValueError(
            "loss.alpha = 'auto' and loss.alpha_schedule = 'linear' need bcl-rec's own trainer "
            "(`bcl-rec train`); inside RecBole use a constant numeric loss.alpha"
        )
    return cfg
