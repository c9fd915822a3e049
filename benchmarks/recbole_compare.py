"""Inside RecBole: RecBole's BPR vs BCLMF with ``loss.name=bpr`` vs BCLMF with BCL, paired seeds.

Every variant runs ``bcl-rec recbole`` on the same config file with the same ``seed`` (initial
weights and RecBole's negative sampling), one run at a time, each in its own process and working
folder; ``OMP_NUM_THREADS=1`` unless set (small tensors: extra threads only add waiting).

    python benchmarks/recbole_compare.py --seeds 2020 2021 2022 --json results/recbole.json

Writes per-run rows and a summary (mean +- std of the test metrics; BCLMF variants paired against
RecBole's BPR with the same N) to ``--json`` after every run, and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "recbole" / "ml-100k-loo.yaml"
METRICS = ("ndcg@10", "recall@10", "mrr@10", "ndcg@20", "recall@20")

#: label -> (model, overrides); N comes from train_neg_sample_args.sample_num in the config.
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "RecBole BPR, N=10": ("BPR", []),
    "BCLMF loss=bpr, N=10": ("BCLMF", ["loss.name=bpr"]),
    "BCLMF loss=bcl, N=10": ("BCLMF", []),
    "RecBole BPR, N=1": ("BPR", ["train_neg_sample_args.sample_num=1"]),
    "BCLMF loss=bpr, N=1": ("BCLMF", ["loss.name=bpr", "train_neg_sample_args.sample_num=1"]),
}
BASELINE = {
    "BCLMF loss=bpr, N=10": "RecBole BPR, N=10",
    "BCLMF loss=bcl, N=10": "RecBole BPR, N=10",
    "BCLMF loss=bpr, N=1": "RecBole BPR, N=1",
}


def run_one(model: str, overrides: list[str], seed: int, config: Path, extra: list[str]) -> dict:
    """One ``bcl-rec recbole`` run in a scratch folder; its ``metrics.json``."""
    with tempfile.TemporaryDirectory(prefix="recbole-compare-") as work:
        out = Path(work) / "out"
        cmd = [sys.executable, "-m", "bcl_rec.cli.main", "recbole", "--model", model,
               "--dataset", "ml-100k", "--config-file", str(config), "--out", str(out),
               "--set", f"seed={seed}"]
        for item in overrides + extra:
            cmd += ["--set", item]
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
        return json.loads((out / "metrics.json").read_text())


def summarise(rows: list[dict]) -> dict:
    """Mean/std per variant and paired relative differences against the variant's baseline."""
    out: dict = {}
    for label in dict.fromkeys(r["variant"] for r in rows):
        mine = {r["seed"]: r for r in rows if r["variant"] == label}
        entry: dict = {"seeds": sorted(mine)}
        for m in METRICS:
            values = [r["test"][m] for r in mine.values()]
            entry[m] = {"mean": statistics.fmean(values),
                        "std": statistics.stdev(values) if len(values) > 1 else None}
        entry["best_epoch"] = [mine[s]["best_epoch"] for s in sorted(mine)]
        entry["train_epoch_s"] = statistics.median(r["train_epoch_s"] for r in mine.values())
        base = BASELINE.get(label)
        if base:
            theirs = {r["seed"]: r for r in rows if r["variant"] == base}
            paired = [s for s in mine if s in theirs]
            if paired:
                rel = [mine[s]["test"]["ndcg@10"] / theirs[s]["test"]["ndcg@10"] - 1
                       for s in paired]
                entry["vs"] = base
                entry["ndcg@10_rel_diff_mean"] = statistics.fmean(rel)
                entry["ndcg@10_wins"] = f"{sum(d > 0 for d in rel)}/{len(rel)}"
        out[label] = entry
    return out


def markdown(summary: dict) -> str:
    lines = ["| variant | seeds | test NDCG@10 | test Recall@10 | test MRR@10 | best epochs "
             "| s/epoch | NDCG@10 vs baseline (paired) |", "|" + " --- |" * 8]
    for label, e in summary.items():
        def fmt(m: str, e: dict = e) -> str:
            std = e[m]["std"]
            return f"{e[m]['mean']:.4f}" + (f" +- {std:.4f}" if std is not None else "")
        vs = (f"{e['ndcg@10_rel_diff_mean']:+.1%} vs {e['vs']} ({e['ndcg@10_wins']} seeds better)"
              if "vs" in e else "-")
        lines.append(f"| {label} | {len(e['seeds'])} | {fmt('ndcg@10')} | {fmt('recall@10')} | "
                     f"{fmt('mrr@10')} | {e['best_epoch']} | {e['train_epoch_s']:.1f} | {vs} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[2020, 2021, 2022])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS)[:3], choices=list(VARIANTS))
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--set", action="append", default=[], help="override for every run")
    parser.add_argument("--json", type=Path, default=Path("results/recbole_compare.json"))
    args = parser.parse_args(argv)

    rows: list[dict] = []
    for seed in args.seeds:
        for label in args.variants:
            model, overrides = VARIANTS[label]
            t0 = time.perf_counter()
            metrics = run_one(model, overrides, seed, args.config, args.set)
            rows.append({"variant": label, "model": model, "overrides": overrides, "seed": seed,
                         "best_epoch": metrics["best_epoch"], "epochs": metrics["epochs"],
                         "test": metrics["test"], "valid": metrics["valid"],
                         "train_epoch_s": metrics["seconds"]["train_epoch_median"],
                         "wall_s": time.perf_counter() - t0})
            print(f"seed {seed} {label}: test ndcg@10 {metrics['test']['ndcg@10']:.4f} "
                  f"(best epoch {metrics['best_epoch']}, {rows[-1]['wall_s']:.0f}s)", flush=True)
            args.json.parent.mkdir(parents=True, exist_ok=True)
            payload = {"config": str(args.config), "set": args.set, "rows": rows,
                       "summary": summarise(rows)}
            args.json.write_text(json.dumps(payload, indent=2) + "\n")
    print(markdown(summarise(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
