"""The contract every bcl-rec model satisfies, so trainer, evaluator and losses ignore the backbone.

A model produces one embedding per user and per item. The score of (u, i) is their dot product
(``score="dot"``) or their cosine (``score="cosine"``: the dot product of the L2-normalised
embeddings). Graph models (LightGCN) compute their final embeddings by propagation in
:meth:`embeddings`. :meth:`scoring_embeddings` is the one place that turns them into the vectors
whose dot products are the scores; trainer, evaluator and every consumer compare those.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
import torch.nn.functional as F
from torch import nn

#: The score functions a model can rank by.
SCORES = ("dot", "cosine")

#: Floor on an embedding's norm before it is divided by it: a zero embedding normalises to the
#: zero vector (score 0, finite gradient) instead of 0/0.
NORM_FLOOR = 1e-12


class Recommender(nn.Module, ABC):
    """An embedding recommender: ``score(u, i) = <f(e_u), f(e_i)>``, ``f`` the identity (``dot``)
    or the L2 normalisation (``cosine``)."""

    n_users: int
    n_items: int
    dim: int
    score_kind: str = "dot"

    @abstractmethod
    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Final ``([n_users, dim], [n_items, dim])`` embeddings, differentiable."""

    @abstractmethod
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Re-initialise every parameter, drawing from ``generator`` for reproducibility."""

    def scoring_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The user and item vectors whose dot products are the model's scores, differentiable:
        :meth:`embeddings` as they are (``dot``) or L2-normalised row by row (``cosine``)."""
        user_emb, item_emb = self.embeddings()
        if self.score_kind == "cosine":
            return normalize_rows(user_emb), normalize_rows(item_emb)
        return user_emb, item_emb

    def score(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores of ``items`` (``[B]`` or ``[B, N]``) for ``users`` (``[B]``)."""
        user_emb, item_emb = self.scoring_embeddings()
        return pair_scores(gather(user_emb, users), gather(item_emb, items))

    def full_scores(self, users: torch.Tensor) -> torch.Tensor:
        """``[B, n_items]`` scores of every item for ``users`` (``[B]``)."""
        user_emb, item_emb = self.scoring_embeddings()
        return user_emb[users] @ item_emb.T

    def extra_repr(self) -> str:
        return (
            f"n_users={self.n_users}, n_items={self.n_items}, dim={self.dim}, "
            f"score={self.score_kind}"
        )


def normalize_rows(x: torch.Tensor) -> torch.Tensor:
    """``x / max(||x||, NORM_FLOOR)`` row by row: unit rows, and a zero row stays zero."""
    return F.normalize(x, dim=-1, eps=NORM_FLOOR)


class EmbeddingTables(Recommender):
    """A recommender whose parameters are one free embedding per user and per item."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int,
        init: str,
        init_std: float,
        generator: torch.Generator | None,
        score: str = "dot",
    ) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"model.dim must be >= 1, got {dim}")
        if score not in SCORES:
            raise ValueError(f"model.score must be one of {', '.join(SCORES)}; got {score!r}")
        self.score_kind = score
        self.n_users, self.n_items, self.dim = n_users, n_items, dim
        self.init, self.init_std = init, init_std
        self.user_embedding = nn.Parameter(torch.empty(n_users, dim))
        self.item_embedding = nn.Parameter(torch.empty(n_items, dim))
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        init_embedding_(self.user_embedding, self.init, self.init_std, generator)
        init_embedding_(self.item_embedding, self.init, self.init_std, generator)


def pair_scores(user_vecs: torch.Tensor, item_vecs: torch.Tensor) -> torch.Tensor:
    """Dot products of ``[B, d]`` users with ``[B, d]`` or ``[B, N, d]`` items.

    An elementwise product and a sum: for the small ``N`` of training batches this is several
    times faster than ``bmm`` on the CPU, forward and backward.
    """
    if item_vecs.dim() == 2:
        return (user_vecs * item_vecs).sum(-1)
    return (item_vecs * user_vecs.unsqueeze(1)).sum(-1)


#: Rows with at least this many sampled items are scored by :func:`item_scores` through one
#: product with the whole item table, when the catalogue is at most ``DENSE_MAX_RATIO`` times
#: larger than the sample (its ``[B, n_items]`` scores then take no more memory than the
#: ``[B, N, d]`` gathered rows would at ``d = DENSE_MAX_RATIO``). Below it (the N = 10 of the
#: shipped BPR/BCL configs) the gather path is kept, bit for bit.
DENSE_MIN_ITEMS = 64
DENSE_MAX_RATIO = 64


def item_scores(
    user_vecs: torch.Tensor, item_table: torch.Tensor, items: torch.Tensor
) -> torch.Tensor:
    """``[B, N]`` dot products of ``[B, d]`` users with the rows ``items`` (``[B, N]``) of
    ``item_table``, differentiable with respect to both.

    Small N: :func:`gather` then :func:`pair_scores`. Many items per row on a catalogue not much
    larger than the sample: ``(users @ table.T).gather(1, items)``, the same scores (up to float
    rounding) from one matrix product whose backward is a scatter of ``[B, N]`` gradients and
    two more products, instead of materialising the ``[B, N, d]`` rows and their gradient: at
    N = 1000 on MovieLens-100K about 15x faster on the CPU. The CPU only: on CUDA the scatter
    of that backward adds an item drawn three or more times in a row in no fixed order (atomics),
    so CUDA keeps the deterministic gather path. A row-sparse table (:func:`row_sparse`) keeps
    it too: the product would give the table a dense gradient.
    """
    n = items.shape[-1]
    dense = n >= DENSE_MIN_ITEMS and item_table.shape[0] <= DENSE_MAX_RATIO * n
    dense = dense and items.dim() == 2 and not row_sparse(item_table)
    if dense and item_table.device.type == "cpu":
        return (user_vecs @ item_table.T).gather(1, items)
    return pair_scores(user_vecs, gather(item_table, items))


def row_sparse(table: torch.Tensor) -> bool:
    """Whether ``table`` is stepped by a row-sparse optimiser (marked ``sparse_grad`` by
    :mod:`bcl_rec.training.optim`), so that its gathers give it sparse gradients."""
    return getattr(table, "sparse_grad", False)


def gather_side_by_side(table: torch.Tensor, *columns: torch.Tensor) -> torch.Tensor:
    """``[B, C, d]`` rows of ``table`` at ``columns`` (each ``[B]`` or ``[B, n]``) placed side by
    side along the second axis, gathered at once (:func:`gather`).

    For a row-sparse table (:func:`row_sparse`) this is how a training step gathers its item
    rows: the table gets one sparse gradient (separate gathers would give it one each, which
    autograd adds by concatenating their rows into a freshly zeroed buffer), and the rows of a
    batch row sit together, so its positive and negative scores are one product with the user
    and the gradient of the rows is one product too (no concatenation of the parts' gradients
    in backward). The gradient's rows come in batch-row order: ``columns[0][0]``,
    ``columns[1][0, :]``, ..., then the next batch row.
    """
    return gather(table, torch.cat([c.unsqueeze(1) if c.dim() == 1 else c for c in columns], 1))


def gather(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows of ``table`` at ``index`` (any shape), differentiable with respect to ``table``.

    On the CPU the backward is one ``index_add_`` into a zero table: bitwise the same gradient
    as ``F.embedding``'s backward (both add the rows in index order), but 2-3x faster for the
    ``B x N`` negatives of a training batch, where ``F.embedding`` switches to a sort-based
    kernel. On CUDA ``F.embedding`` is kept: its backward is deterministic, ``index_add_``'s
    atomics are not. A table marked ``sparse_grad`` (see :mod:`bcl_rec.training.optim`) gets a
    sparse gradient holding only the gathered rows.
    """
    if row_sparse(table):  # a table stepped by a row-sparse optimiser
        return F.embedding(index, table, sparse=True)
    if table.device.type == "cpu" and table.requires_grad:
        return _CPUGather.apply(table, index)
    return F.embedding(index, table)


class _CPUGather(torch.autograd.Function):
    """``table[index]`` with an ``index_add_`` backward (see :func:`gather`)."""

    @staticmethod
    def forward(ctx, table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(index)
        ctx.n_rows = table.shape[0]
        rows = table.index_select(0, index.reshape(-1))
        return rows.view(*index.shape, table.shape[1])

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (index,) = ctx.saved_tensors
        dim = grad.shape[-1]
        grad_table = grad.new_zeros(ctx.n_rows, dim)
        grad_table.index_add_(0, index.reshape(-1), grad.reshape(-1, dim))
        return grad_table, None


def init_embedding_(
    weight: torch.Tensor, init: str, std: float, generator: torch.Generator | None
) -> None:
    """Initialise an embedding table in place: ``xavier`` (normal) or ``normal(0, std)``."""
    with torch.no_grad():
        if init == "xavier":
            fan_in, fan_out = weight.shape[1], weight.shape[0]
            std = (2.0 / (fan_in + fan_out)) ** 0.5
        elif init != "normal":
            raise ValueError(f"model.init must be 'xavier' or 'normal', got {init!r}")
        weight.normal_(0.0, std, generator=generator)
