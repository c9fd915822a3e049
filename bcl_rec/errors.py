"""Config errors and warnings, and the helpers every config section uses to raise them.

A :class:`ConfigError` names the key at fault (``loss.alpha``) and, once the config loader knows
it, the file and line the key was written on; ``str(err)`` is then one line
``<file>:<line>: loss.alpha must be ...``. Each section's ``__post_init__`` first calls
:func:`check_types` (types from the dataclass annotations, one rule for every section), then
checks ranges and choices.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any, TypeVar, Union

T = TypeVar("T")

SECTION_NAMES = ("data", "model", "loss", "train", "eval")
_KEY_AT_START = re.compile(r"^(?:unknown key )?((?:%s)\.\w+)" % "|".join(SECTION_NAMES))


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the key.

    ``key`` is the dotted key (``loss.alpha``) when one is at fault; ``where`` is the file and
    line (``run.yaml:12``) or the ``--set`` argument it came from, once known.
    """

    def __init__(self, message: str, key: str | None = None, where: str | None = None) -> None:
        self.reason = message
        self.key = key if key is not None else key_of(message)
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)

    def located(self, where: str | None) -> ConfigError:
        """This error with its location set (unchanged when ``where`` is None or already set)."""
        if where is None or self.where is not None:
            return self
        return type(self)(self.reason, self.key, where)

    def __reduce__(self):  # keep the fields when pickled
        return (type(self), (self.reason, self.key, self.where))


class ConfigWarning(UserWarning):
    """A valid setting that has no effect (e.g. a loss key the chosen loss does not use)."""


def key_of(message: str) -> str | None:
    """The dotted config key a message starts with (``loss.alpha must ...``), if any."""
    match = _KEY_AT_START.match(message)
    return match.group(1) if match else None


def did_you_mean(word: str, choices: Iterable[str], prefix: str = "") -> str:
    """``" (did you mean <prefix>x?)"`` for the closest of ``choices``; ``""`` if none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close:
        return ""
    return f" (did you mean {prefix}{close[0]}?)" if prefix else f" (did you mean {close[0]!r}?)"


def check(cond: bool, key: str, msg: str) -> None:
    """Raise :class:`ConfigError` ``"<key>: <msg>"`` unless ``cond``."""
    if not cond:
        raise ConfigError(f"{key}: {msg}", key=key)


def not_a_mapping(section: str, value: Any) -> ConfigError:
    """The error for a config section written as something other than a mapping of keys."""
    return ConfigError(
        f"section {section!r} must be a mapping of keys, got {_shown(value)}", key=section
    )


def build_section(name: str, cls: type[T], values: Mapping[str, Any] | None) -> T:
    """Build config section ``name`` (a dataclass) from a mapping, strictly.

    An unknown key is an error suggesting the closest valid key and listing them all; a
    ``ValueError``/``TypeError`` raised while validating becomes a :class:`ConfigError`.
    """
    values = {} if values is None else values
    if not isinstance(values, Mapping):
        raise not_a_mapping(name, values)
    valid = [f.name for f in fields(cls)]
    for key in values:
        if not isinstance(key, str) or key not in valid:
            raise ConfigError(
                f"unknown key {name}.{key}{did_you_mean(str(key), valid, f'{name}.')}; valid keys: "
                + ", ".join(f"{name}.{k}" for k in sorted(valid)),
                key=f"{name}.{key}",
            )
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:
        raise ConfigError(str(err)) from None


# --- types, from the dataclass annotations -------------------------------------------------------


def check_types(obj: Any, section: str) -> None:
    """Check (and normalise) every field of the frozen dataclass ``obj`` against its annotation.

    ``int`` takes integers (and integral floats such as ``1e3``), ``float`` takes finite
    numbers, ``bool`` only true/false, ``tuple[X, ...]`` a list of X (stored as a tuple),
    ``X | None`` also null. A mismatch raises :class:`ConfigError` naming ``<section>.<field>``.
    """
    hints = _hints(type(obj))
    for f in fields(obj):
        value = getattr(obj, f.name)
        converted = _convert(value, hints[f.name], f"{section}.{f.name}")
        if converted is not value:
            object.__setattr__(obj, f.name, converted)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


class _Mismatch(Exception):
    pass


def _convert(value: Any, tp: Any, key: str) -> Any:
    try:
        return _as_type(value, tp)
    except _Mismatch:
        raise ConfigError(f"{key} must be {_describe(tp)}, got {_shown(value)}", key=key) from None


def _as_type(value: Any, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None:
            if type(None) in options:
                return None
            raise _Mismatch
        for option in options:
            if option is type(None):
                continue
            try:
                return _as_type(value, option)
            except _Mismatch:
                continue
        raise _Mismatch
    if origin is tuple:
        item_type = typing.get_args(tp)[0]
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        items = tuple(_as_type(v, item_type) for v in value)
        return value if isinstance(value, tuple) and items == value else items
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        raise _Mismatch
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Mismatch
        try:
            x = float(value)
        except OverflowError:
            raise _Mismatch from None
        if not math.isfinite(x):
            raise _Mismatch
        return value if isinstance(value, float) else x
    if tp is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    return value


_NAMES = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        parts = [_describe(t) for t in typing.get_args(tp) if t is not type(None)]
        if type(None) in typing.get_args(tp):
            parts.append("null")
        return " or ".join(parts)
    if origin is tuple:
        inner = _describe(typing.get_args(tp)[0]).removeprefix("an ").removeprefix("a ")
        return f"a list of {inner}s"
    return _NAMES.get(tp, str(tp))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
