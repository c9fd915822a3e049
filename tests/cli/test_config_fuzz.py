"""Random config values: each run trains one tiny epoch or stops with one line naming a key.

Keys are drawn from the real config sections, values of every YAML type (integers small and
huge, floats with nan/inf/huge, strings, lists, null, booleans, and the valid choices of the
string keys so that many draws train). Whatever the draw, ``bcl-rec train`` must never show a
traceback (from torch, numpy, pandas or the project).
"""

from __future__ import annotations

import dataclasses
import re

import pytest
import yaml
from cli_helpers import write_log
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bcl_rec.cli.main import main
from bcl_rec.config import RunConfig
from bcl_rec.errors import key_of

# train.epochs stays 1: a long run is not a validation question (its checks are in the table)
FIXED = {"data.name", "train.epochs", "train.progress"}
KEYS = sorted(
    f"{section.name}.{f.name}"
    for section in dataclasses.fields(RunConfig)
    for f in dataclasses.fields(getattr(RunConfig(), section.name))
    if f"{section.name}.{f.name}" not in FIXED
)
CHOICES = [
    "bpr", "bcl", "bcl-nce", "dpl", "dcl", "hcl", "ssm", "mf", "lightgcn", "mid", "max",
    "catalogue", "sampled", "linear", "auto", "extras", "anchor", "reference", "ratio", "random",
    "time", "leave-one-out", "cpu", "recall@5", "mrr@10", "xavier", "normal", "delimited",
]
VALUES = st.one_of(
    st.integers(-3, 70),
    st.sampled_from([2**31, 2**63, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(0, 1),
    st.text(max_size=12),
    st.sampled_from(CHOICES),
    st.lists(st.one_of(st.integers(-2, 60), st.floats(0, 1), st.text(max_size=3)), max_size=4),
    st.none(),
    st.booleans(),
)
DEFAULTS = {
    f"{section}.{name}": value
    for section, values in RunConfig().to_dict().items()
    for name, value in values.items()
}


def plausible(key: str) -> st.SearchStrategy:
    """Values of the key's own type near its default, so that many draws train."""
    default = DEFAULTS[key]
    if isinstance(default, bool):
        return st.booleans()
    if isinstance(default, int):
        return st.integers(0, 12)
    if isinstance(default, float):
        return st.floats(0.0, 1.0) | st.floats(0.5, 0.99)
    if isinstance(default, str):
        return st.sampled_from(CHOICES)
    return st.just(default)


@st.composite
def setting(draw) -> tuple[str, object]:
    key = draw(st.sampled_from(KEYS))
    return key, draw(st.one_of(VALUES, plausible(key), plausible(key)))


KEY_NAMED = re.compile(r"\b(?:data|model|loss|train|eval)\.\w+")


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    mp = pytest.MonkeyPatch()
    mp.setenv("BCL_REC_CACHE", str(root / "cache"))
    yield write_log(root / "log.csv", n_users=20, n_items=30)
    mp.undo()


def base_config(log) -> dict:
    return {
        "data": {"name": str(log), "user_col": "user", "item_col": "item"},
        "model": {"dim": 4},
        "loss": {"num_negatives": 3},
        "train": {"epochs": 1, "batch_size": 64, "progress": False, "device": "cpu"},
        "eval": {"topk": [5, 10]},
    }


@pytest.mark.slow
@settings(max_examples=35, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(draws=st.lists(setting(), min_size=1, max_size=2))
def test_random_values_train_or_fail_with_one_line(log, tmp_path_factory, capsys, draws):
    config = base_config(log)
    for key, value in draws:
        section, name = key.split(".")
        config[section][name] = value
    folder = tmp_path_factory.mktemp("draw")
    path = folder / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    code = main(["train", "--config", str(path), "--out", str(folder / "run")])
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("bcl-rec: error: ")]
    if code == 0:
        assert errors == [] and (folder / "run" / "model.pt").is_file()
        event("trained")
        return
    if code == 1:  # a value that trains but diverges: one line naming the step and train.lr
        assert len(errors) == 1 and "training diverged at epoch" in errors[0], err
        assert "lower train.lr" in errors[0]
        event("diverged with one line")
        return
    assert code == 2 and len(errors) == 1, err
    line = errors[0]
    event("stopped with one line")
    assert line.startswith("bcl-rec: error: "), line
    # a config error names a key, a data error the file; an error about a key written in the
    # config file also names the file and the key's line
    assert KEY_NAMED.search(line) or str(log) in line, line
    message = line.removeprefix("bcl-rec: error: ")
    located = re.match(rf"{re.escape(str(path))}:\d+: ", message)
    about = key_of(message[located.end():] if located else message)
    if about in {key for key, _ in draws}:
        assert located, line
