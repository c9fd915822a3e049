"""Recommender backbones behind one contract (:class:`Recommender`)."""

from __future__ import annotations

import torch

from bcl_rec.models.base import Recommender, pair_scores
from bcl_rec.models.mf import MF

MODELS: dict[str, type[Recommender]] = {"mf": MF}


def build_model(
    name: str,
    n_users: int,
    n_items: int,
    generator: torch.Generator | None = None,
    **kwargs,
) -> Recommender:
    """A model by registry name, with explicit keyword arguments."""
    if name not in MODELS:
        raise ValueError(f"unknown model.name {name!r}; valid names: {', '.join(sorted(MODELS))}")
    return MODELS[name](n_users, n_items, generator=generator, **kwargs)


__all__ = ["MF", "MODELS", "Recommender", "build_model", "pair_scores"]
