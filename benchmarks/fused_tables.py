"""One MF + BPR-style step over 5M-log-sized tables: bcl-rec's row-sparse Adam against TorchRec's
fused table kernels on the CPU (fbgemm-gpu-cpu's ``SplitTableBatchedEmbeddingBagsCodegen``).

    pip install --no-deps torchrec==1.8.0 fbgemm-gpu-cpu==1.8.0   # next to torch 2.13
    python benchmarks/fused_tables.py [--users 100000] [--items 30000] [--steps 50]

Each step looks up B users and B (N + 1) items (uniform ids, dim 64), scores, takes a softplus
pairwise loss and updates the tables: with sparse gradients and :class:`RowSparseAdam`
(``train.optimizer=sparse_adam``) or ``torch.optim.SparseAdam`` (the algorithm it reimplements);
for fbgemm with every optimiser its CPU build accepts (the optimiser runs fused inside
backward). Milliseconds per step, 1 thread. Without fbgemm only the first two run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from bcl_rec.training.optim import RowSparseAdam


def loss_of(users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    scores = (users.unsqueeze(1) * items).sum(-1)
    return F.softplus(scores[:, 1:] - scores[:, :1]).mean()


def batches(args: argparse.Namespace, seed: int = 0):
    rng = np.random.default_rng(seed)
    for _ in range(args.steps + 10):
        yield (torch.as_tensor(rng.integers(0, args.users, args.batch)),
               torch.as_tensor(rng.integers(0, args.items, (args.batch, args.negatives + 1))))


def timed(step, args: argparse.Namespace) -> dict[str, float]:
    forward = backward = 0.0
    for k, (users, items) in enumerate(batches(args)):
        t0 = time.perf_counter()
        loss = step(users, items)
        t1 = time.perf_counter()
        loss.backward()
        step.after_backward()
        t2 = time.perf_counter()
        if k >= 10:  # warm-up
            forward, backward = forward + t1 - t0, backward + t2 - t1
    return {"forward_ms": 1e3 * forward / args.steps,
            "backward_and_update_ms": 1e3 * backward / args.steps}


class RowSparse:
    def __init__(self, args: argparse.Namespace, optimizer: type = RowSparseAdam) -> None:
        self.user = torch.nn.Parameter(torch.randn(args.users, args.dim) * 0.1)
        self.item = torch.nn.Parameter(torch.randn(args.items, args.dim) * 0.1)
        self.optimizer = optimizer([self.user, self.item], lr=1e-3)

    def __call__(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        return loss_of(F.embedding(users, self.user, sparse=True),
                       F.embedding(items, self.item, sparse=True))

    def after_backward(self) -> None:
        self.optimizer.step()


class Fused:
    def __init__(self, args: argparse.Namespace, optimizer) -> None:
        from fbgemm_gpu.split_table_batched_embeddings_ops_common import (
            EmbeddingLocation,
            PoolingMode,
        )
        from fbgemm_gpu.split_table_batched_embeddings_ops_training import (
            ComputeDevice,
            SplitTableBatchedEmbeddingBagsCodegen,
        )

        host, cpu = EmbeddingLocation.HOST, ComputeDevice.CPU
        self.tables = SplitTableBatchedEmbeddingBagsCodegen(
            [(args.users, args.dim, host, cpu), (args.items, args.dim, host, cpu)],
            optimizer=optimizer, learning_rate=1e-3, pooling_mode=PoolingMode.NONE)
        self.batch = args.batch

    def __call__(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        indices = torch.cat([users, items.reshape(-1)])
        out = self.tables(indices, torch.arange(len(indices) + 1))  # one id per lookup
        return loss_of(out[: self.batch], out[self.batch :].view(*items.shape, -1))

    def after_backward(self) -> None:  # fbgemm updated the rows inside backward
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=30_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--negatives", type=int, default=10)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print("bcl-rec gather + RowSparseAdam:", timed(RowSparse(args), args), flush=True)
    print("bcl-rec gather + torch.optim.SparseAdam:",
          timed(RowSparse(args, torch.optim.SparseAdam), args), flush=True)
    try:
        from fbgemm_gpu.split_embedding_configs import EmbOptimType
    except ImportError as err:
        print(f"fbgemm-gpu-cpu not importable ({err}); see the install line above")
        return 0
    for name in ("ADAM", "EXACT_SGD", "EXACT_ADAGRAD", "EXACT_ROWWISE_ADAGRAD"):
        try:
            step = Fused(args, getattr(EmbOptimType, name))
        except AssertionError as err:  # fbgemm states what its CPU build supports this way
            print(f"fbgemm {name}: {err}")
            continue
        print(f"fbgemm {name} (fused):", timed(step, args), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
