"""Matrix factorisation: one free embedding per user and per item."""

from __future__ import annotations

import torch
from torch import nn

from bcl_rec.models.base import Recommender, init_embedding_


class MF(Recommender):
    r"""Matrix factorisation, :math:`s_{ui} = \langle e_u, e_i \rangle`.

    Args:
        n_users: number of users.
        n_items: number of items.
        dim: embedding size (default 64).
        init: ``"xavier"`` (Xavier-normal, the default: it trains markedly better than a fixed
            small normal on MovieLens) or ``"normal"`` with standard deviation ``init_std``.
        init_std: standard deviation for ``init="normal"`` (default 0.1).
        generator: random generator for the initial weights.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int = 64,
        init: str = "xavier",
        init_std: float = 0.1,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"model.dim must be >= 1, got {dim}")
        self.n_users, self.n_items, self.dim = n_users, n_items, dim
        self.init, self.init_std = init, init_std
        self.user_embedding = nn.Parameter(torch.empty(n_users, dim))
        self.item_embedding = nn.Parameter(torch.empty(n_items, dim))
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        init_embedding_(self.user_embedding, self.init, self.init_std, generator)
        init_embedding_(self.item_embedding, self.init, self.init_std, generator)

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.user_embedding, self.item_embedding
