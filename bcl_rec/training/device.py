"""Resolve ``train.device`` once: ``auto`` picks CUDA when present, else the CPU."""

from __future__ import annotations

import warnings

import torch


def resolve_device(name: str) -> torch.device:
    """The device for ``auto``/``cpu``/``cuda[:n]``; CUDA asked for but absent warns, uses CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        warnings.warn(
            f"train.device={name!r} but torch sees no CUDA device "
            f"(torch {torch.__version__}, built with CUDA: {torch.version.cuda}); using the CPU",
            stacklevel=2,
        )
        return torch.device("cpu")
    return torch.device(name)
