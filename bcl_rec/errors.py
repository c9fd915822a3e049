"""Config errors, and the two helpers every config section uses to raise them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the key."""


def check(cond: bool, key: str, msg: str) -> None:
    """Raise :class:`ConfigError` ``"<key>: <msg>"`` unless ``cond``."""
    if not cond:
        raise ConfigError(f"{key}: {msg}")


def build_section(name: str, cls: type[T], values: Mapping[str, Any] | None) -> T:
    """Build config section ``name`` (a dataclass) from a mapping, strictly.

    Unknown keys are an error listing the valid ones; a ``ValueError``/``TypeError`` raised while
    validating becomes a :class:`ConfigError`.
    """
    values = values or {}
    if not isinstance(values, Mapping):
        raise ConfigError(f"section {name!r} must be a mapping, got {values!r}")
    valid = {f.name for f in fields(cls)}
    bad = sorted(set(values) - valid)
    if bad:
        raise ConfigError(
            f"unknown key {name}.{bad[0]}; valid keys: "
            + ", ".join(f"{name}.{k}" for k in sorted(valid))
        )
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:
        raise ConfigError(str(err)) from None
