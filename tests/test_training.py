"""End-to-end training on a small synthetic log, the run folder, reproducibility, alpha control."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from bcl_rec.cli.main import main
from bcl_rec.config import load_config
from bcl_rec.data.interactions import Interactions
from bcl_rec.data.split import leave_one_out
from bcl_rec.losses import LossConfig, build_loss
from bcl_rec.training.alpha import AlphaController
from bcl_rec.training.run import train_run, write_run


def synthetic_split(seed=0, n_users=60, n_items=40):
    """Users prefer items of their own cluster, so a model can learn something."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        cluster = u % 4
        pool = np.arange(cluster * 10, cluster * 10 + 10)
        items = rng.choice(pool, size=8, replace=False)
        for t, i in enumerate(items):
            rows.append((u, int(i), t))
    raw = pd.DataFrame(rows, columns=["user", "item", "timestamp"])
    return leave_one_out(Interactions.from_raw(raw))


def small_config(*overrides):
    base = ["train.epochs=15", "train.batch_size=64", "train.lr=0.02", "train.progress=false",
            "model.dim=8", "loss.num_negatives=4", "train.patience=15", "train.device=cpu"]
    return load_config(None, [*base, *overrides])


@pytest.mark.parametrize("model", ["mf", "lightgcn"])
@pytest.mark.parametrize("loss", ["bpr", "bcl"])
def test_trains_and_beats_random(model, loss):
    split = synthetic_split()
    result = train_run(small_config(f"model.name={model}", f"loss.name={loss}"), split=split)
    # 40 items, ~33 candidates: a random ranking has recall@10 around 0.3
    assert result.metrics["test"]["recall@10"] > 0.6
    assert 1 <= result.metrics["best_epoch"] <= result.metrics["epochs"] <= 15


def test_bit_reproducible_on_cpu():
    split = synthetic_split()
    a = train_run(small_config("loss.name=bcl"), split=split)
    b = train_run(small_config("loss.name=bcl"), split=split)
    assert a.metrics["test"] == b.metrics["test"]
    for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values(), strict=True):
        assert torch.equal(x, y)
    c = train_run(small_config("loss.name=bcl", "train.seed=7"), split=split)
    assert not torch.equal(a.model.user_embedding, c.model.user_embedding)


def test_run_folder(tmp_path):
    result = train_run(small_config("train.epochs=3"), split=synthetic_split())
    out = write_run(result, tmp_path / "run")
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("best_epoch", "epochs", "valid", "test", "seconds"):
        assert key in metrics
    for key in ("recall@10", "ndcg@10", "recall@20", "ndcg@20", "mrr@10"):
        assert key in metrics["test"]
    assert set(metrics["seconds"]) >= {"train_epoch_median", "eval_median", "total"}
    assert load_config(out / "config.yaml") == result.config
    state = torch.load(out / "model.pt", weights_only=True)
    assert state["user_embedding"].shape == (60, 8)
    history = pd.read_csv(out / "history.csv")
    assert list(history["epoch"]) == [1, 2, 3]
    assert {"loss", "alpha", "valid_ndcg@10", "train_seconds", "mean_weight"} <= set(history)
    assert not list(out.glob(".*tmp"))


def test_alpha_auto_and_linear():
    bcl = build_loss(LossConfig(name="bcl", alpha="auto", tau_plus=0.1))
    ctl = AlphaController(bcl, LossConfig(name="bcl", alpha="auto", tau_plus=0.1))
    assert ctl.alpha == 0.5
    ctl.after_validation({"auc": 0.7})
    # model mapping: AUC_PN = (0.7 - 0.05) / 0.9, alpha = 1/2 + 3/2 (AUC_PN - 1/2)
    assert ctl.alpha == pytest.approx(0.5 + 1.5 * ((0.7 - 0.05) / 0.9 - 0.5))
    ctl.after_validation({"auc": 0.99})
    assert ctl.alpha == 0.99  # clipped at alpha_max
    cfg = LossConfig(name="bcl", alpha=0.9, alpha_schedule="linear", alpha_every=2, alpha_steps=5)
    ctl = AlphaController(build_loss(cfg), cfg)
    seen = []
    for epoch in range(1, 13):
        ctl.epoch_start(epoch)
        seen.append(round(ctl.alpha, 6))
    assert seen == [0.5, 0.5, 0.6, 0.6, 0.7, 0.7, 0.8, 0.8, 0.9, 0.9, 0.9, 0.9]
    bpr = build_loss(LossConfig(name="bpr"))
    assert AlphaController(bpr, LossConfig(name="bpr")).alpha is None


def test_cli_train_writes_run(tmp_path, monkeypatch):
    split = synthetic_split()
    monkeypatch.setattr("bcl_rec.training.run.load_split", lambda *a, **k: split)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(small_config("train.epochs=2").to_dict()))
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "metrics.json").is_file()


def test_cli_reports_bad_config(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("loss:\n  alhpa: 0.9\n")
    assert main(["train", "--config", str(config)]) == 2
    assert "unknown key loss.alhpa" in capsys.readouterr().err


def test_cli_reports_missing_data(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("BCL_REC_DATA", raising=False)
    monkeypatch.setenv("BCL_REC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(
        "bcl_rec.data.download._fetch",
        lambda url, dest: (_ for _ in ()).throw(OSError("network unreachable")),
    )
    assert main(["train", "--data-dir", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and "BCL_REC_DATA" in err and "network unreachable" in err
    assert not (tmp_path / "cache" / "ml-100k").exists()
