"""The numbers of a comparison report: per-configuration test metrics over seeds, paired
differences against a baseline, the config keys that differ, and what is missing."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bcl_rec.reporting.runs import (
    Configuration,
    ReportError,
    Run,
    differing_keys,
    group_runs,
    load_runs,
    shared_config,
    show_value,
    value_order,
)
from bcl_rec.reporting.stats import Paired, Summary, paired, summarise

# column order of the metric families; unknown names follow in text order
METRIC_FAMILIES = ("ndcg", "recall", "hit", "precision", "mrr", "map", "auc")


@dataclass
class ComparisonSummary:
    """Everything a report shows, as numbers (rendering is separate)."""

    configurations: list[Configuration]
    metrics: list[str]
    cells: dict[tuple[str, str], Summary]
    baseline: str
    paired: dict[tuple[str, str], Paired]
    seeds: list[Any]
    varying: list[str]
    shared: dict[str, Any]
    valid_metric: str | None
    notes: list[str] = field(default_factory=list)

    def best(self, metric: str) -> float:
        """The highest mean of ``metric`` over the configurations (higher is better for all)."""
        means = [s.mean for (_, m), s in self.cells.items() if m == metric]
        return max(means) if means else math.nan

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: per configuration its seeds, runs and metric summaries."""

        def summary(s: Summary) -> dict[str, Any]:
            return {"mean": s.mean, "std": s.std, "ci95": [s.low, s.high], "n": s.n}

        return {
            "baseline": self.baseline,
            "seeds": self.seeds,
            "metrics": self.metrics,
            "varying_keys": self.varying,
            "shared_config": {k: show_value(v) for k, v in self.shared.items()},
            "configurations": [
                {
                    "label": c.label,
                    "seeds": c.seeds,
                    "runs": [r.name for r in c.runs],
                    "test": {
                        m: summary(self.cells[(c.label, m)])
                        for m in self.metrics
                        if (c.label, m) in self.cells
                    },
                    "paired_vs_baseline": {
                        m: {**summary(p.diff), "wins": p.wins}
                        for m in self.metrics
                        if (p := self.paired.get((c.label, m))) is not None
                    },
                }
                for c in self.configurations
            ],
            "notes": self.notes,
        }


def metric_order(name: str) -> tuple[int, str, int]:
    """``ndcg@10`` before ``ndcg@20`` before ``recall@10``; families in METRIC_FAMILIES order."""
    family, _, k = name.partition("@")
    rank = METRIC_FAMILIES.index(family) if family in METRIC_FAMILIES else len(METRIC_FAMILIES)
    return (rank, family, int(k) if k.isdigit() else 0)


def summarise_runs(
    dirs: Sequence[str | Path],
    group_by: Sequence[str] | None = None,
    baseline: str | None = None,
    only: Sequence[str] | None = None,
) -> ComparisonSummary:
    """Read the run folders under ``dirs`` and compute the report's numbers. Missing seeds,
    metrics or files become lines in ``notes``; only no runs at all, an unknown ``group_by`` key
    or an unknown ``baseline`` raise :class:`ReportError`."""
    notes: list[str] = []
    runs = load_runs(dirs, notes, only)
    confs = group_runs(runs, group_by, notes)
    metrics = sorted({m for r in runs for m in r.test}, key=metric_order)
    seeds = sorted({r.seed for c in confs for r in c.runs}, key=value_order)
    base = pick_baseline(confs, baseline)
    cells: dict[tuple[str, str], Summary] = {}
    diffs: dict[tuple[str, str], Paired] = {}
    for conf in confs:
        absent = [s for s in seeds if s not in conf.seeds]
        if absent:
            notes.append(
                f"{conf.label}: no run with seed {_join(absent)} "
                f"({len(conf.runs)} of {len(seeds)} seeds)"
            )
        capped = [r.seed for r in conf.runs if _stopped_at_cap(r)]
        if capped:
            notes.append(
                f"{conf.label}: the best epoch is the last one allowed (train.epochs) for seed "
                f"{_join(capped)}: more epochs may still help"
            )
        for metric in metrics:
            have = [r for r in conf.runs if metric in r.test]
            if len(have) < len(conf.runs):
                lacking = [r.name for r in conf.runs if metric not in r.test]
                notes.append(f"{conf.label}: test {metric} missing in {_join(lacking)}")
            if have:
                cells[(conf.label, metric)] = summarise([r.test[metric] for r in have])
            if conf is not base:
                pair = _paired(conf, base, metric)
                if pair is not None:
                    diffs[(conf.label, metric)] = pair
        if conf is not base and not set(conf.seeds) & set(base.seeds):
            notes.append(f"{conf.label}: no seed in common with the baseline, so no paired "
                         "differences")
    return ComparisonSummary(
        configurations=confs,
        metrics=metrics,
        cells=cells,
        baseline=base.label,
        paired=diffs,
        seeds=seeds,
        varying=differing_keys(runs),
        shared=shared_config(runs),
        valid_metric=_valid_metric(runs),
        notes=notes,
    )


def pick_baseline(confs: list[Configuration], wanted: str | None) -> Configuration:
    """The configuration labelled ``wanted`` (or whose label has ``wanted`` as one of its
    ``key=value`` parts or values); the first configuration when ``wanted`` is None."""
    if wanted is None:
        return confs[0]
    exact = [c for c in confs if c.label == wanted]
    if exact:
        return exact[0]
    parts = [c for c in confs if any(wanted in (p, p.partition("=")[2])
                                     for p in c.label.split(", "))]
    if len(parts) == 1:
        return parts[0]
    labels = "; ".join(c.label for c in confs)
    why = "matches several configurations" if parts else "is no configuration"
    raise ReportError(f"--baseline {wanted!r} {why}; the configurations are: {labels}")


def _paired(conf: Configuration, base: Configuration, metric: str) -> Paired | None:
    mine, theirs = conf.by_seed(), base.by_seed()
    shared = [
        s for s in sorted(mine, key=value_order)
        if s in theirs and metric in mine[s].test and metric in theirs[s].test
    ]
    if not shared:
        return None
    return paired([mine[s].test[metric] for s in shared], [theirs[s].test[metric] for s in shared])


def _stopped_at_cap(run: Run) -> bool:
    """The run's best epoch is its last and the epoch budget ran out (not early stopping)."""
    cap = run.config.get("train.epochs")
    return cap is not None and run.metrics.get("best_epoch") == run.metrics.get("epochs") == cap


def _valid_metric(runs: list[Run]) -> str | None:
    """The early-stopping metric most runs used (``eval.metric``)."""
    counts = Counter(r.config.get("eval.metric") for r in runs if r.config.get("eval.metric"))
    return counts.most_common(1)[0][0] if counts else None


def _join(items: list[Any]) -> str:
    return ", ".join(map(str, items))
