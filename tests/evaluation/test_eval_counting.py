"""The counting kernel, the tile plan and the measured peak memory of an evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from eval_helpers import as_csr

from bcl_rec.evaluation.counting import count_at_least
from bcl_rec.evaluation.memory import peak_memory
from bcl_rec.evaluation.plan import (
    CPU_BLOCK_BYTES,
    CPU_BLOCK_ROWS,
    MIN_WIDTH,
    bytes_per_user,
    plan_tiles,
)
from bcl_rec.evaluation.ranking import FullRankingEvaluator


def test_count_at_least_matches_compare_and_sum():
    g = torch.Generator().manual_seed(0)
    scores = torch.randint(-3, 4, (500, 24), generator=g).float()
    scores[3, :5] = torch.nan
    scores[7, 2:9] = torch.inf
    scores[8, 4:12] = -torch.inf
    thresholds = scores[11].clone()
    thresholds[0] = torch.nan
    thresholds[1] = -torch.inf
    want = (scores >= thresholds).sum(0)
    out = torch.empty_like(scores)
    kept = scores.clone()
    assert torch.equal(count_at_least(scores, thresholds, out=out), want)
    torch.testing.assert_close(scores, kept, rtol=0, atol=0, equal_nan=True)  # scores stay
    assert torch.equal(count_at_least(scores, thresholds), want)
    assert set(scores.unique().tolist()) <= {0.0, 1.0}  # without, flags overwrite them


def test_plan_cpu_default_is_cache_sized_and_within_budget():
    cpu = torch.device("cpu")
    plan = plan_tiles(40_000, 64, cpu, max_memory_mb=256)
    assert MIN_WIDTH <= plan.users <= 64 and plan.width == plan.users
    # one-item users are scored in cache-sized blocks of item rows, wider in users
    assert plan.block_rows == CPU_BLOCK_ROWS and plan.block_width == plan.block_users
    assert plan.block_rows * plan.block_width * 4 <= CPU_BLOCK_BYTES
    assert plan.block_users > plan.users
    assert plan.workspace_bytes == plan.block_width * (4 * CPU_BLOCK_ROWS + 4 * 64)
    several = plan_tiles(40_000, 64, cpu, max_memory_mb=256, several=True)
    assert several.workspace_bytes == several.width * bytes_per_user(40_000, 64, True) + (
        4 * CPU_BLOCK_ROWS * several.width)  # full tiles, and the padded last block
    small = plan_tiles(1682, 64, cpu, max_memory_mb=256)  # one block: the whole catalogue
    assert small.block_rows == 1682 and small.block_users == small.users
    assert plan_tiles(1000, 64, cpu, n_users=20).users == 20  # never wider than needed
    several = plan_tiles(1000, 64, cpu, max_memory_mb=1, several=True)
    assert several.workspace_bytes <= 2**20 and several.users < plan_tiles(
        1000, 64, cpu, max_memory_mb=1).users
    with pytest.raises(ValueError, match="users_per_batch"):
        plan_tiles(10, 4, cpu, users_per_batch=0)


def test_measured_peak_memory_stays_within_the_budget():
    rng = np.random.default_rng(0)
    n_users, n_items, budget_mb = 3000, 20_000, 8.0
    held = as_csr([[int(i)] for i in rng.integers(0, n_items, n_users)], n_users, n_items)
    excl = as_csr([rng.integers(0, n_items, 20).tolist() for _ in range(n_users)],
                  n_users, n_items)
    ev = FullRankingEvaluator(held, excl, max_memory_mb=budget_mb)
    user, item = torch.randn(n_users, 64), torch.randn(n_items, 64)
    ev.evaluate(user, item)  # warm up: lazy initialisation is not the evaluator's memory
    _, peak = peak_memory(lambda: ev.evaluate(user, item))
    if peak is None:
        pytest.skip("peak memory is not measurable on this platform")
    dense = n_users * n_items * 4
    assert ev.workspace_bytes <= budget_mb * 2**20
    assert peak <= budget_mb * 2**20 + 4 * 2**20, peak / 2**20  # tile + index work + slack
    assert peak < dense / 10
