"""``key=value`` overrides for RecBole settings, nested keys included (``loss.alpha=0.8``).

The ``--set`` syntax and value parsing are bcl-rec's (:func:`bcl_rec.config.split_override`,
:func:`bcl_rec.config.parse_value`); RecBole's own config files are read with RecBole's YAML rules.

RecBole merges config files and ``config_dict`` key by key at the top level only, so
``config_dict={"loss": {"alpha": 0.8}}`` would drop every other ``loss`` setting of a file. A dotted
override therefore starts from the value the files (or earlier overrides) give that key.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from bcl_rec.config import parse_value as shared_parse_value
from bcl_rec.config import split_override

_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


class _Loader(yaml.SafeLoader):
    """YAML as RecBole reads it: ``1e-3`` is a float (PyYAML alone reads it as a string)."""


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def parse_value(text: str) -> Any:
    """A ``--set`` value, parsed as every bcl-rec command parses it
    (:func:`bcl_rec.config.parse_value`)."""
    return shared_parse_value(text)


def read_config_files(paths: Iterable[str | Path]) -> dict[str, Any]:
    """The settings of RecBole config files, later files overriding earlier ones per key."""
    merged: dict[str, Any] = {}
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            merged.update(yaml.load(handle, Loader=_Loader) or {})
    return merged


def apply_overrides(
    config_dict: dict[str, Any] | None,
    config_files: Sequence[str | Path] | None,
    overrides: Sequence[str],
) -> dict[str, Any]:
    """``config_dict`` with every ``key=value`` / ``key.sub=value`` override applied."""
    out = copy.deepcopy(config_dict or {})
    files = read_config_files(config_files or [])
    for item in overrides:
        path, text = split_override(item)
        value = parse_value(text)
        head = path[0]
        if len(path) == 1:
            out[head] = value
            continue
        base = out[head] if head in out else copy.deepcopy(files.get(head))
        if isinstance(base, str) and head == "loss":
            base = {"name": base}
        node = base if isinstance(base, dict) else {}
        out[head] = node
        for part in path[1:-1]:
            child = node.get(part)
            node[part] = child if isinstance(child, dict) else {}
            node = node[part]
        node[path[-1]] = value
    return out
