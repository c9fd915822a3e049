"""Config files and overrides map strictly onto the typed dataclasses."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcl_rec.config import ConfigError, RunConfig, build_config, dump_config, load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_defaults_are_mf_bcl_on_ml100k():
    cfg = load_config()
    assert (cfg.data.name, cfg.model.name, cfg.loss.name) == ("ml-100k", "mf", "bcl")


BCL_REC_CONFIGS = sorted(p for p in CONFIGS.glob("*/*.yaml") if p.parent.name != "recbole")


@pytest.mark.parametrize("path", BCL_REC_CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_configs_load(path):
    assert isinstance(load_config(path), RunConfig)


def test_round_trip(tmp_path):
    cfg = load_config(CONFIGS / "ml-100k" / "mf-bcl.yaml", ["loss.alpha=0.8", "eval.topk=[5,10]"])
    assert cfg.loss.alpha == 0.8 and cfg.eval.topk == (5, 10)
    path = tmp_path / "c.yaml"
    path.write_text(dump_config(cfg))
    assert load_config(path) == cfg


@pytest.mark.parametrize(
    "raw, pattern",
    [
        ({"loss": {"alpah": 0.9}},
         r"unknown key loss\.alpah \(did you mean loss\.alpha\?\); valid keys: .*loss\.alpha"),
        ({"trian": {}}, r"unknown section 'trian'"),
        ({"train": {"lr": -1}}, r"train\.lr"),
        ({"train": {"batch_size": 0}}, r"train\.batch_size"),
        ({"train": {"device": "tpu"}}, r"train\.device"),
        ({"model": {"dim": 0}}, r"model\.dim"),
        ({"eval": {"metric": "ndcg@50"}}, r"eval\.metric"),
        ({"eval": {"topk": []}}, r"eval\.topk"),
        ({"loss": {"alpha": 0.3}}, r"loss\.alpha"),
        ({"loss": {"alpha": 1.0}}, r"loss\.alpha"),
        ({"loss": {"beta": 0.2}}, r"loss\.beta"),
        ({"loss": {"tau_plus": 1.0}}, r"loss\.tau_plus"),
        ({"loss": {"num_negatives": 0}}, r"loss\.num_negatives"),
        ({"loss": {"name": "bprr"}}, r"loss\.name"),
    ],
)
def test_bad_values_name_the_key(raw, pattern):
    with pytest.raises(ConfigError, match=pattern):
        build_config(raw)


def test_bad_override_syntax():
    with pytest.raises(ConfigError, match="section.key=value"):
        load_config(None, ["lr=0.1"])


def test_missing_file():
    with pytest.raises(ConfigError, match="not found"):
        load_config("/nonexistent.yaml")
