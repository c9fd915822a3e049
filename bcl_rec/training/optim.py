"""The optimiser of ``train.optimizer``: dense Adam (the default), or row-sparse Adam for MF.

Dense Adam updates every row of the embedding tables every step -- rows outside the batch still
move by their decaying moments -- so a step costs O(users + items): on a 100K x 30K log that is
most of an MF step (docs/scale.md). ``sparse_adam`` is ``torch.optim.SparseAdam``: the tables get
sparse gradients holding the batch's rows only, and only those rows' moments and weights are
updated (lazy Adam, as TorchRec's fused optimisers do), so a step costs O(batch). It is a
different optimiser, so results differ from ``adam``; on small catalogues it is slower.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from bcl_rec.errors import check
from bcl_rec.models.base import Recommender
from bcl_rec.models.mf import MF
from bcl_rec.training.config import TrainConfig


def build_optimizer(
    model: Recommender, cfg: TrainConfig, extra: Iterable[nn.Parameter] = ()
) -> torch.optim.Optimizer:
    """``train.optimizer`` over ``model``'s parameters and ``extra`` ones (a loss's own)."""
    extra = list(extra)
    if cfg.optimizer == "adam":
        # foreach: the same arithmetic as the per-tensor loop (bitwise), in fewer, larger kernels
        return torch.optim.Adam(
            [*model.parameters(), *extra], lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True
        )
    check(
        not extra,
        "train.optimizer",
        "sparse_adam updates embedding rows only; this loss has parameters of its own: "
        "use train.optimizer=adam",
    )
    check(
        isinstance(model, MF),
        "train.optimizer",
        "sparse_adam needs model.name=mf (LightGCN's propagation gives every row a gradient)",
    )
    for table in model.parameters():
        table.sparse_grad = True  # gather() then returns the batch's rows as a sparse gradient
    return torch.optim.SparseAdam(list(model.parameters()), lr=cfg.lr)
