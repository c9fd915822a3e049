"""Stop a run cleanly on Ctrl-C (SIGINT) or SIGTERM: the first signal asks, the second insists.

The first signal only sets :class:`StopRequest`; the training loop reads it after every step,
writes a checkpoint and raises :class:`RunInterrupted`. A second signal exits at once with
``128 + signal`` (the last complete checkpoint stays: checkpoints are renamed into place only once
written). Handlers write with ``os.write``, which is safe while the main thread is inside a
``print``.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Set by the first stop signal; read by the training loop between steps."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @property
    def requested(self) -> bool:
        return self.signum is not None


class RunInterrupted(Exception):
    """Training stopped on request after a complete step (a checkpoint was written if possible)."""

    def __init__(self, signum: int, epoch: int, step: int, checkpointed: bool) -> None:
        self.signum, self.epoch, self.step, self.checkpointed = signum, epoch, step, checkpointed
        super().__init__(f"interrupted by {signal.Signals(signum).name} at epoch {epoch}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Route SIGINT and SIGTERM to a :class:`StopRequest` while the block runs (main thread)."""
    request = StopRequest()

    def handler(signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if request.signum is None:
            request.signum = signum
            _say(f"bcl-rec: {name}: stopping after the current step (again to exit at once)")
            return
        _say(f"bcl-rec: {name} again: exiting now; the last complete checkpoint is kept")
        os._exit(128 + signum)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield request
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _say(line: str) -> None:
    os.write(2, (line + "\n").encode())
