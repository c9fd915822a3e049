"""Config files and overrides map strictly onto the typed dataclasses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bcl_rec.config import ConfigError, RunConfig, build_config, dump_config, load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_defaults_are_mf_bcl_on_ml100k():
    cfg = load_config()
    assert (cfg.data.name, cfg.model.name, cfg.loss.name) == ("ml-100k", "mf", "bcl")


# every config under configs/ but RecBole's, tuned picks (configs/<dataset>/tuned/) included
BCL_REC_CONFIGS = sorted(p for p in CONFIGS.rglob("*.yaml") if "recbole" not in p.parts)


@pytest.mark.parametrize("path", BCL_REC_CONFIGS, ids=lambda p: str(p.relative_to(CONFIGS)))
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


@pytest.mark.parametrize(
    "text, sep",
    [
        (" ", " "),  # --set data.sep=' ' in a shell
        ("' '", " "),
        ("\\t", "\t"),  # --set 'data.sep=\t': backslash and t
        ('"\\t"', "\t"),
        ("\t", "\t"),
        ("|", "|"),
        ("::", "::"),
        (";", ";"),
    ],
)
def test_sep_override_from_the_command_line(tmp_path, text, sep):
    from bcl_rec.cli.main import build_parser

    args = build_parser().parse_args(["train", "--set", f"data.sep={text}"])
    config = load_config(args.config, args.set)
    assert config.data.sep == sep
    path = tmp_path / "config.yaml"  # what a run folder receives
    path.write_text(dump_config(config))
    assert "  sep: " + json.dumps(sep) in path.read_text().splitlines()  # double-quoted
    assert load_config(path) == config


def test_text_keys_keep_nulls_and_other_keys_stay_yaml():
    config = load_config(None, ["data.sep=null", "data.user_col=2", "data.name=123",
                                "data.time_format=%Y-%m-%d", "data.valid_ratio=0.2"])
    assert config.data.sep is None and config.data.user_col == 2
    assert config.data.name == "123" and config.data.time_format == "%Y-%m-%d"
    assert config.data.valid_ratio == 0.2
    assert load_config(None, ["data.sep="]).data.sep is None
    with pytest.raises(ConfigError, match=r"data\.valid_ratio: must be a number in \[0, 1\)"):
        load_config(None, ["data.valid_ratio=1"])
