"""A user x item CSR matrix held as torch index tensors, for row lookups on any device."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch


class TorchCSR:
    """``indptr`` / ``indices`` of a CSR matrix on ``device``, with batched row gathering."""

    def __init__(self, matrix: sp.csr_matrix, device: torch.device | str = "cpu") -> None:
        matrix = matrix.tocsr()
        matrix.sort_indices()
        self.shape = matrix.shape
        self.device = torch.device(device)
        self.indptr = torch.as_tensor(np.asarray(matrix.indptr, dtype=np.int64), device=device)
        self.indices = torch.as_tensor(np.asarray(matrix.indices, dtype=np.int64), device=device)
        self.row_counts = self.indptr[1:] - self.indptr[:-1]

    def rows_of(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(position in batch, column, slot within the row) of every entry of the batch's rows."""
        starts = self.indptr[batch]
        counts = self.row_counts[batch]
        rows = torch.repeat_interleave(torch.arange(batch.shape[0], device=batch.device), counts)
        first = torch.repeat_interleave(starts - torch.cumsum(counts, 0) + counts, counts)
        flat = torch.arange(rows.shape[0], device=batch.device) + first
        return rows, self.indices[flat], flat - starts[rows]
