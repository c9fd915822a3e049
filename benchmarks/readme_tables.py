"""Regenerate the result tables of README.md and docs/results.md from the committed result files.

Each table sits between a marker naming its source and an end marker::

    <!-- results: results/fair/ml-100k-mf.json baseline=sl -->
    | loss | ... |
    <!-- /results -->

and is rebuilt here from that file with the statistics of ``bcl-rec report`` (mean +- std over
seeds, 95% t-interval of the mean, paired differences against the baseline). A
``<!-- budget: TUNING_FILE RESULT_FILE -->`` block gets the tuning budget of each loss (cells,
values searched, the pick, CPU minutes) from ``benchmarks/fair_tuning.py``'s files::

A ``<!-- scoreboard: LABEL=FILE; LABEL=FILE ... -->`` block is one row per result file: each
loss's mean test NDCG@10 and where BCL stands against the best other loss (paired). The first
scoreboard is also drawn, as ``docs/figures/scoreboard.png`` (the ``plots`` extra).

    python benchmarks/readme_tables.py            # rewrite README.md and docs/results.md in place
    python benchmarks/readme_tables.py --check    # exit 1 if a table is stale (the test suite)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import NamedTuple

from bcl_rec.reporting.extras import MissingExtraError
from bcl_rec.reporting.figures import ScoreRow, scoreboard_figure
from bcl_rec.reporting.report import fmt, interval_text
from bcl_rec.reporting.stats import Paired, Summary
from bcl_rec.reporting.summary import ComparisonSummary, summarise_runs

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(
    r"(<!-- (?P<kind>results|budget|scoreboard): (?P<args>[^>]*?) -->\n)(?P<body>.*?)"
    r"(<!-- /(?P=kind) -->)",
    re.S,
)
METRICS = ("ndcg@10", "recall@10")
TUNE_SEED = 1  # the seed of benchmarks/fair_tuning.py's tuning cells
CELLS = 4  # the tuning cells each loss gets (benchmarks/fair_tuning.py)
FILES = ("README.md", "docs/results.md")  # the files whose tables are generated
FIGURE = "docs/figures/scoreboard.png"  # drawn from the first scoreboard marker
# the scoreboard's columns, in this order, those present in one of its files
LOSSES = ("sl", "ssm", "bcl", "bsl", "psl", "hcl", "bpr")


def table(summary: ComparisonSummary) -> str:
    """Loss, seeds, test NDCG@10 and Recall@10 (mean +- std [95% interval]) and the paired
    NDCG@10 difference against the baseline; best means in bold."""
    lines = [
        f"| loss | seeds | test NDCG@10 | test Recall@10 | dNDCG@10 vs {summary.baseline} "
        "(paired, seeds won) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for conf in summary.configurations:
        cells = []
        for metric in METRICS:
            s = summary.cells[(conf.label, metric)]
            text = f"{fmt(s.mean)} +- {fmt(s.std)} {interval_text(s)}"
            cells.append(f"**{text}**" if s.mean == summary.best(metric) else text)
        pair = summary.paired.get((conf.label, "ndcg@10"))
        if conf.label == summary.baseline or pair is None:
            diff = "-"
        else:
            d = pair.diff
            diff = f"{fmt(d.mean, True)} {interval_text(d, True)}, {pair.wins}/{pair.n}"
        lines.append(f"| {conf.label} | {len(conf.runs)} | {cells[0]} | {cells[1]} | {diff} |")
    return "\n".join(lines) + "\n"


def render(args: str) -> str:
    """The table for one marker's arguments: result files (their runs pooled, so rows of two
    files pair by seed), then ``baseline=LABEL`` and ``only=A,B`` options."""
    paths = [ROOT / a for a in args.split() if "=" not in a]
    opts = dict(a.split("=", 1) for a in args.split() if "=" in a)
    only = opts["only"].split(",") if "only" in opts else None
    summary = summarise_runs(paths, baseline=opts.get("baseline"), only=only)
    order = only or [c.label for c in summary.configurations]
    summary.configurations.sort(key=lambda c: order.index(c.label))
    return table(summary)


def budget(args: str) -> str:
    """Per loss of a tuning file (``benchmarks/fair_tuning.py``): the cells, the values searched,
    the pick (best validation NDCG@10) and the minutes of tuning and of the other test seeds.
    A loss still being tuned cell by cell (no pick in the result file, or no result file yet)
    shows the cells known of ``CELLS`` and the best of them so far."""
    tuning_path, results_path = (ROOT / p for p in args.split())
    tuning = json.loads(tuning_path.read_text())
    results = json.loads(results_path.read_text()) if results_path.exists() else []
    lines = [
        "| loss | cells | values searched | pick (valid NDCG@10) | tuning min | test min |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for loss in dict.fromkeys(r["config"] for r in tuning):
        cells = [r for r in tuning if r["config"] == loss]
        searched = {
            k: sorted({json.dumps(r["params"][k]) for r in cells}) for k in cells[0]["params"]
        }
        # the pick is the tuning run the result file carries as the loss's seed-TUNE_SEED row
        best = next((r for r in results if r["config"] == loss and r["seed"] == TUNE_SEED), None)
        count = str(len(cells))
        if best is None:  # still tuning: the best cell so far
            best = max(cells, key=lambda r: r["valid_ndcg@10"])
            count = f"{len(cells)} of {CELLS}"
        pick = ", ".join(f"{k.split('.')[-1]} {json.dumps(v)}" for k, v in best["params"].items())
        if count != str(len(cells)):
            pick = f"none yet; best so far {pick}"
        values = "; ".join(f"{k.split('.')[-1]} {', '.join(v)}" for k, v in searched.items())
        tune_min = sum(r["seconds"] for r in cells) / 60
        test_min = (
            sum(r["seconds"] for r in results if r["config"] == loss and r["seed"] != TUNE_SEED)
            / 60
        )
        lines.append(
            f"| {loss} | {count} | {values} | {pick} ({best['valid_ndcg@10']:.4f}) "
            f"| {tune_min:.0f} | {test_min:.0f} |"
        )
    return "\n".join(lines) + "\n"


def has_interval(pair: Paired | None) -> bool:
    """Whether a paired difference has a 95% interval: at least 2 seeds pair up."""
    return pair is not None and pair.n >= 2


def standing(summary: ComparisonSummary, loss: str = "bcl") -> str:
    """Where ``loss`` stands in a summary whose baseline is the best other loss by mean: best
    (the paired 95% interval above 0), tied-best (it holds 0) or behind, with the paired NDCG@10
    difference."""
    other = summary.baseline
    pair = summary.paired.get((loss, "ndcg@10"))
    if not has_interval(pair):
        seeds = pair.n if pair else 0
        return f"n/a ({seeds} paired seed{'s' * (seeds != 1)} with {other})"
    d = pair.diff
    text = f"{fmt(d.mean, True)} {interval_text(d, True)} vs {other}, {pair.wins}/{pair.n}"
    verdict = "best" if d.low > 0 else "behind" if d.high < 0 else "tied-best"
    return f"**{verdict}**: {text}" if verdict != "behind" else f"behind: {text}"


class BoardRow(NamedTuple):
    """One row of a scoreboard: each loss's test NDCG@10 over seeds, the best other loss than
    BCL by mean, and the file summarised with that loss as the paired baseline."""

    label: str
    means: dict[str, Summary]
    other: str
    against: ComparisonSummary


def board(args: str) -> tuple[list[str], list[BoardRow]]:
    """The columns (losses present, in ``LOSSES`` order) and rows of ``LABEL=FILE; ...``."""
    rows = [tuple(part.strip().rsplit("=", 1)) for part in args.split(";") if part.strip()]
    for row in rows:
        if len(row) != 2:
            raise ValueError(f"{row[0]!r} is not LABEL=FILE (rows are separated by ';')")
    summaries = [summarise_runs([ROOT / path]) for _, path in rows]
    present = {c.label for s in summaries for c in s.configurations}
    columns = [loss for loss in LOSSES if loss in present]
    out = []
    for (label, path), summary in zip(rows, summaries, strict=True):
        means = {
            c: summary.cells[(c, "ndcg@10")] for c in columns if (c, "ndcg@10") in summary.cells
        }
        others = [c for c in means if c != "bcl"]
        if not others:
            raise ValueError(f"{path} has no loss besides bcl to compare it with")
        other = max(others, key=lambda c: means[c].mean)
        # the paired differences need the best other loss as the baseline: summarise again
        out.append(BoardRow(label, means, other, summarise_runs([ROOT / path], baseline=other)))
    return columns, out


def scoreboard(args: str) -> str:
    """One row per ``LABEL=FILE``: each loss's mean test NDCG@10 (seeds in brackets when fewer
    than the most of the row; best in bold) and BCL's standing against the best other loss."""
    columns, rows = board(args)
    lines = [
        "| table | " + " | ".join(columns) + " | BCL against the best other loss (paired) |",
        "| --- | " + " | ".join("---:" for _ in columns) + " | --- |",
    ]
    for row in rows:
        most = max(s.n for s in row.means.values())
        top = max(s.mean for s in row.means.values())
        cells = []
        for loss in columns:
            s = row.means.get(loss)
            text = "-" if s is None else fmt(s.mean) + (f" ({s.n})" if s.n < most else "")
            cells.append(f"**{text}**" if s is not None and s.mean == top else text)
        lines.append(f"| {row.label} | " + " | ".join(cells) + f" | {standing(row.against)} |")
    return "\n".join(lines) + "\n"


def score_rows(rows: list[BoardRow]) -> list[ScoreRow]:
    """The figure's view of a scoreboard: means, and BCL's paired difference when it has one."""
    out = []
    for row in rows:
        pair = row.against.paired.get(("bcl", "ndcg@10"))
        diff = (pair.diff.mean, pair.diff.low, pair.diff.high) if has_interval(pair) else None
        out.append(ScoreRow(row.label, {k: s.mean for k, s in row.means.items()}, row.other, diff))
    return out


def draw_scoreboard(text: str) -> Path | None:
    """``FIGURE`` drawn from the first scoreboard marker of ``text`` (None without one);
    matplotlib comes with the ``plots`` extra."""
    marker = next((m for m in BLOCK.finditer(text) if m["kind"] == "scoreboard"), None)
    if marker is None:
        return None
    columns, rows = board(marker["args"])
    path = ROOT / FIGURE
    path.parent.mkdir(parents=True, exist_ok=True)
    return scoreboard_figure(score_rows(rows), columns, "bcl", "ndcg@10", path)


class TableError(ValueError):
    """A marker whose files cannot be read: the message names its line."""


def regenerate(text: str, name: str = "README.md") -> str:
    def block(m: re.Match) -> str:
        try:
            body = {"results": render, "budget": budget, "scoreboard": scoreboard}[m["kind"]](
                m["args"]
            )
        except (OSError, ValueError, KeyError) as err:
            line = text.count("\n", 0, m.start()) + 1
            raise TableError(f"{name}:{line}: {m['kind']} marker: {err}") from None
        return m.group(1) + body + f"<!-- /{m['kind']} -->"

    return BLOCK.sub(block, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--readme",
        type=Path,
        action="append",
        help=f"a file with generated tables (repeatable; default: {', '.join(FILES)})",
    )
    parser.add_argument("--check", action="store_true", help="fail if a table is out of date")
    args = parser.parse_args(argv)
    paths = args.readme or [ROOT / name for name in FILES]
    new = {}
    for path in paths:  # every file is regenerated before any is written
        try:
            new[path] = regenerate(path.read_text(), str(path))
        except TableError as err:
            print(err, file=sys.stderr)
            return 2
    stale = [path for path in paths if new[path] != path.read_text()]
    if args.check:
        for path in stale:
            print(f"{path}: result tables are stale; run python {sys.argv[0]}")
        return 1 if stale else 0
    for path in paths:
        tables = len(BLOCK.findall(path.read_text()))
        path.write_text(new[path])
        print(f"{path}: {tables} result tables regenerated")
    try:
        drawn = next(filter(None, (draw_scoreboard(new[path]) for path in paths)), None)
    except MissingExtraError as err:
        print(f"{FIGURE} not drawn: {err}", file=sys.stderr)
    else:
        if drawn is not None:
            print(f"{drawn}: the scoreboard drawn")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
