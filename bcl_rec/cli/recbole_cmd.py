"""``bcl-rec recbole``: RecBole's pipeline with a bcl-rec (or RecBole) model; prints its results."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the ``recbole`` subcommand on ``sub`` (an argparse subparsers object)."""
    parser = sub.add_parser(
        "recbole",
        help="train and test with RecBole's pipeline (needs the recbole extra)",
        description="Run RecBole 1.2.1's data loaders, trainer and evaluator with a bcl-rec model "
        "(BCLMF, BCLLightGCN) or one of RecBole's own general models (e.g. BPR).",
    )
    parser.add_argument("--model", default="BCLMF", help="BCLMF, BCLLightGCN or a RecBole model")
    parser.add_argument("--dataset", default="ml-100k", help="RecBole dataset name")
    parser.add_argument(
        "--config-file",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="RecBole YAML config (repeatable; later files win)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a RecBole setting, e.g. --set loss.name=bpr --set seed=1 (repeatable)",
    )
    parser.add_argument(
        "--data-dir", type=Path, help="GroupLens ml-100k folder (or its parent) to build data from"
    )
    parser.add_argument("--out", type=Path, help="write RecBole's results here as metrics.json")
    parser.set_defaults(func=run_command)
    return parser


def run_command(args: argparse.Namespace) -> int:
    """Run, print RecBole's best validation and test results as JSON."""
    try:
        from bcl_rec.integrations import recbole as adapter
    except ImportError as err:
        raise SystemExit(f"bcl-rec: error: {err}") from None
    from bcl_rec.integrations.recbole.overrides import apply_overrides

    for path in args.config_file:
        if not path.is_file():
            raise SystemExit(f"bcl-rec: error: config file not found: {path}")
    try:
        config_dict = apply_overrides({}, args.config_file, args.set)
    except ValueError as err:
        raise SystemExit(f"bcl-rec: error: {err}") from None
    try:
        result = adapter.run(
            args.model,
            args.dataset,
            config_dict=config_dict,
            config_file_list=args.config_file,
            data_dir=args.data_dir,
            out=args.out,
        )
    except ValueError as err:  # invalid settings, named by RecBole or the adapter
        raise SystemExit(f"bcl-rec: error: {err}") from None
    summary = {
        "model": result["model"],
        "best_epoch": result["metrics"]["best_epoch"],
        "valid": _rounded(result["best_valid_result"]),
        "test": _rounded(result["test_result"]),
        "checkpoint": result["checkpoint"],
    }
    if args.out is not None:
        summary["out"] = str(args.out)
    print(json.dumps(summary, indent=2))
    return 0


def _rounded(values: dict[str, float] | None) -> dict[str, float] | None:
    return None if values is None else {k: round(v, 4) for k, v in values.items()}
