"""The run folder on disk, written (:class:`RunFolder`) and read back (:func:`load_run`).

Written during a run, always atomically, with the checks before a run:

- ``config.yaml`` when the run starts (so a running or killed run can be inspected and resumed);
- ``history.csv`` after every epoch;
- ``checkpoint.pt`` every ``train.checkpoint_every`` epochs and on Ctrl-C / SIGTERM: written to a
  temporary name, fsynced, renamed over the previous one, then the folder is fsynced, so the
  previous checkpoint stays valid until the new one is complete. The checkpoint's tensors are
  copied at once; serialising, writing and fsyncing it (the slow part) happen on a background
  thread while the next epoch trains, in order with ``history.csv`` (so ``history.csv`` never
  lists an epoch whose checkpoint is not on disk yet); :meth:`RunFolder.flush` waits for them;
- at the end ``model.pt``, then ``metrics.json`` last: ``metrics.json`` marks a complete run, so
  a failed write (a full disk) never leaves a new ``metrics.json`` beside an old ``model.pt``.
  The checkpoint is removed once the run is complete.

Read back by :func:`load_run` (``bcl-rec evaluate`` / ``recommend`` and ``Recommender.load``):
the split is rebuilt from the run's ``data`` section through the data layer (and its cache), so
it is the split the model was trained and tested on; the weights are read with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import zipfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from bcl_rec.config import RunConfig, load_config
from bcl_rec.data.load import load_split
from bcl_rec.data.split import Split, seen_matrix
from bcl_rec.errors import ConfigError
from bcl_rec.evaluation.ranking import FullRankingEvaluator
from bcl_rec.models import Recommender, build_model

RUN_FILES = ("config.yaml", "history.csv", "checkpoint.pt", "model.pt", "metrics.json")
CHECKPOINT = "checkpoint.pt"
CHECKPOINT_FORMAT = 1


class RunFolderError(Exception):
    """A run folder cannot be used or written; the message is one line for the user."""


class RunFolder:
    """A run's folder: atomic, durable writes of its files."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._writer: ThreadPoolExecutor | None = None
        self._jobs: list[Future[None]] = []

    @property
    def complete(self) -> bool:
        return (self.path / "metrics.json").is_file()

    @property
    def checkpoint_path(self) -> Path:
        return self.path / CHECKPOINT

    def run_files(self) -> list[str]:
        """The run files this folder already holds."""
        return [name for name in RUN_FILES if (self.path / name).exists()]

    def prepare(self, overwrite: bool = False) -> None:
        """Create the folder for a new run and prove it writable, before any training.

        A folder holding another run is refused unless ``overwrite`` (which removes that run's
        files, nothing else).
        """
        if self.path.exists() and not self.path.is_dir():
            raise RunFolderError(f"--out {self.path} exists and is not a folder")
        held = self.run_files() if self.path.is_dir() else []
        if held and not overwrite:
            raise RunFolderError(
                f"--out {self.path} already holds a run ({', '.join(held)}); choose another "
                f"--out, add --overwrite to replace it, or continue it with --resume {self.path}"
            )
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.probe()
        except OSError as err:
            reason = _reason(err)
            raise RunFolderError(f"cannot write the run folder {self.path}: {reason}") from None
        for name in held:
            (self.path / name).unlink()
        self.remove_temporaries()

    def probe(self) -> None:
        """Create, write, fsync and remove a file: OSError when the folder is not writable."""
        probe = self.path / ".write-probe"
        with open(probe, "wb") as f:
            f.write(b"bcl-rec")
            f.flush()
            os.fsync(f.fileno())
        probe.unlink()

    def remove_temporaries(self) -> None:
        """Drop temporary files a killed run left behind (never a complete file)."""
        for tmp in self.path.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)

    def write_text(self, name: str, text: str, durable: bool = False) -> None:
        self.flush()
        self._atomic(name, lambda f: f.write(text.encode()), durable)

    def write_text_later(self, name: str, text: str) -> None:
        """Queue an atomic write of ``name`` behind any checkpoint being written."""
        self._submit(lambda: self._atomic(name, lambda f: f.write(text.encode()), False))

    def write_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Replace ``checkpoint.pt`` atomically and durably; the old one survives any failure.

        The tensors are copied now (training changes them next, in place); the file is written
        on the background thread, after the previous checkpoint's write has finished.
        """
        snapshot = _copy_tensors({"format": CHECKPOINT_FORMAT, **checkpoint})
        self.flush()
        self._submit(lambda: self._atomic(CHECKPOINT, lambda f: torch.save(snapshot, f), True))

    def write_model(self, state: dict[str, torch.Tensor]) -> None:
        self.flush()
        self._atomic("model.pt", lambda f: torch.save(state, f), True)

    def flush(self) -> None:
        """Wait for the queued writes; raises the first one's :class:`RunFolderError`."""
        jobs, self._jobs = self._jobs, []
        for job in jobs:
            job.result()

    def close(self) -> None:
        """Flush, then stop the background writer."""
        try:
            self.flush()
        finally:
            if self._writer is not None:
                self._writer.shutdown()
                self._writer = None

    def _submit(self, job: Callable[[], None]) -> None:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="bcl-rec-run-folder")
        done = [j for j in self._jobs if j.done()]
        self._jobs = [j for j in self._jobs if not j.done()]
        for finished in done:
            finished.result()
        self._jobs.append(self._writer.submit(job))

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The checkpoint (``torch.load(weights_only=True)``), or None when there is none yet."""
        self.flush()
        path = self.checkpoint_path
        if not path.is_file():
            return None
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # a damaged file: say which and what to do, in one line
            raise RunFolderError(
                f"{path} cannot be read ({type(err).__name__}: {str(err).splitlines()[0]}); "
                "remove it to start the run again from epoch 1"
            ) from None
        if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
            raise RunFolderError(f"{path} is not a bcl-rec checkpoint of this version")
        return checkpoint

    def remove_checkpoint(self) -> None:
        self.flush()
        self.checkpoint_path.unlink(missing_ok=True)
        self.sync()

    def sync(self) -> None:
        """fsync the folder itself, so renames in it survive a power loss (POSIX only)."""
        flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
        try:
            fd = os.open(self.path, flags)
        except OSError:  # platforms that cannot open a folder (Windows)
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def _atomic(self, name: str, write: Callable[[IO[bytes]], Any], durable: bool) -> None:
        """Write ``name`` through a temporary file renamed into place; with ``durable`` the file
        is fsynced before the rename and the folder after it."""
        path = self.path / name
        tmp = self.path / f".{name}.tmp"
        try:
            with open(tmp, "wb") as f:
                write(f)
                if durable:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as err:
            with contextlib.suppress(OSError):
                tmp.unlink()
            kept = " (the previous one is kept)" if path.exists() else ""
            raise RunFolderError(f"cannot write {path}: {_reason(err)}{kept}") from None
        if durable:
            self.sync()


def _copy_tensors(value: Any) -> Any:
    """``value`` with every tensor in its dicts, lists and tuples cloned."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _copy_tensors(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_tensors(v) for v in value)
    return value


def _reason(err: OSError) -> str:
    return err.strerror or str(err)


# --- reading a finished run back -----------------------------------------------------------


class SavedRunError(ConfigError):
    """A saved run folder is missing, incomplete, or does not match its data."""


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
            raise SavedRunError(
                f"unknown user id {raw_id!r}: not in the data of run {self.path} "
                f"({len(ids)} users, ids like {sample})"
            )
        return int(matches[0])


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The state_dict saved in ``path``; a file torch cannot read is one :class:`SavedRunError`."""
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
        raise SavedRunError(
            f"{path} is not a bcl-rec model file (corrupt or truncated): retrain or point --run "
            "at another run folder"
        )
    return state


def _corrupt(err: OSError) -> bool:
    """Whether torch's OSError means an unreadable file (truncated zip: EINVAL) not a disk error."""
    return err.errno in (None, errno.EINVAL)


def load_run(
    path: str | Path,
    data_dir: str | Path | None = None,
    device: torch.device | str = "cpu",
    split: Split | None = None,
) -> SavedRun:
    """Reopen the run folder ``path``; raises :class:`SavedRunError` with what is missing.

    ``split`` replaces the data the run's config names (a run trained on an in-memory frame).
    """
    path = Path(path)
    config_file, weights = path / "config.yaml", path / "model.pt"
    if not path.is_dir():
        raise SavedRunError(f"run folder not found: {path}")
    for needed in (config_file, weights):
        if not needed.is_file():
            raise SavedRunError(f"{path} is not a complete run folder: {needed.name} is missing")
    config = load_config(config_file, warn_unused=False)
    state = read_weights(weights)  # before the data: a broken file fails fast
    if split is None:
        split = load_split(config.data, data_dir)
    device = torch.device(device)
    model = build_model(config.model, split.train)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise SavedRunError(
            f"{weights} does not fit the model rebuilt from {config_file} and its data "
            f"({split.n_users} users, {split.n_items} items): {first}"
        ) from None
    model.to(device).eval()
    return SavedRun(path=path, config=config, split=split, model=model, device=device)
