"""``train.tensorboard``: per-epoch scalars in an event file, read back with TensorBoard."""

from __future__ import annotations

import pytest

from bcl_rec.config import ConfigError, build_config, load_config
from bcl_rec.reporting.tensorboard import TensorBoardLogger, tag_of
from bcl_rec.training.run import train_run
from tests.test_training import small_config, synthetic_split


def read_scalars(log_dir):
    accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator",
        reason="tensorboard is not installed (pip install 'bcl-rec[tensorboard]')",
    )
    acc = accumulator.EventAccumulator(str(log_dir))
    acc.Reload()
    return {
        tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]
    }


def test_tags():
    assert [tag_of(k) for k in ("loss", "mean_weight", "valid_ndcg@10", "eval_seconds")] == [
        "train/loss", "train/mean_weight", "valid/ndcg@10", "time/eval_seconds"
    ]


def test_training_writes_every_epoch(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed "
                        "(pip install 'bcl-rec[tensorboard]')")
    log_dir = tmp_path / "tb"
    config = small_config("loss.name=bcl", "train.epochs=3", f"train.tensorboard={log_dir}")
    result = train_run(config, split=synthetic_split())
    scalars = read_scalars(log_dir)
    history = result.fit.history
    assert len(history) == 3
    for name in ("loss", "valid_ndcg@10", "valid_recall@10", "train_seconds"):
        want = [(row["epoch"], pytest.approx(row[name], rel=1e-6)) for row in history]
        assert scalars[tag_of(name)] == want
    diagnostics = set(history[0]) - {"epoch", "loss", "train_seconds", "eval_seconds"}
    diagnostics = {k for k in diagnostics if not k.startswith("valid_")}
    assert diagnostics and all(tag_of(k) in scalars for k in diagnostics)


def test_logger_skips_non_finite_values(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed "
                        "(pip install 'bcl-rec[tensorboard]')")
    with TensorBoardLogger(tmp_path) as log:
        log({"epoch": 1, "loss": 0.5, "alpha": float("nan")})
        log({"epoch": 2, "loss": 0.25, "alpha": 0.9})
    scalars = read_scalars(tmp_path)
    assert scalars["train/loss"] == [(1, 0.5), (2, 0.25)]
    assert scalars["train/alpha"] == [(2, pytest.approx(0.9))]


def test_config_key_is_validated():
    with pytest.raises(ConfigError, match=r"train\.tensorboard must be a string or null, got 3"):
        build_config({"train": {"tensorboard": 3}})
    assert load_config(None, []).train.tensorboard is None
