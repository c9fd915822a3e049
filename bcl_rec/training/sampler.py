"""Uniform sampling of unlabeled items (and extra positives) per training pair, fully vectorised.

Unlabeled items are drawn *exactly* uniformly from the items a user has not interacted with in
train, without rejection: for user u with sorted train positives p_0 < ... < p_{d-1}, the r-th
unlabeled item (0-based) is ``r + #{m : p_m - m <= r}``. The keys ``p_m - m`` are nondecreasing
within a user, so offsetting them by ``u * n_items`` gives one sorted array for all users and a
single ``searchsorted`` maps a batch of uniform ranks ``r ~ U{0, n_items - d_u - 1}`` to items.
Draws are independent (with replacement), as in RecBole; the same code runs on CPU and CUDA.

When the catalogue is small enough (``n_users x n_items`` entries within ``table_mb``, e.g.
MovieLens-100K's 1.6M in 6 MB), the r-th unlabeled item of every user is also tabulated once, and
sampling becomes one gather instead of a binary search over all keys: the same items from the
same draws, about ten times faster. Where there is no table, the CPU search runs in the compiled
kernel :func:`~bcl_rec.training.compiled_rows.unlabeled_items` when numba is installed: a search
of each user's own positives through a coarse index that stays in cache, instead of all users'
keys (again the same items), and no key array to hold (8 bytes per train pair).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from bcl_rec.data.errors import DataError
from bcl_rec.training import row_kernels


class UnlabeledSampler:
    """Samples ``[B, N]`` unlabeled items and ``[B, M]`` extra train positives for users ``[B]``.

    Args:
        train: binary user x item CSR matrix of training positives (sorted indices).
        device: where the index tensors live and where sampling happens.
        table_mb: largest size of the table of every user's unlabeled items (0: never build it,
            always search).
        kernels: search with the compiled CPU kernel (None: wherever numba is installed and the
            device is the CPU; False: the torch search, as on CUDA).
    """

    def __init__(
        self,
        train: sp.csr_matrix,
        device: torch.device | str = "cpu",
        table_mb: float = 64.0,
        kernels: bool | None = None,
    ) -> None:
        train = train.tocsr()
        train.sort_indices()
        self.n_users, self.n_items = train.shape
        self.device = torch.device(device)
        indptr = np.asarray(train.indptr, dtype=np.int64)
        indices = np.asarray(train.indices, dtype=np.int64)
        degree = np.diff(indptr)
        full = np.flatnonzero(degree >= self.n_items)
        if len(full):
            raise DataError(
                f"user index {int(full[0])} interacted with every item in train: "
                "it has no unlabeled item to sample"
            )
        free = self.n_items - degree  # unlabeled items per user, all >= 1
        self._indptr = torch.as_tensor(indptr, device=self.device)
        self._indices = torch.as_tensor(indices, device=self.device)
        self._degree = torch.as_tensor(degree, device=self.device)
        self._free = torch.as_tensor(free, device=self.device)
        self._table, self._table_start = self._unlabeled_table(train, free, table_mb)
        usable = (  # the coarse keys are int32
            row_kernels.AVAILABLE and self.device.type == "cpu" and self.n_items < 2**31
        )
        if kernels and not usable:
            raise ValueError(
                "kernels=True needs numba (pip install 'bcl-rec[fast]'), the CPU and fewer "
                "than 2**31 items"
            )
        self.kernels = usable if kernels is None else kernels
        self._keys = None  # the torch search's keys, only where there is no table nor kernel
        self._coarse = None  # the compiled search and its coarse index
        if self._table is None and self.kernels:
            compiled = row_kernels.load()
            self._search = compiled.unlabeled_items
            self._coarse = compiled.coarse_index(indptr, indices)
        if self._table is None and not self.kernels:
            rank_in_row = np.arange(len(indices), dtype=np.int64) - np.repeat(indptr[:-1], degree)
            owner = np.repeat(np.arange(self.n_users, dtype=np.int64), degree)
            keys = owner * self.n_items + (indices - rank_in_row)
            self._keys = torch.as_tensor(keys, device=self.device)

    def _unlabeled_table(
        self, train: sp.csr_matrix, free: np.ndarray, table_mb: float
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Every user's unlabeled items in increasing order, concatenated, and each user's start;
        ``(None, None)`` when the table would exceed ``table_mb``."""
        entries = int(free.sum())
        dtype = np.int16 if self.n_items <= np.iinfo(np.int16).max else np.int32
        if entries * np.dtype(dtype).itemsize > table_mb * 2**20:
            return None, None
        items = np.empty(entries, dtype=dtype)
        chunk = max(1, 2**22 // self.n_items)  # users per block: ~4M dense cells at a time
        done = 0
        for lo in range(0, self.n_users, chunk):
            block = train[lo : lo + chunk]
            rows = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))
            unlabeled = np.ones(block.shape, dtype=bool)
            unlabeled[rows, block.indices] = False
            cols = np.nonzero(unlabeled)[1]
            items[done : done + len(cols)] = cols
            done += len(cols)
        start = np.concatenate(([0], np.cumsum(free)[:-1]))
        return (
            torch.as_tensor(items, device=self.device),
            torch.as_tensor(start, device=self.device),
        )

    def uniform(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        """Uniform float64 draws in [0, 1) on the sampler's device: what :meth:`unlabeled_at`
        and :meth:`positives_at` turn into items. One draw of ``[K, B * (N + M)]`` consumes the
        generator exactly as K steps of ``[B, N]`` then ``[B, M]`` draws (row-major)."""
        return torch.rand(shape, generator=generator, device=self.device, dtype=torch.float64)

    def unlabeled(self, users: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
        """``[B, n]`` items drawn uniformly (with replacement) from each user's unlabeled items."""
        users = users.to(self.device)
        return self.unlabeled_at(users, self.uniform((users.shape[0], n), generator))

    def unlabeled_at(self, users: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
        """The unlabeled items of ``users`` ``[B]`` at uniform draws ``[B, n]`` in [0, 1)."""
        free = self._free[users].unsqueeze(1)  # [B, 1], all >= 1
        rank = (uniform * free).long().clamp_(max=free - 1)
        if self._table is not None:
            return torch.take(self._table, self._table_start[users].unsqueeze(1) + rank).long()
        if self._coarse is not None:
            return torch.from_numpy(self._search(
                self._indptr.numpy(), self._indices.numpy(), *self._coarse,
                users.numpy(), rank.numpy(), row_kernels.threads(),
            ))
        base = users.unsqueeze(1) * self.n_items
        before = torch.searchsorted(self._keys, base + rank, right=True)
        return rank + (before - self._indptr[users].unsqueeze(1))

    def positives(self, users: torch.Tensor, m: int, generator: torch.Generator) -> torch.Tensor:
        """``[B, m]`` items drawn uniformly with replacement from each user's train positives.

        The pair's own positive can be drawn too (as in DPL's reference sampler).
        """
        users = users.to(self.device)
        return self.positives_at(users, self.uniform((users.shape[0], m), generator))

    def positives_at(self, users: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
        """The train positives of ``users`` ``[B]`` at uniform draws ``[B, m]`` in [0, 1)."""
        degree = self._degree[users].unsqueeze(1)
        if bool((degree == 0).any()):
            raise ValueError("cannot draw extra positives for a user with no training item")
        offset = (uniform * degree).long().clamp_(max=degree - 1)
        return self._indices[self._indptr[users].unsqueeze(1) + offset]
