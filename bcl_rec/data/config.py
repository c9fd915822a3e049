"""The ``data`` section of a run config."""

from __future__ import annotations

from dataclasses import dataclass

from bcl_rec.errors import ConfigError


def _check(cond: bool, key: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"{key}: {msg}")


@dataclass(frozen=True)
class DataConfig:
    """Which data to read and how to split it.

    ``name`` is a registered dataset (``ml-100k``) or a path to a dataset folder or file.
    """

    name: str = "ml-100k"
    min_rating: float | None = None
    split: str = "leave-one-out"
    seed: int = 0

    def __post_init__(self) -> None:
        _check(self.split in ("leave-one-out",), "data.split", f"unknown split {self.split!r}")
