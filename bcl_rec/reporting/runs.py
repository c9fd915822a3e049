"""Saved run folders: find them, read them, and group them into configurations.

A run folder holds ``config.yaml`` and ``metrics.json`` (and usually ``history.csv``), as
``bcl-rec train`` writes it; a sweep folder holds run folders at any depth. A configuration is
the set of runs whose configs are equal once the seed and the keys that cannot change a result
(progress bar, logging, evaluation batch sizes) are removed, or equal on the ``--group-by`` keys.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SEED_KEY = "train.seed"
# keys that never change a run's numbers: left out when runs are grouped or compared
NEUTRAL_KEYS = frozenset(
    {
        SEED_KEY,
        "train.progress",
        "train.tensorboard",
        "train.retain_memory",
        "eval.users_per_batch",
        "eval.max_memory_mb",
    }
)
# preferred keys for naming configurations, before the others (most distinct values first)
LABEL_PRIORITY = ("config", "data.name", "model.name", "loss.name")
MISSING = "(unset)"


class ReportError(ValueError):
    """The runs cannot be reported as asked (no runs, unknown key or label); one line."""


@dataclass(frozen=True)
class Run:
    """One run folder: flattened config (``section.key``), metrics.json and history.csv rows."""

    path: Path
    name: str  # the path shown in reports: relative to the folder it was found under
    config: dict[str, Any]
    metrics: dict[str, Any]
    history: list[dict[str, float]]

    @property
    def seed(self) -> Any:
        return self.config.get(SEED_KEY, MISSING)

    @property
    def test(self) -> dict[str, float]:
        return self.metrics.get("test") or {}


@dataclass
class Configuration:
    """The runs of one configuration, at most one per seed."""

    label: str
    key: tuple
    runs: list[Run] = field(default_factory=list)

    @property
    def seeds(self) -> list[Any]:
        return [r.seed for r in self.runs]

    def by_seed(self) -> dict[Any, Run]:
        return {r.seed: r for r in self.runs}


def find_run_folders(dirs: Sequence[str | Path]) -> list[tuple[Path, str]]:
    """Every folder holding ``config.yaml`` and ``metrics.json`` under ``dirs`` (or ``dirs``
    themselves), each once, with the name shown for it (``<dir name>/<relative path>``)."""
    found: dict[Path, str] = {}
    for top in map(Path, dirs):
        if not top.is_dir():
            raise ReportError(f"{top}: neither a folder of runs nor a result file")
        for metrics in sorted(top.rglob("metrics.json")):
            folder = metrics.parent
            if not (folder / "config.yaml").is_file():
                continue
            rel = folder.relative_to(top)
            shown = top.resolve().name if rel == Path(".") else f"{top.resolve().name}/{rel}"
            found.setdefault(folder.resolve(), shown)
    return list(found.items())


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"loss": {"alpha": 0.9}}`` -> ``{"loss.alpha": 0.9}``; lists become tuples."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = tuple(value) if isinstance(value, list) else value
    return flat


def read_history(path: Path) -> list[dict[str, float]]:
    """history.csv as rows of floats; empty cells (epochs without validation) are left out."""
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return [
            {k: float(v) for k, v in row.items() if k is not None and v not in (None, "")}
            for row in csv.DictReader(fh)
        ]


RESULT_KEY = "config"  # the configuration label of a result-file row


def load_result_file(path: Path) -> list[Run]:
    """The runs of a committed result file: a JSON list of rows as ``benchmarks/quality.py``
    writes them (``config`` label, ``seed``, ``test_<metric>``, ``valid_<metric>``,
    ``best_epoch``, ``epochs``). Each row is a run whose config is ``{config, train.seed}``."""
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ReportError(f"{path}: unreadable result file ({str(err).splitlines()[0]})") from None
    if not isinstance(rows, list) or not all(
        isinstance(r, dict) and RESULT_KEY in r and "seed" in r for r in rows
    ):
        raise ReportError(f"{path}: not a result file (a JSON list of rows with config and seed)")
    runs = []
    for k, row in enumerate(rows):
        metrics: dict[str, Any] = {"test": {}, "valid": {}}
        for key, value in row.items():
            part, _, metric = key.partition("_")
            if part in ("test", "valid") and metric:
                metrics[part][metric] = value
        metrics.update({k: row[k] for k in ("best_epoch", "epochs") if k in row})
        config = {RESULT_KEY: row[RESULT_KEY], SEED_KEY: row["seed"]}
        runs.append(Run(path / f"#{k}", f"{path.name}#{k}", config, metrics, []))
    return runs


def load_runs(
    dirs: Sequence[str | Path], notes: list[str], only: Sequence[str] | None = None
) -> list[Run]:
    """Read every run folder under ``dirs`` (and every committed result file named there, see
    :func:`load_result_file`); unreadable run folders are skipped with a line in ``notes`` (as is
    a run without test metrics). ``only`` keeps the result-file rows of those labels."""
    runs = []
    files = [Path(d) for d in dirs if Path(d).is_file()]
    seen: dict[tuple, Run] = {}
    for path in files:
        for run in load_result_file(path):
            if only and run.config[RESULT_KEY] not in only:
                continue
            key = (run.config[RESULT_KEY], _hashable(run.seed))
            if key in seen and seen[key].metrics == run.metrics:
                continue  # the same run in two result files
            seen.setdefault(key, run)
            runs.append(run)
    if files:
        notes.append("result-file rows carry no per-epoch history (no learning-curve figures)")
    if only:
        found = {r.config[RESULT_KEY] for r in runs}
        missing = [label for label in only if label not in found]
        if missing:
            raise ReportError(f"--only: no rows labelled {', '.join(missing)} in the result files")
    dirs = [d for d in dirs if not Path(d).is_file()]
    for folder, name in find_run_folders(dirs):
        try:
            config = yaml.safe_load((folder / "config.yaml").read_text()) or {}
            metrics = json.loads((folder / "metrics.json").read_text())
            history = read_history(folder / "history.csv")
        except (OSError, ValueError, yaml.YAMLError) as err:
            notes.append(f"{name}: skipped, unreadable ({str(err).splitlines()[0]})")
            continue
        if not isinstance(config, dict) or not isinstance(metrics, dict):
            notes.append(f"{name}: skipped, config.yaml or metrics.json is not a mapping")
            continue
        if not metrics.get("test"):
            notes.append(f"{name}: no test metrics in metrics.json (left out of the tables)")
        if not history:
            notes.append(f"{name}: no history.csv (left out of the per-epoch figures)")
        runs.append(Run(folder, name, flatten(config), metrics, history))
    if not runs:
        raise ReportError(
            "no run folders (config.yaml + metrics.json) under "
            + ", ".join(map(str, [*files, *dirs]))
        )
    return runs


def differing_keys(runs: Iterable[Run]) -> list[str]:
    """Config keys (neutral keys excluded) whose values are not the same in every run."""
    runs = list(runs)
    keys = sorted({k for r in runs for k in r.config} - NEUTRAL_KEYS)
    return [k for k in keys if len({_hashable(r.config.get(k, MISSING)) for r in runs}) > 1]


def group_runs(
    runs: Sequence[Run], group_by: Sequence[str] | None, notes: list[str]
) -> list[Configuration]:
    """Configurations in label order. Two runs of one configuration with the same seed: the
    first (by path) is kept and the other is named in ``notes``."""
    if group_by:
        known = {k for r in runs for k in r.config}
        for key in group_by:
            if key not in known:
                raise ReportError(
                    f"--group-by {key}: no run has this config key; keys look like "
                    "loss.name, loss.alpha, train.lr"
                )
        keys = list(group_by)
    else:
        keys = differing_keys(runs)
    groups: dict[tuple, Configuration] = {}
    for run in runs:
        key = tuple(_hashable(run.config.get(k, MISSING)) for k in keys)
        groups.setdefault(key, Configuration(label="", key=key)).runs.append(run)
    label_keys = list(group_by) if group_by else _naming_keys(keys, list(groups))
    for conf in groups.values():
        named = [(k, v) for k, v in zip(keys, conf.key, strict=True) if k in label_keys]
        # a result-file label is shown as written; config keys as key=value
        parts = [show_value(v) if k == RESULT_KEY else f"{k}={show_value(v)}" for k, v in named]
        conf.label = ", ".join(parts) or "all runs"
        kept: dict[Any, Run] = {}
        for run in sorted(conf.runs, key=lambda r: str(r.path)):
            if _hashable(run.seed) in kept:
                notes.append(
                    f"{conf.label}: seed {run.seed} appears twice; used "
                    f"{kept[_hashable(run.seed)].name}, left out {run.name}"
                )
                continue
            kept[_hashable(run.seed)] = run
        conf.runs = sorted(kept.values(), key=lambda r: value_order(r.seed))
    def order(conf: Configuration) -> tuple:
        named = [value_order(v) for k, v in zip(keys, conf.key, strict=True) if k in label_keys]
        return (tuple(named), tuple(value_order(v) for v in conf.key))

    return sorted(groups.values(), key=order)


def shared_config(runs: Sequence[Run]) -> dict[str, Any]:
    """The config keys every run has with the same value (seed and neutral keys excluded)."""
    varying = set(differing_keys(runs))
    first = runs[0].config
    return {
        k: v
        for k, v in sorted(first.items())
        if k not in varying and k not in NEUTRAL_KEYS and all(k in r.config for r in runs)
    }


def _naming_keys(keys: list[str], values: list[tuple]) -> list[str]:
    """The fewest of ``keys`` (greedy: priority keys, then most distinct values) whose values
    tell every configuration apart, so labels stay short."""
    if len(values) <= 1:
        return []
    order = sorted(
        range(len(keys)),
        key=lambda i: (
            LABEL_PRIORITY.index(keys[i]) if keys[i] in LABEL_PRIORITY else len(LABEL_PRIORITY),
            -len({v[i] for v in values}),
            keys[i],
        ),
    )
    chosen: list[int] = []
    for i in order:
        before = len({tuple(v[j] for j in chosen) for v in values})
        after = len({tuple(v[j] for j in [*chosen, i]) for v in values})
        if after > before:
            chosen.append(i)
        if after == len(values):
            break
    return [keys[i] for i in sorted(chosen)]


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def show_value(value: Any) -> str:
    """A config value as the reports print it (floats in ``%g``, lists in brackets)."""
    if isinstance(value, tuple):
        return "[" + ", ".join(map(show_value, value)) + "]"
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:g}"
    return str(value)


def value_order(value: Any) -> tuple[int, Any]:
    """Numbers in numeric order, before everything else in text order."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value))
