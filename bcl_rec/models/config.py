"""The ``model`` section of a run config."""

from __future__ import annotations

from dataclasses import dataclass

from bcl_rec.errors import ConfigError


def _check(cond: bool, key: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"{key}: {msg}")


@dataclass(frozen=True)
class ModelConfig:
    """The backbone: ``mf`` (and more as they are added)."""

    name: str = "mf"
    dim: int = 64
    init: str = "xavier"
    init_std: float = 0.1

    def __post_init__(self) -> None:
        _check(self.dim >= 1, "model.dim", f"must be >= 1, got {self.dim}")
        _check(self.init in ("xavier", "normal"), "model.init", "must be 'xavier' or 'normal'")
        _check(self.init_std > 0, "model.init_std", f"must be > 0, got {self.init_std}")
