"""The per-row negative sampling of the debiased-loss papers' reference code, for comparison.

A map-style ``Dataset`` draws each row's N unlabeled items in Python, one ``random.randint`` at a
time, rejecting the user's training positives through a Python ``set``, and a ``DataLoader``
(no worker processes) collates rows into batches. The model, loss and optimiser step are
bcl-rec's own (:meth:`Trainer.update`), so a timing difference is the sampling pipeline alone.
"""

from __future__ import annotations

import random

import numpy as np
import scipy.sparse as sp
import torch
from torch.utils.data import DataLoader, Dataset

from bcl_rec.training.trainer import Trainer


class ReferencePairs(Dataset):
    """Rows ``(user, positive, negatives[N], extras[M])``, sampled per row in Python."""

    def __init__(self, train: sp.csr_matrix, n_neg: int, n_extra: int = 0, seed: int = 0):
        train = train.tocsr()
        self.n_items = train.shape[1]
        self.n_neg, self.n_extra = n_neg, n_extra
        counts = np.diff(train.indptr)
        self.users = np.repeat(np.arange(train.shape[0]), counts).tolist()
        self.items = train.indices.tolist()
        self.positives = [
            train.indices[train.indptr[u] : train.indptr[u + 1]].tolist()
            for u in range(train.shape[0])
        ]
        self.seen = [set(row) for row in self.positives]
        self.rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self.users)

    def __getitem__(self, idx: int):
        user, pos = self.users[idx], self.items[idx]
        seen = self.seen[user]
        negatives = []
        while len(negatives) < self.n_neg:
            item = self.rng.randint(0, self.n_items - 1)
            if item not in seen:
                negatives.append(item)
        extras = [self.rng.choice(self.positives[user]) for _ in range(self.n_extra)]
        return user, pos, np.array(negatives), np.array(extras, dtype=np.int64)


def reference_loader(
    train: sp.csr_matrix, n_neg: int, n_extra: int, batch_size: int, seed: int = 0
) -> DataLoader:
    """A shuffled DataLoader over :class:`ReferencePairs` with the default per-row collate."""
    return DataLoader(
        ReferencePairs(train, n_neg, n_extra, seed),
        batch_size=batch_size,
        shuffle=True,
        num_workers=0,
        generator=torch.Generator().manual_seed(seed),
    )


def reference_epoch(trainer: Trainer, loader: DataLoader, steps: int | None = None) -> int:
    """One epoch (or its first ``steps`` batches) of ``trainer``'s model and loss fed by
    ``loader``; returns the rows seen."""
    trainer.model.train()
    device = trainer.device
    rows = 0
    for step, (users, pos, neg, extra) in enumerate(loader):
        if steps is not None and step >= steps:
            break
        users, pos, neg = users.to(device), pos.to(device), neg.to(device)
        extras = extra.to(device) if extra.shape[1] > 0 else None
        trainer.update(users, pos, neg, extras)
        rows += users.shape[0]
    return rows


def reference_sample_rows(dataset: ReferencePairs, n_rows: int) -> int:
    """Draw ``n_rows`` rows (sampling only, no batching); returns the negatives drawn."""
    drawn = 0
    for idx in range(n_rows):
        drawn += len(dataset[idx % len(dataset)][2])
    return drawn
