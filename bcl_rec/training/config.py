"""The ``train`` section of a run config."""

from __future__ import annotations

from dataclasses import dataclass

from bcl_rec.errors import check as _check


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
    optimizer: str = "adam"  # or "sparse_adam": MF only, updates only the batch's rows (lazy)

    def __post_init__(self) -> None:
        _check(self.epochs >= 1, "train.epochs", f"must be >= 1, got {self.epochs}")
        _check(self.batch_size >= 1, "train.batch_size", f"must be >= 1, got {self.batch_size}")
        _check(self.lr > 0, "train.lr", f"must be > 0, got {self.lr}")
        _check(self.weight_decay >= 0, "train.weight_decay", "must be >= 0")
        _check(self.patience >= 1, "train.patience", f"must be >= 1, got {self.patience}")
        _check(self.eval_every >= 1, "train.eval_every", "must be >= 1")
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
