"""Matrix factorisation: one free embedding per user and per item."""

from __future__ import annotations

import torch

from bcl_rec.models.base import EmbeddingTables


class MF(EmbeddingTables):
    r"""Matrix factorisation, :math:`s_{ui} = \langle e_u, e_i \rangle`.

    Args:
        n_users: number of users.
        n_items: number of items.
        dim: embedding size (default 64).
        init: ``"xavier"`` (Xavier-normal, the default: it trains markedly better than a fixed
            small normal on MovieLens) or ``"normal"`` with standard deviation ``init_std``.
        init_std: standard deviation for ``init="normal"`` (default 0.1).
        generator: random generator for the initial weights.
        score: ``"dot"`` (default) or ``"cosine"`` (see :meth:`scoring_embeddings`).
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int = 64,
        init: str = "xavier",
        init_std: float = 0.1,
        generator: torch.Generator | None = None,
        score: str = "dot",
    ) -> None:
        super().__init__(n_users, n_items, dim, init, init_std, generator, score)

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.user_embedding, self.item_embedding
