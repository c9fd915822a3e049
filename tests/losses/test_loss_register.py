"""A loss registered from user code is a valid ``loss.name`` and trains from a config."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from bcl_rec.config import load_config
from bcl_rec.errors import ConfigError
from bcl_rec.losses import LOSSES, LossOutput, RecLoss, build_loss, register
from bcl_rec.losses.base import CONFIG_MAPPINGS
from bcl_rec.losses.factory import used_loss_keys
from bcl_rec.training.run import train_run
from tests.test_training import synthetic_split


@pytest.fixture
def margin_loss():
    """A hinge loss registered as ``margin-test``, reading ``loss.temperature`` as its margin."""

    @register("margin-test", kwargs=lambda c: {"margin": c.temperature})
    class MarginLoss(RecLoss):
        def __init__(self, margin: float = 1.0) -> None:
            super().__init__()
            self.margin = margin

        def compute(
            self, pos: Tensor, neg: Tensor, extra: Tensor | None, ref: Tensor | None
        ) -> LossOutput:
            gap = torch.relu(self.margin - pos.unsqueeze(-1) + neg)
            return LossOutput(gap.mean(), {})

    yield MarginLoss
    LOSSES.pop("margin-test")
    CONFIG_MAPPINGS.pop("margin-test")


def test_registered_loss_trains_from_a_config(margin_loss, tmp_path) -> None:
    config_file = tmp_path / "run.yaml"
    config_file.write_text(
        "loss:\n  name: margin-test\n  temperature: 0.5\n  num_negatives: 4\n"
        "model:\n  dim: 8\n"
        "train:\n  epochs: 3\n  batch_size: 64\n  lr: 0.02\n  progress: false\n  device: cpu\n"
    )
    config = load_config(config_file)
    loss = build_loss(config.loss, embedding_dim=8)
    assert isinstance(loss, margin_loss) and loss.margin == 0.5
    assert "temperature" in used_loss_keys(config.loss)  # read by its mapping: no unused warning
    result = train_run(config, split=synthetic_split())
    assert result.metrics["epochs"] == 3
    assert 0.0 <= result.metrics["test"]["recall@10"] <= 1.0
    history = result.fit.history
    assert history[-1]["loss"] < history[0]["loss"]  # it learns


def test_unregistered_name_is_still_a_config_error() -> None:
    with pytest.raises(ConfigError, match="loss.name must be one of .*got 'margin-test'"):
        load_config(None, ["loss.name=margin-test"])


def test_registered_without_mapping_uses_the_constructor_defaults() -> None:
    @register("defaults-test")
    class Plain(RecLoss):
        def compute(self, pos, neg, extra, ref) -> LossOutput:
            return LossOutput((neg - pos.unsqueeze(-1)).mean(), {})

    try:
        config = load_config(None, ["loss.name=defaults-test"])
        assert isinstance(build_loss(config.loss), Plain)
    finally:
        LOSSES.pop("defaults-test")
