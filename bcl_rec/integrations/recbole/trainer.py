"""RecBole's ``Trainer`` with checkpoints torch >= 2.6 can load, and per-epoch timings.

Only the three checkpoint methods change (:mod:`.checkpoint` says why); training and evaluation
are RecBole's own. The timings and the best epoch feed ``metrics.json``.
"""

from __future__ import annotations

import time
from typing import Any

from recbole.trainer import Trainer as RecBoleTrainer
from recbole.utils import get_trainer

from bcl_rec.integrations.recbole.checkpoint import load_checkpoint, save_checkpoint


class CheckpointMixin:
    """Safe checkpoint save/load for any subclass of RecBole's ``Trainer``; records timings."""

    config: Any
    model: Any
    optimizer: Any
    logger: Any
    device: Any
    saved_model_file: str

    def __init__(self, config: Any, model: Any) -> None:
        super().__init__(config, model)  # type: ignore[call-arg]
        self.train_seconds: list[float] = []
        self.eval_seconds: list[float] = []
        self.epochs_run = 0
        self.best_epoch = 0
        self._best_score: float | None = None

    def _save_checkpoint(self, epoch: int, verbose: bool = True, **kwargs: Any) -> None:
        if not self.config["single_spec"] and self.config["local_rank"] != 0:
            return
        path = kwargs.pop("saved_model_file", self.saved_model_file)
        state = {
            "config": self.config,
            "epoch": epoch,
            "cur_step": self.cur_step,
            "best_valid_score": float(self.best_valid_score),
            "state_dict": self.model.state_dict(),
            "other_parameter": self.model.other_parameter(),
            "optimizer": self.optimizer.state_dict(),
        }
        save_checkpoint(state, path)
        if verbose:
            self.logger.info(f"Saving current: {path}")

    def resume_checkpoint(self, resume_file: str) -> None:
        resume_file = str(resume_file)
        self.saved_model_file = resume_file
        checkpoint = load_checkpoint(resume_file, map_location=self.device)
        self.start_epoch = checkpoint["epoch"] + 1
        self.cur_step = checkpoint["cur_step"]
        self.best_valid_score = checkpoint["best_valid_score"]
        if checkpoint["config"]["model"].lower() != self.config["model"].lower():
            self.logger.warning(
                "Architecture configuration given in config file is different from that of "
                "checkpoint. This may yield an exception while state_dict is being loaded."
            )
        self.model.load_state_dict(checkpoint["state_dict"])
        self.model.load_other_parameter(checkpoint.get("other_parameter"))
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.logger.info(f"Checkpoint loaded. Resume training from epoch {self.start_epoch}")

    def evaluate(
        self,
        eval_data: Any,
        load_best_model: bool = True,
        model_file: str | None = None,
        show_progress: bool = False,
    ) -> Any:
        if eval_data and load_best_model:
            path = model_file or self.saved_model_file
            checkpoint = load_checkpoint(path, map_location=self.device)
            self.model.load_state_dict(checkpoint["state_dict"])
            self.model.load_other_parameter(checkpoint.get("other_parameter"))
            self.logger.info(f"Loading model structure and parameters from {path}")
        return super().evaluate(  # type: ignore[misc]
            eval_data, load_best_model=False, show_progress=show_progress
        )

    def _train_epoch(self, train_data: Any, epoch_idx: int, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        loss = super()._train_epoch(train_data, epoch_idx, *args, **kwargs)  # type: ignore[misc]
        self.train_seconds.append(time.perf_counter() - start)
        self.epochs_run = epoch_idx + 1
        return loss

    def _valid_epoch(self, valid_data: Any, show_progress: bool = False) -> Any:
        start = time.perf_counter()
        score, result = super()._valid_epoch(valid_data, show_progress)  # type: ignore[misc]
        self.eval_seconds.append(time.perf_counter() - start)
        bigger = self.config["valid_metric_bigger"]
        best = self._best_score
        # RecBole's early_stopping keeps the latest of tied scores; so does best_epoch
        if best is None or (score >= best if bigger else score <= best):
            self._best_score, self.best_epoch = float(score), self.epochs_run
        return score, result


class Trainer(CheckpointMixin, RecBoleTrainer):
    """RecBole's ``Trainer`` whose checkpoints load under torch's ``weights_only=True``."""


def trainer_class(model_type: Any, model_name: str) -> type:
    """RecBole's trainer for a model, with :class:`CheckpointMixin` in front."""
    base = get_trainer(model_type, model_name)
    if issubclass(base, CheckpointMixin):
        return base
    if base is RecBoleTrainer:
        return Trainer
    if not issubclass(base, RecBoleTrainer):
        raise ValueError(
            f"{model_name} trains with {base.__name__}, which bcl-rec's RecBole runner does not "
            "support (it needs a subclass of recbole.trainer.Trainer)"
        )
    return type(base.__name__, (CheckpointMixin, base), {"__module__": __name__})
