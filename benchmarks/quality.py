"""Paired-seed quality comparison of run configs: mean, std and 95% interval of test metrics.

Every config is trained with the same seeds (``train.seed``), so differences are paired.

    python benchmarks/quality.py configs/ml-100k/mf-bpr.yaml configs/ml-100k/mf-bcl.yaml \\
        --seeds 1 2 3 4 5 --json results/quality.json [--set train.epochs=100]

Writes a JSON list of per-run rows and prints a Markdown table (mean +- std, 95% t-interval)
plus paired differences against the first config.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from bcl_rec.config import load_config
from bcl_rec.data.load import load_split
from bcl_rec.reporting.stats import interval, paired
from bcl_rec.training.run import train_run

METRICS = ("ndcg@10", "recall@10", "ndcg@20", "recall@20")


def label_of(path: str, overrides: list[str]) -> str:
    name = f"{Path(path).parent.name}/{Path(path).stem}"
    return name + (" " + " ".join(overrides) if overrides else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "configs",
        nargs="*",
        help="config files; 'FILE::k=v,k=v' adds overrides. With --from-json: the config labels "
        "to show, in this order (the first is the baseline of the paired column)",
    )
    parser.add_argument(
        "--from-json", nargs="+", type=Path, help="print the table of earlier runs' JSON files"
    )
    parser.add_argument(
        "--seeds", nargs="+", type=int, help="default 1-5; with --from-json: every seed found"
    )
    parser.add_argument("--set", action="append", default=[], help="override for every config")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--json", type=Path, help="write per-run rows here")
    parser.add_argument("--markdown", type=Path, help="write the table here too")
    parser.add_argument("--threads", type=int, help="torch threads (1 when sharing the CPU)")
    parser.add_argument(
        "--compact", action="store_true", help="interval for NDCG@10 only, no s/epoch column"
    )
    parser.add_argument(
        "--bar",
        type=float,
        help="an outside NDCG@10 to compare with (e.g. RecBole's 0.0722): adds a column with the "
        "difference and whether the 95%% interval lies above, below or around it",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.from_json:
        rows = merge_rows(args.from_json)
        if args.configs:
            unknown = sorted(set(args.configs) - {r["config"] for r in rows})
            if unknown:
                parser.error(f"no runs of {', '.join(unknown)} in the JSON files")
            order = {label: k for k, label in enumerate(args.configs)}
            rows = [r for r in rows if r["config"] in order]
            rows.sort(key=lambda r: order[r["config"]])
        seeds = args.seeds or sorted({r["seed"] for r in rows})
        rows = [r for r in rows if r["seed"] in seeds]
    else:
        seeds = args.seeds or [1, 2, 3, 4, 5]
        rows = train_rows(args.configs, seeds, args.set, args.data_dir, args.json)
    table = markdown(rows, seeds, args.bar, args.compact)
    print(table)
    if args.markdown:
        args.markdown.write_text(table)
    return 0


def train_rows(
    specs: list[str], seeds: list[int], sets: list[str], data_dir: Path | None,
    json_path: Path | None,
) -> list[dict]:
    """Train every config spec with every seed; one row of test metrics per run, written to
    ``json_path`` after each run (so an interrupted sweep keeps what it finished)."""
    rows: list[dict] = []
    splits: dict = {}
    for spec in specs:
        path, _, extra = spec.partition("::")
        extra_sets = [s for s in extra.split(",") if s]
        label = label_of(path, extra_sets)
        for seed in seeds:
            overrides = [*sets, *extra_sets, f"train.seed={seed}", "train.progress=false"]
            cfg = load_config(path, overrides)
            key = cfg.data
            if key not in splits:
                splits[key] = load_split(cfg.data, data_dir)
            t0 = time.perf_counter()
            result = train_run(cfg, split=splits[key])
            m = result.metrics
            row = {
                "config": label,
                "seed": seed,
                **{f"test_{k}": m["test"][k] for k in METRICS},
                "valid_ndcg@10": m["valid"]["ndcg@10"],
                "best_epoch": m["best_epoch"],
                "epochs": m["epochs"],
                "train_epoch_median_s": m["seconds"]["train_epoch_median"],
                "seconds": time.perf_counter() - t0,
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
            if json_path:
                json_path.parent.mkdir(parents=True, exist_ok=True)
                json_path.write_text(json.dumps(rows, indent=1) + "\n")
    return rows


def merge_rows(paths: list[Path]) -> list[dict]:
    """The runs of several JSON files; the same (config, seed) twice must be the same run."""
    merged: dict[tuple[str, int], dict] = {}
    for path in paths:
        rows = json.loads(path.read_text())
        runs = isinstance(rows, list) and all(isinstance(r, dict) and "config" in r for r in rows)
        if not runs:
            raise SystemExit(f"{path}: not a list of quality.py runs")
        for row in rows:
            key = (row["config"], row["seed"])
            seen = merged.setdefault(key, row)
            if seen["test_ndcg@10"] != row["test_ndcg@10"]:
                raise SystemExit(
                    f"{path}: {key[0]} seed {key[1]} differs from an earlier file's run with the "
                    "same label; relabel one of them"
                )
    return list(merged.values())


def markdown(
    rows: list[dict], seeds: list[int], bar: float | None = None, compact: bool = False
) -> str:
    """The comparison table. ``compact``: the 95% interval for NDCG@10 only, no s/epoch (the
    runs' own epoch times depend on what else shared the machine)."""
    labels = list(dict.fromkeys(r["config"] for r in rows))
    by = {(r["config"], r["seed"]): r for r in rows}
    lines = [
        f"Seeds: {seeds}. Mean +- std over seeds, [95% t-interval of the mean]; paired difference "
        f"of NDCG@10 against the first row (mean [95% interval], wins).",
        "",
        "| config | test NDCG@10 | test Recall@10 | NDCG@20 | Recall@20 | best epoch | "
        + ("" if compact else "s/epoch | ")
        + "dNDCG@10 vs first |"
        + (f" NDCG@10 vs {bar:g} |" if bar is not None else ""),
        "| --- " * (7 if compact else 8) + "|" + (" --- |" if bar is not None else ""),
    ]
    base = labels[0]
    for label in labels:
        mine = [by[(label, s)] for s in seeds if (label, s) in by]
        cells = []
        for metric in METRICS:
            mean, std, half = interval([r[f"test_{metric}"] for r in mine])
            ci = f" [{mean - half:.4f}, {mean + half:.4f}]"
            cells.append(f"{mean:.4f} +- {std:.4f}" + ("" if compact and cells else ci))
        epochs = [r["best_epoch"] for r in mine]
        spe = float(np.median([r["train_epoch_median_s"] for r in mine]))
        diff_cell = "-"
        if label != base:
            pairs = [
                (by[(label, s)]["test_ndcg@10"], by[(base, s)]["test_ndcg@10"])
                for s in seeds
                if (label, s) in by and (base, s) in by
            ]
            if pairs:
                diff = paired([a for a, _ in pairs], [b for _, b in pairs])
                low, high = diff.diff.low, diff.diff.high
                diff_cell = f"{diff.diff.mean:+.4f} [{low:+.4f}, {high:+.4f}], {diff.wins}/{diff.n}"
        bar_cell = ""
        if bar is not None:
            mean, _, half = interval([r["test_ndcg@10"] for r in mine])
            where = "above" if mean - half > bar else "below" if mean + half < bar else "around"
            bar_cell = f" {mean - bar:+.4f} ({where}) |"
        spe_cell = "" if compact else f" {spe:.2f} |"
        lines.append(
            f"| {label} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} | "
            f"{min(epochs)}-{max(epochs)} |{spe_cell} {diff_cell} |{bar_cell}"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
