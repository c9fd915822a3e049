"""The scale benchmark's synthetic log: exact size, distinct pairs, each user's clipped degree."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.evaluation.test_eval_speed_bench import load_module


@pytest.fixture(scope="module")
def scale():
    return load_module("scale")


def test_degrees_sum_to_the_size_within_the_clip_and_follow_the_power_law(scale):
    n, n_users, n_items = 200_000, 5_000, 3_000
    degrees = scale.user_degrees(n, n_users, n_items)
    cap = int(scale.MAX_DEGREE_SHARE * n_items)
    assert degrees.sum() == n
    assert degrees.min() >= scale.MIN_DEGREE and degrees.max() == cap
    assert (np.diff(degrees) <= 1).all()  # non-increasing in rank, up to the rounding unit
    # unclipped users keep the law: degree ratio of ranks r and 2r is 2^exponent, up to rounding
    r = np.flatnonzero((degrees < cap) & (degrees > 50))[0]
    assert abs(degrees[r] / degrees[2 * r + 1] - 2**scale.USER_EXPONENT) < 0.05
    with pytest.raises(ValueError, match="do not fit"):
        scale.user_degrees(cap * n_users + 1, n_users, n_items)


def test_synthetic_log_has_distinct_pairs_with_each_users_degree(scale):
    n, n_users, n_items = 60_000, 2_000, 800
    log = scale.synthetic_log(n, n_users, n_items, seed=3)
    assert len(log) == n and not log.duplicated(["user", "item"]).any()
    assert sorted(log["timestamp"]) == list(range(n))
    counts = np.sort(log.groupby("user").size().to_numpy())[::-1]
    assert (counts == scale.user_degrees(n, n_users, n_items)).all()  # ids are shuffled
    assert log["item"].between(0, n_items - 1).all() and log["user"].nunique() == n_users
    # popular items are popular: the most drawn item is held by far more users than the median
    by_item = log.groupby("item").size()
    assert by_item.max() > 5 * by_item.median()
    assert log.equals(scale.synthetic_log(n, n_users, n_items, seed=3))  # seeded


def test_paired_turns_continue_each_trainers_own_batches(scale):
    """Timed in turns, each trainer trains exactly as it would alone (its own batches, across
    epoch boundaries), and every round gives each trainer one rate."""
    split = scale.prepare(scale.synthetic_log(6_000, 400, 400, seed=1))  # ~5 steps an epoch
    first = scale.make_trainer(split, "mf", "sparse_adam")
    second = scale.make_trainer(split, "mf", "adam")
    rates = scale.paired_throughput({"first": first, "second": second}, rounds=3, steps=2)
    assert {name: len(values) for name, values in rates.items()} == {"first": 3, "second": 3}
    assert all(rate > 0 for values in rates.values() for rate in values)
    alone = scale.make_trainer(split, "mf", "adam")
    batches = scale.endless_batches(alone)
    for _ in range(2 * (1 + 3)):  # the warm-up turn, then 3 rounds
        alone.update(*next(batches))
    assert torch.equal(alone.model.user_embedding, second.model.user_embedding)
    assert torch.equal(alone.model.item_embedding, second.model.item_embedding)
    assert not torch.equal(alone.model.item_embedding, first.model.item_embedding)


def test_a_run_on_a_small_log_writes_every_task_it_was_asked_for(scale, monkeypatch, tmp_path):
    """The whole benchmark on a 6K-interaction log: the JSON a program reads holds each timed
    task with its seconds and memory, the evaluation of every user within its budget, and the
    device it ran on."""
    monkeypatch.setitem(scale.SIZES, "6K", (6_000, 400, 300))
    monkeypatch.setitem(scale.SIZES, "12K", (12_000, 600, 400))
    out = tmp_path / "scale.json"
    tasks = "mf-bcl-sparse-adam-epoch,eval-all-users"
    assert scale.main(["--sizes", "6K,12K", "--tasks", tasks, "--breakdown-steps", "0",
                       "--paired-rounds", "0", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["device"] == "cpu" and "ml-100k" in result
    assert [row["size"] for row in result["rows"]] == ["6K", "12K"]
    for row in result["rows"]:
        epoch = row["mf-bcl-sparse-adam-epoch"]
        assert epoch["note"] == "whole epoch" and epoch["seconds"] > 0
        assert epoch["pairs_per_second"] == pytest.approx(row["train_pairs"] / epoch["seconds"])
        evaluation = row["eval-all-users"]
        assert evaluation["users"] == row["users"] and evaluation["budget_mb"] == 256
        assert row["device"] == "cpu" and "paired" not in row
    assert set(result["exponents"]) == {"prepare", *tasks.split(",")}


@pytest.mark.skipif(torch.cuda.is_available(), reason="this torch sees a CUDA device")
def test_asking_for_a_gpu_without_one_is_one_line(scale, capsys):
    with pytest.raises(SystemExit) as stop:
        scale.main(["--device", "cuda", "--sizes", "1M"])
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.endswith("error: --device cuda: this torch sees no CUDA device "
                          "(torch.cuda.is_available() is False); run without --device")
