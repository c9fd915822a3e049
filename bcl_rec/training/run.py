"""A whole run from a config: data, model, loss, training, test, and the run folder's files.

The run folder receives ``config.yaml`` (the resolved config), ``metrics.json``, ``history.csv``
(one row per epoch) and ``model.pt`` (a state_dict; ``torch.load(..., weights_only=True)``).
Files are written to temporary names and renamed, so a crash never leaves a half-written file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from bcl_rec.config import RunConfig, dump_config
from bcl_rec.data.load import load_split
from bcl_rec.data.split import Split
from bcl_rec.errors import check
from bcl_rec.losses import build_loss
from bcl_rec.models import Recommender, build_model
from bcl_rec.training.device import resolve_device
from bcl_rec.training.distributed import init_from_env, is_main_process
from bcl_rec.training.trainer import FitResult, Trainer, median


@dataclass
class RunResult:
    """Everything a run produced."""

    config: RunConfig
    metrics: dict[str, Any]
    model: Recommender
    split: Split
    fit: FitResult


def train_run(
    config: RunConfig,
    data_dir: str | Path | None = None,
    split: Split | None = None,
) -> RunResult:
    """Train and test one configuration; returns metrics in the ``metrics.json`` shape."""
    t_start = time.perf_counter()
    if split is None:
        split = load_split(config.data, data_dir)
    device = resolve_device(config.train.device)
    dist_ctx, device = init_from_env(device)  # under torchrun: join the group, this rank's device
    check(
        not (dist_ctx.enabled and config.train.optimizer == "sparse_adam"),
        "train.optimizer",
        "sparse_adam runs in one process; use train.optimizer=adam under torchrun",
    )
    train_cfg = config.train if dist_ctx.is_main else replace(config.train, progress=False)
    generator = torch.Generator(device="cpu").manual_seed(config.train.seed)
    model = build_model(config.model, split.train, generator=generator)
    loss_fn = build_loss(config.loss)
    sample_gen = (
        generator
        if device.type == "cpu"
        else torch.Generator(device=device).manual_seed(config.train.seed)
    )
    trainer = Trainer(
        model, loss_fn, split, config.loss, train_cfg, config.eval, device, sample_gen, dist_ctx
    )
    fit = trainer.fit()
    test = trainer.test()
    total = time.perf_counter() - t_start
    metrics = {
        "best_epoch": fit.best_epoch,
        "epochs": fit.epochs_run,
        "valid": fit.best_valid,
        "test": test,
        "seconds": {
            "train_epoch_median": median(fit.train_seconds),
            "eval_median": median(fit.eval_seconds),
            "total": total,
        },
        "device": str(device),
        "world_size": dist_ctx.world_size,
        "data": {
            "users": split.n_users,
            "items": split.n_items,
            "train": int(split.train.nnz),
            "valid": int(split.valid.nnz),
            "test": int(split.test.nnz),
        },
        "torch": torch.__version__,
    }
    return RunResult(config=config, metrics=metrics, model=trainer.model, split=split, fit=fit)


def write_run(result: RunResult, out: str | Path) -> Path:
    """Write the run folder's files atomically (under DDP, rank 0 only: the others return)."""
    out = Path(out)
    if not is_main_process():
        return out
    out.mkdir(parents=True, exist_ok=True)
    _atomic_text(out / "config.yaml", dump_config(result.config))
    _atomic_text(out / "metrics.json", json.dumps(result.metrics, indent=2) + "\n")
    _atomic_text(out / "history.csv", _history_csv(result.fit.history))
    tmp = out / ".model.pt.tmp"
    torch.save({k: v.detach().cpu() for k, v in result.model.state_dict().items()}, tmp)
    os.replace(tmp, out / "model.pt")
    return out


def _history_csv(history: list[dict[str, float]]) -> str:
    columns: list[str] = []
    for row in history:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    for row in history:
        writer.writerow(row)
    return buf.getvalue()


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
