"""Recommender backbones behind one contract (:class:`Recommender`)."""

from __future__ import annotations

import scipy.sparse as sp
import torch

from bcl_rec.models.base import Recommender, pair_scores
from bcl_rec.models.config import ModelConfig
from bcl_rec.models.lightgcn import LightGCN
from bcl_rec.models.mf import MF

MODELS: dict[str, type[Recommender]] = {"mf": MF, "lightgcn": LightGCN}


def build_model(
    cfg: ModelConfig,
    train: sp.csr_matrix,
    generator: torch.Generator | None = None,
) -> Recommender:
    """The model ``cfg`` names, for the users and items of ``train`` (the graph for LightGCN)."""
    n_users, n_items = train.shape
    common = {
        "dim": cfg.dim,
        "init": cfg.init,
        "init_std": cfg.init_std,
        "generator": generator,
        "score": cfg.score,
    }
    if cfg.name == "mf":
        return MF(n_users, n_items, **common)
    if cfg.name == "lightgcn":
        weights = list(cfg.layer_weights) if cfg.layer_weights is not None else None
        return LightGCN(
            n_users, n_items, train, layers=cfg.layers, layer_weights=weights, **common
        )
    raise ValueError(f"unknown model.name {cfg.name!r}; valid names: {', '.join(sorted(MODELS))}")


__all__ = ["MF", "MODELS", "LightGCN", "ModelConfig", "Recommender", "build_model", "pair_scores"]
