"""LightGCN: embeddings smoothed over the user-item graph by parameter-free propagation."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch

from bcl_rec.models.base import EmbeddingTables


def normalized_adjacency(train: sp.csr_matrix) -> sp.csr_matrix:
    r"""Symmetric-normalised bipartite adjacency :math:`D^{-1/2} A D^{-1/2}`.

    ``A = [[0, R], [R^T, 0]]`` over ``n_users + n_items`` nodes (users first). Isolated nodes
    (degree 0) get a zero row instead of a division by zero.
    """
    r = sp.csr_matrix(train, dtype=np.float32)
    r.data[:] = 1.0
    adj = sp.bmat([[None, r], [r.T, None]], format="csr", dtype=np.float32)
    degree = np.asarray(adj.sum(axis=1)).ravel()
    inv_sqrt = np.zeros_like(degree)
    nonzero = degree > 0
    inv_sqrt[nonzero] = degree[nonzero] ** -0.5
    scale = sp.diags(inv_sqrt)
    out = (scale @ adj @ scale).tocsr()
    out.sort_indices()
    return out.astype(np.float32)


def to_torch_sparse(matrix: sp.csr_matrix) -> torch.Tensor:
    """A scipy CSR matrix as a torch sparse CSR tensor (float32), its invariants checked once."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(
            torch.as_tensor(matrix.indptr, dtype=torch.int64),
            torch.as_tensor(matrix.indices, dtype=torch.int64),
            torch.as_tensor(matrix.data, dtype=torch.float32),
            size=matrix.shape,
            check_invariants=True,
        )


class _SymmetricSpMM(torch.autograd.Function):
    """``A @ x`` for a symmetric sparse ``A``: the backward is ``A @ grad`` again.

    torch's generic sparse backward transposes (sorts and converts) the sparse matrix on every
    call; with a symmetric ``A`` the gradient is one more forward product instead.
    """

    @staticmethod
    def forward(ctx, adjacency: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.adjacency = adjacency
        return adjacency @ x

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return None, ctx.adjacency @ grad


def propagate(adjacency: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """One LightGCN layer, ``adjacency @ x``, with an O(nnz) backward (adjacency symmetric)."""
    return _SymmetricSpMM.apply(adjacency, x)


class LightGCN(EmbeddingTables):
    r"""LightGCN (He et al., SIGIR 2020).

    .. math::
        E^{(k+1)} = \hat A E^{(k)}, \qquad E = \sum_{k=0}^{L} w_k E^{(k)}

    with :math:`\hat A` the symmetric-normalised user-item adjacency (built once with
    scipy.sparse, multiplied as a torch sparse CSR tensor) and :math:`w_k = 1/(L+1)` unless
    ``layer_weights`` are given.

    Args:
        n_users: number of users.
        n_items: number of items.
        train: user x item CSR of training interactions (the graph).
        dim: embedding size (default 64).
        layers: propagation layers L (default 2).
        layer_weights: L+1 weights of the layer embeddings (default: the mean).
        init: ``"xavier"`` (default) or ``"normal"`` with ``init_std``.
        init_std: standard deviation for ``init="normal"`` (default 0.1).
        generator: random generator for the initial weights.
        score: ``"dot"`` (default) or ``"cosine"``; cosine normalises the propagated embeddings.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        train: sp.csr_matrix,
        dim: int = 64,
        layers: int = 2,
        layer_weights: Sequence[float] | None = None,
        init: str = "xavier",
        init_std: float = 0.1,
        generator: torch.Generator | None = None,
        score: str = "dot",
    ) -> None:
        if layers < 0:
            raise ValueError(f"model.layers must be >= 0, got {layers}")
        if train.shape != (n_users, n_items):
            raise ValueError(f"train has shape {train.shape}, expected {(n_users, n_items)}")
        if layer_weights is None:
            layer_weights = [1.0 / (layers + 1)] * (layers + 1)
        if len(layer_weights) != layers + 1:
            raise ValueError(
                f"model.layer_weights needs {layers + 1} values (layers + 1), "
                f"got {len(layer_weights)}"
            )
        super().__init__(n_users, n_items, dim, init, init_std, generator, score)
        self.layers = layers
        self.register_buffer(
            "layer_weights", torch.tensor(list(layer_weights), dtype=torch.float32)
        )
        self.adjacency = to_torch_sparse(normalized_adjacency(train))

    def _apply(self, fn, recurse=True):  # keep the (non-buffer) sparse graph on the same device
        super()._apply(fn, recurse)
        self.adjacency = fn(self.adjacency)
        return self

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        ego = torch.cat([self.user_embedding, self.item_embedding], dim=0)
        out = ego * self.layer_weights[0]
        layer = ego
        for k in range(1, self.layers + 1):
            layer = propagate(self.adjacency, layer)
            out = out + layer * self.layer_weights[k]
        return out[: self.n_users], out[self.n_users :]

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, layers={self.layers}"
