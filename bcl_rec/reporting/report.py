"""``report.md``, ``report.html`` (PNGs inlined as base64) and ``report.json`` of a comparison.

Cells read ``mean ± std [95% t-interval]`` over seeds; the best mean of each column is bold.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bcl_rec.reporting import figures
from bcl_rec.reporting.figures import pretty_metric
from bcl_rec.reporting.runs import show_value
from bcl_rec.reporting.stats import Paired, Summary
from bcl_rec.reporting.summary import ComparisonSummary

BAR_METRIC = "ndcg@10"


@dataclass(frozen=True)
class Figure:
    """A saved PNG and its caption."""

    path: Path
    caption: str


def fmt(x: float, signed: bool = False) -> str:
    """Four decimals; NaN (no spread from one seed) as ``n/a``."""
    if not math.isfinite(x):
        return "n/a"
    return f"{x:+.4f}" if signed else f"{x:.4f}"


def interval_text(s: Summary, signed: bool = False) -> str:
    if not math.isfinite(s.half):
        return "[n/a]"
    return f"[{fmt(s.low, signed)}, {fmt(s.high, signed)}]"


def draw_figures(summary: ComparisonSummary, out: Path) -> list[Figure]:
    """The report's PNGs in ``out``; a figure without data is left out (``notes`` says why)."""
    bar_metric = BAR_METRIC if BAR_METRIC in summary.metrics else next(iter(summary.metrics), None)
    valid = pretty_metric(summary.valid_metric or "")
    plans: list[tuple[str, Callable[[Path], Path | None], str]] = [
        ("learning-curves.png", lambda p: figures.learning_curves(summary, p),
         f"Validation {valid} per epoch (history.csv): mean over seeds, band from the lowest to "
         "the highest seed; a run that stopped early leaves the band."),
        ("loss.png", lambda p: figures.loss_curves(summary, p),
         "Mean training loss per epoch; each configuration on its own axis, as losses differ "
         "in scale."),
    ]
    if bar_metric is not None:
        plans.insert(1, (f"test-{bar_metric.replace('@', '')}.png",
                         lambda p: figures.metric_bars(summary, bar_metric, p),
                         f"Test {pretty_metric(bar_metric)}: bar = mean, error bar = 95% "
                         "t-interval of the mean, dots = single seeds."))
    drawn = []
    for name, draw, caption in plans:
        path = draw(out / name)
        if path is None:
            summary.notes.append(f"{name}: not drawn, no run has the data it needs")
        else:
            drawn.append(Figure(path, caption))
    return drawn


def write_report(summary: ComparisonSummary, out: str | Path) -> dict[str, Path]:
    """Draw the figures and write the three report files into ``out``; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figs = draw_figures(summary, out)
    paths = {
        "markdown": out / "report.md",
        "html": out / "report.html",
        "json": out / "report.json",
    }
    paths["markdown"].write_text(markdown(summary, figs))
    paths["html"].write_text(html_page(summary, figs))
    paths["json"].write_text(json.dumps(summary.to_dict(), indent=1) + "\n")
    return paths


# ---- tables as rows of cells, shared by both renderings ------------------------------------


def metric_table(summary: ComparisonSummary) -> tuple[list[str], list[list[tuple[str, bool]]]]:
    """Header and rows of ``(text, bold)`` cells: configuration, seeds, one column per metric."""
    header = ["configuration", "seeds", *(f"test {pretty_metric(m)}" for m in summary.metrics)]
    rows = []
    for conf in summary.configurations:
        row = [(conf.label, False), (f"{len(conf.runs)} ({_seeds(conf.seeds)})", False)]
        for metric in summary.metrics:
            cell = summary.cells.get((conf.label, metric))
            if cell is None:
                row.append(("missing", False))
                continue
            n = "" if cell.n == len(conf.runs) else f" (n={cell.n})"
            text = f"{fmt(cell.mean)} ± {fmt(cell.std)} {interval_text(cell)}{n}"
            best = len(summary.configurations) > 1 and cell.mean == summary.best(metric)
            row.append((text, best))
        rows.append(row)
    return header, rows


def paired_table(summary: ComparisonSummary) -> tuple[list[str], list[list[tuple[str, bool]]]]:
    """Header and rows: per configuration and metric, mean difference to the baseline, its 95%
    t-interval and the seeds won (bold when the interval excludes 0)."""
    header = ["configuration", *(f"Δ {pretty_metric(m)}" for m in summary.metrics)]
    rows = []
    for conf in summary.configurations:
        if conf.label == summary.baseline:
            continue
        row = [(conf.label, False)]
        for metric in summary.metrics:
            pair: Paired | None = summary.paired.get((conf.label, metric))
            if pair is None:
                row.append(("no shared seeds", False))
                continue
            d = pair.diff
            text = f"{fmt(d.mean, True)} {interval_text(d, True)}, won {pair.wins}/{pair.n}"
            row.append((text, math.isfinite(d.half) and (d.low > 0 or d.high < 0)))
        rows.append(row)
    return header, rows


def runs_table(summary: ComparisonSummary) -> tuple[list[str], list[list[tuple[str, bool]]]]:
    """One row per run: configuration, seed, best epoch / epochs run, the first test metric
    (NDCG@10 when there), folder."""
    metric = BAR_METRIC if BAR_METRIC in summary.metrics else next(iter(summary.metrics), "")
    header = ["configuration", "seed", "best epoch / epochs", f"test {pretty_metric(metric)}",
              "run folder"]
    rows = []
    for conf in summary.configurations:
        for run in conf.runs:
            epochs = f"{run.metrics.get('best_epoch', '?')} / {run.metrics.get('epochs', '?')}"
            value = fmt(run.test[metric]) if metric in run.test else "missing"
            rows.append([(conf.label, False), (str(run.seed), False), (epochs, False),
                         (value, False), (run.name, False)])
    return header, rows


def varying_table(summary: ComparisonSummary) -> tuple[list[str], list[list[tuple[str, bool]]]]:
    """The config keys that differ between runs, per configuration (values of its runs)."""
    header = ["configuration", *summary.varying]
    rows = []
    for conf in summary.configurations:
        row = [(conf.label, False)]
        for key in summary.varying:
            values = sorted({show_value(r.config.get(key, "(unset)")) for r in conf.runs})
            row.append((" / ".join(values), False))
        rows.append(row)
    return header, rows


def intro(summary: ComparisonSummary) -> list[str]:
    n_runs = sum(len(c.runs) for c in summary.configurations)
    n_conf = len(summary.configurations)
    lines = [
        f"{_count(n_runs, 'run')} in {_count(n_conf, 'configuration')}; seeds "
        f"{_seeds(summary.seeds)}. Test metrics: mean ± standard deviation over seeds "
        "[95% t-interval of the mean]; the best mean of each column in bold (higher is better)."
    ]
    if n_conf > 1:
        lines.append(
            f"Paired differences are against the baseline **{summary.baseline}**, seed by "
            "seed: mean difference [95% t-interval], and the seeds on which the configuration "
            "scored higher; bold when the interval excludes 0."
        )
    return lines


def shared_lines(summary: ComparisonSummary) -> list[str]:
    """The settings every run shares, one line per config section (``key=value, ...``)."""
    sections: dict[str, list[str]] = {}
    for key, value in summary.shared.items():
        section, _, name = key.partition(".")
        sections.setdefault(section, []).append(f"{name}={show_value(value)}")
    return [f"{section}: {', '.join(items)}" for section, items in sections.items()]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _seeds(seeds: list) -> str:
    return ", ".join(map(str, seeds))


# ---- Markdown -----------------------------------------------------------------------------


def _md_table(header: list[str], rows: list[list[tuple[str, bool]]]) -> list[str]:
    def cell(text: str, bold: bool) -> str:
        text = text.replace("|", "\\|")
        return f"**{text}**" if bold else text

    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell(t, b) for t, b in row) + " |" for row in rows]
    return lines


def markdown(summary: ComparisonSummary, figs: list[Figure]) -> str:
    """The report as Markdown; figures are linked by file name (they sit beside it)."""
    lines = ["# Comparison report", "", *intro(summary), "", "## Test metrics", ""]
    lines += _md_table(*metric_table(summary))
    header, rows = paired_table(summary)
    if rows:
        lines += ["", f"## Paired differences against {summary.baseline}", ""]
        lines += _md_table(header, rows)
    lines += ["", "## Figures", ""]
    for fig in figs:
        lines += [f"![{fig.path.stem}]({fig.path.name})", "", fig.caption, ""]
    lines += ["## Configurations", "", "Keys that differ between the runs:", ""]
    if summary.varying:
        lines += _md_table(*varying_table(summary))
    else:
        lines.append("(none besides the seed)")
    lines += ["", "Shared by every run:", ""]
    lines += [f"- {line}" for line in shared_lines(summary)]
    lines += ["", "## Runs", ""]
    lines += _md_table(*runs_table(summary))
    lines += ["", "## Missing or left out", ""]
    lines += [f"- {note}" for note in summary.notes] or ["Nothing: every configuration has "
                                                         "every seed and every metric."]
    return "\n".join(lines) + "\n"


# ---- HTML ---------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1150px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.88em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #555; }
code { background: #f4f4f4; padding: 0 0.25em; }
"""


def _html_table(header: list[str], rows: list[list[tuple[str, bool]]]) -> str:
    def cell(text: str, bold: bool) -> str:
        text = html.escape(text).replace(" [", "<br>[")  # intervals on their own line
        return f"<td><b>{text}</b></td>" if bold else f"<td>{text}</td>"

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(t, b) for t, b in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _bold_md(text: str) -> str:
    parts = html.escape(text).split("**")
    return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))


def html_page(summary: ComparisonSummary, figs: list[Figure]) -> str:
    """The report as one self-contained HTML page (PNGs inlined as base64 data URIs)."""
    out = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>",
           "<title>Comparison report</title>", f"<style>{_CSS}</style></head><body>",
           "<h1>Comparison report</h1>"]
    out += [f"<p>{_bold_md(p)}</p>" for p in intro(summary)]
    out += ["<h2>Test metrics</h2>", _html_table(*metric_table(summary))]
    header, rows = paired_table(summary)
    if rows:
        out.append(f"<h2>Paired differences against {html.escape(summary.baseline)}</h2>")
        out.append(_html_table(header, rows))
    out.append("<h2>Figures</h2>")
    for fig in figs:
        data = base64.b64encode(fig.path.read_bytes()).decode("ascii")
        out.append(f"<figure><img alt='{html.escape(fig.path.stem)}' "
                   f"src='data:image/png;base64,{data}'>"
                   f"<figcaption>{html.escape(fig.caption)}</figcaption></figure>")
    out += ["<h2>Configurations</h2>", "<p>Keys that differ between the runs:</p>"]
    out.append(_html_table(*varying_table(summary)) if summary.varying
               else "<p>(none besides the seed)</p>")
    out.append("<p>Shared by every run:</p><ul>")
    out += [f"<li><code>{html.escape(line)}</code></li>" for line in shared_lines(summary)]
    out += ["</ul>", "<h2>Runs</h2>", _html_table(*runs_table(summary)),
            "<h2>Missing or left out</h2>"]
    if summary.notes:
        out.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in summary.notes)
                   + "</ul>")
    else:
        out.append("<p>Nothing: every configuration has every seed and every metric.</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
