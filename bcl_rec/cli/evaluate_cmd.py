"""``bcl-rec evaluate``: re-evaluate a saved run folder at any cut-offs, on test or valid."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from bcl_rec.cli.saved_run_args import add_saved_run_arguments


def add_evaluate_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``evaluate`` on ``sub`` (an argparse subparsers object)."""
    parser = sub.add_parser(
        "evaluate",
        help="re-evaluate a saved run (any K, test or valid split)",
        description="Load a run folder's config.yaml and model.pt, rebuild its data split and "
        "rank every item for every user with a held-out item. The test split excludes train "
        "and validation items from the candidates; the valid split excludes train items.",
    )
    parser.add_argument("--split", choices=("test", "valid"), default="test")
    parser.add_argument(
        "--topk", type=int, nargs="+", metavar="K", help="cut-offs (default: the run's eval.topk)"
    )
    parser.add_argument("--users-per-batch", type=int, help="users scored at once")
    parser.add_argument("--max-memory-mb", type=float, help="memory budget of the score tiles")
    add_saved_run_arguments(parser)
    parser.set_defaults(func=run_evaluate)
    return parser


def run_evaluate(args: argparse.Namespace) -> int:
    """Print the metrics (a table, or JSON with ``--json``)."""
    from bcl_rec.run_folder import load_run
    from bcl_rec.training.device import resolve_device

    if args.topk is not None and min(args.topk) < 1:
        print("bcl-rec: error: --topk values must be positive integers", file=sys.stderr)
        return 2
    if args.users_per_batch is not None and args.users_per_batch < 1:
        print("bcl-rec: error: --users-per-batch must be a positive integer", file=sys.stderr)
        return 2
    if args.max_memory_mb is not None and not args.max_memory_mb > 0:
        print("bcl-rec: error: --max-memory-mb must be a number > 0", file=sys.stderr)
        return 2
    start = time.perf_counter()
    run = load_run(args.run, args.data_dir, resolve_device(args.device, key="--device"))
    evaluator = run.evaluator(
        args.split,
        tuple(args.topk) if args.topk else None,
        args.users_per_batch,
        args.max_memory_mb,
    )
    loaded = time.perf_counter()
    metrics = evaluator.evaluate(*run.embeddings())
    done = time.perf_counter()
    result = {
        "run": str(args.run),
        "split": args.split,
        "users": len(evaluator.users),
        "items": evaluator.n_items,
        "metrics": metrics,
        "seconds": {"load": loaded - start, "evaluate": done - loaded},
        "device": str(run.device),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{args.run}: {args.split} split, {result['users']} users x {result['items']} items "
          f"({result['seconds']['evaluate']:.3f} s, {run.device})")
    for name in sorted(metrics, key=_metric_order):
        print(f"  {name:<12} {metrics[name]:.4f}")
    return 0


def _metric_order(name: str) -> tuple[int, str]:
    metric, _, k = name.partition("@")
    return (int(k) if k else 10**9, metric)
