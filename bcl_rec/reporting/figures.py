"""PNG figures of a comparison report and of BCL's weights (matplotlib: the ``plots`` extra).

Figures are built on ``matplotlib.figure.Figure`` and saved directly, without pyplot, so nothing
global (backend, open-figure registry) changes. Each configuration keeps one colour throughout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bcl_rec.reporting.extras import figure_class, require
from bcl_rec.reporting.runs import Configuration
from bcl_rec.reporting.summary import ComparisonSummary
from bcl_rec.reporting.weights import WeightParams, closed_form_endpoints, weight_curves

DPI = 110
COLOURS = (
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)


# line styles per parameter set, so curves that coincide (pi_TN does not depend on beta) stay
# visible under one another
LINE_STYLES = ("-", "--", (0, (1, 1.2)), "-.")


def colour(index: int) -> str:
    return COLOURS[index % len(COLOURS)]


def integer_epochs(ax) -> None:
    """Whole-number ticks on an epoch axis."""
    ax.xaxis.set_major_locator(require("matplotlib.ticker", "plots", "plotting").MaxNLocator(
        integer=True))


def pretty_metric(name: str) -> str:
    """``ndcg@10`` -> ``NDCG@10``, ``recall@20`` -> ``Recall@20``."""
    family, at, k = name.partition("@")
    family = {"ndcg": "NDCG", "mrr": "MRR", "auc": "AUC", "map": "MAP", "hit": "HR"}.get(
        family, family.capitalize()
    )
    return family + at + k


def per_epoch(conf: Configuration, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                           np.ndarray]:
    """Epochs, mean, min and max of ``column`` over the configuration's runs at each epoch
    (only the runs that reached an epoch, and evaluated at it, count there)."""
    values: dict[int, list[float]] = {}
    for run in conf.runs:
        for row in run.history:
            if column in row and "epoch" in row and math.isfinite(row[column]):
                values.setdefault(int(row["epoch"]), []).append(row[column])
    epochs = np.array(sorted(values), dtype=np.int64)
    arrays = [np.asarray(values[e]) for e in epochs]
    mean = np.array([a.mean() for a in arrays])
    low = np.array([a.min() for a in arrays])
    high = np.array([a.max() for a in arrays])
    return epochs, mean, low, high


def learning_curves(summary: ComparisonSummary, path: Path) -> Path | None:
    """Validation metric per epoch: the mean over seeds, a band from the lowest to the highest
    seed; None when no run has that history column."""
    if summary.valid_metric is None:
        return None
    column = f"valid_{summary.valid_metric}"
    fig = figure_class()(figsize=(8, 4.6), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    drawn = False
    for i, conf in enumerate(summary.configurations):
        epochs, mean, low, high = per_epoch(conf, column)
        if len(epochs) == 0:
            continue
        drawn = True
        ax.plot(epochs, mean, color=colour(i), lw=1.6, label=f"{conf.label} (n={len(conf.runs)})")
        ax.fill_between(epochs, low, high, color=colour(i), alpha=0.2, lw=0)
    if not drawn:
        return None
    ax.set_xlabel("epoch")
    integer_epochs(ax)
    ax.set_ylabel(f"validation {pretty_metric(summary.valid_metric)}")
    ax.set_title("Validation metric per epoch (line: mean over seeds; band: min to max)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path)
    return path


def loss_curves(summary: ComparisonSummary, path: Path) -> Path | None:
    """Training loss per epoch, one panel per configuration (losses have different scales)."""
    confs = [c for c in summary.configurations if len(per_epoch(c, "loss")[0])]
    if not confs:
        return None
    cols = min(3, len(confs))
    rows = math.ceil(len(confs) / cols)
    fig = figure_class()(figsize=(max(7.0, 4.0 * cols), 3.0 * rows + 0.6), dpi=DPI,
                         layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax in axes[len(confs):]:
        ax.set_visible(False)
    index = {c.label: i for i, c in enumerate(summary.configurations)}
    for ax, conf in zip(axes, confs, strict=False):
        epochs, mean, low, high = per_epoch(conf, "loss")
        c = colour(index[conf.label])
        ax.plot(epochs, mean, color=c, lw=1.6)
        ax.fill_between(epochs, low, high, color=c, alpha=0.2, lw=0)
        ax.set_title(conf.label, fontsize=9)
        ax.set_xlabel("epoch")
        integer_epochs(ax)
        ax.set_ylabel("mean training loss")
        ax.grid(alpha=0.3)
    fig.suptitle("Training loss per epoch (mean over seeds; band: min to max)")
    fig.savefig(path)
    return path


def metric_bars(summary: ComparisonSummary, metric: str, path: Path) -> Path | None:
    """Test ``metric`` per configuration: bar = mean, error bar = 95% t-interval, dots = seeds."""
    confs = [c for c in summary.configurations if (c.label, metric) in summary.cells]
    if not confs:
        return None
    fig = figure_class()(figsize=(max(6.5, 1.6 * len(confs) + 2), 4.4), dpi=DPI,
                         layout="constrained")
    ax = fig.subplots()
    index = {c.label: i for i, c in enumerate(summary.configurations)}
    for x, conf in enumerate(confs):
        cell = summary.cells[(conf.label, metric)]
        err = cell.half if math.isfinite(cell.half) else 0.0
        c = colour(index[conf.label])
        ax.bar(x, cell.mean, width=0.6, color=c, alpha=0.75, yerr=err, capsize=6,
               error_kw={"lw": 1.4})
        seeds = [r.test[metric] for r in conf.runs if metric in r.test]
        ax.scatter(np.full(len(seeds), x) + np.linspace(-0.12, 0.12, len(seeds)), seeds,
                   color="black", s=14, zorder=3)
        ax.annotate(f"{cell.mean:.4f}", (x, cell.mean + err), textcoords="offset points",
                    xytext=(0, 4), ha="center", fontsize=8)
    ax.set_xticks(range(len(confs)), [_tick(c.label) for c in confs], fontsize=8)
    ax.set_ylabel(f"test {pretty_metric(metric)}")
    ax.set_title(f"Test {pretty_metric(metric)}: mean, 95% interval, dots = seeds")
    ax.grid(axis="y", alpha=0.3)
    fig.savefig(path)
    return path


def weights_figure(sets: Sequence[WeightParams], path: Path) -> Path:
    """omega (left) and pi_TN (right) against the rank u, one line per parameter set; the
    spec's closed-form endpoint values are the circles at u = 0 and u = 1 and in the legend."""
    fig = figure_class()(figsize=(11, 4.4), dpi=DPI, layout="constrained")
    ax_w, ax_p = fig.subplots(1, 2)
    for i, params in enumerate(sets):
        u, omega, pi_tn = (x.numpy() for x in weight_curves(params))
        ends = closed_form_endpoints(params)
        c, ls = colour(i), LINE_STYLES[i % len(LINE_STYLES)]
        ax_w.plot(u, omega, color=c, lw=1.8, ls=ls,
                  label=f"{params.label}: ω(0)={ends.omega0:.3g}, ω(1)={ends.omega1:.3g}")
        ax_w.plot([0, 1], [ends.omega0, ends.omega1], "o", color=c, mfc="white", mew=1.5)
        ax_p.plot(u, pi_tn, color=c, lw=1.8, ls=ls,
                  label=f"{params.label}: π_TN(0)={ends.pi_tn0:.3f}, π_TN(1)={ends.pi_tn1:.3f}")
        ax_p.plot([0, 1], [ends.pi_tn0, ends.pi_tn1], "o", color=c, mfc="white", mew=1.5)
    xlabel = "u: rank (ECDF) of the score among the unlabeled items (0 lowest, 1 highest)"
    ax_w.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax_w.set_title("Importance weight ω (mean over u is 1)")
    ax_w.set_ylabel("ω")
    ax_p.set_title("True-negative posterior π_TN (does not depend on β)")
    ax_p.set_ylabel("π_TN")
    ax_p.set_ylim(top=1.0)
    for ax in (ax_w, ax_p):
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_xlim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    fig.savefig(path)
    return path


def _tick(label: str, width: int = 18) -> str:
    """A bar's label on lines of about ``width`` characters (at ", ", "/" or "-"), so that
    neighbouring labels never run into each other."""
    import textwrap

    parts = label.replace(", ", "\n").split("\n")
    return "\n".join(
        line
        for part in parts
        for line in textwrap.wrap(part.replace("/", "/ "), width, break_on_hyphens=True)
    ).replace("/ ", "/")


@dataclass(frozen=True)
class ScoreRow:
    """One table of a scoreboard: each loss's mean test metric, and the focus loss's paired
    difference against the best other loss (mean, 95% interval low and high; None when fewer
    than 2 seeds pair up)."""

    label: str
    means: dict[str, float]
    other: str
    diff: tuple[float, float, float] | None


MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")


def scoreboard_figure(
    rows: Sequence[ScoreRow], losses: Sequence[str], focus: str, metric: str, path: Path
) -> Path:
    """Left: each loss's mean as a percentage of its row's best mean, one colour and marker per
    loss (the focus loss outlined). Right: the focus loss's paired difference against the best
    other loss of each row, as a percentage of that loss's mean, with its 95% interval; an
    interval across 0 is a tie. Rows run top to bottom in the given order."""
    fig = figure_class()(
        figsize=(11.5, 0.5 * len(rows) + 1.9), dpi=DPI, layout="constrained"
    )
    ax_m, ax_d = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1.25, 1]})
    y = np.arange(len(rows))[::-1]
    for i, loss in enumerate(losses):
        points = [
            (100 * row.means[loss] / max(row.means.values()), at)
            for row, at in zip(rows, y, strict=True)
            if loss in row.means
        ]
        if points:
            mine = loss == focus
            ax_m.scatter(*zip(*points, strict=True), color=colour(i), label=loss, zorder=3,
                         marker=MARKERS[i % len(MARKERS)], s=60 if mine else 32,
                         edgecolors="black" if mine else "none", linewidths=1.2)
    ax_m.set_yticks(y, [_tick(row.label, 26) for row in rows], fontsize=8)
    ax_m.set_xlabel(f"test {pretty_metric(metric)}, % of the row's best mean", fontsize=9)
    ax_m.set_title(f"Each loss's mean test {pretty_metric(metric)}", fontsize=10)
    handles, labels = ax_m.get_legend_handles_labels()
    ax_m.legend(handles, labels, fontsize=8, ncol=len(labels), loc="upper center",
                bbox_to_anchor=(0.5, -0.1 - 0.5 / len(rows)), frameon=False)
    ax_m.grid(axis="x", alpha=0.3)
    focus_colour = colour(list(losses).index(focus)) if focus in losses else "black"
    for row, at in zip(rows, y, strict=True):
        if row.diff is None:
            ax_d.annotate(f"n/a: too few paired seeds with {row.other}", (0, at), ha="center",
                          va="center", fontsize=8, color="grey")
            continue
        base = row.means[row.other]
        mean, low, high = (100 * v / base for v in row.diff)
        ax_d.errorbar(mean, at, xerr=[[mean - low], [high - mean]], fmt="o", capsize=4,
                      color=focus_colour)
        ax_d.annotate(f"vs {row.other}", (high, at), xytext=(5, 0), textcoords="offset points",
                      va="center", fontsize=8)
    ax_d.axvline(0.0, color="grey", lw=0.9, ls=":")
    ax_d.margins(x=0.2)
    ax_d.set_xlabel(f"{focus} minus the best other loss, % of its mean", fontsize=9)
    ax_d.set_title(f"{focus} against the best other loss: paired 95% interval", fontsize=10)
    ax_d.grid(axis="x", alpha=0.3)
    fig.savefig(path)
    return path
