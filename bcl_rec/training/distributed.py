"""Data-parallel training on PyTorch's own engine: torch.distributed + DDP, launched by torchrun.

``torchrun --nproc_per_node=K -m bcl_rec train ...`` starts K processes; each reads ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK`` from the environment and joins one process group (``nccl`` when
the run is on CUDA, ``gloo`` on the CPU). Every rank builds the same model and draws from the
same seeded generator, so every rank knows every global batch and every uniform draw; rank r keeps
the r-th contiguous slice of each global batch (``train.batch_size`` stays the global batch; a
rank's batch is ``batch_size / world_size``). DDP all-reduces the gradients with each rank's
gradient weighted by its share of the global batch, so the step is the single-process step up to
float summation order and the learning rate needs no change.

Evaluation is sharded by user: each rank scores a contiguous slice of the evaluated users, the
per-user metrics are gathered and summed in user order on every rank, so the metrics are exactly
those of one process (see :class:`ShardedEvaluator`). Only rank 0 writes files
(:func:`is_main_process` is the one check every writer uses).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from bcl_rec.models.base import Recommender


@dataclass(frozen=True)
class DistContext:
    """This process's place in the process group (world size 1: no group, plain training)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def batch_rows(self, size: int) -> tuple[slice, float]:
        """This rank's contiguous rows of a global batch of ``size`` rows, and its gradient weight
        (its share of the batch). A rank left without rows (a last batch shorter than the world)
        takes row 0 with weight 0, so every rank runs the same steps."""
        lo, hi = size * self.rank // self.world_size, size * (self.rank + 1) // self.world_size
        if hi == lo:
            return slice(0, 1), 0.0
        return slice(lo, hi), (hi - lo) / size

    def user_rows(self, n: int) -> slice:
        """This rank's contiguous slice of ``n`` evaluated users."""
        return slice(n * self.rank // self.world_size, n * (self.rank + 1) // self.world_size)


def is_main_process() -> bool:
    """True unless this is a non-zero rank: of an initialised process group, or (before the group
    is joined) of a torchrun launch by its ``RANK``. The one check before writing a file (run
    folder, checkpoint, report) or printing a run's lines."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return os.environ.get("RANK", "0") == "0"


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(device: torch.device) -> tuple[DistContext, torch.device]:
    """Join the process group torchrun describes (idempotent); ``nccl`` for CUDA, else ``gloo``.

    Returns the context and the device this rank trains on (``cuda:LOCAL_RANK`` under nccl).
    Without torchrun's environment (or with ``WORLD_SIZE=1``) nothing is initialised.
    """
    if not launched_by_torchrun():
        return DistContext(), device
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank), device


def shutdown() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


class _Embeddings(nn.Module):
    """``forward() = model.scoring_embeddings()``: DDP hooks gradient reduction into
    ``forward``."""

    def __init__(self, model: Recommender) -> None:
        super().__init__()
        self.model = model

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.scoring_embeddings()


class _ShareWeight:
    """The comm hook's state: this rank's share of the current global batch."""

    def __init__(self) -> None:
        self.weight = 1.0


def _weighted_sum(state, bucket):  # no hints: DDP checks them, and they are strings here
    """All-reduce ``sum_r share_r * grad_r`` = the gradient of the global batch's mean loss."""
    buffer = bucket.buffer().mul_(state.weight)
    future = dist.all_reduce(buffer, async_op=True).get_future()
    return future.then(lambda done: done.value()[0])


class DistributedEmbeddings:
    """A model's ``embeddings()`` behind DDP, with gradients weighted by each rank's share."""

    def __init__(self, model: Recommender, device: torch.device) -> None:
        self._share = _ShareWeight()
        self._ddp = DistributedDataParallel(
            _Embeddings(model),
            device_ids=[device.index] if device.type == "cuda" else None,
            forward_sync_buffers=False,  # no trained buffers; the graph is the same everywhere
        )
        self._ddp.register_comm_hook(self._share, _weighted_sum)

    def set_share(self, weight: float) -> None:
        self._share.weight = weight

    def __call__(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._ddp()


def mean_over_ranks(values: torch.Tensor) -> torch.Tensor:
    """The mean of ``values`` over all ranks (a copy)."""
    out = values.clone()
    dist.all_reduce(out)
    return out / dist.get_world_size()


def user_shard(heldout: sp.csr_matrix, ctx: DistContext) -> sp.csr_matrix:
    """``heldout`` with only this rank's slice of its users (those with a held-out item) kept."""
    users = np.flatnonzero(np.diff(heldout.indptr) > 0)
    keep = np.zeros(heldout.shape[0])
    keep[users[ctx.user_rows(len(users))]] = 1.0
    out = sp.diags(keep).dot(heldout).tocsr()
    out.eliminate_zeros()
    return out


class ShardedEvaluator:
    """Evaluates this rank's users with ``evaluator`` (built on :func:`user_shard`'s heldout),
    gathers every rank's per-user metrics and sums them in user order: the same float64 sums as
    one process evaluating everyone, on every rank."""

    def __init__(self, evaluator, ctx: DistContext, n_users: int) -> None:
        self.evaluator, self.ctx, self.n_users = evaluator, ctx, n_users

    @torch.no_grad()
    def evaluate(self, user_emb: torch.Tensor, item_emb: torch.Tensor) -> dict[str, float]:
        per_user = self.evaluator.per_user(user_emb, item_emb)
        names = list(per_user)  # the evaluator's order, the same on every rank
        world = self.ctx.world_size
        counts = [_span(DistContext(r, world).user_rows(self.n_users)) for r in range(world)]
        # nccl gathers device tensors, gloo CPU ones: pad every rank's rows to the largest slice
        padded = torch.zeros(max(counts), len(names), dtype=torch.float64, device=user_emb.device)
        for j, name in enumerate(names):
            padded[: counts[self.ctx.rank], j] = per_user[name].to(padded.device)
        gathered = [torch.empty_like(padded) for _ in range(world)]
        dist.all_gather(gathered, padded)
        every = torch.cat([part[:c] for part, c in zip(gathered, counts, strict=True)]).cpu()
        n = max(self.n_users, 1)
        # the same contiguous float64 vectors FullRankingEvaluator.evaluate sums
        return {name: float(every[:, j].contiguous().sum()) / n for j, name in enumerate(names)}


def _span(rows: slice) -> int:
    return rows.stop - rows.start


class MainRankEvaluator:
    """Rank 0 evaluates every user alone; the others wait and receive its metrics."""

    def __init__(self, evaluator, ctx: DistContext) -> None:
        self.evaluator, self.ctx = evaluator, ctx  # None on the other ranks

    @torch.no_grad()
    def evaluate(self, user_emb: torch.Tensor, item_emb: torch.Tensor) -> dict[str, float]:
        box = [self.evaluator.evaluate(user_emb, item_emb) if self.evaluator is not None else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]


# measured in benchmarks/scale.py (docs/scale.md): sharding the users was faster than rank 0 alone
SHARD_EVALUATION = True


def evaluator(build, heldout: sp.csr_matrix, ctx: DistContext, sharded: bool = SHARD_EVALUATION):
    """A distributed evaluator of ``heldout``; ``build(heldout)`` makes a FullRankingEvaluator."""
    if sharded:
        n_users = int(np.count_nonzero(np.diff(heldout.indptr) > 0))
        return ShardedEvaluator(build(user_shard(heldout, ctx)), ctx, n_users)
    return MainRankEvaluator(build(heldout) if ctx.is_main else None, ctx)
