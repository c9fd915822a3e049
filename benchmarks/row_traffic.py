"""Is the large-log optimiser step bound by memory or by the kernel? The same updates on tables
of growing size.

    python benchmarks/row_traffic.py [--size 25M] [--steps 200] [--rows 1682,5000,20000,59000]

Trains ``--steps`` MF + BCL steps (``train.optimizer=sparse_adam``, B = 1024, N = 10) on
``benchmarks/scale.py``'s synthetic log and keeps each step's sparse item-table gradient (its
row ids and gradient rows). The kept steps are then replayed with the compiled ``row_adam`` onto
fresh item tables (weight and both moments) of each ``--rows`` size, the row ids taken modulo
the size: the same arithmetic on the same gradient values, only the table's footprint grows.
``w only`` replays a row-wise Adagrad-style update (one state value per row; only the weight row
is read and written), a third of Adam's row traffic, as a lower bound for any Adam-free
optimiser; ``touched only`` (``row_touch``) reads and writes Adam's three rows without its
arithmetic, the floor of Adam's row traffic. Milliseconds per step and nanoseconds per
distinct row, 1 thread; needs numba.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale  # noqa: E402 - the synthetic log and the trainer of benchmarks/scale.py

from bcl_rec.training.compiled_rows import (  # noqa: E402
    CACHE_LINE,
    PREFETCH_AHEAD,
    _prefetch,
    row_adam,
    sum_repeats,
)
from bcl_rec.training.optim import _KernelScratch  # noqa: E402


@njit(cache=True, nogil=True, error_model="numpy")
def row_w_only(index, values, param, state, slot, distinct, grad, lr, eps):  # noqa: ANN001
    """Row-wise Adagrad: per distinct row (repeats summed) ``G += mean(g^2)``, ``w -= lr g /
    (sqrt(G) + eps)``; reads and writes the weight row only."""
    dim = values.shape[1]
    k = sum_repeats(index, values, slot, distinct, grad)
    row_bytes = dim * values.itemsize
    for s in range(k):
        if s + PREFETCH_AHEAD < k:  # as row_adam does, for the one table read here
            ahead = param.ctypes.data + distinct[s + PREFETCH_AHEAD] * row_bytes
            for offset in range(0, row_bytes, CACHE_LINE):
                _prefetch(ahead + offset)
        r = distinct[s]
        slot[r] = -1
        acc = 0.0
        for j in range(dim):
            acc += grad[s, j] * grad[s, j]
        state[r] += acc / dim
        mult = lr / (np.sqrt(state[r]) + eps)
        for j in range(dim):
            param[r, j] -= grad[s, j] * mult
    return k


@njit(cache=True, nogil=True, error_model="numpy")
def row_touch(index, values, param, exp_avg, exp_avg_sq, slot, distinct, grad):  # noqa: ANN001
    """``row_adam``'s row traffic without its arithmetic: the same summing of repeats, the same
    prefetching, and each distinct row's weight and both moments read and written back (the
    summed gradient added to each), so that Adam's time less this is its arithmetic."""
    dim = values.shape[1]
    k = sum_repeats(index, values, slot, distinct, grad)
    row_bytes = dim * values.itemsize
    bases = (param.ctypes.data, exp_avg.ctypes.data, exp_avg_sq.ctypes.data)
    for s in range(k):
        if s + PREFETCH_AHEAD < k:
            ahead = distinct[s + PREFETCH_AHEAD] * row_bytes
            for base in bases:
                for offset in range(0, row_bytes, CACHE_LINE):
                    _prefetch(base + ahead + offset)
        r = distinct[s]
        slot[r] = -1
        for j in range(dim):
            g = grad[s, j]
            param[r, j] += g
            exp_avg[r, j] += g
            exp_avg_sq[r, j] += g
    return k


def item_gradients(size: str, steps: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``steps`` MF + BCL steps' item-table gradients: (row ids, gradient rows) per step."""
    n, n_users, n_items = scale.SIZES[size]
    split = scale.prepare(scale.synthetic_log(n, n_users, n_items, seed=0))
    trainer = scale.make_trainer(split, "mf", "sparse_adam")
    n_pairs = trainer.pair_users.shape[0]
    order = torch.randperm(n_pairs, generator=trainer.generator)[: steps * 1024]
    kept = []

    def keep(*_: object) -> None:  # before each optimiser step: the gradient it is about to use
        grad = trainer.model.item_embedding.grad
        kept.append((grad._indices()[0].numpy().copy(), grad._values().numpy().copy()))

    trainer.optimizer.register_step_pre_hook(keep)
    for batch in trainer.batches(order):
        trainer.update(*batch)
    return kept


def replay(kept: list[tuple[np.ndarray, np.ndarray]], rows: int, form: str) -> tuple[float, int]:
    """Milliseconds per step of the kept updates (``form``: ``adam``, ``w_only`` or ``touch``)
    onto fresh ``rows``-row tables (fastest of 3 passes) and the mean distinct rows a step."""
    f32 = np.float32
    gen = np.random.default_rng(0)
    weight = gen.standard_normal((rows, kept[0][1].shape[1]), dtype=f32) * f32(0.1)
    exp_avg, exp_avg_sq = np.zeros_like(weight), np.zeros_like(weight)
    state = np.zeros(rows, f32)
    scratch = _KernelScratch(rows, np.dtype(f32))
    steps = [(index % rows, values) for index, values in kept]
    best, distinct = float("inf"), 0
    for _ in range(3):
        t0, distinct = time.perf_counter(), 0
        for index, values in steps:
            buffers = scratch.fit(values.shape)
            if form == "w_only":
                distinct += row_w_only(index, values, weight, state, *buffers, f32(0.05), f32(1e-8))
            elif form == "touch":
                distinct += row_touch(index, values, weight, exp_avg, exp_avg_sq, *buffers)
            else:
                distinct += row_adam(index, values, weight, exp_avg, exp_avg_sq, *buffers,
                                     f32(0.1), f32(0.001), f32(1e-8), f32(-1e-3), 1)
        best = min(best, time.perf_counter() - t0)
    return best / len(steps) * 1e3, distinct // len(steps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="25M", choices=sorted(scale.SIZES))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rows", default="1682,5000,20000,59000")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    kept = item_gradients(args.size, args.steps)
    print(f"{args.size} log, {len(kept)} steps of item-table gradients "
          f"({np.mean([len(i) for i, _ in kept]):.0f} entries a step)")
    print("| table rows | table + moments | distinct rows a step | Adam ms a step | ns a row "
          "| rows touched only, ms a step | ns a row | w only ms a step | ns a row |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for rows in map(int, args.rows.split(",")):
        adam_ms, distinct = replay(kept, rows, "adam")
        touch_ms, _ = replay(kept, rows, "touch")
        w_ms, _ = replay(kept, rows, "w_only")
        mb = rows * kept[0][1].shape[1] * 4 * 3 / 2**20
        print(f"| {rows:,} | {mb:.1f} MB | {distinct:,} | "
              + " | ".join(f"{ms:.2f} | {ms * 1e6 / distinct:.0f}"
                           for ms in (adam_ms, touch_ms, w_ms)) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
