"""The ``train`` section of a run config."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bcl_rec.errors import check as _check
from bcl_rec.errors import check_types


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and early stopping."""

    epochs: int = 300
    batch_size: int = 1024
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 20
    seed: int = 2026
    device: str = "auto"
    eval_every: int = 1
    progress: bool = True
    retain_memory: bool = True  # keep freed memory in malloc for reuse (see training/allocator)
    checkpoint_every: int = 1  # epochs between checkpoints in the run folder; 0: none
    on_nonfinite: str = "stop"  # a non-finite loss or gradient: stop the run, or skip_step
    tensorboard: str | None = None  # folder for per-epoch TensorBoard scalars (optional extra)
    optimizer: str = "adam"  # or "sparse_adam": MF, dot scores; updates only batch rows (lazy)

    def __post_init__(self) -> None:
        check_types(self, "train")
        _check(self.epochs >= 1, "train.epochs", f"must be >= 1, got {self.epochs}")
        _check(self.batch_size >= 1, "train.batch_size", f"must be >= 1, got {self.batch_size}")
        _check(0 < self.lr < math.inf, "train.lr", f"must be a finite number > 0, got {self.lr}")
        _check(self.weight_decay >= 0, "train.weight_decay",
               f"must be >= 0, got {self.weight_decay}")
        _check(self.patience >= 1, "train.patience", f"must be >= 1, got {self.patience}")
        _check(self.eval_every >= 1, "train.eval_every", f"must be >= 1, got {self.eval_every}")
        _check(
            0 <= self.seed < 2**63,
            "train.seed",
            f"must be an integer in [0, 2**63), got {self.seed}",
        )
        _check(
            self.checkpoint_every >= 0,
            "train.checkpoint_every",
            f"must be >= 0 (0 turns checkpoints off), got {self.checkpoint_every}",
        )
        _check(
            self.on_nonfinite in ("stop", "skip_step"),
            "train.on_nonfinite",
            f"must be stop or skip_step, got {self.on_nonfinite!r}",
        )
        _check(
            self.tensorboard is None or (isinstance(self.tensorboard, str) and self.tensorboard),
            "train.tensorboard",
            f"must be a folder path or null, got {self.tensorboard!r}",
        )
        _check(
            self.optimizer in ("adam", "sparse_adam"),
            "train.optimizer",
            f"must be adam or sparse_adam, got {self.optimizer!r}",
        )
        _check(
            self.optimizer != "sparse_adam" or self.weight_decay == 0,
            "train.optimizer",
            "sparse_adam has no weight decay: set train.weight_decay=0 or train.optimizer=adam",
        )
        _check(
            self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:"),
            "train.device",
            f"must be auto, cpu or cuda, got {self.device!r}",
        )
