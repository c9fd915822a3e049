"""Regenerate the README's result tables from the committed result files.

Each table in README.md sits between a marker naming its source and an end marker::

    <!-- results: results/fair/ml-100k-mf.json baseline=sl -->
    | loss | ... |
    <!-- /results -->

and is rebuilt here from that file with the statistics of ``bcl-rec report`` (mean +- std over
seeds, 95% t-interval of the mean, paired differences against the baseline). A
``<!-- budget: TUNING_FILE RESULT_FILE -->`` block gets the tuning budget of each loss (cells,
values searched, the pick, CPU minutes) from ``benchmarks/fair_tuning.py``'s files::

    python benchmarks/readme_tables.py            # rewrite README.md in place
    python benchmarks/readme_tables.py --check    # exit 1 if a table is stale (the test suite)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from bcl_rec.reporting.report import fmt, interval_text
from bcl_rec.reporting.summary import ComparisonSummary, summarise_runs

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(
    r"(<!-- (?P<kind>results|budget): (?P<args>[^>]*?) -->\n)(?P<body>.*?)(<!-- /(?P=kind) -->)",
    re.S,
)
METRICS = ("ndcg@10", "recall@10")
TUNE_SEED = 1  # the seed of benchmarks/fair_tuning.py's tuning cells


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
    the pick (best validation NDCG@10) and the minutes of tuning and of the other test seeds."""
    tuning_path, results_path = (ROOT / p for p in args.split())
    tuning = json.loads(tuning_path.read_text())
    results = json.loads(results_path.read_text())
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
        best = next(r for r in results if r["config"] == loss and r["seed"] == TUNE_SEED)
        pick = ", ".join(f"{k.split('.')[-1]} {json.dumps(v)}" for k, v in best["params"].items())
        values = "; ".join(f"{k.split('.')[-1]} {', '.join(v)}" for k, v in searched.items())
        tune_min = sum(r["seconds"] for r in cells) / 60
        test_min = (
            sum(r["seconds"] for r in results if r["config"] == loss and r["seed"] != TUNE_SEED)
            / 60
        )
        lines.append(
            f"| {loss} | {len(cells)} | {values} | {pick} ({best['valid_ndcg@10']:.4f}) "
            f"| {tune_min:.0f} | {test_min:.0f} |"
        )
    return "\n".join(lines) + "\n"


class TableError(ValueError):
    """A marker whose files cannot be read: the message names its line."""


def regenerate(text: str, name: str = "README.md") -> str:
    def block(m: re.Match) -> str:
        try:
            body = render(m["args"]) if m["kind"] == "results" else budget(m["args"])
        except (OSError, ValueError, KeyError) as err:
            line = text.count("\n", 0, m.start()) + 1
            raise TableError(f"{name}:{line}: {m['kind']} marker: {err}") from None
        return m.group(1) + body + f"<!-- /{m['kind']} -->"

    return BLOCK.sub(block, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--check", action="store_true", help="fail if a table is out of date")
    args = parser.parse_args(argv)
    old = args.readme.read_text()
    try:
        new = regenerate(old, str(args.readme))
    except TableError as err:
        print(err, file=sys.stderr)
        return 2
    if args.check:
        if new != old:
            print(f"{args.readme}: result tables are stale; run python {sys.argv[0]}")
            return 1
        return 0
    args.readme.write_text(new)
    print(f"{args.readme}: {len(BLOCK.findall(old))} result tables regenerated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
