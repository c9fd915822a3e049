"""A whole run from a config: data, model, loss, training, test, and the run folder's files.

The run folder receives ``config.yaml`` (the resolved config), ``history.csv`` (one row per
epoch), ``checkpoint.pt`` while the run is going, and at the end ``model.pt`` (a state_dict;
``torch.load(..., weights_only=True)``) then ``metrics.json``; see :mod:`.run_folder` for when
and how each is written.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from bcl_rec.config import RunConfig, check_against_data, dump_config
from bcl_rec.data.load import load_split
from bcl_rec.data.split import Split
from bcl_rec.errors import check
from bcl_rec.losses import build_loss
from bcl_rec.models import Recommender, build_model
from bcl_rec.reporting.tensorboard import epoch_logger
from bcl_rec.run_folder import RunFolder
from bcl_rec.training.device import resolve_device
from bcl_rec.training.distributed import init_from_env, is_main_process
from bcl_rec.training.interrupt import StopRequest
from bcl_rec.training.trainer import FitResult, FitState, Trainer, median


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
    *,
    folder: RunFolder | None = None,
    checkpoint: dict[str, Any] | None = None,
    stop: StopRequest | None = None,
    log: Callable[[str], None] | None = None,
) -> RunResult:
    """Train and test one configuration; returns metrics in the ``metrics.json`` shape.

    With ``folder``, ``history.csv`` is written after every epoch and ``checkpoint.pt`` every
    ``train.checkpoint_every`` epochs (the caller writes ``config.yaml`` first and the final files
    with :func:`write_run`). ``checkpoint`` (from :meth:`RunFolder.load_checkpoint`) continues
    that run bit for bit. ``stop`` ends training after the current step (see
    :mod:`.interrupt`); ``log`` receives the start line.
    """
    t_start = time.perf_counter()
    device = resolve_device(config.train.device)  # before the data: a missing GPU fails fast
    if split is None:
        split = load_split(config.data, data_dir)
    check_against_data(config, split.n_users, split.n_items, int(split.train.nnz))
    if log is not None:
        log(start_line(config, split, data_dir, folder))
    dist_ctx, device = init_from_env(device)  # under torchrun: join the group, this rank's device
    check(
        not (dist_ctx.enabled and config.train.optimizer == "sparse_adam"),
        "train.optimizer",
        "sparse_adam runs in one process; use train.optimizer=adam under torchrun",
    )
    if log is not None and not dist_ctx.is_main:
        log = None  # one start line, from rank 0
    train_cfg = config.train if dist_ctx.is_main else replace(config.train, progress=False)
    generator = torch.Generator(device="cpu").manual_seed(config.train.seed)
    model = build_model(config.model, split.train, generator=generator)
    loss_fn = build_loss(config.loss, embedding_dim=config.model.dim)
    check(
        not (dist_ctx.enabled and any(True for _ in loss_fn.parameters())),
        "loss.name",
        f"{config.loss.name} has parameters of its own, which torchrun's DDP does not reduce; "
        "train it in one process",
    )
    sample_gen = (
        generator
        if device.type == "cpu"
        else torch.Generator(device=device).manual_seed(config.train.seed)
    )
    trainer = Trainer(
        model, loss_fn, split, config.loss, train_cfg, config.eval, device, sample_gen, dist_ctx
    )
    state = None
    # a resumed run adds the earlier processes' wall seconds (absent from older checkpoints)
    clock = RunClock(t_start, 0.0 if checkpoint is None else float(checkpoint.get("seconds", 0.0)))
    if checkpoint is not None:
        state = trainer.restore(checkpoint)
        if log is not None:
            log(resume_line(state))
    # under torchrun rank 0 records for everyone (every rank holds the same weights and streams)
    recording = folder is not None and dist_ctx.is_main
    recorder = FolderRecorder(folder, trainer, config, clock) if recording else None
    with epoch_logger(config.train.tensorboard) as on_epoch:
        fit = trainer.fit(state, recorder, stop, on_epoch)
    test = trainer.test()
    total = clock.seconds()
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


@dataclass(frozen=True)
class RunClock:
    """A run's wall seconds over all its processes: those before the checkpoint it resumed
    from, plus this process's since ``start`` (a ``time.perf_counter()`` reading)."""

    start: float
    before: float = 0.0

    def seconds(self) -> float:
        return self.before + time.perf_counter() - self.start


class FolderRecorder:
    """Sends :meth:`Trainer.fit`'s checkpoints and history to a run folder."""

    def __init__(
        self, folder: RunFolder, trainer: Trainer, config: RunConfig, clock: RunClock
    ) -> None:
        self.folder, self.trainer, self.config, self.clock = folder, trainer, config, clock

    def checkpoint(self, state: FitState) -> None:
        content = self.trainer.checkpoint_state(state)
        record = {"config": self.config.to_dict(), **content, "seconds": self.clock.seconds()}
        self.folder.write_checkpoint(record)

    def epoch_done(self, state: FitState) -> None:
        self.folder.write_text_later("history.csv", _history_csv(state.history))


def start_line(
    config: RunConfig, split: Split, data_dir: str | Path | None, folder: RunFolder | None
) -> str:
    """``training MODEL + LOSS on DATA (where): sizes; run folder DIR``."""
    where = data_location(config, data_dir)
    sizes = (
        f"{split.n_users} users, {split.n_items} items, {int(split.train.nnz)} train / "
        f"{int(split.valid.nnz)} valid / {int(split.test.nnz)} test interactions"
    )
    line = f"training {config.model.name} + {config.loss.name} on {config.data.name}"
    line += f" ({where}): {sizes}" if where else f": {sizes}"
    return line + (f"; run folder {folder.path}" if folder is not None else "")


def resume_line(state: FitState) -> str:
    if state.partial is not None and state.partial.steps:
        at = f"epoch {state.partial.epoch}, after step {state.partial.steps}"
    else:
        at = f"the end of epoch {state.epoch}"
    return f"resuming from the checkpoint at {at} (best epoch so far {state.best_epoch})"


def data_location(config: RunConfig, data_dir: str | Path | None) -> str | None:
    """The folder or file the dataset was read from (None when it cannot be told for sure)."""
    from bcl_rec.data.errors import DatasetNotFoundError
    from bcl_rec.data.registry import dataset_info, locate, registry

    name = str(config.data.name)
    if name in registry():
        try:
            return str(locate(dataset_info(name), data_dir, download=False))
        except DatasetNotFoundError:
            return None
    path = Path(name).expanduser()
    if not path.exists() and data_dir is not None and (Path(data_dir) / path).exists():
        path = Path(data_dir) / path
    return str(path.resolve()) if path.exists() else None


def write_run(result: RunResult, out: str | Path | RunFolder) -> Path:
    """Write the run folder's final files: config and history, ``model.pt``, then
    ``metrics.json`` last (it marks a complete run); any checkpoint is then removed."""
    folder = out if isinstance(out, RunFolder) else RunFolder(out)
    if not is_main_process():  # under torchrun only rank 0 writes files
        return folder.path
    folder.path.mkdir(parents=True, exist_ok=True)
    folder.write_text("config.yaml", dump_config(result.config))
    folder.write_text("history.csv", _history_csv(result.fit.history))
    folder.write_model({k: v.detach().cpu() for k, v in result.model.state_dict().items()})
    folder.write_text("metrics.json", json.dumps(result.metrics, indent=2) + "\n", durable=True)
    folder.remove_checkpoint()
    folder.close()
    return folder.path


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
