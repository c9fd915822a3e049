"""Typed run configuration: YAML files and ``--set key=value`` overrides map onto dataclasses.

Each section is a frozen dataclass that validates itself; unknown keys are an error naming the
key and listing the valid ones. Nothing here is global: a :class:`RunConfig` value is built once
and passed down.
"""

from __future__ import annotations

import dataclasses
import typing
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
        cls = _SECTION_TYPES.get(section)
        out[section][name] = parse_override(cls, name, value)
    return out


_NULLS = ("", "~", "null", "Null", "NULL")


def parse_override(cls: type | None, name: str, text: str) -> Any:
    """The value of ``--set section.name=text`` for section dataclass ``cls``.

    Values are YAML, except for keys that only take text (``data.sep``, ``data.name``, ...): those
    keep the text as written unless it is quoted or a YAML null, so a separator such as ``' '``,
    ``|`` or ``::`` (which YAML reads as null, a block scalar or a mapping) stays itself.
    """
    if cls is not None and _text_only(cls, name):
        stripped = text.strip()
        if stripped in _NULLS and (stripped or not text):
            return None
        if stripped[:1] in ("'", '"') and stripped[-1:] == stripped[:1] and len(stripped) > 1:
            return yaml.safe_load(stripped)
        return stripped or text
    return yaml.safe_load(text) if text.strip() else None


def _text_only(cls: type, name: str) -> bool:
    """Whether field ``name`` of dataclass ``cls`` is typed ``str`` or ``str | None``."""
    hint = typing.get_type_hints(cls).get(name)
    if hint is None:
        return False
    allowed = set(typing.get_args(hint)) or {hint}
    return str in allowed and allowed <= {str, type(None)}


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


class _Quoted(str):
    """A value written double-quoted: a separator such as ``" "`` or ``"\\t"`` stays visible."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Quoted, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", str(value),
                                                           style='"'))


def dump_config(config: RunConfig) -> str:
    """The resolved config as YAML, loadable by :func:`load_config` (``data.sep`` quoted)."""
    raw = config.to_dict()
    if raw["data"]["sep"] is not None:
        raw["data"]["sep"] = _Quoted(raw["data"]["sep"])
    return yaml.dump(raw, Dumper=_Dumper, sort_keys=False)
