"""The malloc tuning is applied once per process, only where glibc offers it."""

from __future__ import annotations

import platform

from bcl_rec.training.allocator import retain_freed_memory


def test_applied_on_glibc_and_idempotent():
    applied = retain_freed_memory()
    assert applied == (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc")
    assert retain_freed_memory() is applied  # cached: mallopt runs once
