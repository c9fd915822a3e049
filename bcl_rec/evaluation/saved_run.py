"""Reopen a run folder (``config.yaml`` + ``model.pt``): its data split and its trained model.

The split is rebuilt from the run's ``data`` section through the data layer (and its cache), so
it is the split the model was trained and tested on; the weights are read with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import errno
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from bcl_rec.config import RunConfig, load_config
from bcl_rec.data.load import load_split
from bcl_rec.data.split import Split
from bcl_rec.errors import ConfigError
from bcl_rec.evaluation.ranking import FullRankingEvaluator
from bcl_rec.models import Recommender, build_model


class RunFolderError(ConfigError):
    """A run folder is missing, incomplete, or does not match its data."""


@dataclass
class SavedRun:
    """A reopened run: its config, split and model (in eval mode, on ``device``)."""

    path: Path
    config: RunConfig
    split: Split
    model: Recommender
    device: torch.device

    @torch.no_grad()
    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The vectors the model ranks by (LightGCN propagates once; cosine normalises)."""
        return self.model.scoring_embeddings()

    def evaluator(
        self,
        split: str = "test",
        topk: tuple[int, ...] | None = None,
        users_per_batch: int | None = None,
        max_memory_mb: float | None = None,
    ) -> FullRankingEvaluator:
        """The evaluator training used: ``valid`` against train, ``test`` against train + valid."""
        if split == "test":
            heldout, exclude = self.split.test, seen_matrix(self.split)
            missing = self.split.test_missing
        elif split == "valid":
            heldout, exclude = self.split.valid, self.split.train
            missing = self.split.valid_missing
        else:
            raise ValueError(f"split must be 'test' or 'valid', got {split!r}")
        cfg = self.config.eval
        return FullRankingEvaluator(
            heldout,
            exclude,
            topk=topk or cfg.topk,
            users_per_batch=users_per_batch if users_per_batch is not None
            else cfg.users_per_batch,
            max_memory_mb=max_memory_mb if max_memory_mb is not None else cfg.max_memory_mb,
            device=self.device,
            dim=self.model.dim,
            missing=missing,
        )

    def user_index(self, raw_id: str) -> int:
        """The row of the user whose raw id (as in the data file) is ``raw_id``."""
        ids = self.split.user_ids
        matches = np.flatnonzero(ids.astype(str) == str(raw_id))
        if len(matches) == 0:
            sample = ", ".join(str(x) for x in ids[:5])
            raise RunFolderError(
                f"unknown user id {raw_id!r}: not in the data of run {self.path} "
                f"({len(ids)} users, ids like {sample})"
            )
        return int(matches[0])


def seen_matrix(split: Split) -> sp.csr_matrix:
    """Binary train + validation interactions: what a user has been seen with before test."""
    seen = (split.train + split.valid).tocsr()
    seen.data[:] = 1.0
    return seen


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The state_dict saved in ``path``; a file torch cannot read is one :class:`RunFolderError`."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile,
            OSError) as err:
        if isinstance(err, OSError) and not _corrupt(err):
            raise
        state = None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise RunFolderError(
            f"{path} is not a bcl-rec model file (corrupt or truncated): retrain or point --run "
            "at another run folder"
        )
    return state


def _corrupt(err: OSError) -> bool:
    """Whether torch's OSError means an unreadable file (truncated zip: EINVAL) not a disk error."""
    return err.errno in (None, errno.EINVAL)


def load_run(
    path: str | Path, data_dir: str | Path | None = None, device: torch.device | str = "cpu"
) -> SavedRun:
    """Reopen the run folder ``path``; raises :class:`RunFolderError` with what is missing."""
    path = Path(path)
    config_file, weights = path / "config.yaml", path / "model.pt"
    if not path.is_dir():
        raise RunFolderError(f"run folder not found: {path}")
    for needed in (config_file, weights):
        if not needed.is_file():
            raise RunFolderError(f"{path} is not a complete run folder: {needed.name} is missing")
    config = load_config(config_file, warn_unused=False)
    state = read_weights(weights)  # before the data: a broken file fails fast
    split = load_split(config.data, data_dir)
    device = torch.device(device)
    model = build_model(config.model, split.train)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise RunFolderError(
            f"{weights} does not fit the model rebuilt from {config_file} and its data "
            f"({split.n_users} users, {split.n_items} items): {first}"
        ) from None
    model.to(device).eval()
    return SavedRun(path=path, config=config, split=split, model=model, device=device)
