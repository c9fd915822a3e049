"""Typed run configuration: YAML files and ``--set key=value`` overrides map onto dataclasses.

Each section is a frozen dataclass that validates itself (types from its annotations, then
ranges); an unknown key is an error suggesting the closest valid one. YAML is read with YAML 1.2
number rules (``1e-3`` is a number), and an error about a key written in a config file names
the file and line. Nothing here is global: a :class:`RunConfig` value is built once and passed
down.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from bcl_rec.data.config import DataConfig
from bcl_rec.errors import (
    ConfigError,
    ConfigWarning,
    build_section,
    did_you_mean,
    not_a_mapping,
)
from bcl_rec.evaluation.config import EvalConfig
from bcl_rec.evaluation.plan import plan_tiles
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
    "check_against_data",
    "config_location",
    "load_config",
    "load_yaml",
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


# --- YAML with YAML 1.2 numbers -------------------------------------------------------------------


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 floats: ``1e-3``, ``1E5``, ``.5``, ``-1e+2`` are numbers.

    PyYAML follows YAML 1.1, where a float needs a dot (``1e-3`` is the string ``"1e-3"``).
    """


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:float"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)
# a plain integer stays an int: the int resolver is tried first for digits


def load_yaml(text: str, source: str = "<string>") -> Any:
    """Parse YAML text (YAML 1.2 numbers); a syntax error is one line naming ``source``:line."""
    try:
        return yaml.load(text, Loader=Yaml12Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        multiline = "\n" in text.strip()
        where = f"{source}:{mark.line + 1}" if mark is not None and multiline else source
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"not valid YAML: {problem}", where=where) from None


def key_lines(text: str) -> dict[str, int]:
    """1-based line of every ``section`` and ``section.key`` written in a YAML config text."""
    try:
        root = yaml.compose(text, Loader=Yaml12Loader)
    except yaml.YAMLError:
        return {}
    lines: dict[str, int] = {}
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key_node, value_node in root.value:
        section = str(key_node.value)
        lines[section] = key_node.start_mark.line + 1
        if isinstance(value_node, yaml.MappingNode):
            for sub_key, _ in value_node.value:
                lines[f"{section}.{sub_key.value}"] = sub_key.start_mark.line + 1
    return lines


# --- building and loading -------------------------------------------------------------------------


def build_config(raw: dict[str, Any] | None) -> RunConfig:
    """Map a nested dict (as read from YAML) onto a :class:`RunConfig`, strictly."""
    raw = {} if raw is None else raw
    if not isinstance(raw, Mapping):
        raise ConfigError(f"a config must be a mapping of sections, got {type(raw).__name__}")
    for name in raw:
        if name not in _SECTION_TYPES:
            raise ConfigError(
                f"unknown section {name!r}{did_you_mean(str(name), _SECTION_TYPES)}; "
                f"valid sections: {', '.join(_SECTION_TYPES)}",
                key=str(name),
            )
    built = {name: build_section(name, cls, raw.get(name)) for name, cls in _SECTION_TYPES.items()}
    return RunConfig(**built)


def split_override(item: str) -> tuple[list[str], str]:
    """``key.sub=value`` -> (``["key", "sub"]``, ``"value"``): the ``--set`` syntax of every
    command (``train``, ``sweep`` and ``recbole``); ``ConfigError`` on a malformed item."""
    key, sep, text = item.partition("=")
    path = [part.strip() for part in key.split(".")]
    if not sep or not all(path):
        raise ConfigError(f"--set expects key=value or key.sub=value, got {item!r}")
    return path, text


def parse_value(text: str, source: str = "--set") -> Any:
    """A ``--set`` value: YAML 1.2 (``1e-3`` is a number); ``''`` is None, and text of only
    spaces or tabs (a separator) is kept as it is."""
    if not text:
        return None
    return load_yaml(text, source) if text.strip() else text


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides (values parsed as YAML 1.2) to a nested dict copy."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for item in overrides:
        try:
            path, value = split_override(item)
        except ConfigError:
            path, value = [], ""
        if len(path) != 2:
            raise ConfigError(f"--set expects section.key=value, got {item!r}")
        section, name = path
        if section not in _SECTION_TYPES:
            raise ConfigError(
                f"--set {section}.{name}: unknown section {section!r}"
                f"{did_you_mean(section, _SECTION_TYPES)}; valid sections: "
                + ", ".join(_SECTION_TYPES),
                key=section,
            )
        if out.get(section) is None:  # absent, or written empty (``train:``)
            out[section] = {}
        if not isinstance(out[section], dict):
            raise not_a_mapping(section, out[section])
        out[section][name] = parse_override(
            _SECTION_TYPES.get(section), name, value, f"--set {item}"
        )
    return out


_NULLS = ("", "~", "null", "Null", "NULL")


def parse_override(cls: type | None, name: str, text: str, source: str = "--set") -> Any:
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
            return load_yaml(stripped, source)
        return stripped or text
    return parse_value(text, source) if text.strip() else None


def _text_only(cls: type, name: str) -> bool:
    """Whether field ``name`` of dataclass ``cls`` is typed ``str`` or ``str | None``."""
    hint = typing.get_type_hints(cls).get(name)
    if hint is None:
        return False
    allowed = set(typing.get_args(hint)) or {hint}
    return str in allowed and allowed <= {str, type(None)}



def load_config(
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    warn_unused: bool = True,
) -> RunConfig:
    """Read a YAML config (or the defaults when ``path`` is None) and apply overrides.

    Errors name the key and where it was written (``file:line`` or the ``--set`` argument).
    With ``warn_unused``, every loss key written with a non-default value that the chosen loss
    does not use is reported as a :class:`ConfigWarning` (a saved run's ``config.yaml`` lists
    every key, so reopening a run passes False).
    """
    raw: dict[str, Any] = {}
    lines: dict[str, int] = {}
    source = None
    if path is not None:
        path = Path(path)
        source = str(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        text = path.read_text()
        raw = load_yaml(text, source) or {}
        if not isinstance(raw, dict):
            raise ConfigError(
                f"a config must be a mapping of sections, got {type(raw).__name__}",
                where=f"{source}:1",
            )
        lines = key_lines(text)
    overrides = overrides or []
    set_by = {item.partition("=")[0].strip(): item for item in overrides}
    try:
        config = build_config(apply_overrides(raw, overrides))
    except ConfigError as err:
        raise err.located(_where(err.key, set_by, source, lines)) from None
    for key in _ignored_loss_keys(config, raw, overrides) if warn_unused else []:
        where = _where(key, set_by, source, lines)
        warnings.warn(
            ConfigWarning(
                (f"{where}: " if where else "")
                + f"{key} has no effect with loss.name={config.loss.name}; remove it"
                + (" or pick a loss that uses it" if key != "loss.num_extras" else "")
            ),
            stacklevel=2,
        )
    return config


def config_location(
    key: str | None, path: str | Path | None = None, overrides: list[str] | None = None
) -> str | None:
    """Where ``key`` was set: the ``--set`` argument, else ``file:line`` in ``path``, else None.

    For errors found after loading (e.g. by :func:`check_against_data`).
    """
    lines: dict[str, int] = {}
    if path is not None and Path(path).is_file():
        lines = key_lines(Path(path).read_text())
    set_by = {item.partition("=")[0].strip(): item for item in overrides or []}
    return _where(key, set_by, None if path is None else str(path), lines)


def _where(
    key: str | None, set_by: dict[str, str], source: str | None, lines: dict[str, int]
) -> str | None:
    if key is None:
        return None
    if key in set_by:
        return f"--set {set_by[key]}"
    section = key.partition(".")[0]
    if source is not None and (key in lines or section in lines):
        return f"{source}:{lines.get(key, lines.get(section))}"
    return None


def _ignored_loss_keys(config: RunConfig, raw: dict[str, Any], overrides: list[str]) -> list[str]:
    from bcl_rec.losses.factory import unused_loss_keys

    given = set(raw.get("loss") or {}) if isinstance(raw.get("loss"), dict) else set()
    given |= {
        item.partition("=")[0].strip().partition(".")[2]
        for item in overrides
        if item.partition("=")[0].strip().startswith("loss.")
    }
    default = LossConfig()
    changed = {k for k in given if getattr(config.loss, k, None) != getattr(default, k, None)}
    return [f"loss.{k}" for k in unused_loss_keys(config.loss, changed)]


def check_against_data(config: RunConfig, n_users: int, n_items: int, n_pairs: int) -> None:
    """The checks that need the data's size, run after loading and before building the model.

    ``eval.topk`` cut-offs must not exceed the number of items; ``eval.max_memory_mb`` must
    hold one evaluation tile; the embedding tables and one training step's scored items must fit
    in this machine's memory.
    """
    too_big = [k for k in config.eval.topk if k > n_items]
    if too_big:
        raise ConfigError(
            f"eval.topk: K={max(too_big)} is larger than the {n_items} items of the data; "
            f"use cut-offs <= {n_items}",
            key="eval.topk",
        )
    memory = _memory_bytes()
    dim = config.model.dim
    tables = (n_users + n_items) * dim * 4 * 4  # weights, gradient and Adam's two moments
    if memory is not None and tables > memory:
        raise ConfigError(
            f"model.dim: {dim} needs {_gib(tables)} for the embeddings of {n_users} users and "
            f"{n_items} items, more than this machine's {_gib(memory)}; use a smaller model.dim",
            key="model.dim",
        )
    try:
        plan_tiles(
            n_items,
            dim,
            torch.device("cpu"),  # the budget check is the same on every device
            config.eval.users_per_batch,
            config.eval.max_memory_mb,
            n_users,
        )
    except ValueError as err:
        raise ConfigError(str(err), key="eval.max_memory_mb") from None
    loss = config.loss
    per_pair = 1 + loss.num_negatives + loss.num_extras
    if loss.ecdf_source == "catalogue":
        per_pair += loss.ecdf_sample if loss.ecdf_sample is not None else n_items
    step = min(config.train.batch_size, n_pairs) * per_pair * dim * 4 * 4
    if memory is not None and step > memory:
        raise ConfigError(
            f"train.batch_size: {config.train.batch_size} pairs x {per_pair} items scored per "
            f"pair (loss.num_negatives, loss.num_extras, loss.ecdf_sample) x model.dim {dim} "
            f"need {_gib(step)} per step, more than this machine's {_gib(memory)}; "
            "lower one of them",
            key="train.batch_size",
        )


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


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
