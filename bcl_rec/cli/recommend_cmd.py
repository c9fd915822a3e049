"""``bcl-rec recommend``: the top-K items of one user from a saved run, seen items left out."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bcl_rec.cli.saved_run_args import add_saved_run_arguments


def add_recommend_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``recommend`` on ``sub`` (an argparse subparsers object)."""
    parser = sub.add_parser(
        "recommend",
        help="top-K items for one user of a saved run",
        description="Score every item for one user of a run folder and print the best K, with "
        "titles where the dataset has them. Items the user has in the train or validation "
        "split are left out; test items stay candidates (they are the held-out future, so a "
        "test item may appear in the list).",
    )
    parser.add_argument("--user", required=True, metavar="RAW_ID",
                        help="user id as written in the data file")
    parser.add_argument("-k", "--k", type=int, default=10, help="how many items (default 10)")
    add_saved_run_arguments(parser)
    parser.set_defaults(func=run_recommend)
    return parser


def run_recommend(args: argparse.Namespace) -> int:
    """Print the user's top-K (a table, or JSON with ``--json``)."""
    import torch

    from bcl_rec.data.split import seen_matrix
    from bcl_rec.evaluation.topk import top_items
    from bcl_rec.run_folder import load_run
    from bcl_rec.training.device import resolve_device

    if args.k < 1:
        print("bcl-rec: error: -k must be a positive integer", file=sys.stderr)
        return 2
    run = load_run(args.run, args.data_dir, resolve_device(args.device, key="--device"))
    user = run.user_index(args.user)
    seen = seen_matrix(run.split)[user].indices
    user_emb, item_emb = run.embeddings()
    items, scores = top_items(
        user_emb[user], item_emb, torch.as_tensor(seen, dtype=torch.long), args.k
    )
    titles = run.split.item_titles
    rows = []
    for rank, (item, score) in enumerate(zip(items.tolist(), scores.tolist(), strict=True), 1):
        row = {"rank": rank, "item": _plain(run.split.item_ids[item]), "score": score}
        if titles is not None:
            row["title"] = _plain(titles[item])
        rows.append(row)
    if args.json:
        print(json.dumps({"user": args.user, "excluded_seen": int(len(seen)), "items": rows},
                         indent=2))
        return 0
    print(f"user {args.user}: top {len(rows)} of {run.split.n_items - len(seen)} unseen items")
    for row in rows:
        title = f"  {row['title']}" if "title" in row else ""
        print(f"{row['rank']:>4}  {str(row['item']):>10}  {row['score']:9.4f}{title}")
    return 0


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, for JSON."""
    return value.item() if hasattr(value, "item") else value
