"""Data-parallel training: batch and user shards, and 2 gloo processes against one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from bcl_rec.config import load_config
from bcl_rec.evaluation.ranking import FullRankingEvaluator
from bcl_rec.training import distributed
from bcl_rec.training.distributed import DistContext, user_shard
from bcl_rec.training.run import train_run

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("world", [1, 2, 3, 4])
@pytest.mark.parametrize("size", [1, 2, 3, 7, 1024])
def test_batch_rows_partition_the_batch_and_shares_sum_to_one(world, size):
    rows, shares = [], []
    for rank in range(world):
        part, share = DistContext(rank, world).batch_rows(size)
        assert 0 <= part.start < part.stop <= size  # every rank runs a step, on some row
        if share > 0:
            rows += list(range(size))[part]
            assert share == (part.stop - part.start) / size
        shares.append(share)
    assert rows == list(range(size))  # contiguous, in rank order, disjoint, complete
    assert sum(shares) == pytest.approx(1.0)


def test_user_shards_are_disjoint_and_cover_every_evaluated_user():
    rng = np.random.default_rng(0)
    heldout = sp.random(50, 30, density=0.05, format="csr", random_state=rng)
    heldout.data[:] = 1.0
    parts = [user_shard(heldout, DistContext(r, 3)) for r in range(3)]
    assert (sum(parts) != heldout).nnz == 0
    users = [set(np.flatnonzero(np.diff(p.indptr))) for p in parts]
    assert not (users[0] & users[1]) and not (users[1] & users[2])
    # contiguous slices in user order, so the gathered per-user metrics are in user order
    assert max(users[0]) < min(users[1]) <= max(users[1]) < min(users[2])


def _eval_inputs():
    rng = np.random.default_rng(1)
    heldout = sp.random(80, 60, density=0.04, format="csr", random_state=rng)
    exclude = sp.random(80, 60, density=0.2, format="csr", random_state=rng)
    heldout.data[:] = 1.0
    exclude.data[:] = 1.0
    gen = torch.Generator().manual_seed(0)
    return heldout, exclude, torch.randn(80, 8, generator=gen), torch.randn(60, 8, generator=gen)


def _sharded_eval_worker(rank: int, store: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        heldout, exclude, user_emb, item_emb = _eval_inputs()
        for sharded in (True, False):
            evaluator = distributed.evaluator(
                lambda h: FullRankingEvaluator(h, exclude, topk=(5, 10)),  # noqa: B023
                heldout, DistContext(rank, 2), sharded=sharded)
            torch.save(evaluator.evaluate(user_emb, item_emb), f"{out}-{rank}-{sharded}.pt")
    finally:
        dist.destroy_process_group()


def test_distributed_evaluation_equals_one_process_exactly(tmp_path):
    heldout, exclude, user_emb, item_emb = _eval_inputs()
    assert np.diff(heldout.indptr).max() > 1  # users with several held-out items too
    expected = FullRankingEvaluator(heldout, exclude, topk=(5, 10)).evaluate(user_emb, item_emb)
    out = str(tmp_path / "metrics")
    mp.spawn(_sharded_eval_worker, args=(str(tmp_path / "store"), out), nprocs=2)
    for rank in range(2):
        for sharded in (True, False):
            assert torch.load(f"{out}-{rank}-{sharded}.pt") == expected  # bitwise, every rank


SETTINGS = ["train.epochs=2", "train.progress=false", "model.dim=8", "train.device=cpu",
            "train.patience=5"]


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(ml100k, tmp_path):
    """2 CPU ranks (gloo, torchrun) vs 1 process: same global batch, seed and config.

    Tolerance: each step's gradient is the single-process one up to float32 summation order
    (the per-rank means are weighted, then summed), and the losses agree to ~1e-8. Adam divides
    by the gradient's running RMS, so where a coordinate's gradient is itself near rounding level
    its step (~lr) can take either sign: a coordinate may move apart by up to ~lr (7.4e-4 seen,
    lr = 1e-3; bound 10 lr), the tables as a whole very little (relative Frobenius difference
    3e-4 and 5e-4 seen; bound 1e-2). Rank metrics change only when that swaps two scores: they
    must agree within one user's worth (1/943; they were equal in the runs seen).
    """
    config = REPO / "configs" / "ml-100k" / "mf-bcl.yaml"
    out = tmp_path / "ddp"
    sets = [a for s in SETTINGS for a in ("--set", s)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "bcl_rec", "train", "--config", str(config), *sets,
         "--data-dir", str(ml100k.parent), "--out", str(out)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count('"out"') == 1  # one rank reports
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp"]  # one run folder
    assert sorted(p.name for p in out.iterdir()) == [
        "config.yaml", "history.csv", "metrics.json", "model.pt"
    ]
    ddp = json.loads((out / "metrics.json").read_text())
    assert ddp["world_size"] == 2

    single = train_run(load_config(config, SETTINGS), data_dir=ml100k.parent)
    assert single.metrics["world_size"] == 1
    assert ddp["epochs"] == single.metrics["epochs"] == 2
    for name, value in single.metrics["test"].items():
        assert abs(ddp["test"][name] - value) <= 1 / 943, name
    weights = torch.load(out / "model.pt", weights_only=True)
    lr = single.config.train.lr
    for name, value in single.model.state_dict().items():
        diff = weights[name] - value
        assert float(diff.norm() / value.norm()) < 1e-2, name
        assert float(diff.abs().max()) < 10 * lr, name
