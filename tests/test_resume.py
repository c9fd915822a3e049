"""Interrupted runs: checkpoints, ``--resume``, Ctrl-C / SIGTERM, divergence, run-folder safety.

The fast tests train on a small synthetic log written as a CSV file, in-process; an interruption
there is a stop request that fires after a given number of steps (what the first Ctrl-C does).
The slow ones run ``python -m bcl_rec train`` on MovieLens-100K in a subprocess and kill it.
A resumed run must end with the bytes of ``model.pt`` and the metrics of an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import bcl_rec.training.interrupt as interrupt_module
from bcl_rec.cli.main import main
from bcl_rec.losses.bpr import BPRLoss
from bcl_rec.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]

SMALL = {
    "model": {"dim": 8},
    "loss": {"name": "bcl", "alpha": "auto", "num_negatives": 4},
    "train": {"epochs": 6, "batch_size": 64, "lr": 0.02, "patience": 6, "device": "cpu",
              "progress": False},
}
STEPS_PER_EPOCH = 6  # 360 training pairs in batches of 64

VARIANTS = {
    "mf-bcl-auto": {},
    "lightgcn-bcl-auto": {"model": {"name": "lightgcn"}},
    "sampled-reference": {"loss": {"ecdf_source": "catalogue", "ecdf_sample": 6}},
    "dpl-extras": {"loss": {"name": "dpl", "num_extras": 2, "alpha": 0.9}},
    "linear-alpha-eval-every-2": {"loss": {"alpha": 0.9, "alpha_schedule": "linear"},
                                  "train": {"eval_every": 2, "checkpoint_every": 2}},
    "skip-step-early-stop": {"train": {"on_nonfinite": "skip_step", "patience": 1}},
}


@pytest.fixture(scope="module")
def log_csv(tmp_path_factory) -> Path:
    """60 users in 4 clusters of 10 items, 8 interactions each (as tests/test_training.py)."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(60):
        pool = np.arange((u % 4) * 10, (u % 4) * 10 + 10)
        rows += [(u, int(i), t) for t, i in enumerate(rng.choice(pool, size=8, replace=False))]
    path = tmp_path_factory.mktemp("data") / "log.csv"
    pd.DataFrame(rows, columns=["user", "item", "timestamp"]).to_csv(path, index=False)
    return path


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BCL_REC_CACHE", str(tmp_path / "cache"))


def merge(base: dict, extra: dict) -> dict:
    out = {k: dict(v) for k, v in base.items()}
    for section, values in extra.items():
        out.setdefault(section, {}).update(values)
    return out


def write_config(path: Path, log_csv: Path, extra: dict | None = None) -> Path:
    config = merge(SMALL, {"data": {"name": str(log_csv)}, **(extra or {})})
    path.write_text(yaml.safe_dump(merge(config, {})))
    return path


class StopAfter(interrupt_module.StopRequest):
    """A stop request that fires (as SIGINT) at the ``checks``-th check, i.e. after that many
    training steps (fit also checks once at each epoch start)."""

    def __init__(self, checks: int) -> None:
        super().__init__()
        self.left = checks

    @property
    def requested(self) -> bool:
        self.left -= 1
        if self.left <= 0 and self.signum is None:
            self.signum = signal.SIGINT
        return self.signum is not None


def assert_same_run(done: Path, reference: Path) -> None:
    """The same model.pt bytes, metrics (timings aside) and history (timings aside)."""
    assert (done / "model.pt").read_bytes() == (reference / "model.pt").read_bytes()
    a, b = (json.loads((p / "metrics.json").read_text()) for p in (done, reference))
    a.pop("seconds"), b.pop("seconds")
    assert a == b
    timing = ["train_seconds", "eval_seconds"]
    ha, hb = (pd.read_csv(p / "history.csv").drop(columns=timing, errors="ignore")
              for p in (done, reference))
    pd.testing.assert_frame_equal(ha, hb, check_exact=True)
    assert not (done / "checkpoint.pt").exists()
    assert not list(done.glob(".*.tmp"))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("checks", [3, 2 * STEPS_PER_EPOCH + 1, STEPS_PER_EPOCH + 2])
def test_interrupt_then_resume_is_bit_identical(variant, checks, log_csv, tmp_path, monkeypatch,
                                                capsys):
    """Stopped after a step (mid-epoch) or at an epoch's first check (its boundary), resumed."""
    config = write_config(tmp_path / "c.yaml", log_csv, VARIANTS[variant])
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "ref")]) == 0
    capsys.readouterr()
    with monkeypatch.context() as m:
        m.setattr(interrupt_module, "StopRequest", lambda: StopAfter(checks))
        assert main(["train", "--config", str(config), "--out", str(tmp_path / "run")]) == 130
    err = capsys.readouterr().err
    assert f"continue with: bcl-rec train --resume {tmp_path / 'run'}" in err
    checkpoint = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert not (tmp_path / "run" / "metrics.json").exists()
    assert main(["train", "--resume", str(tmp_path / "run")]) == 0
    assert "resuming from the checkpoint at" in capsys.readouterr().err
    assert checkpoint["epoch"] >= 1 or checkpoint["partial"]["steps"] >= 1
    assert_same_run(tmp_path / "run", tmp_path / "ref")


def test_checkpoint_content(log_csv, tmp_path, monkeypatch):
    """A mid-epoch checkpoint holds the epoch in progress, and only plain values and tensors."""
    config = write_config(tmp_path / "c.yaml", log_csv)
    monkeypatch.setattr(interrupt_module, "StopRequest", lambda: StopAfter(STEPS_PER_EPOCH + 4))
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run")]) == 130
    checkpoint = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    # checks: epoch 1 start, 6 steps, epoch 2 start, then 2 steps of epoch 2
    assert checkpoint["epoch"] == 1
    assert checkpoint["partial"]["epoch"] == 2 and checkpoint["partial"]["steps"] == 2
    assert checkpoint["generator"].dtype == torch.uint8
    assert isinstance(checkpoint["alpha"]["alpha"], float)
    assert checkpoint["best"]["epoch"] == 1 and len(checkpoint["history"]) == 1
    assert set(checkpoint["best"]["model"]) == {"user_embedding", "item_embedding"}
    assert checkpoint["config"]["loss"]["alpha"] == "auto"
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert list(history["epoch"]) == [1]
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["train"]["epochs"] == 6


def test_total_seconds_count_the_processes_before_a_resume(log_csv, tmp_path, monkeypatch):
    """metrics.json's seconds.total is the run's, not only the last process's: the checkpoint
    carries the seconds spent so far and the resumed process adds its own."""
    config = write_config(tmp_path / "c.yaml", log_csv)
    with monkeypatch.context() as m:
        m.setattr(interrupt_module, "StopRequest", lambda: StopAfter(STEPS_PER_EPOCH + 4))
        assert main(["train", "--config", str(config), "--out", str(tmp_path / "run")]) == 130
    path = tmp_path / "run" / "checkpoint.pt"
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["seconds"] > 0
    checkpoint["seconds"] = 1000.0  # as if the first process had run for 1000 s
    torch.save(checkpoint, path)
    t0 = time.perf_counter()
    assert main(["train", "--resume", str(tmp_path / "run")]) == 0
    resumed = time.perf_counter() - t0
    total = json.loads((tmp_path / "run" / "metrics.json").read_text())["seconds"]["total"]
    assert 1000.0 < total <= 1000.0 + resumed


def test_checkpoint_every_zero_writes_none(log_csv, tmp_path, monkeypatch):
    config = write_config(tmp_path / "c.yaml", log_csv, {"train": {"checkpoint_every": 0}})
    written = []
    monkeypatch.setattr("bcl_rec.run_folder.RunFolder.write_checkpoint",
                        lambda self, c: written.append(c["epoch"]))
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run")]) == 0
    assert written == []
    config = write_config(tmp_path / "c.yaml", log_csv, {"train": {"checkpoint_every": 4}})
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run2")]) == 0
    assert written == [4, 6]  # every 4 epochs, and when fitting ends


def test_resume_finished_run(log_csv, tmp_path, capsys):
    config = write_config(tmp_path / "c.yaml", log_csv, {"train": {"epochs": 2}})
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run")]) == 0
    before = (tmp_path / "run" / "model.pt").read_bytes()
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "run")]) == 0
    assert capsys.readouterr().err == (
        f"bcl-rec: {tmp_path / 'run'} is already complete (metrics.json is written): "
        "nothing to resume\n"
    )
    assert (tmp_path / "run" / "model.pt").read_bytes() == before


@pytest.fixture
def interrupted(log_csv, tmp_path, monkeypatch) -> Path:
    config = write_config(tmp_path / "c.yaml", log_csv)
    with monkeypatch.context() as m:
        m.setattr(interrupt_module, "StopRequest", lambda: StopAfter(STEPS_PER_EPOCH + 4))
        assert main(["train", "--config", str(config), "--out", str(tmp_path / "run")]) == 130
    return tmp_path / "run"


def test_resume_refuses_changed_keys(interrupted, capsys):
    capsys.readouterr()
    args = ["train", "--resume", str(interrupted), "--set", "loss.alpha=0.8",
            "--set", "train.lr=0.5"]
    assert main(args) == 2
    assert capsys.readouterr().err == (
        f"bcl-rec: error: cannot resume {interrupted} with a changed config: "
        "loss.alpha ('auto' -> 0.8), train.lr (0.02 -> 0.5); only train.checkpoint_every, "
        "train.epochs, train.patience, train.progress, train.tensorboard may change (start a new "
        "run for the others)\n"
    )
    # an edited config.yaml is compared with the checkpoint's config
    path = interrupted / "config.yaml"
    path.write_text(path.read_text().replace("dim: 8", "dim: 16"))
    assert main(["train", "--resume", str(interrupted)]) == 2
    assert "model.dim (8 -> 16)" in capsys.readouterr().err
    assert not (interrupted / "metrics.json").exists()


def test_resume_with_more_epochs(interrupted, log_csv, tmp_path, capsys):
    """train.epochs may change on resume: the run equals one configured that way from the start."""
    config = write_config(tmp_path / "c8.yaml", log_csv, {"train": {"epochs": 8}})
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "ref")]) == 0
    assert main(["train", "--resume", str(interrupted), "--set", "train.epochs=8"]) == 0
    assert_same_run(interrupted, tmp_path / "ref")
    assert yaml.safe_load((interrupted / "config.yaml").read_text())["train"]["epochs"] == 8


def test_divergence_is_one_line(log_csv, tmp_path, capsys):
    config = write_config(tmp_path / "c.yaml", log_csv, {"train": {"lr": 1e20}})
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("bcl-rec: training mf + bcl on ")
    assert len(err) == 2
    assert re.fullmatch(
        r"bcl-rec: error: training diverged at epoch 1, step 2: the scores became non-finite "
        r"\(pos contains NaN or \+-inf scores\); step 1: loss [-0-9.e+]+, mean_weight .*; "
        r"lower train.lr \(now 1e\+20\); no checkpoint had been written yet",
        err[1],
    ), err[1]
    assert not (tmp_path / "run" / "metrics.json").exists()
    assert not (tmp_path / "run" / "model.pt").exists()


def test_divergence_keeps_last_checkpoint(log_csv, tmp_path, monkeypatch, capsys):
    """Weights poisoned after epoch 3's second step: the run stops at the next step, naming it;
    the checkpoint of epoch 2 (with the best weights so far) is kept."""
    config = write_config(tmp_path / "c.yaml", log_csv)
    real_update, calls = Trainer.update, []

    def poisoning_update(self, *args):
        out = real_update(self, *args)
        calls.append(1)
        if len(calls) == 2 * STEPS_PER_EPOCH + 2:
            with torch.no_grad():
                self.model.user_embedding.fill_(float("inf"))
        return out

    monkeypatch.setattr(Trainer, "update", poisoning_update)
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run")]) == 1
    line = capsys.readouterr().err.splitlines()[-1]
    assert line.startswith("bcl-rec: error: training diverged at epoch 3, step 3: the scores "
                           "became non-finite (pos contains NaN or +-inf scores); step 2: loss ")
    path = tmp_path / "run" / "checkpoint.pt"
    assert line.endswith(f"; lower train.lr (now 0.02); kept: the checkpoint of epoch 2 with the "
                         f"best weights so far (epoch 2) in {path}")
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["epoch"] == 2 and checkpoint["partial"] is None
    assert all(bool(t.isfinite().all()) for t in checkpoint["best"]["model"].values())
    assert list(pd.read_csv(tmp_path / "run" / "history.csv")["epoch"]) == [1, 2]


def nan_loss_at(monkeypatch, call: int) -> None:
    """BPR's loss becomes NaN at its ``call``-th evaluation (its inputs stay finite)."""
    real, calls = BPRLoss.compute, []

    def compute(self, *args):
        out = real(self, *args)
        calls.append(1)
        if len(calls) == call:
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(BPRLoss, "compute", compute)


def test_nonfinite_loss_stops_or_skips(log_csv, tmp_path, monkeypatch, capsys):
    extra = {"loss": {"name": "bpr", "alpha": 0.9}, "train": {"epochs": 3}}
    config = write_config(tmp_path / "c.yaml", log_csv, extra)
    nan_loss_at(monkeypatch, STEPS_PER_EPOCH + 3)
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "stop")]) == 1
    line = capsys.readouterr().err.splitlines()[-1]
    # the NaN gradient of step 3 makes the weights NaN, which step 4's scores show
    assert line.startswith("bcl-rec: error: training diverged at epoch 2, step 4: the scores "
                           "became non-finite (pos contains NaN or +-inf scores); step 3: loss nan")

    extra["train"]["on_nonfinite"] = "skip_step"
    config = write_config(tmp_path / "c.yaml", log_csv, extra)
    nan_loss_at(monkeypatch, STEPS_PER_EPOCH + 3)
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "skip")]) == 0
    history = pd.read_csv(tmp_path / "skip" / "history.csv")
    assert list(history["skipped_steps"]) == [0, 1, 0]
    assert np.isfinite(history["loss"]).all()
    state = torch.load(tmp_path / "skip" / "model.pt", weights_only=True)
    assert all(bool(t.isfinite().all()) for t in state.values())


def test_out_holding_a_run_is_refused_unless_overwrite(log_csv, tmp_path, capsys):
    config = write_config(tmp_path / "c.yaml", log_csv, {"train": {"epochs": 1}})
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(out)]) == 0
    (out / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert main(["train", "--config", str(config), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"bcl-rec: error: --out {out} already holds a run (config.yaml, history.csv, model.pt, "
        f"metrics.json); choose another --out, add --overwrite to replace it, or continue it "
        f"with --resume {out}\n"
    )
    config = write_config(tmp_path / "c.yaml", log_csv, {"train": {"epochs": 2}})
    assert main(["train", "--config", str(config), "--out", str(out), "--overwrite"]) == 0
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 2
    assert (out / "notes.txt").read_text() == "mine"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["train", "--config", str(config), "--out", str(empty)]) == 0


def no_training(*args, **kwargs):
    raise AssertionError("the data was loaded before the run folder was checked")


def test_out_under_a_file_is_found_before_training(log_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("bcl_rec.training.run.load_split", no_training)
    config = write_config(tmp_path / "c.yaml", log_csv)
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "run"
    assert main(["train", "--config", str(config), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"bcl-rec: error: cannot write the run folder {out}: Not a directory\n"
    )


def test_read_only_out_is_found_before_training(log_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("bcl_rec.training.run.load_split", no_training)
    config = write_config(tmp_path / "c.yaml", log_csv)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions
            pytest.skip("permissions do not stop this user (root): see the under-a-file test")
        assert main(["train", "--config", str(config), "--out", str(locked / "run")]) == 2
        assert capsys.readouterr().err == (
            f"bcl-rec: error: cannot write the run folder {locked / 'run'}: Permission denied\n"
        )
    finally:
        locked.chmod(0o755)


# --- slow: a real process on MovieLens-100K, killed -------------------------------------------

ML_SETS = ["train.epochs=4", "model.dim=8", "loss.alpha=auto", "train.device=cpu",
           "train.batch_size=512"]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "bcl_rec", "train", *args]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def sets(model: str) -> list[str]:
    return [arg for s in [*ML_SETS, f"model.name={model}"] for arg in ("--set", s)]


@pytest.fixture(scope="module")
def ml_cache(tmp_path_factory, ml100k) -> Path:
    return tmp_path_factory.mktemp("ml-cache")


@pytest.fixture(scope="module")
def ml_reference(tmp_path_factory, ml_cache):
    """Uninterrupted runs, one per model, made once."""
    made: dict[str, Path] = {}

    def get(model: str) -> Path:
        if model not in made:
            out = tmp_path_factory.mktemp("ref") / model
            subprocess.run(cli(*sets(model), "--out", str(out)), env=ml_env(ml_cache),
                           check=True, capture_output=True)
            made[model] = out
        return made[model]

    return get


def ml_env(cache: Path) -> dict[str, str]:
    return {**env(), "BCL_REC_CACHE": str(cache)}


def wait_for_epochs(out: Path, epochs: int, proc: subprocess.Popen, timeout: float = 300) -> None:
    """Until history.csv lists ``epochs`` epochs (written after that epoch's checkpoint)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if len(pd.read_csv(out / "history.csv")) >= epochs:
                return
        except (FileNotFoundError, pd.errors.EmptyDataError):
            pass
        time.sleep(0.02)
    raise AssertionError(f"no epoch {epochs} in {timeout}s")


def resume(out: Path, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cli("--resume", str(out)), env=ml_env(cache), capture_output=True,
                          text=True)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["mf", "lightgcn"])
def test_sigkill_mid_epoch_then_resume(model, tmp_path, ml_cache, ml_reference):
    out = tmp_path / "run"
    proc = subprocess.Popen(cli(*sets(model), "--out", str(out)), env=ml_env(ml_cache),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_epochs(out, 2, proc)
    proc.kill()  # during epoch 3, unless the machine is very fast; the outcome must not differ
    proc.wait()
    epochs = len(pd.read_csv(out / "history.csv"))
    assert torch.load(out / "checkpoint.pt", weights_only=True)["epoch"] == epochs >= 2
    assert not (out / "metrics.json").exists()
    done = resume(out, ml_cache)
    assert done.returncode == 0, done.stderr
    assert_same_run(out, ml_reference(model))


# kills the process when checkpoint.pt of epoch 3 is complete in its temporary file, not renamed
KILL_BEFORE_THIRD_RENAME = """
import os, signal, sys
real_replace, renames = os.replace, []
def replace(src, dst, *args, **kwargs):
    if str(dst).endswith("checkpoint.pt"):
        renames.append(dst)
        if len(renames) == 3:
            os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst, *args, **kwargs)
os.replace = replace
from bcl_rec.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_killed_while_writing_a_checkpoint(tmp_path, ml_cache, ml_reference):
    out = tmp_path / "run"
    args = [sys.executable, "-c", KILL_BEFORE_THIRD_RENAME, "train", *sets("mf"), "--out",
            str(out)]
    proc = subprocess.run(args, env=ml_env(ml_cache), capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert (out / ".checkpoint.pt.tmp").is_file()  # the new one, never renamed
    assert torch.load(out / "checkpoint.pt", weights_only=True)["epoch"] == 2
    done = resume(out, ml_cache)
    assert done.returncode == 0, done.stderr
    assert_same_run(out, ml_reference("mf"))


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_cleanly_then_resumes(signum, code, tmp_path, ml_cache, ml_reference):
    out = tmp_path / "run"
    proc = subprocess.Popen(cli(*sets("mf"), "--out", str(out)), env=ml_env(ml_cache),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_epochs(out, 1, proc)
    time.sleep(0.1)  # into epoch 2's steps
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert f"bcl-rec: continue with: bcl-rec train --resume {out}\n" in err
    checkpoint = torch.load(out / "checkpoint.pt", weights_only=True)
    assert checkpoint["epoch"] >= 1 and not (out / "metrics.json").exists()
    done = resume(out, ml_cache)
    assert done.returncode == 0, done.stderr
    assert_same_run(out, ml_reference("mf"))


@pytest.mark.slow
def test_second_ctrl_c_exits_at_once(tmp_path, ml_cache):
    out = tmp_path / "run"
    proc = subprocess.Popen(cli(*sets("mf"), "--out", str(out)), env=ml_env(ml_cache),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_epochs(out, 1, proc)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    checkpoint = torch.load(out / "checkpoint.pt", weights_only=True)  # a complete one
    assert checkpoint["epoch"] >= 1
