"""A missing optional dependency is one line naming the pip extra, not a traceback."""

from __future__ import annotations

import sys

import pytest

from bcl_rec.cli.main import main
from bcl_rec.reporting.extras import MissingExtraError
from bcl_rec.training.run import train_run
from tests.test_training import small_config, synthetic_split


def hide(monkeypatch, *modules):
    """Make ``import module`` fail as if the package were not installed."""
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


def test_weights_without_matplotlib(monkeypatch, tmp_path, capsys):
    hide(monkeypatch, "matplotlib", "matplotlib.figure")
    assert main(["weights", "--set", "0.9,1,0.05", "--out", str(tmp_path / "w.png")]) == 2
    assert capsys.readouterr().err == (
        "bcl-rec weights: error: plotting needs matplotlib, which is not installed: "
        "pip install 'bcl-rec[plots]'\n"
    )


def test_tensorboard_without_the_package(monkeypatch, tmp_path):
    hide(monkeypatch, "tensorboard", "torch.utils.tensorboard")
    config = small_config("train.epochs=1", f"train.tensorboard={tmp_path}")
    with pytest.raises(MissingExtraError) as err:
        train_run(config, split=synthetic_split())
    assert str(err.value) == (
        "train.tensorboard needs tensorboard, which is not installed: "
        "pip install 'bcl-rec[tensorboard]'"
    )
