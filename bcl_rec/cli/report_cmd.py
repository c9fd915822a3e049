"""``bcl-rec report``: one Markdown + HTML comparison report over saved run folders."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_report_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``report`` on ``sub`` (an argparse subparsers object)."""
    parser = sub.add_parser(
        "report",
        help="compare saved runs: tables over seeds, paired differences, figures",
        description="Find run folders (config.yaml + metrics.json) under each DIR, group them "
        "into configurations (equal configs apart from train.seed, or equal --group-by keys) "
        "and write report.md, report.html (self-contained), report.json and PNG figures. "
        "Needs the plots extra: pip install 'bcl-rec[plots]'.",
    )
    parser.add_argument("dirs", nargs="+", type=Path, metavar="DIR",
                        help="run folders, folders holding them at any depth (e.g. a sweep), or "
                        "committed result files (results/*.json rows of benchmarks/quality.py)")
    parser.add_argument("--only", nargs="+", metavar="LABEL",
                        help="with result files: keep the rows of these config labels")
    parser.add_argument("--out", type=Path, metavar="REPORT_DIR",
                        help="where to write (default: DIR/report for one DIR, else ./report)")
    parser.add_argument("--group-by", nargs="+", metavar="KEY",
                        help="config keys that define a configuration, e.g. loss.name loss.alpha")
    parser.add_argument("--baseline", metavar="LABEL",
                        help="configuration the others are paired against (its label, or a "
                        "key=value or value of it; default: the first)")
    parser.set_defaults(func=run_report)
    return parser


def run_report(args: argparse.Namespace) -> int:
    """Write the report and print where it is."""
    from bcl_rec.reporting.extras import MissingExtraError
    from bcl_rec.reporting.report import write_report
    from bcl_rec.reporting.runs import ReportError
    from bcl_rec.reporting.summary import summarise_runs

    out = args.out or (args.dirs[0] / "report" if len(args.dirs) == 1 else Path("report"))
    try:
        summary = summarise_runs(args.dirs, args.group_by, args.baseline, args.only)
        paths = write_report(summary, out)
    except (ReportError, MissingExtraError) as err:
        print(f"bcl-rec: error: {err}", file=sys.stderr)
        return 2
    n_runs = sum(len(c.runs) for c in summary.configurations)
    print(f"{n_runs} run(s) in {len(summary.configurations)} configuration(s) -> "
          f"{paths['markdown']}, {paths['html']}")
    for note in summary.notes:
        print(f"  note: {note}")
    return 0
