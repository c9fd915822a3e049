"""``fair_tuning.py collect`` merges the run folders it finds with the committed result file:
run folders live on the machine that trained them, and a collect elsewhere must lose nothing."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("fair_tuning", ROOT / "benchmarks/fair_tuning.py")
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)
PLAN = script.PLANS["yelp-lightgcn-sl"]  # fixed configs: one test folder of seeds per loss


def write_run(folder: Path, seed: int, ndcg: float) -> None:
    folder.mkdir(parents=True)
    metrics = {name: ndcg for name in script.METRICS}
    (folder / "metrics.json").write_text(
        json.dumps(
            {
                "test": metrics,
                "valid": metrics,
                "best_epoch": 3,
                "epochs": 5,
                "seconds": {"total": 1.0},
            }
        )
    )
    (folder / "config.yaml").write_text(yaml.safe_dump({"train": {"seed": seed}}))


def recorded_row(loss: str, seed: int, ndcg: float) -> dict:
    row = {"config": loss, "seed": seed, "params": {}}
    for name in script.METRICS:
        row[f"test_{name}"] = row[f"valid_{name}"] = ndcg
    return row | {"best_epoch": 1, "epochs": 2, "seconds": 9.0}


def test_collect_keeps_recorded_seeds_it_has_no_folder_for_and_replaces_the_ones_it_has(
    tmp_path, capsys
):
    dest = tmp_path / "results"
    dest.mkdir()
    old = [recorded_row("sl", s, 0.1 * s) for s in (1, 2, 3)] + [recorded_row("bcl", 1, 0.5)]
    (dest / "yelp-lightgcn-sl.json").write_text(json.dumps(old, indent=1) + "\n")
    out = tmp_path / "runs"
    write_run(out / "sl" / "test" / "seed=3", 3, 0.9)  # a rerun of a recorded seed
    write_run(out / "sl" / "test" / "seed=5", 5, 0.7)  # a new seed

    script.collect("yelp-lightgcn-sl", ["sl", "bcl"], out, PLAN, dest)

    rows = json.loads((dest / "yelp-lightgcn-sl.json").read_text())
    assert [(r["config"], r["seed"], r["test_ndcg@10"]) for r in rows] == [
        ("sl", 1, 0.1),
        ("sl", 2, 0.2),
        ("sl", 3, 0.9),
        ("sl", 5, 0.7),
        ("bcl", 1, 0.5),
    ]
    said = capsys.readouterr().out
    assert f"kept the recorded rows of sl (seeds 1, 2): no run folder of theirs under {out}" in said
    assert "kept the recorded rows of bcl (seeds 1)" in said


def test_a_collect_that_finds_no_run_folder_rewrites_every_result_file_byte_for_byte(tmp_path):
    for name, plan in script.PLANS.items():
        for suffix in ("", "-tuning"):
            committed = ROOT / "results" / "fair" / f"{name}{suffix}.json"
            if committed.exists():
                (tmp_path / committed.name).write_bytes(committed.read_bytes())
        script.collect(name, list(plan["losses"]), tmp_path / "none" / name, plan, tmp_path)
    for written in tmp_path.glob("*.json"):
        assert written.read_bytes() == (ROOT / "results" / "fair" / written.name).read_bytes()


def test_a_new_pick_replaces_the_old_picks_rows():
    fresh = [{"config": "bcl", "seed": 2, "params": {"loss.alpha": 0.5}}]
    old = [{"config": "bcl", "seed": s, "params": {"loss.alpha": 0.9}} for s in (1, 2, 3)]
    merged = script.keep_recorded(fresh, old, ["bcl"], Path("runs"))
    assert merged == fresh
