"""BCL's other ideas, one validation cell each, against the equal-budget picks they extend.

    python benchmarks/bcl_ideas.py [--out runs/ideas] [--collect-only]

MovieLens-100K MF on the SL recipe, seed 1. Each idea starts from a pick of
``benchmarks/fair_tuning.py ml-100k-mf`` (``configs/ml-100k/tuned/``) and changes one thing; it
would be kept only if its validation NDCG@10 beats the pick's (``results/fair/
ml-100k-mf-tuning.json``). Test NDCG@10 is recorded, not used. Writes
``results/fair/ml-100k-mf-bcl-ideas.json``: one row per idea with the pick it is compared with.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fair_tuning import ROOT, TUNE_SEED, _row, picks, run

TUNED = "configs/ml-100k/tuned"
BCL_WEIGHTS = ["loss.weights=bcl", "loss.alpha=0.9", "loss.beta=0.5", "loss.tau_plus=0.05",
               "loss.ecdf=mid"]
# idea -> (the loss whose pick it extends, its config, the overrides that make the idea)
IDEAS: dict[str, tuple[str, str, list[str]]] = {
    "bcl-alpha-auto": ("bcl", "mf-bcl-nce-cosine", ["loss.alpha=auto"]),
    "bcl-alpha-linear": ("bcl", "mf-bcl-nce-cosine", [
        "loss.alpha_schedule=linear", "loss.alpha_every=2", "loss.alpha_steps=10"]),
    "bcl-ecdf-catalogue-1000": ("bcl", "mf-bcl-nce-cosine", [
        "loss.ecdf_source=catalogue", "loss.ecdf_sample=1000"]),
    "bsl-bcl-weights": ("bsl", "mf-bsl", BCL_WEIGHTS),
    "psl-bcl-weights": ("psl", "mf-psl", BCL_WEIGHTS),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/ideas"))
    parser.add_argument("--collect-only", action="store_true",
                        help="write the finished ideas only; train nothing")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    mf_picks = picks("ml-100k-mf")
    rows = []
    for idea, (base, stem, sets) in IDEAS.items():
        folder = out / idea
        if not (folder / "metrics.json").exists() and args.collect_only:
            print(f"{idea}: not run")
            continue
        if not (folder / "metrics.json").exists():
            cmd = [sys.executable, "-m", "bcl_rec", "train", "--config", f"{TUNED}/{stem}.yaml",
                   "--set", f"train.seed={TUNE_SEED}", "--set", "train.progress=false",
                   "--out", str(folder)]
            for item in sets:
                cmd += ["--set", item]
            run(cmd, out / "log.txt")
        row = _row(idea, folder, TUNE_SEED, dict(s.split("=", 1) for s in sets))
        row["extends"], row["pick_valid_ndcg@10"] = base, mf_picks[base]["valid_ndcg@10"]
        row["pick_test_ndcg@10"] = mf_picks[base]["test_ndcg@10"]
        row["kept"] = row["valid_ndcg@10"] > row["pick_valid_ndcg@10"]
        rows.append(row)
        print(f"{idea}: valid {row['valid_ndcg@10']:.4f} against {base}'s pick "
              f"{row['pick_valid_ndcg@10']:.4f} -> {'kept' if row['kept'] else 'not kept'} "
              f"(test {row['test_ndcg@10']:.4f} against {row['pick_test_ndcg@10']:.4f})")
    dest = ROOT / "results/fair/ml-100k-mf-bcl-ideas.json"
    dest.write_text(json.dumps(rows, indent=1) + "\n")
    print("wrote", dest.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
