"""The validation machinery: types from annotations, YAML 1.2 numbers, key lines, unused keys."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch

from bcl_rec.config import (
    RunConfig,
    build_config,
    check_against_data,
    key_lines,
    load_config,
    load_yaml,
)
from bcl_rec.errors import ConfigError, check_types, did_you_mean, key_of
from bcl_rec.losses import LossConfig
from bcl_rec.losses.alpha import check_alpha_setting, is_adaptive, starting_alpha
from bcl_rec.losses.factory import unused_loss_keys, used_loss_keys
from bcl_rec.training.device import resolve_device


@pytest.mark.parametrize(
    "text, value",
    [("1e-3", 0.001), ("1E5", 1e5), (".5", 0.5), ("-1e+2", -100.0), ("+2.5e-1", 0.25),
     ("7", 7), ("1.0", 1.0), ("abc", "abc"), ("1e", "1e"), ("e5", "e5"), ("1.2.3", "1.2.3")],
)
def test_yaml_12_numbers(text, value):
    got = load_yaml(text)
    assert got == value and type(got) is type(value)


def test_yaml_specials_and_syntax_errors():
    assert math.isnan(load_yaml(".nan")) and load_yaml("-.inf") == -math.inf
    with pytest.raises(ConfigError, match=r"^c\.yaml:2: not valid YAML: mapping values are not"):
        load_yaml("a: 1\nb: c: d\n", "c.yaml")


def test_an_empty_section_takes_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\nloss:\n  name: bpr\n")
    assert load_config(path, ["train.lr=0.01"]).train.lr == 0.01


def test_key_lines():
    text = "# comment\ndata:\n  name: ml-100k\n\nloss:\n  name: bcl\n  alpha: 0.9\n"
    assert key_lines(text) == {"data": 2, "data.name": 3, "loss": 5, "loss.name": 6,
                               "loss.alpha": 7}


@dataclass(frozen=True)
class _Section:
    count: int = 1
    rate: float = 0.5
    flag: bool = False
    label: str = "x"
    maybe: int | None = None
    sizes: tuple[int, ...] = (1,)
    either: float | str = 0.9

    def __post_init__(self) -> None:
        check_types(self, "demo")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"count": 1.5}, "demo.count must be an integer, got 1.5"),
        ({"count": True}, "demo.count must be an integer, got True"),
        ({"count": "3"}, "demo.count must be an integer, got '3'"),
        ({"rate": float("nan")}, "demo.rate must be a finite number, got nan"),
        ({"rate": 10**400}, "demo.rate must be a finite number, got 1000000000"),
        ({"rate": "fast"}, "demo.rate must be a finite number, got 'fast'"),
        ({"flag": 1}, "demo.flag must be true or false, got 1"),
        ({"label": 3}, "demo.label must be a string, got 3"),
        ({"maybe": "x"}, "demo.maybe must be an integer or null, got 'x'"),
        ({"sizes": 5}, "demo.sizes must be a list of integers, got 5"),
        ({"sizes": [1, "b"]}, "demo.sizes must be a list of integers, got [1, 'b']"),
        ({"either": None}, "demo.either must be a finite number or a string, got None"),
    ],
)
def test_check_types_names_the_key_and_the_type(kwargs, message):
    with pytest.raises(ConfigError) as info:
        _Section(**kwargs)
    assert str(info.value).startswith(message) and info.value.key == message.split()[0]


def test_check_types_normalises():
    s = _Section(count=1e3, rate=2, sizes=[3, 4.0], either=1)
    assert (s.count, s.rate, s.sizes, s.either) == (1000, 2.0, (3, 4), 1.0)
    assert type(s.count) is int and type(s.rate) is float and type(s.sizes[1]) is int


def test_key_of():
    assert key_of("loss.alpha must be ...") == "loss.alpha"
    assert key_of("unknown key train.epoch (did you ...") == "train.epoch"
    assert key_of("pre-split data needs data.train_file") is None


def test_did_you_mean():
    assert did_you_mean("alpah", ["alpha", "beta"], "loss.") == " (did you mean loss.alpha?)"
    assert did_you_mean("trian", ["train", "eval"]) == " (did you mean 'train'?)"
    assert did_you_mean("zzz", ["alpha", "beta"]) == ""


def test_alpha_setting_is_interpreted_in_one_place():
    assert check_alpha_setting("auto") == "auto" and is_adaptive("auto")
    assert check_alpha_setting(0.7) == 0.7 and not is_adaptive(0.7)
    assert starting_alpha("auto") == 0.5 and starting_alpha(0.8) == 0.8
    for bad in ("Auto", 1.0, 0.4, None, True):
        with pytest.raises(ValueError, match=r"loss\.alpha must be a number in \[0\.5, 1\)"):
            check_alpha_setting(bad)


@pytest.mark.parametrize(
    "name, extra, unused",
    [
        ("bpr", {}, {"alpha", "beta", "tau_plus", "ecdf", "ecdf_source", "ecdf_sample",
                     "alpha_schedule", "num_extras", "hcl_beta", "dpl_floor"}),
        ("ssm", {}, {"alpha", "tau_plus", "bpr_first_only", "ecdf"}),
        ("bcl", {}, {"ecdf_sample", "alpha_every", "alpha_max", "num_extras", "hcl_beta"}),
        ("bcl", {"ecdf_source": "catalogue", "alpha_schedule": "linear"}, {"alpha_max"}),
        ("dpl", {"num_extras": 2}, {"alpha", "ecdf", "hcl_beta"}),
        ("hcl", {"num_extras": 1, "dcl_pos": "extras"}, {"alpha", "dpl_floor"}),
    ],
)
def test_unused_loss_keys_come_from_the_factory_table(name, extra, unused):
    cfg = LossConfig(name=name, **extra)
    used = used_loss_keys(cfg)
    assert not (used & unused), used & unused
    assert {"name", "num_negatives", "temperature"} <= used
    assert unused_loss_keys(cfg, unused | {"name", "temperature"}) == sorted(unused)
    if name == "bcl" and not extra:
        assert {"alpha", "beta", "tau_plus", "ecdf", "ecdf_source", "alpha_schedule"} <= used
    if name == "dpl":
        assert {"num_extras", "dpl_floor", "tau_plus"} <= used


def test_warning_only_for_values_that_differ_from_the_default(recwarn):
    load_config(None, ["loss.name=bpr", "loss.alpha=0.9"])  # the default value: no effect anyway
    assert not recwarn.list
    with pytest.warns(UserWarning, match=r"^--set loss\.beta=0\.7: loss\.beta has no effect "):
        load_config(None, ["loss.name=bpr", "loss.beta=0.7"])


def test_check_against_data():
    cfg = build_config({"eval": {"topk": [10, 50]}})
    check_against_data(cfg, n_users=10, n_items=50, n_pairs=100)
    with pytest.raises(ConfigError, match=r"^eval\.topk: K=50 is larger than the 49 items"):
        check_against_data(cfg, n_users=10, n_items=49, n_pairs=100)
    big = build_config({"loss": {"num_negatives": 10**15}})
    with pytest.raises(ConfigError, match=r"^train\.batch_size: 1024 pairs x 1000000000000001 "):
        check_against_data(big, n_users=10, n_items=50, n_pairs=5000)


def test_defaults_are_the_shipped_ml100k_mf_bcl_config():
    from pathlib import Path

    shipped = load_config(Path(__file__).parents[1] / "configs/ml-100k/mf-bcl.yaml")
    default = RunConfig()
    assert default.model == shipped.model and default.loss == shipped.loss
    assert default.train == shipped.train and default.eval == shipped.eval
    # data: split "auto" takes ml-100k's registry default, leave-one-out
    from bcl_rec.data.registry import dataset_info

    defaults = dataset_info("ml-100k").defaults
    assert default.data.with_defaults(defaults) == shipped.data.with_defaults(defaults)
    assert default.data.with_defaults(defaults).split == "leave-one-out"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device():
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.warns(UserWarning, match=r"train\.device=auto: torch sees no CUDA device"):
        assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ConfigError, match=r"^train\.device='cuda:1' but torch sees no CUDA"):
        resolve_device("cuda:1")
    with pytest.raises(ConfigError, match=r"^--device must be auto, cpu, cuda or cuda:N, got 'x'"):
        resolve_device("x", key="--device")
