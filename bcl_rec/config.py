"""Typed run configuration: YAML files and ``--set key=value`` overrides map onto dataclasses.

Each section is a frozen dataclass that validates itself; unknown keys are an error naming the
key and listing the valid ones. Nothing here is global: a :class:`RunConfig` value is built once
and passed down.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bcl_rec.data.config import DataConfig
from bcl_rec.errors import ConfigError, build_section
from bcl_rec.evaluation.config import EvalConfig
from bcl_rec.losses.config import LossConfig
from bcl_rec.models.config import ModelConfig
from bcl_rec.training.config import TrainConfig

__all__ = [
    "ConfigError",
    "DataConfig",
    "EvalConfig",
    "LossConfig",
    "ModelConfig",
    "RunConfig",
    "TrainConfig",
    "build_config",
    "load_config",
]


@dataclass(frozen=True)
class RunConfig:
    """One training run: data, model, loss, optimisation and evaluation."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dicts and lists (tuples become lists), ready for YAML or JSON."""
        return _plain(dataclasses.asdict(self))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


_SECTION_TYPES = {
    "data": DataConfig,
    "model": ModelConfig,
    "loss": LossConfig,
    "train": TrainConfig,
    "eval": EvalConfig,
}


def build_config(raw: dict[str, Any] | None) -> RunConfig:
    """Map a nested dict (as read from YAML) onto a :class:`RunConfig`, strictly."""
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"a config must be a mapping of sections, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_SECTION_TYPES))
    if unknown:
        raise ConfigError(
            f"unknown section {unknown[0]!r}; valid sections: {', '.join(_SECTION_TYPES)}"
        )
    built = {name: build_section(name, cls, raw.get(name)) for name, cls in _SECTION_TYPES.items()}
    return RunConfig(**built)


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides (values parsed as YAML) to a nested dict copy."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for item in overrides:
        key, sep, value = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise ConfigError(f"--set expects section.key=value, got {item!r}")
        out.setdefault(section, {})
        if not isinstance(out[section], dict):
            raise ConfigError(f"section {section!r} must be a mapping")
        out[section][name] = yaml.safe_load(value) if value.strip() else None
    return out


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Read a YAML config (or the defaults when ``path`` is None) and apply overrides."""
    raw: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML: {err}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: a config must be a mapping of sections")
    return build_config(apply_overrides(raw, overrides or []))


def dump_config(config: RunConfig) -> str:
    """The resolved config as YAML, loadable by :func:`load_config`."""
    return yaml.safe_dump(config.to_dict(), sort_keys=False)
