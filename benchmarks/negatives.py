"""Training with many negatives: epoch time and memory at N = 10, 100, 1000 next to their floor.

    python benchmarks/negatives.py [--quick] [--threads 2] [--negatives 10 100 1000]
        [--losses bcl-nce bcl ssm] [--steps K] [--json FILE] [--data-dir DIR]

MF on ML-100K with cosine scores (``model.score: cosine``, ``loss.temperature: 0.1``), batch 1024,
d = 64, on the CPU with ``--threads`` threads (default 2). For every loss and N, three
implementations are timed in turns (A, B, C, A, B, C, ...; the median of each), so that
background load that comes and goes hits them alike:

- ``trainer``: :meth:`Trainer.update` on the trainer's own batches (:meth:`Trainer.batches`:
  the exact, seeded uniform sampler over each user's unlabeled items): scores, loss, backward,
  Adam step.
- ``floor``: the same batches (same sampler, same indices, so sampling costs the same), then per
  step only the scoring the trainer does (cosine normalisation of both tables, the user, positive
  and negative scores by :func:`item_scores`), ``scores.sum().backward()`` and the Adam step; no
  loss. ``trainer / floor`` is the cost of the loss itself.
- ``floor-gather``: as ``floor``, but the negatives scored by gathering their ``[B, N, d]`` rows
  and an elementwise product (:func:`gather` + :func:`pair_scores`, the small-N path), i.e. the
  bare "gathers and products" of the task.

A fourth row, ``sample``, times :meth:`Trainer.batches` alone (drawing the indices).
``peak_mb`` is the peak extra memory of the timed call: the rise of the process's resident-set
high-water mark (``VmHWM``, reset before each call) above the resident set before it
(:func:`bcl_rec.evaluation.memory.peak_memory`), an upper bound that includes allocator slack.
``--quick`` times ``--steps`` steps (default 10) of an epoch and scales to the whole epoch, with
two turns; the default times whole epochs, three turns.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from bcl_rec.config import load_config
from bcl_rec.data.load import load_split
from bcl_rec.evaluation.memory import peak_memory
from bcl_rec.losses import build_loss
from bcl_rec.models import build_model
from bcl_rec.models.base import gather, item_scores, pair_scores
from bcl_rec.training.trainer import Trainer

BATCH, DIM, TEMPERATURE = 1024, 64, 0.1


def make_trainer(split, loss: str, n_neg: int) -> Trainer:
    cfg = load_config(None, [
        "model.name=mf", "model.score=cosine", f"model.dim={DIM}", f"loss.name={loss}",
        f"loss.num_negatives={n_neg}", f"loss.temperature={TEMPERATURE}",
        f"train.batch_size={BATCH}", "train.progress=false", "train.device=cpu",
    ])
    gen = torch.Generator().manual_seed(cfg.train.seed)
    model = build_model(cfg.model, split.train, generator=gen)
    return Trainer(model, build_loss(cfg.loss), split, cfg.loss, cfg.train, cfg.eval,
                   torch.device("cpu"), gen)


def epoch_batches(trainer: Trainer, steps: int):
    """The first ``steps`` batches of an epoch in a fixed order (same for every turn)."""
    order = torch.randperm(trainer.pair_users.shape[0], generator=torch.Generator().manual_seed(0))
    return trainer.batches(order[: steps * BATCH])


def run_trainer(trainer: Trainer, steps: int) -> None:
    trainer.model.train()
    for batch in epoch_batches(trainer, steps):
        trainer.update(*batch)


def run_floor(trainer: Trainer, steps: int, dense: bool) -> None:
    model, opt = trainer.model, trainer.optimizer
    for users, pos_items, neg_items, _ in epoch_batches(trainer, steps):
        user_emb, item_emb = model.scoring_embeddings()
        u = gather(user_emb, users)
        pos = pair_scores(u, gather(item_emb, pos_items))
        if dense:
            neg = item_scores(u, item_emb, neg_items)
        else:
            neg = pair_scores(u, gather(item_emb, neg_items))
        opt.zero_grad(set_to_none=True)
        (pos.sum() + neg.sum()).backward()
        opt.step()


def run_sample(trainer: Trainer, steps: int) -> None:
    for _ in epoch_batches(trainer, steps):
        pass


def once(fn: Callable[[], None]) -> tuple[float, float | None]:
    def timed() -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    seconds, peak = peak_memory(timed, "cpu")
    return seconds, None if peak is None else peak / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--negatives", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--losses", nargs="+", default=["bcl-nce", "bcl", "ssm"])
    parser.add_argument("--steps", type=int, default=10, help="steps timed with --quick")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    split = load_split(load_config(None, []).data, args.data_dir)
    total = math.ceil(split.train.nnz / BATCH)
    steps = min(args.steps, total) if args.quick else total
    scale = total / steps
    turns = 2 if args.quick else 3
    print(f"ml-100k: {split.n_users} users, {split.n_items} items, {split.train.nnz} pairs; "
          f"{total} steps/epoch, timing {steps} (x{scale:.2f}); {args.threads} threads; "
          f"{turns} turns", file=sys.stderr)
    rows = []
    for loss in args.losses:
        for n_neg in args.negatives:
            trainer = make_trainer(split, loss, n_neg)
            impls = {
                "trainer": lambda t=trainer: run_trainer(t, steps),
                "floor": lambda t=trainer: run_floor(t, steps, dense=True),
                "floor-gather": lambda t=trainer: run_floor(t, steps, dense=False),
                "sample": lambda t=trainer: run_sample(t, steps),
            }
            run_trainer(trainer, 2)  # warm-up: one-off allocations are not timed
            measured: dict[str, list[tuple[float, float | None]]] = {k: [] for k in impls}
            for _ in range(turns):
                for name, fn in impls.items():
                    measured[name].append(once(fn))
            summary = {}
            for name, runs in measured.items():
                peaks = [p for _, p in runs if p is not None]
                seconds = statistics.median(s for s, _ in runs) * scale
                summary[name] = seconds
                rows.append({"loss": loss, "N": n_neg, "impl": name,
                             "epoch_seconds": round(seconds, 4),
                             "peak_mb": round(max(peaks), 1) if peaks else None})
                print(f"  {loss:<8} N={n_neg:<5} {name:<13} {seconds:8.2f} s/epoch  "
                      f"peak {rows[-1]['peak_mb']} MB", file=sys.stderr, flush=True)
            ratio = summary["trainer"] / summary["floor"]
            ratio_gather = summary["trainer"] / summary["floor-gather"]
            print(f"  {loss:<8} N={n_neg:<5} trainer/floor {ratio:.2f}  "
                  f"trainer/floor-gather {ratio_gather:.2f}", file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "steps_timed": steps,
                                         "steps_per_epoch": total, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
