"""The run folder on disk: what is written when, always atomically, and the checks before a run.

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
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import torch

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
