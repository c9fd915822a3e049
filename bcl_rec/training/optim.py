"""The optimiser of ``train.optimizer``: dense Adam (the default), or row-sparse Adam for MF.

Dense Adam updates every row of the embedding tables every step -- rows outside the batch still
move by their decaying moments -- so a step costs O(users + items): on a 100K x 30K log that is
most of an MF step (docs/scale.md). ``sparse_adam`` is ``torch.optim.SparseAdam``'s algorithm:
the tables get sparse gradients holding the batch's rows only, and only those rows' moments and
weights are updated (lazy Adam, as TorchRec's fused optimisers do), so a step costs O(batch). It
is a different optimiser, so results differ from ``adam``.

:class:`RowSparseAdam` computes SparseAdam's update with row gathers instead of sparse-tensor
algebra: one ``unique`` of the gradient's rows instead of SparseAdam's coalesce, two
``sparse_mask`` calls and three sparse-into-dense additions. With numba installed, CPU tables are
updated by the compiled :func:`~bcl_rec.training.compiled_rows.row_adam` instead, which touches
each row once: the same arithmetic in the same order (the weights can differ by an ulp where
torch's vectorised ``sqrt`` is not correctly rounded; tests/test_optim.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import nn

from bcl_rec.errors import check
from bcl_rec.models.base import Recommender
from bcl_rec.models.mf import MF
from bcl_rec.training import row_kernels
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
    check(
        model.score_kind == "dot",
        "train.optimizer",
        "sparse_adam needs model.score=dot (cosine scores normalise the whole tables every step, "
        "which gives every row a gradient)",
    )
    for table in model.parameters():
        table.sparse_grad = True  # gather() then returns the batch's rows as a sparse gradient
    return RowSparseAdam(list(model.parameters()), lr=cfg.lr)


class RowSparseAdam(torch.optim.SparseAdam):
    """``torch.optim.SparseAdam`` (same arguments, state and update) stepped row by row.

    For a parameter whose sparse gradient touches rows ``r`` (repeats summed), with ``g`` their
    gradient rows and ``t`` the step: ``m[r] += (1 - b1) (g - m[r])``,
    ``v[r] += (1 - b2) (g^2 - v[r])``, ``p[r] -= lr sqrt(1 - b2^t) / (1 - b1^t) m[r] /
    (sqrt(v[r]) + eps)``: the operations SparseAdam performs on the coalesced gradient, in the
    same order, so the results differ only by the order in which repeated rows are summed.

    ``kernels``: step CPU tables with the compiled kernel (None: wherever numba is installed).
    """

    def __init__(self, params: Iterable[nn.Parameter], *args, kernels: bool | None = None,
                 **kwargs) -> None:
        super().__init__(params, *args, **kwargs)
        if kernels and not row_kernels.AVAILABLE:
            raise ValueError("kernels=True needs numba: pip install 'bcl-rec[fast]'")
        self.kernels = row_kernels.AVAILABLE if kernels is None else kernels
        self._row_adam = row_kernels.load().row_adam if self.kernels else None
        self._scratch: dict[nn.Parameter, _KernelScratch] = {}

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                if not param.grad.is_sparse:
                    raise RuntimeError("RowSparseAdam steps sparse gradients only (see gather())")
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)
                state["step"] += 1
                step = state["step"]
                step_size = group["lr"] * math.sqrt(1 - beta2**step) / (1 - beta1**step)
                if self._kernel_step(param, state, group, step_size):
                    continue
                rows, grad = _row_gradient(param.grad, group.get("maximize", False))
                if rows.numel() == 0:
                    continue
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                m = exp_avg.index_select(0, rows)
                m.add_(grad.sub(m).mul_(1 - beta1))
                v = exp_avg_sq.index_select(0, rows)
                v.add_(grad.mul_(grad).sub_(v).mul_(1 - beta2))
                exp_avg.index_copy_(0, rows, m)
                exp_avg_sq.index_copy_(0, rows, v)
                param.index_add_(0, rows, m.div_(v.sqrt_().add_(group["eps"])).mul_(-step_size))
        return loss

    def _kernel_step(self, param: nn.Parameter, state: dict, group: dict, step_size: float) -> bool:
        """The update by the compiled ``row_adam``; False where it does not apply."""
        tensors = (param, state["exp_avg"], state["exp_avg_sq"])
        if not (
            self.kernels
            and not group.get("maximize", False)
            and param.device.type == "cpu"
            and param.dtype in (torch.float32, torch.float64)
            and all(t.is_contiguous() for t in tensors)
        ):
            return False
        index = param.grad._indices()[0].contiguous().numpy()
        values = param.grad._values().contiguous().numpy()
        if param not in self._scratch:
            self._scratch[param] = _KernelScratch(param.shape[0], values.dtype)
        scratch = self._scratch[param].fit(values.shape)
        beta1, beta2 = group["betas"]
        scalar = values.dtype.type
        self._row_adam(
            index, values, *(t.detach().numpy() for t in tensors), *scratch,
            scalar(1 - beta1), scalar(1 - beta2), scalar(group["eps"]), scalar(-step_size),
            row_kernels.threads(),
        )
        return True


class _KernelScratch:
    """The compiled ``row_adam``'s scratch for one table, kept between steps (so that a step
    allocates nothing) and grown when a batch needs more."""

    def __init__(self, n_rows: int, dtype: np.dtype) -> None:
        self.slot = np.full(n_rows, -1, dtype=np.int64)
        self.distinct = np.empty(0, dtype=np.int64)
        self.grad = np.empty((0, 0), dtype=dtype)

    def fit(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(slot, distinct, grad)`` with room for a gradient of ``shape`` ``[entries, dim]``."""
        if len(self.distinct) < shape[0] or self.grad.shape[1] != shape[1]:
            rows = max(shape[0], 2 * len(self.distinct))
            self.distinct = np.empty(rows, dtype=np.int64)
            self.grad = np.empty((rows, shape[1]), dtype=self.grad.dtype)
        return self.slot, self.distinct, self.grad


def _row_gradient(grad: torch.Tensor, maximize: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct rows of a row-sparse gradient (ascending) and their summed gradient rows."""
    index, values = grad._indices()[0], grad._values()
    if maximize:
        values = -values
    if grad.is_coalesced():
        return index, values.clone()
    rows, inverse = torch.unique(index, return_inverse=True)
    summed = values.new_zeros((rows.numel(), *values.shape[1:]))
    return rows, summed.index_add_(0, inverse, values)
