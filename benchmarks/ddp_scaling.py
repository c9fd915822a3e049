"""Pairs per second of MF + BCL epochs on 1 process vs K torchrun processes, and evaluation time
of user-sharded evaluation vs rank 0 alone.

    python benchmarks/ddp_scaling.py [--epochs 2] [--dim 64]              # 1 process
    torchrun --standalone --nproc_per_node=2 benchmarks/ddp_scaling.py    # 2 processes (gloo)

MovieLens-100K, ``configs/ml-100k/mf-bcl.yaml`` (B = 1024 global, N = 10); each process uses
``OMP_NUM_THREADS`` threads (set it to 1 to compare processes on equal cores). Prints one JSON
line on rank 0: median epoch seconds, pairs per second, and the median of 5 validations per mode.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from bcl_rec.config import load_config
from bcl_rec.data.load import load_split
from bcl_rec.evaluation.ranking import FullRankingEvaluator
from bcl_rec.losses import build_loss
from bcl_rec.models import build_model
from bcl_rec.training import distributed
from bcl_rec.training.trainer import Trainer

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "ml-100k" / "mf-bcl.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--dim", type=int, default=64)
    args = parser.parse_args(argv)
    cfg = load_config(CONFIG, [f"model.dim={args.dim}", "train.progress=false",
                               "train.device=cpu"])
    ctx, device = distributed.init_from_env(torch.device("cpu"))
    split = load_split(cfg.data, None)
    gen = torch.Generator().manual_seed(cfg.train.seed)
    model = build_model(cfg.model, split.train, generator=gen)
    trainer = Trainer(model, build_loss(cfg.loss), split, cfg.loss, cfg.train, cfg.eval, device,
                      gen, ctx)
    epochs = []
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        trainer.train_epoch()
        epochs.append(time.perf_counter() - t0)
    evals = {}
    modes = [("sharded", True), ("rank0", False)] if ctx.enabled else [("one process", True)]
    for mode, sharded in modes:
        if ctx.enabled:
            trainer.valid_evaluator = distributed.evaluator(
                lambda heldout: FullRankingEvaluator(heldout, split.train, topk=cfg.eval.topk,
                                                     max_memory_mb=cfg.eval.max_memory_mb),
                split.valid, ctx, sharded=sharded)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            trainer.validate()
            times.append(time.perf_counter() - t0)
        evals[mode] = statistics.median(times)
    n_pairs = int(split.train.nnz)
    if ctx.is_main:
        epoch = statistics.median(epochs)
        print(json.dumps({"processes": ctx.world_size, "threads": torch.get_num_threads(),
                          "epoch_seconds": epochs, "pairs_per_second": n_pairs / epoch,
                          "eval_seconds": evals}))
    distributed.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
