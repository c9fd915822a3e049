"""The process's C library, when it is glibc: the allocator controls (``mallopt``,
``malloc_trim``) that :mod:`bcl_rec.training.allocator` and :mod:`bcl_rec.evaluation.memory` use."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import platform


@functools.cache
def glibc() -> ctypes.CDLL | None:
    """glibc loaded through ctypes, or None off glibc (macOS, Windows, musl) or when it cannot
    be loaded."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    path = ctypes.util.find_library("c")
    if path is None:
        return None
    try:
        return ctypes.CDLL(path)
    except OSError:
        return None
