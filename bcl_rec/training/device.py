"""Resolve ``train.device`` once, before any data is read.

``auto`` picks CUDA when present, else the CPU (with a warning saying so); ``cuda``/``cuda:N``
asked for but not there is a :class:`ConfigError`.
"""

from __future__ import annotations

import warnings

import torch

from bcl_rec.errors import ConfigError, ConfigWarning


def resolve_device(name: str, key: str = "train.device") -> torch.device:
    """The device for ``auto``/``cpu``/``cuda[:n]`` (``key`` names the setting in errors)."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        warnings.warn(
            ConfigWarning(f"{key}=auto: torch sees no CUDA device, training on the CPU"),
            stacklevel=2,
        )
        return torch.device("cpu")
    invalid = ConfigError(f"{key} must be auto, cpu, cuda or cuda:N, got {name!r}", key=key)
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise invalid from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(
                f"{key}={name!r} but torch sees no CUDA device (torch {torch.__version__}, "
                f"built with CUDA: {torch.version.cuda}); use cpu or auto",
                key=key,
            )
        if device.index is not None and device.index >= count:
            raise ConfigError(
                f"{key}={name!r} but torch sees {count} CUDA device(s): cuda:0..cuda:{count - 1}",
                key=key,
            )
    elif device.type != "cpu":
        raise invalid
    return device
