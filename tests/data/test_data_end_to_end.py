"""Every shared dataset reads and trains end to end from its config in ``configs/`` (tiny runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bcl_rec.cli.main import main

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = ["train.epochs=1", "train.batch_size=4096", "model.dim=8", "train.progress=false",
        "train.device=cpu", "loss.num_negatives=2"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "config, extra, users",
    [
        ("ml-100k/mf-bcl.yaml", [], 943),
        ("ml-latest-small/mf-bcl.yaml", [], 610),
        # The full sample trains too (see configs/yelp2018); its full-ranking evaluation over
        # 31,668 x 36,073 scores takes minutes on a CPU, so the test keeps the 10-core.
        ("yelp2018/mf-bcl.yaml", ["data.user_core=10", "data.item_core=10"], 401),
    ],
)
def test_train_from_config(config, extra, users, tmp_path, datasets, capsys):
    path = CONFIGS / config
    if not path.is_file():
        pytest.skip(f"{config} is not in this checkout")
    args = ["train", "--config", str(path), "--out", str(tmp_path / "run")]
    for item in TINY + extra:
        args += ["--set", item]
    assert main(args) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["data"]["users"] == users
    assert metrics["data"]["test"] > 0 and 0 <= metrics["test"]["ndcg@10"] <= 1
    capsys.readouterr()
