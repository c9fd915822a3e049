"""The Yelp plans tuned cell by cell (``fair_tuning.py yelp-*-tuned``): the untuned run counts as
its cell, each finished cell is recorded at once, and a loss gets its pick, and its five seeds,
only when all its cells are known."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("fair_tuning", ROOT / "benchmarks/fair_tuning.py")
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)
NAME = "yelp-mf-tuned"
PLAN = script.PLANS[NAME]


def metrics_row(loss: str, seed: int, params: dict, valid: float, test: float) -> dict:
    row = {"config": loss, "seed": seed, "params": params}
    for name in script.METRICS:
        row[f"test_{name}"], row[f"valid_{name}"] = test, valid
    return row | {"best_epoch": 3, "epochs": 5, "seconds": 1.0}


def write_run(folder: Path, seed: int, valid: float, test: float) -> None:
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(
        json.dumps(
            {
                "test": dict.fromkeys(script.METRICS, test),
                "valid": dict.fromkeys(script.METRICS, valid),
                "best_epoch": 3,
                "epochs": 5,
                "seconds": {"total": 1.0},
            }
        )
    )
    (folder / "config.yaml").write_text(yaml.safe_dump({"train": {"seed": seed}}))


@pytest.mark.parametrize(
    ("name", "loss", "expected"),
    [
        ("yelp-mf-tuned", "sl", ("loss.temperature=0.15",)),
        ("yelp-mf-tuned", "bcl", ("loss.alpha=0.9", "loss.tau_plus=0.05")),
        ("yelp-mf-tuned", "bpr", ("train.lr=0.001", "train.weight_decay=0")),
        ("yelp-lightgcn-sl-tuned", "psl", ("loss.psl_temperature=0.075",)),
        ("yelp-lightgcn-sl-tuned", "bpr", ("train.lr=0.005", "train.weight_decay=0")),
    ],
)
def test_the_untuned_run_is_the_cell_of_the_values_its_config_file_holds(name, loss, expected):
    assert script.untuned_cell(script.PLANS[name], loss) == expected


def test_every_loss_of_both_yelp_plans_has_its_untuned_run_among_its_cells():
    for name in ("yelp-mf-tuned", "yelp-lightgcn-sl-tuned"):
        plan = script.PLANS[name]
        for loss in plan["losses"]:
            assert script.untuned_cell(plan, loss) in script.cells_of(plan, loss)


def setup(tmp_path: Path, recorded_cells: list[dict]) -> tuple[Path, Path]:
    dest, out = tmp_path / "results" / "fair", tmp_path / "runs"
    dest.mkdir(parents=True)
    untuned = [metrics_row("sl", s, {}, 0.30, 0.10 + s / 100) for s in range(1, 6)]
    (dest / "yelp-mf.json").write_text(json.dumps(untuned))
    (dest / f"{NAME}-tuning.json").write_text(json.dumps(recorded_cells))
    return dest, out


def temp(t: float) -> dict:
    return {"loss.temperature": t}


def test_cells_accumulate_across_collects_and_no_pick_is_made_before_all_are_known(
    tmp_path, capsys
):
    dest, out = setup(tmp_path, [metrics_row("sl", 1, temp(0.1), 0.20, 0.5)])
    write_run(out / "sl" / "cells" / "loss.temperature=0.2" / "seed=1", 1, 0.25, 0.6)

    script.collect(NAME, ["sl"], out, PLAN, dest)

    cells = json.loads((dest / f"{NAME}-tuning.json").read_text())
    # grid order: 0.1 recorded, 0.15 the untuned run's seed 1, 0.2 the new folder; 0.25 not run
    assert [(r["params"], r["valid_ndcg@10"]) for r in cells] == [
        (temp(0.1), 0.20),
        (temp(0.15), 0.30),
        (temp(0.2), 0.25),
    ]
    assert not (dest / f"{NAME}.json").exists()
    assert "sl: 3/4 cells known, no pick yet" in capsys.readouterr().out


def test_when_the_untuned_cell_wins_its_five_seeds_are_the_test(tmp_path):
    dest, out = setup(tmp_path, [metrics_row("sl", 1, temp(t), 0.2, 0.5) for t in (0.1, 0.2)])
    write_run(out / "sl" / "cells" / "loss.temperature=0.25" / "seed=1", 1, 0.29, 0.6)

    script.collect(NAME, ["sl"], out, PLAN, dest)

    rows = json.loads((dest / f"{NAME}.json").read_text())
    assert [(r["seed"], r["params"], r["test_ndcg@10"]) for r in rows] == [
        (s, temp(0.15), 0.10 + s / 100) for s in range(1, 6)
    ]


def test_another_winning_cell_is_tested_on_seeds_2_to_5_and_its_own_run_is_seed_1(
    tmp_path, monkeypatch
):
    cells = [metrics_row("sl", 1, temp(t), 0.2, 0.5) for t in (0.1, 0.2)]
    dest, out = setup(tmp_path, cells + [metrics_row("sl", 1, temp(0.25), 0.31, 0.7)])
    monkeypatch.setattr(script, "ROOT", tmp_path)  # the stages read results/fair under ROOT
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    ran = []
    monkeypatch.setattr(script, "run", lambda cmd, log: ran.append(cmd))

    script.test_cells(NAME, ["sl"], out)
    script.tune_cells(NAME, ["sl"], out, jobs=1)  # all four cells known: nothing to run

    [cmd] = ran
    assert cmd[cmd.index("--seeds") + 1] == "2,3,4,5"
    assert "loss.temperature=0.25" in cmd and cmd[-1] == str(out / "sl" / "test")
    for seed in (2, 3, 4, 5):
        write_run(out / "sl" / "test" / f"seed={seed}", seed, 0.3, 0.7 + seed / 100)
    script.collect(NAME, ["sl"], out, PLAN, dest)
    rows = json.loads((dest / f"{NAME}.json").read_text())
    assert [(r["seed"], r["params"], r["test_ndcg@10"]) for r in rows] == [
        (1, temp(0.25), 0.7),
        *((s, temp(0.25), 0.7 + s / 100) for s in (2, 3, 4, 5)),
    ]


def test_tune_runs_only_the_cells_without_a_row_with_seed_1(tmp_path, monkeypatch):
    dest, _ = setup(
        tmp_path, [metrics_row("bcl", 1, {"loss.alpha": 0.7, "loss.tau_plus": 0.05}, 0.2, 0.1)]
    )
    (dest / "yelp-mf.json").write_text(json.dumps([metrics_row("bcl", 1, {}, 0.3, 0.1)]))
    monkeypatch.setattr(script, "ROOT", tmp_path)
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    ran = []
    monkeypatch.setattr(script, "run", lambda cmd, log: ran.append(cmd))

    script.tune_cells(NAME, ["bcl"], tmp_path / "runs", jobs=1)

    # cells: (0.7, 0.05) recorded, (0.9, 0.05) the untuned run: two left
    assert [cmd[-1].rsplit("/", 1)[1] for cmd in ran] == [
        "loss.alpha=0.7,loss.tau_plus=0.15",
        "loss.alpha=0.9,loss.tau_plus=0.15",
    ]
    assert all(cmd[cmd.index("--seeds") + 1] == "1" for cmd in ran)


def test_an_unknown_loss_is_one_line_naming_the_plans_losses(capsys):
    with pytest.raises(SystemExit):
        script.main([NAME, "collect", "--losses", "nope"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--losses: yelp-mf-tuned has no ['nope']" in err and "'bcl'" in err
