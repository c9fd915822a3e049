"""train.optimizer: dense Adam by default; row-sparse (lazy) Adam for MF moves only batch rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from bcl_rec.config import ConfigError, load_config
from bcl_rec.data.interactions import Interactions
from bcl_rec.data.split import leave_one_out
from bcl_rec.models.base import gather, gather_side_by_side, item_scores, pair_scores
from bcl_rec.models.mf import MF
from bcl_rec.training import row_kernels
from bcl_rec.training.optim import RowSparseAdam, build_optimizer
from bcl_rec.training.run import train_run

needs_numba = pytest.mark.skipif(not row_kernels.AVAILABLE, reason="numba not installed")


def _step(model, optimizer, users, items):
    user_emb, item_emb = model.embeddings()
    loss = -pair_scores(gather(user_emb, users), gather(item_emb, items)).sigmoid().log().mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def test_sparse_adam_moves_only_batch_rows_and_matches_adam_on_first_touch():
    dense = MF(10, 8, 4, generator=torch.Generator().manual_seed(0))
    lazy = MF(10, 8, 4, generator=torch.Generator().manual_seed(0))
    opt_dense = build_optimizer(dense, load_config(None, ["train.lr=0.1"]).train)
    opt_lazy = build_optimizer(lazy, load_config(None, ["train.optimizer=sparse_adam",
                                                        "train.lr=0.1"]).train)
    assert isinstance(opt_lazy, torch.optim.SparseAdam)
    start = lazy.user_embedding.detach().clone()
    _step(dense, opt_dense, torch.tensor([0, 1, 1]), torch.tensor([2, 3, 4]))
    _step(lazy, opt_lazy, torch.tensor([0, 1, 1]), torch.tensor([2, 3, 4]))
    assert lazy.user_embedding.grad.is_sparse
    # step 1: Adam's untouched rows have zero moments, so both optimisers agree everywhere
    torch.testing.assert_close(lazy.user_embedding, dense.user_embedding)
    torch.testing.assert_close(lazy.item_embedding, dense.item_embedding)
    assert torch.equal(lazy.user_embedding[2:], start[2:])
    # step 2 on other rows: dense Adam still moves users 0 and 1 by their moments, lazy does not
    after_one = lazy.user_embedding.detach().clone()
    _step(dense, opt_dense, torch.tensor([5]), torch.tensor([6]))
    _step(lazy, opt_lazy, torch.tensor([5]), torch.tensor([6]))
    assert torch.equal(lazy.user_embedding[:2], after_one[:2])
    assert not torch.allclose(dense.user_embedding[:2], after_one[:2])
    assert not torch.equal(lazy.user_embedding[5], after_one[5])


def _split():
    rng = np.random.default_rng(0)
    rows = [(u, int(i), t) for u in range(60)
            for t, i in enumerate(rng.choice(np.arange(u % 4 * 10, u % 4 * 10 + 10), 8,
                                             replace=False))]
    return leave_one_out(Interactions.from_raw(pd.DataFrame(rows, columns=["user", "item",
                                                                           "timestamp"])))


def test_sparse_adam_trains_mf_and_is_rejected_for_lightgcn():
    sets = ["train.epochs=15", "train.batch_size=64", "train.lr=0.02", "train.progress=false",
            "model.dim=8", "loss.num_negatives=4", "train.device=cpu",
            "train.optimizer=sparse_adam", "loss.name=bpr"]
    result = train_run(load_config(None, sets), split=_split())
    assert result.metrics["test"]["recall@10"] > 0.6  # random: about 0.3
    with pytest.raises(ConfigError) as err:
        train_run(load_config(None, [*sets, "model.name=lightgcn"]), split=_split())
    assert str(err.value) == ("train.optimizer: sparse_adam needs model.name=mf "
                              "(LightGCN's propagation gives every row a gradient)")
    with pytest.raises(ConfigError) as err:  # it used to fail at the first step, in RowSparseAdam
        train_run(load_config(None, [*sets, "model.score=cosine"]), split=_split())
    assert str(err.value) == ("train.optimizer: sparse_adam needs model.score=dot (cosine scores "
                              "normalise the whole tables every step, which gives every row a "
                              "gradient)")


def _sparse_step(table, optimizer, index, weight):
    table.grad = None
    (torch.nn.functional.embedding(index, table, sparse=True) * weight).sum().backward()
    optimizer.step()


@pytest.mark.parametrize(
    "kernels", [False, pytest.param(True, marks=needs_numba)], ids=["torch", "compiled"]
)
@pytest.mark.parametrize("repeats", [False, True])
def test_row_sparse_adam_is_torch_sparse_adam(repeats, kernels):
    """RowSparseAdam against torch.optim.SparseAdam, the reference: bit for bit when a batch
    names each row once (same operations in the same order), and to rounding when rows repeat
    (only the order of summing a row's repeated gradients differs)."""
    gen = torch.Generator().manual_seed(3)
    reference = torch.randn(50, 4, generator=gen, dtype=torch.float64).requires_grad_()
    ours = reference.detach().clone().requires_grad_()
    start = reference.detach().clone()
    ref_opt = torch.optim.SparseAdam([reference], lr=0.05)
    our_opt = RowSparseAdam([ours], lr=0.05, kernels=kernels)
    for _ in range(6):
        index = (torch.randint(0, 50, (40,), generator=gen) if repeats
                 else torch.randperm(50, generator=gen)[:20])
        weight = torch.randn(len(index), 4, generator=gen, dtype=torch.float64)
        _sparse_step(reference, ref_opt, index, weight)
        _sparse_step(ours, our_opt, index, weight)
    assert (reference.detach() != start).any(dim=1).sum() > 20  # many rows moved
    state, ref_state = our_opt.state[ours], ref_opt.state[reference]
    assert state["step"] == ref_state["step"] == 6
    if repeats or kernels:  # kernels: a correctly rounded sqrt (see the test below)
        torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(state["exp_avg_sq"], ref_state["exp_avg_sq"],
                                   rtol=1e-12, atol=1e-18)
    else:
        assert torch.equal(ours, reference)
        assert torch.equal(state["exp_avg"], ref_state["exp_avg"])
        assert torch.equal(state["exp_avg_sq"], ref_state["exp_avg_sq"])


@needs_numba
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_compiled_row_adam_is_the_torch_form(dtype):
    """The compiled kernel and RowSparseAdam's torch form: the same operations in the same order,
    repeats summed in entry order by both, over steps with repeated rows, untouched rows and an
    empty gradient. The moments bit for bit; the weights to a few ulps, because torch's
    vectorised ``sqrt`` is not correctly rounded on every CPU (on the 2-core test machine 16% of
    float32 and 1% of float64 results are 1 ulp off numpy's) and the kernel's is."""
    gen = torch.Generator().manual_seed(5)
    start = torch.randn(300, 16, generator=gen, dtype=dtype)
    tables = [start.clone().requires_grad_() for _ in range(2)]
    opts = [RowSparseAdam([t], lr=0.01, kernels=k)
            for t, k in zip(tables, (False, True), strict=True)]
    for step in range(8):
        size = 0 if step == 3 else 500
        index = torch.randint(0, 200, (size,), generator=gen)  # rows 200.. never touched
        weight = torch.randn(size, 16, generator=gen, dtype=dtype)
        for table, opt in zip(tables, opts, strict=True):
            _sparse_step(table, opt, index, weight)
    torch_form, compiled = tables
    assert torch.equal(compiled[200:], start[200:])
    assert (compiled[:200] != start[:200]).all(dim=1).sum() > 190
    ulps = 4 * torch.finfo(dtype).eps
    torch.testing.assert_close(compiled, torch_form, rtol=ulps, atol=ulps)
    for key in ("exp_avg", "exp_avg_sq"):
        assert torch.equal(opts[1].state[compiled][key], opts[0].state[torch_form][key])
    assert all((scratch.slot == -1).all() for scratch in opts[1]._scratch.values())


@needs_numba
def test_compiled_row_adam_against_a_slow_numpy_adam():
    """Two steps of the kernel against SparseAdam written out row by row in numpy (float64,
    correctly rounded sqrt, repeats summed in entry order): equal bit for bit."""
    rng = np.random.default_rng(2)
    param = rng.standard_normal((40, 3))
    m, v = np.zeros_like(param), np.zeros_like(param)
    ours = [param.copy(), m.copy(), v.copy()]
    slot = np.full(40, -1, dtype=np.int64)
    distinct, grad = np.empty(70, dtype=np.int64), np.full((70, 3), np.nan)  # dirty scratch
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.05
    for step in (1, 2):
        index = rng.integers(0, 30, 70)
        values = rng.standard_normal((70, 3))
        size = lr * np.sqrt(1 - b2**step) / (1 - b1**step)
        k = row_kernels.load().row_adam(
            index, values, *ours, slot, distinct, grad, 1 - b1, 1 - b2, eps, -size, 1
        )
        assert k == len(np.unique(index))
        for row in dict.fromkeys(index.tolist()):
            g = np.zeros(3)
            for i in np.flatnonzero(index == row):
                g = g + values[i]
            m[row] = m[row] + (g - m[row]) * (1 - b1)
            v[row] = v[row] + (g * g - v[row]) * (1 - b2)
            param[row] = param[row] + m[row] / (np.sqrt(v[row]) + eps) * -size
    for got, expected in zip(ours, (param, m, v), strict=True):
        assert np.array_equal(got, expected)
    assert (slot == -1).all()


def test_without_numba_the_torch_form_runs_and_asking_for_kernels_says_what_to_install(
    monkeypatch,
):
    monkeypatch.setattr(row_kernels, "AVAILABLE", False)
    table = torch.zeros(5, 2, requires_grad=True)
    assert RowSparseAdam([table], lr=0.1).kernels is False
    with pytest.raises(ValueError) as err:
        RowSparseAdam([table], lr=0.1, kernels=True)
    assert str(err.value) == "kernels=True needs numba: pip install 'bcl-rec[fast]'"


def test_gather_side_by_side_gives_a_row_sparse_table_one_gradient_in_batch_row_order():
    gen = torch.Generator().manual_seed(0)
    table = torch.nn.Parameter(torch.randn(7, 3, generator=gen))
    table.sparse_grad = True
    pos, neg = torch.tensor([1, 4, 4]), torch.tensor([[0, 4], [6, 1], [4, 4]])
    rows = gather_side_by_side(table, pos, neg)
    expected = torch.stack([table[[1, 0, 4]], table[[4, 6, 1]], table[[4, 4, 4]]])
    assert torch.equal(rows, expected)
    weight = torch.randn(3, 3, 3, generator=gen)
    (rows * weight).sum().backward()
    grad = table.grad
    assert grad.is_sparse and not grad.is_coalesced()  # one gradient: no sparse addition
    assert grad._indices()[0].tolist() == [1, 0, 4, 4, 6, 1, 4, 4, 4]
    assert torch.equal(grad._values(), weight.reshape(-1, 3))
    dense = torch.nn.Parameter(table.detach().clone())  # any table: one gather
    assert torch.equal(gather_side_by_side(dense, pos, neg), expected)


def test_a_row_sparse_table_is_scored_by_gathers_even_for_many_items():
    """The one-product path of item_scores would give the table a dense gradient, which
    RowSparseAdam refuses: sparse_adam with 100 negatives on a small catalogue used to crash."""
    table = torch.nn.Parameter(torch.randn(50, 4))
    table.sparse_grad = True
    users = torch.randn(2, 4, requires_grad=True)
    items = torch.randint(0, 50, (2, 100))  # N >= DENSE_MIN_ITEMS, 50 <= DENSE_MAX_RATIO * N
    scores = item_scores(users, table, items)
    torch.testing.assert_close(scores, (users[:, None, :] * table[items]).sum(-1))
    scores.sum().backward()
    assert table.grad.is_sparse
    sets = ["train.epochs=2", "train.batch_size=64", "train.progress=false", "model.dim=8",
            "loss.num_negatives=100", "train.device=cpu", "train.optimizer=sparse_adam"]
    result = train_run(load_config(None, sets), split=_split())
    assert result.metrics["test"]["recall@10"] > 0


@needs_numba
@pytest.mark.parametrize("threads", [2, 3])
def test_compiled_row_adam_on_threads_is_the_serial_update(threads):
    """Past PARALLEL_MIN_ROWS distinct rows the update runs in contiguous parts, one per thread:
    the same weights and moments bit for bit, and the slots left at -1."""
    compiled = row_kernels.load()
    rng = np.random.default_rng(4)
    n_rows, dim, entries = 3 * compiled.PARALLEL_MIN_ROWS, 5, 2 * compiled.PARALLEL_MIN_ROWS
    start = [rng.standard_normal((n_rows, dim)).astype(np.float32) for _ in range(3)]
    start[2] = np.abs(start[2])
    steps = [(rng.integers(0, n_rows, entries),  # ~5,200 distinct rows, some repeated
              rng.standard_normal((entries, dim)).astype(np.float32)) for _ in range(2)]
    results = []
    for n_threads in (1, threads):
        tables = [t.copy() for t in start]
        slot = np.full(n_rows, -1, dtype=np.int64)
        distinct, grad = np.empty(entries, np.int64), np.empty((entries, dim), np.float32)
        for index, values in steps:
            k = compiled.row_adam(index, values, *tables, slot, distinct, grad, np.float32(0.1),
                                  np.float32(0.001), np.float32(1e-8), np.float32(-0.01),
                                  n_threads)
            assert k >= compiled.PARALLEL_MIN_ROWS and (slot == -1).all()
        results.append(tables)
    for serial, parallel in zip(*results, strict=True):
        assert np.array_equal(serial, parallel)
    assert not np.array_equal(results[0][0], start[0])
