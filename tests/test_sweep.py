"""``bcl-rec sweep``: cells, random search, restart after an interruption, summary, error lines."""

from __future__ import annotations

import json
import math
import signal
import statistics

import numpy as np
import pytest
import torch
import yaml

from bcl_rec.cli.main import main
from bcl_rec.config import load_config
from bcl_rec.training import sweep
from bcl_rec.training.interrupt import RunInterrupted, StopRequest
from bcl_rec.training.sweep import RUN_FILES

GRID = ["--grid", "loss.temperature=0.5,1.0", "--grid", "loss.name=bpr,bcl"]


@pytest.fixture
def base(tmp_path, monkeypatch):
    """A base config over a small clustered interaction log written as CSV in ``tmp_path``."""
    monkeypatch.setenv("BCL_REC_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    lines = ["user,item,timestamp"]
    for user in range(60):
        pool = np.arange(user % 4 * 10, user % 4 * 10 + 10)
        for t, item in enumerate(rng.choice(pool, size=8, replace=False)):
            lines.append(f"{user},{item},{t}")
    (tmp_path / "log.csv").write_text("\n".join(lines) + "\n")
    config = {
        "data": {"name": str(tmp_path / "log.csv")},
        "model": {"dim": 8},
        "loss": {"num_negatives": 4},
        "train": {"epochs": 2, "batch_size": 64, "lr": 0.02, "device": "cpu"},
    }
    path = tmp_path / "base.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def sweep_args(base, out, *extra):
    return ["sweep", str(base), *GRID, "--out", str(out), *extra]


def test_grid_cells_follow_set_value_rules(base):
    grid = sweep.parse_grid(["loss.temperature=0.05,0.1", "eval.topk=[10, 20],[5, 10]"])
    assert grid == [("loss.temperature", ["0.05", "0.1"]), ("eval.topk", ["[10, 20]", "[5, 10]"])]
    cells = sweep.grid_cells(grid)
    assert cells == [
        ("loss.temperature=0.05", "eval.topk=[10, 20]"),
        ("loss.temperature=0.05", "eval.topk=[5, 10]"),
        ("loss.temperature=0.1", "eval.topk=[10, 20]"),
        ("loss.temperature=0.1", "eval.topk=[5, 10]"),
    ]
    plan = sweep.plan_sweep(base, ["model.dim=4"], cells, (1, 2), ["loss.temperature", "eval.topk"])
    assert len(plan.cells) == 8
    last = plan.cells[-1]
    assert last.index == 8 and last.seed == 2
    assert last.folder == "loss.temperature=0.1,eval.topk=_5__10_,seed=2"
    expected = load_config(
        base,
        ["train.progress=false", "model.dim=4", "loss.temperature=0.1", "eval.topk=[5, 10]",
         "train.seed=2"],
    )
    assert last.config == expected
    assert last.config.eval.topk == (5, 10) and last.config.loss.temperature == 0.1


def test_folder_names_stay_distinct_after_sanitising(base):
    cells = sweep.grid_cells(sweep.parse_grid(["train.device='cpu',\"cpu\""]))
    plan = sweep.plan_sweep(base, [], cells, None, ["train.device"])
    folders = [c.folder for c in plan.cells]
    assert len(set(folders)) == 2  # both sanitise to train.device=_cpu_: a hash tells them apart
    assert all(f.startswith("train.device=_cpu_-") and len(f) == 27 for f in folders)


def test_random_search_reproducible_from_its_seed():
    spaces = [
        sweep.parse_space("train.lr=log:1e-4:1e-2"),
        sweep.parse_space("loss.beta=0.5:1.0"),
        sweep.parse_space("model.dim=int:4:6"),
        sweep.parse_space("loss.name=bcl,ssm"),
    ]
    assert [s.kind for s in spaces] == ["log", "uniform", "int", "choice"]
    a = sweep.random_cells(spaces, 20, search_seed=7)
    assert a == sweep.random_cells(spaces, 20, search_seed=7)
    assert a != sweep.random_cells(spaces, 20, search_seed=8)
    values = [dict(o.split("=", 1) for o in cell) for cell in a]
    lrs = [float(yaml.safe_load(v["train.lr"])) for v in values]
    assert all(1e-4 <= lr <= 1e-2 for lr in lrs)
    # log-uniform: the log10 of the draws spread over (-4, -2), not bunched near 1e-2
    assert min(lrs) < 1e-3 < max(lrs)
    assert all(0.5 <= float(v["loss.beta"]) <= 1.0 for v in values)
    assert {v["model.dim"] for v in values} == {"4", "5", "6"}
    assert {v["loss.name"] for v in values} == {"bcl", "ssm"}


def test_random_floats_read_back_exactly_as_yaml():
    for value in (1e-05, 3.162e-07, 0.0002992, 2.5e20):
        text = sweep._float_text(value)
        assert isinstance(yaml.safe_load(text), float) and yaml.safe_load(text) == value


def test_repeated_random_draws_are_kept_once():
    cells = sweep.random_cells([sweep.parse_space("loss.name=bcl,ssm")], 10, search_seed=0)
    assert sorted(cells) == [("loss.name=bcl",), ("loss.name=ssm",)]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--grid", "los.temperature=0.1"],
            "--grid los.temperature: unknown section 'los' (did you mean 'loss'?); valid sections: "
            "data, model, loss, train, eval",
        ),
        (
            ["--grid", "loss.temperature=0.1,-1", "--grid", "loss.name=bpr"],
            "cell 2/2 (loss.temperature=-1,loss.name=bpr): --set loss.temperature=-1: "
            "loss.temperature must be a finite number > 0, got -1.0",
        ),
        (
            ["--grid", "loss.num_negatives=4,abc"],
            "cell 2/2 (loss.num_negatives=abc): --set loss.num_negatives=abc: "
            "loss.num_negatives must be an integer, got 'abc'",
        ),
        (["--grid", "loss.name="], "--grid expects section.key=VALUES, got 'loss.name='"),
        (["--grid", "loss.name=bpr", "--grid", "loss.name=bcl"], "--grid loss.name is given twice"),
        (["--random", "3", "--space", "train.lr=log:0:1"],
         "--space train.lr: log bounds must be > 0, got 'log:0:1'"),
        (["--random", "3", "--space", "model.dim=int:4"],
         "--space model.dim: expected int:LOW:HIGH, got 'int:4'"),
        (["--random", "3", "--space", "loss.beta=1:0.5"],
         "--space loss.beta: LOW must be below HIGH, got '1:0.5'"),
        (["--space", "loss.beta=0:1"], "--space needs --random N (the number of cells to draw)"),
        (["--random", "2", "--grid", "loss.name=bpr"],
         "use either --grid or --random with --space, not both"),
        (["--seeds", "1,x"], "--seeds expects integers separated by commas, got '1,x'"),
        (["--grid", "eval.metric=ndcg@10,recall@10"],
         "eval.metric must be the same in every cell, got ['ndcg@10', 'recall@10']"),
    ],
)
def test_error_lines(base, tmp_path, capsys, monkeypatch, args, line):
    monkeypatch.setattr(sweep, "train_run", _no_training)
    out = tmp_path / "sweep"
    assert main(["sweep", str(base), *args, "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"bcl-rec: error: {line}\n"
    assert not out.exists()  # every cell is validated before anything is written or trained


def test_unknown_key_error_lists_valid_keys(base, tmp_path, capsys):
    assert main(["sweep", str(base), "--grid", "loss.temprature=0.1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "bcl-rec: error: --grid loss.temprature: unknown key loss.temprature (did you mean "
        "loss.temperature?); "
    )
    assert err.endswith(", loss.weights\n") and err.count("\n") == 1


def test_folder_of_another_config_is_an_error(base, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sweep, "train_run", _no_training)
    out = tmp_path / "sweep"
    folder = out / "loss.temperature=0.5,loss.name=bcl"
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("loss:\n  name: bcl\n")
    assert main(sweep_args(base, out)) == 2
    assert capsys.readouterr().err == (
        f"bcl-rec: error: {folder} holds a run of a different config (cell 2 "
        "loss.temperature=0.5,loss.name=bcl); use another --out or --overwrite\n"
    )


def _no_training(*args, **kwargs):
    raise AssertionError("no cell may train here")


def read_runs(out):
    """Every run folder's metrics.json and config.yaml, read independently of the sweep code."""
    runs = {}
    for cell in json.loads((out / "cells.json").read_text())["cells"]:
        folder = out / cell["folder"]
        if (folder / "model.pt").is_file():
            runs[cell["cell"]] = (
                json.loads((folder / "metrics.json").read_text()),
                yaml.safe_load((folder / "config.yaml").read_text()),
            )
    return runs


def snapshot(folder):
    return {name: ((folder / name).stat().st_mtime_ns, (folder / name).read_bytes())
            for name in RUN_FILES}


@pytest.mark.slow
def test_interrupted_sweep_restarts_where_it_stopped(base, tmp_path, capsys, monkeypatch):
    out = tmp_path / "sweep"
    real_train = sweep.train_run
    calls = []

    def train_then_interrupt(config, *args, **kwargs):
        calls.append(config)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the sweep is killed while cell 2 trains
        return real_train(config, *args, **kwargs)

    monkeypatch.setattr(sweep, "train_run", train_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        main(sweep_args(base, out))
    first = out / "loss.temperature=0.5,loss.name=bpr"
    assert capsys.readouterr().out.startswith(
        "cell 1/4 loss.temperature=0.5,loss.name=bpr valid ndcg@10 "
    )
    summary = json.loads((out / "summary.json").read_text())
    assert [r["cell"] for r in summary["runs"]] == [1] and summary["cells"] == 4
    before = snapshot(first)

    calls.clear()
    monkeypatch.setattr(sweep, "train_run", real_train)
    assert main(sweep_args(base, out)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "cell 1/4 loss.temperature=0.5,loss.name=bpr skipped (finished)"
    assert [line.split(" valid ")[0] for line in lines[1:4]] == [
        "cell 2/4 loss.temperature=0.5,loss.name=bcl",
        "cell 3/4 loss.temperature=1.0,loss.name=bpr",
        "cell 4/4 loss.temperature=1.0,loss.name=bcl",
    ]
    assert snapshot(first) == before  # not retrained

    runs = read_runs(out)
    assert sorted(runs) == [1, 2, 3, 4]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished"] == 4 and summary["varied"] == ["loss.temperature", "loss.name"]
    expected = sorted(
        (
            {
                "cell": cell,
                "folder": f"loss.temperature={cfg['loss']['temperature']},"
                f"loss.name={cfg['loss']['name']}",
                "params": {"loss.temperature": cfg["loss"]["temperature"],
                           "loss.name": cfg["loss"]["name"]},
                "seed": cfg["train"]["seed"],
                "best_epoch": metrics["best_epoch"],
                "valid": metrics["valid"]["ndcg@10"],
                "test": metrics["test"],
            }
            for cell, (metrics, cfg) in runs.items()
        ),
        key=lambda r: (-r["valid"], r["cell"]),
    )
    assert summary["runs"] == expected
    table = (out / "summary.md").read_text().splitlines()
    assert table[0] == "4 of 4 cells finished; sorted by valid ndcg@10."
    body = [line.split(" | ") for line in table[4:8]]
    assert [int(row[0].strip("| ")) for row in body] == [r["cell"] for r in expected]
    assert [row[5] for row in body] == [f"{r['valid']:.4f}" for r in expected]
    assert "aggregate" not in summary

    # a finished cell whose folder lost a file is run again; the others are skipped
    (out / "loss.temperature=1.0,loss.name=bpr" / "model.pt").unlink()
    assert main(sweep_args(base, out)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.endswith("skipped (finished)") for line in lines[:4]] == [
        True, True, False, True
    ]
    assert snapshot(first) == before


class StopAfter(StopRequest):
    """A stop request that arrives after ``checks`` reads of it (the trainer reads it after
    every step and at every epoch start), as a SIGTERM would."""

    def __init__(self, checks: int) -> None:
        super().__init__()
        self.left = checks

    @property
    def requested(self) -> bool:
        self.left -= 1
        if self.left < 0:
            self.signum = signal.SIGTERM
        return self.signum is not None


@pytest.mark.slow
def test_a_cell_stopped_mid_epoch_continues_from_its_checkpoint_bit_for_bit(base, tmp_path):
    plan = sweep.plan_sweep(base, ["train.epochs=3"], sweep.grid_cells([]), None, [])
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    sweep.run_sweep(plan, whole, log=lambda line: None)
    lines: list[str] = []
    with pytest.raises(RunInterrupted) as info:  # 6 steps an epoch: stops inside epoch 2
        sweep.run_sweep(plan, stopped, log=lines.append, stop=StopAfter(8))
    assert info.value.checkpointed and info.value.epoch == 2 and info.value.step >= 1
    folder = stopped / plan.cells[0].folder
    assert lines == [
        f"cell 1/1 (base config) interrupted at epoch 2, step {info.value.step}: checkpoint in "
        f"{folder / 'checkpoint.pt'}"
    ]
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint.pt", "config.yaml",
                                                        "history.csv"]
    assert len((folder / "history.csv").read_text().splitlines()) == 2  # header, epoch 1

    lines.clear()
    summary = sweep.run_sweep(plan, stopped, log=lines.append)
    assert lines[0] == f"cell 1/1 (base config) continues from {folder / 'checkpoint.pt'}"
    assert summary["finished"] == 1 and not (folder / "checkpoint.pt").exists()
    (a, _), (b, _) = read_runs(whole)[1], read_runs(stopped)[1]
    for key in ("best_epoch", "epochs", "valid", "test"):
        assert a[key] == b[key]
    for name, tensor in torch.load(whole / plan.cells[0].folder / "model.pt").items():
        assert torch.equal(tensor, torch.load(folder / "model.pt")[name])


def test_a_stopped_sweep_says_how_to_continue(base, tmp_path, capsys, monkeypatch):
    def stopped(*args, **kwargs):
        raise RunInterrupted(signal.SIGTERM, 2, 1, True)

    monkeypatch.setattr(sweep, "run_sweep", stopped)
    assert main(sweep_args(base, tmp_path / "out")) == 128 + signal.SIGTERM
    assert capsys.readouterr().out == "rerun the same command to continue the sweep\n"


@pytest.mark.slow
def test_seeds_give_per_cell_aggregate(base, tmp_path, capsys):
    out = tmp_path / "sweep"
    args = ["sweep", str(base), "--grid", "loss.name=bpr,bcl", "--seeds", "1,2", "--set",
            "train.epochs=1", "--out", str(out)]
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith(
        "cell 2/4 loss.name=bpr,seed=2 valid ndcg@10 "
    )
    runs = read_runs(out)
    assert sorted(cfg["train"]["seed"] for _, cfg in runs.values()) == [1, 1, 2, 2]
    summary = json.loads((out / "summary.json").read_text())
    aggregate = summary["aggregate"]
    for row in aggregate:
        mine = [m for m, cfg in runs.values() if cfg["loss"]["name"] == row["params"]["loss.name"]]
        valid = [m["valid"]["ndcg@10"] for m in mine]
        assert row["n"] == 2 and sorted(row["seeds"]) == [1, 2]
        assert row["valid"]["mean"] == pytest.approx(sum(valid) / 2, abs=1e-15)
        assert row["valid"]["std"] == pytest.approx(abs(valid[0] - valid[1]) / math.sqrt(2))
        recall = [m["test"]["recall@10"] for m in mine]
        assert row["test"]["recall@10"]["mean"] == pytest.approx(statistics.fmean(recall))
    means = [row["valid"]["mean"] for row in aggregate]
    assert means == sorted(means, reverse=True)


@pytest.mark.slow
def test_random_search_runs_its_draws(base, tmp_path, capsys):
    out = tmp_path / "sweep"
    args = ["sweep", str(base), "--random", "2", "--space", "train.lr=log:1e-3:1e-1",
            "--space", "loss.name=bpr,bcl", "--search-seed", "5", "--set", "train.epochs=1",
            "--out", str(out)]
    assert main(args) == 0
    drawn = sweep.random_cells(
        [sweep.parse_space("train.lr=log:1e-3:1e-1"), sweep.parse_space("loss.name=bpr,bcl")],
        2, search_seed=5,
    )
    cells = json.loads((out / "cells.json").read_text())["cells"]
    assert [tuple(c["overrides"]) for c in cells] == drawn
    for cell, (_, cfg) in read_runs(out).items():
        lr_text, name_text = (o.split("=", 1)[1] for o in drawn[cell - 1])
        assert cfg["train"]["lr"] == yaml.safe_load(lr_text) and cfg["loss"]["name"] == name_text
    capsys.readouterr()


@pytest.mark.slow
def test_overwrite_reruns_a_folder_of_another_config(base, tmp_path, capsys):
    out = tmp_path / "sweep"
    folder = out / "loss.name=bpr"
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("loss:\n  name: bcl\n")
    (folder / "metrics.json").write_text('{"stale": true}\n')
    args = ["sweep", str(base), "--grid", "loss.name=bpr", "--set", "train.epochs=1",
            "--out", str(out)]
    assert main(args) == 2
    assert main([*args, "--overwrite"]) == 0
    assert capsys.readouterr().out.startswith("cell 1/1 loss.name=bpr valid ndcg@10 ")
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["epochs"] == 1 and load_config(folder / "config.yaml").loss.name == "bpr"
