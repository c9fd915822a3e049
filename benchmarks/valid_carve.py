"""How well early stopping works with each validation carve of pre-split data (valid_ratio).

MovieLens-100K is written as pre-split ``train.csv``/``test.csv`` files (per user a seeded random
80/20 split, no validation file, no timestamps), and for each seed and each carve (one train item
per user, or ``valid_ratio`` of them) one model is trained for ``--epochs`` epochs with validation
and test NDCG@10 recorded at every epoch. The epoch validation picks (with the config's patience)
is compared with the best test epoch in hindsight:

* ``test@pick``: test NDCG@10 of the picked epoch (what a user gets; a larger carve also takes
  more items out of training);
* ``regret``: best test NDCG@10 in hindsight minus ``test@pick`` (how much the choice of epoch
  lost: the noise of early stopping);
* ``|pick-best|``: epochs between the picked and the best test epoch.

    OMP_NUM_THREADS=1 python benchmarks/valid_carve.py configs/ml-100k/mf-bcl.yaml \\
        --seeds 1 2 3 4 5 --ratios one 0.1 0.2 --epochs 60
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bcl_rec.config import load_config
from bcl_rec.data.load import load_split
from bcl_rec.data.ordering import rank_within_user
from bcl_rec.losses import build_loss
from bcl_rec.models import build_model
from bcl_rec.training.device import resolve_device
from bcl_rec.training.trainer import Trainer

METRIC = "ndcg@10"


def write_presplit(u_data: Path, folder: Path, seed: int, test_share: float = 0.2) -> None:
    """ML-100K as per-user random train/test files: ``floor(test_share * n)`` test items."""
    log = pd.read_csv(u_data, sep="\t", names=["user", "item", "rating", "timestamp"])
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(len(log)), log["user"].to_numpy()))
    users = log["user"].to_numpy()[order]
    codes = pd.factorize(users)[0]
    rank, counts = rank_within_user(codes, int(codes.max()) + 1)
    test = rank < np.floor(test_share * counts[codes])
    rows = log.iloc[order][["user", "item"]]
    folder.mkdir(parents=True, exist_ok=True)
    rows[~test].to_csv(folder / "train.csv", index=False)
    rows[test].to_csv(folder / "test.csv", index=False)


def curves(config_path: str, folder: Path, seed: int, carve: str, epochs: int
           ) -> tuple[list[float], list[float], int]:
    """Per-epoch validation and test NDCG@10 of one run, and the number of validation items."""
    ratio = "null" if carve == "one" else carve
    config = load_config(config_path, [
        f"data.name={folder}", "data.split=presplit", f"data.valid_ratio={ratio}",
        f"data.seed={seed}", "data.cache=false", "data.presplit_policy=drop",
        f"train.seed={seed}", "train.device=cpu", "train.progress=false",
    ])
    split = load_split(config.data)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    model = build_model(config.model, split.train, generator=generator)
    trainer = Trainer(model, build_loss(config.loss), split, config.loss, config.train,
                      config.eval, resolve_device("cpu"), generator)
    valid, test = [], []
    for _ in range(epochs):
        trainer.train_epoch()
        valid.append(trainer.validate()[METRIC])
        test.append(trainer.test()[METRIC])
    return valid, test, int(split.valid.nnz)


def picked_epoch(valid: list[float], patience: int) -> int:
    """0-based epoch early stopping keeps: the best validation value before ``patience``
    epochs without improvement (strictly better only, as the trainer does)."""
    best, best_at = -math.inf, 0
    for epoch, value in enumerate(valid):
        if value > best:
            best, best_at = value, epoch
        elif epoch - best_at >= patience:
            break
    return best_at


def summary(values: list[float]) -> str:
    arr = np.asarray(values, dtype=np.float64)
    std = arr.std(ddof=1) if len(arr) > 1 else float("nan")
    return f"{arr.mean():.4f} +- {std:.4f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="run config, e.g. configs/ml-100k/mf-bcl.yaml")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--ratios", nargs="+", default=["one", "0.1", "0.2"],
                        help="carves: 'one' (one item per user) or a data.valid_ratio")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--u-data", type=Path, default=None,
                        help="ML-100K u.data (default: $BCL_REC_DATA/ml-100k/u.data)")
    args = parser.parse_args(argv)
    u_data = args.u_data
    if u_data is None:
        import os

        u_data = Path(os.environ.get("BCL_REC_DATA", "data")) / "ml-100k" / "u.data"
    patience = load_config(args.config).train.patience
    rows: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            folder = Path(tmp) / f"seed{seed}"
            write_presplit(u_data, folder, seed)
            for carve in args.ratios:
                valid, test, n_valid = curves(args.config, folder, seed, carve, args.epochs)
                pick = picked_epoch(valid, patience)
                best = int(np.argmax(test))
                row = rows.setdefault(carve, {k: [] for k in (
                    "valid items", "test@pick", "best test", "regret", "|pick-best|", "pick")})
                row["valid items"].append(n_valid)
                row["test@pick"].append(test[pick])
                row["best test"].append(test[best])
                row["regret"].append(test[best] - test[pick])
                row["|pick-best|"].append(abs(pick - best))
                row["pick"].append(pick + 1)
                print(f"seed {seed} carve {carve}: pick epoch {pick + 1} test {test[pick]:.4f}, "
                      f"best epoch {best + 1} test {test[best]:.4f}", flush=True)
    print(f"\n{args.config}, seeds {args.seeds}, {args.epochs} epochs, patience {patience}, "
          f"test {METRIC}\n")
    print("| carve | valid items | test@pick | best test (hindsight) | regret | |pick-best| "
          "| picked epochs |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for carve, row in rows.items():
        picks = f"{min(row['pick']):.0f}-{max(row['pick']):.0f}"
        print(f"| {carve} | {int(np.mean(row['valid items']))} | {summary(row['test@pick'])} | "
              f"{summary(row['best test'])} | {summary(row['regret'])} | "
              f"{np.mean(row['|pick-best|']):.1f} | {picks} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
