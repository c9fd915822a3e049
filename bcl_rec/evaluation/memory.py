"""Measure the peak extra memory of a call: CUDA allocator statistics, or the process's RSS.

On the CPU the measure is the rise of the resident set's high-water mark (``VmHWM``, reset
through ``/proc/self/clear_refs``) above the resident set before the call, after returning freed
heap memory to the system (``malloc_trim``) so that reused pages are counted again. It includes
everything the call touches (Python objects, index arrays, the allocator's slack), so it is an
upper bound on the tensors' own peak. Where ``/proc`` cannot be used (not Linux) the result is
``None``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch

from bcl_rec.glibc import glibc

T = TypeVar("T")
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_bytes(key: str) -> int | None:
    try:
        match = re.search(rf"^{key}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) * 1024 if match else None


def _trim_heap() -> None:
    trim = getattr(glibc(), "malloc_trim", None)
    if trim is not None:
        trim(0)


def _reset_high_water() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_memory(fn: Callable[[], T], device: torch.device | str = "cpu") -> tuple[T, int | None]:
    """``(fn(), peak extra bytes during the call)``; the bytes are None when not measurable."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        result = fn()
        torch.cuda.synchronize(device)
        return result, torch.cuda.max_memory_allocated(device) - base
    _trim_heap()
    base = _status_bytes("VmRSS")
    if base is None or not _reset_high_water():
        return fn(), None
    result = fn()
    high = _status_bytes("VmHWM")
    return result, None if high is None else max(0, high - base)
