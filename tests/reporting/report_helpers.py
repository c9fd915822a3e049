"""Small fake run folders, written the way ``bcl-rec train`` writes them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml


def write_run(
    folder: Path,
    loss: str,
    seed: int,
    test: dict[str, float],
    lr: float = 0.001,
    history: list[dict[str, float]] | None = None,
) -> Path:
    """A run folder with config.yaml, metrics.json and (unless ``history=[]``) history.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "data": {"name": "ml-100k", "split": "leave-one-out"},
        "model": {"name": "mf", "dim": 64},
        "loss": {"name": loss, "num_negatives": 10},
        "train": {"epochs": 300, "lr": lr, "seed": seed, "progress": False},
        "eval": {"topk": [10, 20], "metric": "ndcg@10"},
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    metrics = {"best_epoch": 3, "epochs": 5, "valid": {"ndcg@10": 0.05}, "test": test}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    if history is None:
        history = [
            {"epoch": e, "loss": 1.0 / e + seed / 100, "valid_ndcg@10": 0.01 * e + seed / 1000}
            for e in range(1, 6)
        ]
    if history:
        with (folder / "history.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(history[0]))
            writer.writeheader()
            writer.writerows(history)
    return folder
