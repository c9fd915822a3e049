"""train.optimizer: dense Adam by default; row-sparse (lazy) Adam for MF moves only batch rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from bcl_rec.config import ConfigError, load_config
from bcl_rec.data.interactions import Interactions
from bcl_rec.data.split import leave_one_out
from bcl_rec.models.base import gather, pair_scores
from bcl_rec.models.mf import MF
from bcl_rec.training.optim import build_optimizer
from bcl_rec.training.run import train_run


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


def _sparse_step(table, optimizer, index, weight):
    table.grad = None
    (torch.nn.functional.embedding(index, table, sparse=True) * weight).sum().backward()
    optimizer.step()


@pytest.mark.parametrize("repeats", [False, True])
def test_row_sparse_adam_is_torch_sparse_adam(repeats):
    """RowSparseAdam against torch.optim.SparseAdam, the reference: bit for bit when a batch
    names each row once (same operations in the same order), and to rounding when rows repeat
    (only the order of summing a row's repeated gradients differs)."""
    from bcl_rec.training.optim import RowSparseAdam

    gen = torch.Generator().manual_seed(3)
    reference = torch.randn(50, 4, generator=gen, dtype=torch.float64).requires_grad_()
    ours = reference.detach().clone().requires_grad_()
    start = reference.detach().clone()
    ref_opt = torch.optim.SparseAdam([reference], lr=0.05)
    our_opt = RowSparseAdam([ours], lr=0.05)
    for _ in range(6):
        index = (torch.randint(0, 50, (40,), generator=gen) if repeats
                 else torch.randperm(50, generator=gen)[:20])
        weight = torch.randn(len(index), 4, generator=gen, dtype=torch.float64)
        _sparse_step(reference, ref_opt, index, weight)
        _sparse_step(ours, our_opt, index, weight)
    assert (reference.detach() != start).any(dim=1).sum() > 20  # many rows moved
    state, ref_state = our_opt.state[ours], ref_opt.state[reference]
    assert state["step"] == ref_state["step"] == 6
    if repeats:
        torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(state["exp_avg_sq"], ref_state["exp_avg_sq"],
                                   rtol=1e-12, atol=1e-18)
    else:
        assert torch.equal(ours, reference)
        assert torch.equal(state["exp_avg"], ref_state["exp_avg"])
        assert torch.equal(state["exp_avg_sq"], ref_state["exp_avg_sq"])
