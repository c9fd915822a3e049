"""Keep freed memory inside the process, so training steps stop paying for page faults.

glibc's ``malloc`` serves blocks above a size threshold with fresh ``mmap`` pages and hands
freed memory back to the kernel when the heap top grows past a trim threshold. A training step
allocates and frees megabyte tensors (the ``[B, N, d]`` gathers and their gradients) dozens of
times, so with the defaults every step touches new pages: about 20,000-30,000 minor page faults
per MF epoch on MovieLens-100K, a third or more of the epoch's time. Raising both thresholds
makes ``malloc`` reuse the freed blocks instead. Arithmetic is untouched; resident memory stays
near its peak instead of shrinking between steps.

This is a process-wide ``mallopt`` setting, the same one the ``MALLOC_MMAP_THRESHOLD_`` and
``MALLOC_TRIM_THRESHOLD_`` environment variables set; it is applied by the trainer when
``train.retain_memory`` is true (the default) and is a no-op off glibc (macOS, Windows, musl).
"""

from __future__ import annotations

import ctypes
import functools

from bcl_rec.glibc import glibc

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD = 2**30


@functools.cache
def retain_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; True when they were set."""
    mallopt = getattr(glibc(), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success; setting either disables glibc's dynamic threshold tuning
    ok_mmap = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok_trim = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    return ok_mmap and ok_trim
