"""Per-epoch TensorBoard logging of a training run (the ``tensorboard`` extra).

:class:`TensorBoardLogger` is called once per epoch with the epoch's history record (the row
``history.csv`` gets) and writes its numbers as scalars at step = epoch: ``train/loss``,
``train/<diagnostic>`` (e.g. the mean BCL weight, alpha), ``valid/<metric>`` and
``time/<seconds>``.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from types import TracebackType

from bcl_rec.reporting.extras import require

FEATURE = "train.tensorboard"


def tag_of(name: str) -> str:
    """The TensorBoard tag of a history column."""
    if name.startswith("valid_"):
        return "valid/" + name.removeprefix("valid_")
    if name.endswith("_seconds"):
        return "time/" + name
    return "train/" + name


class TensorBoardLogger:
    """Writes each epoch record to an event file in ``log_dir``; use as a context manager."""

    def __init__(self, log_dir: str | Path) -> None:
        require("tensorboard", "tensorboard", FEATURE)
        summary = require("torch.utils.tensorboard", "tensorboard", FEATURE)
        self.writer = summary.SummaryWriter(log_dir=str(log_dir))

    def __call__(self, record: dict[str, float]) -> None:
        step = int(record["epoch"])
        for name, value in record.items():
            if name != "epoch" and math.isfinite(value):
                self.writer.add_scalar(tag_of(name), value, global_step=step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> TensorBoardLogger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def epoch_logger(log_dir: str | Path | None) -> AbstractContextManager:
    """A :class:`TensorBoardLogger` for ``log_dir``, or a context giving None when it is None."""
    return nullcontext(None) if log_dir is None else TensorBoardLogger(log_dir)
