"""What checkpointing adds to an epoch: MF + BCL on MovieLens-100K, checkpoint_every 1 vs 0.

    python benchmarks/checkpoint_cost.py [--config configs/ml-100k/mf-bcl.yaml] [--epochs 5]
        [--repeats 2] [--json results/checkpoint_cost.json]

The same run (config, seed) is trained ``--repeats`` times with ``train.checkpoint_every=1`` and
with ``0``, alternating, into a run folder each time. Reported:

- the median wall time of a whole epoch in each arm (from one epoch's end to the next: training,
  validation, checkpoint, history) and their ratio: the honest figure, but noisy on a busy machine;
- the median time the training loop is held by one checkpoint (building it and serialising it;
  the file write and fsyncs run on a background thread during the next epoch), timed directly:
  the stable figure, reported as a fraction of the epoch without checkpoints.

The target is at most 5% added to an MF epoch. ``history.csv`` is written in both arms.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bcl_rec.config import RunConfig, dump_config, load_config
from bcl_rec.data.load import load_split
from bcl_rec.data.split import Split
from bcl_rec.run_folder import RunFolder
from bcl_rec.training.run import FolderRecorder, train_run
from bcl_rec.training.trainer import FitState

ROOT = Path(__file__).resolve().parents[1]


def one_run(
    config: RunConfig, split: Split, root: Path, every: int, held: list[float]
) -> list[float]:
    """Train into a fresh folder; returns the wall seconds of epochs 2.. (epoch end to end)."""
    folder = RunFolder(Path(tempfile.mkdtemp(dir=root)))
    folder.prepare()
    folder.write_text("config.yaml", dump_config(config), durable=True)
    checkpoint, epoch_done = FolderRecorder.checkpoint, FolderRecorder.epoch_done
    ends: list[float] = []

    def timed_checkpoint(self: FolderRecorder, state: FitState) -> None:
        t0 = time.perf_counter()
        checkpoint(self, state)
        held.append(time.perf_counter() - t0)

    def timed_epoch_done(self: FolderRecorder, state: FitState) -> None:
        epoch_done(self, state)
        ends.append(time.perf_counter())

    FolderRecorder.checkpoint = timed_checkpoint  # type: ignore[method-assign]
    FolderRecorder.epoch_done = timed_epoch_done  # type: ignore[method-assign]
    try:
        train = dataclasses.replace(config.train, checkpoint_every=every)
        train_run(dataclasses.replace(config, train=train), split=split, folder=folder)
        folder.close()
    finally:
        FolderRecorder.checkpoint = checkpoint  # type: ignore[method-assign]
        FolderRecorder.epoch_done = epoch_done  # type: ignore[method-assign]
    return list(np.diff(ends))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs/ml-100k/mf-bcl.yaml")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)

    overrides = [
        f"train.epochs={args.epochs}",
        f"train.patience={args.epochs}",
        "train.progress=false",
        "train.device=cpu",
        *args.set,
    ]
    config = load_config(args.config, overrides)
    split = load_split(config.data)
    epochs: dict[int, list[float]] = {1: [], 0: []}
    held: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for every in (1, 0):
                epochs[every] += one_run(config, split, Path(tmp), every, held)
    with_ckpt, without = (float(np.median(epochs[k])) for k in (1, 0))
    hold = float(np.median(held))
    result = {
        "config": str(args.config),
        "overrides": overrides,
        "epochs_timed_per_arm": len(epochs[0]),
        "epoch_wall_seconds_checkpoint_every_1": with_ckpt,
        "epoch_wall_seconds_checkpoint_every_0": without,
        "epoch_ratio": with_ckpt / without,
        "checkpoint_hold_seconds": hold,
        "checkpoints": len(held),
        "hold_over_epoch": hold / without,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    print(
        f"MF + BCL epoch (wall, median of {len(epochs[0])} per arm): {without:.3f} s without "
        f"checkpoints, {with_ckpt:.3f} s with one per epoch (ratio {with_ckpt / without:.3f}); "
        f"a checkpoint holds training {hold * 1e3:.1f} ms (median of {len(held)}) = "
        f"{100 * hold / without:.2f}% of an epoch (target <= 5%)"
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
