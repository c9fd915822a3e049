"""BCL's other ideas, one validation cell each, against the equal-budget picks they extend.

    python benchmarks/bcl_ideas.py [--plan ml-100k-mf] [--out runs/ideas] [--collect-only]

MF on the SL recipe, seed 1. Each idea starts from the config of a plan's loss
(``benchmarks/fair_tuning.py``: on MovieLens-100K its pick in ``configs/ml-100k/tuned/``; on the
Yelp sample the untuned config its table ran) and changes one thing; it would be kept only if its
validation NDCG@10 beats that loss's seed-1 run in ``results/fair/<plan>.json``. Test NDCG@10 is
recorded, not used. Writes ``results/fair/<plan>-bcl-ideas.json``: one row per idea with the run
it is compared with.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fair_tuning import ROOT, TUNE_SEED, _row, keep_recorded, picks, recorded, run

TUNED = "configs/ml-100k/tuned"
BCL_WEIGHTS = ["loss.weights=bcl", "loss.alpha=0.9", "loss.beta=0.5", "loss.tau_plus=0.05",
               "loss.ecdf=mid"]
# plan -> idea -> (the loss whose run it extends, its config, the overrides that make the idea)
IDEAS: dict[str, dict[str, tuple[str, str, list[str]]]] = {
    "ml-100k-mf": {
        "bcl-alpha-auto": ("bcl", f"{TUNED}/mf-bcl-nce-cosine.yaml", ["loss.alpha=auto"]),
        "bcl-alpha-linear": ("bcl", f"{TUNED}/mf-bcl-nce-cosine.yaml", [
            "loss.alpha_schedule=linear", "loss.alpha_every=2", "loss.alpha_steps=10"]),
        "bcl-ecdf-catalogue-1000": ("bcl", f"{TUNED}/mf-bcl-nce-cosine.yaml", [
            "loss.ecdf_source=catalogue", "loss.ecdf_sample=1000"]),
        "bsl-bcl-weights": ("bsl", f"{TUNED}/mf-bsl.yaml", BCL_WEIGHTS),
        "psl-bcl-weights": ("psl", f"{TUNED}/mf-psl.yaml", BCL_WEIGHTS),
    },
    # PSL is the best Yelp loss and BCL is behind it: does BCL's weighting lift PSL there?
    "yelp-mf": {
        "psl-bcl-weights": ("psl", "configs/yelp2018/mf-psl-cosine.yaml", BCL_WEIGHTS),
    },
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", choices=sorted(IDEAS), default="ml-100k-mf")
    parser.add_argument("--out", type=Path, default=Path("runs/ideas"))
    parser.add_argument("--collect-only", action="store_true",
                        help="train nothing: write the ideas found under --out and keep the "
                        "recorded row of any that is not")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    base_runs = picks(args.plan)  # each loss's seed-1 run: its pick, or its untuned run on Yelp
    dest = ROOT / "results" / "fair" / f"{args.plan}-bcl-ideas.json"
    ideas = list(IDEAS[args.plan])
    old = [r for r in recorded(dest) if r["config"] in ideas]
    rows = []
    for idea, (base, config, sets) in IDEAS[args.plan].items():
        folder = out / idea
        if not (folder / "metrics.json").exists() and args.collect_only:
            if all(r["config"] != idea for r in old):
                print(f"{idea}: not run")
            continue  # a recorded row is kept below: a run folder elsewhere must not erase it
        if not (folder / "metrics.json").exists():
            cmd = [sys.executable, "-m", "bcl_rec", "train", "--config", config,
                   "--set", f"train.seed={TUNE_SEED}", "--set", "train.progress=false",
                   "--out", str(folder)]
            for item in sets:
                cmd += ["--set", item]
            run(cmd, out / "log.txt")
        row = _row(idea, folder, TUNE_SEED, dict(s.split("=", 1) for s in sets))
        row["extends"], row["pick_valid_ndcg@10"] = base, base_runs[base]["valid_ndcg@10"]
        row["pick_test_ndcg@10"] = base_runs[base]["test_ndcg@10"]
        row["kept"] = row["valid_ndcg@10"] > row["pick_valid_ndcg@10"]
        rows.append(row)
        print(f"{idea}: valid {row['valid_ndcg@10']:.4f} against {base}'s seed-1 run "
              f"{row['pick_valid_ndcg@10']:.4f} -> {'kept' if row['kept'] else 'not kept'} "
              f"(test {row['test_ndcg@10']:.4f} against {row['pick_test_ndcg@10']:.4f})")
    rows = keep_recorded(rows, old, ideas, out)
    dest.write_text(json.dumps(rows, indent=1) + "\n")
    print("wrote", dest.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
