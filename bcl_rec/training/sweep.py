"""Sweeps: many runs of one base config, one run folder per cell, restartable, one summary.

A *cell* is a list of ``section.key=value`` overrides (a grid point or a random draw) plus,
optionally, a seed. Values go through :func:`bcl_rec.config.load_config`, so they follow the
same YAML rules as ``--set``. Every cell's config is built (and so validated) before any run
starts. A cell whose folder already holds a finished run of the same resolved config is
skipped, and a cell killed while training continues from its last checkpoint (a cell trains in
its folder as ``bcl-rec train`` does), which makes an interrupted sweep restart where it stopped.

Files in the sweep folder: one run folder per cell (named ``key=value,...,seed=S``, sanitised),
``cells.json`` (the plan: cell index, folder, overrides) and ``summary.json``/``summary.md``
(every finished run, read back from its ``metrics.json``, best validation metric first).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from bcl_rec.config import RunConfig, build_config, dump_config, load_config
from bcl_rec.data.load import load_split
from bcl_rec.errors import ConfigError, build_section
from bcl_rec.reporting.stats import interval
from bcl_rec.run_folder import RunFolder
from bcl_rec.training.interrupt import RunInterrupted, StopRequest
from bcl_rec.training.run import train_run, write_run

RUN_FILES = ("config.yaml", "metrics.json", "history.csv", "model.pt")
_NAME_MAX = 150
_UNSAFE = re.compile(r"[^A-Za-z0-9._=+@-]")  # within one key=value; cells joined by ","
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"^(?:(log|int|uniform):)?({_NUMBER}):({_NUMBER})$")


@dataclass(frozen=True)
class Cell:
    """One run of the sweep: its 1-based index, overrides, seed, folder and resolved config."""

    index: int
    overrides: tuple[str, ...]
    seed: int | None
    folder: str
    config: RunConfig

    @property
    def label(self) -> str:
        """``key=value,...`` as written, plus ``seed=S``: the progress line's name."""
        parts = [*self.overrides] + ([f"seed={self.seed}"] if self.seed is not None else [])
        return ",".join(parts) or "(base config)"


@dataclass(frozen=True)
class Space:
    """How to draw one key in a random search: ``log``/``uniform``/``int`` range or a choice."""

    key: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    choices: tuple[str, ...] = ()

    def draw(self, rng: random.Random) -> str:
        """One value, as override text (floats rounded to 4 significant digits)."""
        if self.kind == "choice":
            return rng.choice(self.choices)
        if self.kind == "int":
            return str(rng.randint(int(self.low), int(self.high)))
        if self.kind == "log":
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        return _float_text(float(f"{value:.4g}"))


@dataclass(frozen=True)
class Plan:
    """Every cell of a sweep, validated, and the keys the cells vary."""

    cells: tuple[Cell, ...]
    varied: tuple[str, ...]
    metric: str
    seeds: tuple[int, ...] | None


def split_values(text: str) -> list[str]:
    """Split ``a,b,[1, 2]`` at top-level commas (not inside brackets, braces or quotes)."""
    parts, depth, quote, start = [], 0, "", 0
    for pos, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:pos].strip())
            start = pos + 1
    parts.append(text[start:].strip())
    return parts


def _key_and_text(option: str, item: str) -> tuple[str, str]:
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not text.strip():
        raise ConfigError(f"{option} expects section.key=VALUES, got {item!r}")
    check_key(key, f"{option} {key}")
    return key, text.strip()


def check_key(key: str, where: str) -> None:
    """Raise the config layer's own unknown-section/unknown-key error, prefixed by ``where``."""
    section, dot, name = key.partition(".")
    if not dot or not name:
        raise ConfigError(f"{where}: expected section.key, got {key!r}")
    try:
        base = RunConfig()
        if section not in {f.name for f in fields(RunConfig)}:
            build_config({section: {}})
        cls = type(getattr(base, section))
        if name not in {f.name for f in fields(cls)}:
            build_section(section, cls, {name: None})
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None


def parse_grid(items: list[str]) -> list[tuple[str, list[str]]]:
    """``--grid section.key=v1,v2`` options as ``(key, [v1, v2])``, in the order given."""
    grid: list[tuple[str, list[str]]] = []
    for item in items:
        key, text = _key_and_text("--grid", item)
        values = split_values(text)
        if any(not v for v in values):
            raise ConfigError(f"--grid {key}: empty value in {text!r}")
        grid.append((key, values))
    _no_repeats([k for k, _ in grid], "--grid")
    return grid


def parse_space(item: str) -> Space:
    """``--space KEY=log:LO:HI | LO:HI | uniform:LO:HI | int:LO:HI | a,b,c``."""
    key, text = _key_and_text("--space", item)
    match = _RANGE.match(text)
    if match is None:
        if text.startswith(("log:", "int:", "uniform:")):
            kind = text.split(":")[0]
            raise ConfigError(f"--space {key}: expected {kind}:LOW:HIGH, got {text!r}")
        choices = tuple(split_values(text))
        if any(not c for c in choices):
            raise ConfigError(f"--space {key}: empty choice in {text!r}")
        return Space(key, "choice", choices=choices)
    kind = match.group(1) or "uniform"
    low, high = float(match.group(2)), float(match.group(3))
    if not low < high:
        raise ConfigError(f"--space {key}: LOW must be below HIGH, got {text!r}")
    if kind == "log" and low <= 0:
        raise ConfigError(f"--space {key}: log bounds must be > 0, got {text!r}")
    if kind == "int" and not (low.is_integer() and high.is_integer()):
        raise ConfigError(f"--space {key}: int bounds must be integers, got {text!r}")
    return Space(key, kind, low, high)


def parse_seeds(text: str | None) -> tuple[int, ...] | None:
    """``--seeds 1,2,3`` as integers (distinct)."""
    if text is None:
        return None
    try:
        seeds = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise ConfigError(f"--seeds expects integers separated by commas, got {text!r}") from None
    _no_repeats([str(s) for s in seeds], "--seeds")
    return seeds


def grid_cells(grid: list[tuple[str, list[str]]]) -> list[tuple[str, ...]]:
    """The Cartesian product, the last ``--grid`` varying fastest."""
    return [
        tuple(f"{key}={value}" for (key, _), value in zip(grid, combo, strict=True))
        for combo in itertools.product(*(values for _, values in grid))
    ]


def random_cells(spaces: list[Space], n: int, search_seed: int) -> list[tuple[str, ...]]:
    """``n`` draws (each key in the order given), reproducible from ``search_seed``.

    Repeated draws (possible with choices and int ranges) are kept once.
    """
    _no_repeats([s.key for s in spaces], "--space")
    rng = random.Random(search_seed)
    draws = [tuple(f"{s.key}={s.draw(rng)}" for s in spaces) for _ in range(n)]
    return list(dict.fromkeys(draws))


def plan_sweep(
    config_path: str | Path,
    sets: list[str],
    cells: list[tuple[str, ...]],
    seeds: tuple[int, ...] | None,
    varied: list[str],
) -> Plan:
    """Build and validate every cell's config; name its folder. Raises on the first bad cell."""
    base = ["train.progress=false", *sets]
    planned: list[tuple[tuple[str, ...], int | None, RunConfig]] = []
    runs = [(o, s) for o in cells for s in (seeds or (None,))]
    for index, (overrides, seed) in enumerate(runs, 1):
        extra = [f"train.seed={seed}"] if seed is not None else []
        try:
            config = load_config(config_path, [*base, *overrides, *extra])
        except ConfigError as err:
            where = ",".join(overrides) or "base config"
            raise ConfigError(f"cell {index}/{len(runs)} ({where}): {err}") from None
        planned.append((overrides, seed, config))
    metrics = {c.eval.metric for _, _, c in planned}
    if len(metrics) > 1:
        raise ConfigError(f"eval.metric must be the same in every cell, got {sorted(metrics)}")
    names = [_folder_name(o, s) for o, s, _ in planned]
    clashes = {n for n in names if names.count(n) > 1}
    built = tuple(
        Cell(
            index=i,
            overrides=o,
            seed=s,
            folder=name if name not in clashes else _with_hash(name, o, s),
            config=c,
        )
        for i, ((o, s, c), name) in enumerate(zip(planned, names, strict=True), 1)
    )
    return Plan(cells=built, varied=tuple(varied), metric=planned[0][2].eval.metric, seeds=seeds)


def _folder_name(overrides: tuple[str, ...], seed: int | None) -> str:
    parts = [*overrides] + ([f"seed={seed}"] if seed is not None else [])
    name = ",".join(_UNSAFE.sub("_", part) for part in parts) or "base"
    return name if len(name) <= _NAME_MAX else _with_hash(name[:_NAME_MAX], overrides, seed)


def _with_hash(name: str, overrides: tuple[str, ...], seed: int | None) -> str:
    digest = hashlib.sha1(repr((overrides, seed)).encode()).hexdigest()[:8]
    return f"{name}-{digest}"


def cell_state(cell: Cell, out: Path) -> str:
    """``"finished"``, ``"new"`` (nothing usable there) or ``"different"`` (another config).

    Finished means every run file is present (``model.pt`` is written last), ``metrics.json``
    parses with validation and test metrics, and ``config.yaml`` resolves to this cell's config.
    """
    folder = out / cell.folder
    config_file = folder / "config.yaml"
    if not config_file.is_file():
        return "new"
    try:
        same = load_config(config_file) == cell.config
    except ConfigError:
        same = False
    if not same:
        return "different"
    if not all((folder / name).is_file() for name in RUN_FILES):
        return "new"
    try:
        metrics = json.loads((folder / "metrics.json").read_text())
        finished = cell.config.eval.metric in metrics["valid"] and bool(metrics["test"])
    except (ValueError, KeyError, TypeError):
        finished = False
    return "finished" if finished else "new"


def check_folders(plan: Plan, out: Path, overwrite: bool) -> dict[int, str]:
    """Each cell's state; a folder holding another config is an error unless ``overwrite``."""
    states = {cell.index: cell_state(cell, out) for cell in plan.cells}
    if not overwrite:
        for cell in plan.cells:
            if states[cell.index] == "different":
                raise ConfigError(
                    f"{out / cell.folder} holds a run of a different config (cell {cell.index} "
                    f"{cell.label}); use another --out or --overwrite"
                )
    return states


def run_sweep(
    plan: Plan,
    out: str | Path,
    data_dir: str | Path | None = None,
    overwrite: bool = False,
    log: Callable[[str], None] = print,
    stop: StopRequest | None = None,
) -> dict[str, Any]:
    """Run every unfinished cell in turn; rewrite the summary after each. Returns the summary.

    A cell trains in its folder as ``bcl-rec train`` does: ``config.yaml`` first, then
    ``history.csv`` and ``checkpoint.pt`` after every epoch (``train.checkpoint_every``). A cell
    whose folder holds a checkpoint of its config continues from it. A requested ``stop``
    ends the cell after the current step with a checkpoint and raises :class:`RunInterrupted`.
    """
    out = Path(out)
    states = check_folders(plan, out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    RunFolder(out).write_text("cells.json", json.dumps(_plan_index(plan), indent=1) + "\n")
    summary = write_summary(plan, out)
    split_key, split = None, None
    total = len(plan.cells)
    for cell in plan.cells:
        head = f"cell {cell.index}/{total} {cell.label}"
        if states[cell.index] == "finished":
            log(f"{head} skipped (finished)")
            continue
        folder = RunFolder(out / cell.folder)
        checkpoint = start_cell(folder, cell, resumable=states[cell.index] == "new")
        if checkpoint is not None:
            log(f"{head} continues from {folder.checkpoint_path}")
        if split is None or split_key != cell.config.data:  # one split held at a time
            split_key, split = cell.config.data, load_split(cell.config.data, data_dir)
        t0 = time.perf_counter()
        try:
            result = train_run(
                cell.config, data_dir=data_dir, split=split, folder=folder,
                checkpoint=checkpoint, stop=stop,
            )
            write_run(result, folder)
        except RunInterrupted as err:
            kept = f"checkpoint in {folder.checkpoint_path}" if err.checkpointed else "not trained"
            log(f"{head} interrupted at epoch {err.epoch}, step {err.step}: {kept}")
            raise
        finally:
            folder.close()
        summary = write_summary(plan, out)
        row = next(r for r in summary["runs"] if r["cell"] == cell.index)
        seconds = time.perf_counter() - t0
        log(f"{head} {_scores(row, plan.metric)} ({seconds:.{0 if seconds >= 10 else 1}f} s)")
    return summary


def start_cell(folder: RunFolder, cell: Cell, resumable: bool) -> dict[str, Any] | None:
    """Ready ``folder`` for ``cell``'s run; its checkpoint when the run continues, else None.

    ``resumable``: the folder's ``config.yaml`` (if any) is this cell's config, so its
    checkpoint is this run's. Otherwise (``--overwrite`` over another config) the folder starts
    afresh. No result file of an earlier attempt is left to look finished.
    """
    folder.path.mkdir(parents=True, exist_ok=True)
    for name in ("metrics.json", "model.pt"):
        (folder.path / name).unlink(missing_ok=True)
    checkpoint = None
    if resumable and (folder.path / "config.yaml").is_file():
        checkpoint = folder.load_checkpoint()
    if checkpoint is None:  # a fresh start: no history or checkpoint of another attempt
        (folder.path / "history.csv").unlink(missing_ok=True)
        folder.remove_checkpoint()
        folder.write_text("config.yaml", dump_config(cell.config), durable=True)
    return checkpoint


def _scores(row: dict[str, Any], metric: str) -> str:
    test = row["test"].get(metric)
    test_text = f" test {metric} {test:.4f}" if test is not None else ""
    return f"valid {metric} {row['valid']:.4f}{test_text}"


def _plan_index(plan: Plan) -> dict[str, Any]:
    return {
        "varied": list(plan.varied),
        "seeds": None if plan.seeds is None else list(plan.seeds),
        "metric": plan.metric,
        "cells": [
            {"cell": c.index, "folder": c.folder, "overrides": list(c.overrides), "seed": c.seed}
            for c in plan.cells
        ],
    }


def finished_runs(plan: Plan, out: Path) -> Iterator[dict[str, Any]]:
    """One row per finished cell, read back from its run folder's files."""
    for cell in plan.cells:
        if cell_state(cell, out) != "finished":
            continue
        folder = out / cell.folder
        metrics = json.loads((folder / "metrics.json").read_text())
        config = load_config(folder / "config.yaml")
        yield {
            "cell": cell.index,
            "folder": cell.folder,
            "params": {key: _value(config, key) for key in plan.varied},
            "seed": config.train.seed,
            "best_epoch": metrics["best_epoch"],
            "valid": metrics["valid"][plan.metric],
            "test": metrics["test"],
        }


def _value(config: RunConfig, key: str) -> Any:
    section, _, name = key.partition(".")
    return config.to_dict()[section][name]


def summarise(plan: Plan, out: Path) -> dict[str, Any]:
    """Finished runs sorted by the validation metric (best first) and, with several seeds, the
    per-cell mean/std/n over seeds sorted by the mean validation metric."""
    runs = sorted(finished_runs(plan, out), key=lambda r: (-r["valid"], r["cell"]))
    summary: dict[str, Any] = {
        "metric": plan.metric,
        "varied": list(plan.varied),
        "cells": len(plan.cells),
        "finished": len(runs),
        "runs": runs,
    }
    if plan.seeds is not None and len(plan.seeds) > 1:
        summary["aggregate"] = _aggregate(runs)
    return summary


def _aggregate(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in sorted(runs, key=lambda r: r["cell"]):
        groups.setdefault(json.dumps(run["params"], sort_keys=True), []).append(run)
    rows = []
    for members in groups.values():
        test_keys = sorted({k for r in members for k in r["test"]})
        rows.append(
            {
                "params": members[0]["params"],
                "n": len(members),
                "seeds": [r["seed"] for r in members],
                "valid": _mean_std([r["valid"] for r in members]),
                "test": {k: _mean_std([r["test"][k] for r in members]) for k in test_keys},
                "first_cell": members[0]["cell"],
            }
        )
    rows.sort(key=lambda r: (-r["valid"]["mean"], r["first_cell"]))
    for row in rows:
        del row["first_cell"]
    return rows


def _mean_std(values: list[float]) -> dict[str, float | None]:
    mean, std, _ = interval(values)
    return {"mean": mean, "std": std if len(values) > 1 else None}  # JSON has no NaN


def markdown(summary: dict[str, Any]) -> str:
    """The summary as Markdown tables (4 decimals; ``summary.json`` holds the exact values)."""
    metric, varied, runs = summary["metric"], summary["varied"], summary["runs"]
    test_keys = sorted({k for r in runs for k in r["test"]})
    lines = [
        f"{summary['finished']} of {summary['cells']} cells finished; sorted by valid {metric}.",
        "",
        _row(["cell", *varied, "seed", "best epoch", f"valid {metric}",
              *(f"test {k}" for k in test_keys), "run"]),
        _row(["---"] * (len(varied) + len(test_keys) + 5)),
    ]
    for r in runs:
        lines.append(_row([
            r["cell"], *(_cell_text(r["params"][k]) for k in varied), r["seed"], r["best_epoch"],
            f"{r['valid']:.4f}", *(_num(r["test"].get(k)) for k in test_keys), r["folder"],
        ]))
    aggregate = summary.get("aggregate")
    if aggregate:
        lines += [
            "",
            f"Mean +- std over seeds, sorted by mean valid {metric}.",
            "",
            _row([*varied, "n", f"valid {metric}", *(f"test {k}" for k in test_keys)]),
            _row(["---"] * (len(varied) + len(test_keys) + 2)),
        ]
        for a in aggregate:
            lines.append(_row([
                *(_cell_text(a["params"][k]) for k in varied), a["n"], _pm(a["valid"]),
                *(_pm(a["test"].get(k)) for k in test_keys),
            ]))
    return "\n".join(lines) + "\n"


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _cell_text(value: Any) -> str:
    plain = isinstance(value, (int, float, str)) and not isinstance(value, bool)
    return str(value) if plain else json.dumps(value)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _pm(stats: dict[str, float | None] | None) -> str:
    if stats is None:
        return "-"
    std = stats["std"]
    return f"{stats['mean']:.4f}" + ("" if std is None else f" +- {std:.4f}")


def write_summary(plan: Plan, out: Path) -> dict[str, Any]:
    """Write ``summary.json`` and ``summary.md`` from the run folders now on disk."""
    summary = summarise(plan, out)
    RunFolder(out).write_text("summary.json", json.dumps(summary, indent=1) + "\n")
    RunFolder(out).write_text("summary.md", markdown(summary))
    return summary


def _float_text(value: float) -> str:
    """A float as YAML reads it back exactly (PyYAML needs a dot in ``1.0e-05``)."""
    text = repr(value)
    mantissa, e, exponent = text.partition("e")
    if e and "." not in mantissa:
        text = f"{mantissa}.0e{exponent}"
    return text


def _no_repeats(keys: list[str], option: str) -> None:
    seen = [k for k in dict.fromkeys(keys) if keys.count(k) > 1]
    if seen:
        raise ConfigError(f"{option} {seen[0]} is given twice")
