"""The unlabeled sampler never returns a train positive and is uniform over unlabeled items."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy import stats

from bcl_rec.data.errors import DataError
from bcl_rec.data.split import to_csr
from bcl_rec.training.sampler import UnlabeledSampler


def random_csr(n_users, n_items, density, seed):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    mask[:, 0] = False  # keep at least one unlabeled item per user
    u, i = np.nonzero(mask)
    return to_csr(u, i, n_users, n_items)


TABLE_MB = [64.0, 0.0]  # the tabulated path and the binary-search path


@pytest.mark.parametrize("table_mb", TABLE_MB)
@pytest.mark.parametrize("density", [0.02, 0.5, 0.95])
def test_never_returns_a_positive(density, table_mb):
    train = random_csr(50, 200, density, seed=1)
    sampler = UnlabeledSampler(train, table_mb=table_mb)
    assert (sampler._table is None) == (table_mb == 0)
    gen = torch.Generator().manual_seed(0)
    users = torch.arange(50).repeat(40)
    neg = sampler.unlabeled(users, 25, gen)
    assert neg.shape == (2000, 25)
    assert int(neg.min()) >= 0 and int(neg.max()) < 200
    dense = train.toarray().astype(bool)
    assert not dense[users.numpy()[:, None], neg.numpy()].any()


@pytest.mark.parametrize("table_mb", TABLE_MB)
def test_uniform_over_unlabeled_chi_square(table_mb):
    train = random_csr(3, 60, 0.4, seed=2)
    sampler = UnlabeledSampler(train, table_mb=table_mb)
    gen = torch.Generator().manual_seed(123)
    for user in range(3):
        draws = sampler.unlabeled(torch.full((4000,), user), 10, gen).numpy().ravel()
        unlabeled = np.setdiff1d(np.arange(60), train[user].indices)
        counts = np.bincount(draws, minlength=60)
        assert counts[train[user].indices].sum() == 0
        observed = counts[unlabeled]
        result = stats.chisquare(observed)  # uniform expected
        assert result.pvalue > 1e-3, (user, result)


def test_chi_square_detects_a_biased_sampler():
    """The uniformity check above has power: a sampler skewed by 10% fails it."""
    rng = np.random.default_rng(0)
    probs = np.ones(36)
    probs[:18] *= 1.1
    probs /= probs.sum()
    observed = np.bincount(rng.choice(36, size=40000, p=probs), minlength=36)
    assert stats.chisquare(observed).pvalue < 1e-3


def test_extra_positives_come_from_train():
    train = random_csr(20, 100, 0.1, seed=3)
    sampler = UnlabeledSampler(train)
    gen = torch.Generator().manual_seed(0)
    users = torch.arange(20).repeat(10)
    extra = sampler.positives(users, 7, gen)
    dense = train.toarray().astype(bool)
    assert dense[users.numpy()[:, None], extra.numpy()].all()


def test_seeded_reproducible():
    train = random_csr(10, 50, 0.2, seed=4)
    sampler = UnlabeledSampler(train)
    a = sampler.unlabeled(torch.arange(10), 5, torch.Generator().manual_seed(7))
    b = sampler.unlabeled(torch.arange(10), 5, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


def test_user_with_every_item_is_an_error():
    train = sp.csr_matrix(np.ones((2, 4), dtype=np.float32))
    with pytest.raises(DataError, match="every item"):
        UnlabeledSampler(train)


@pytest.mark.parametrize("n_items", [7, 300, 40_000])  # int16 and int32 tables
def test_table_and_search_draw_the_same_items(n_items):
    """The table is only a faster lookup: the same draws map to the same items, so switching
    paths (catalogue size, ``table_mb``) never changes a seeded run."""
    train = random_csr(40, n_items, 0.3 if n_items < 1000 else 0.002, seed=5)
    table, search = UnlabeledSampler(train), UnlabeledSampler(train, table_mb=0)
    assert table._table is not None and search._table is None
    users = torch.randint(0, 40, (500,), generator=torch.Generator().manual_seed(1))
    a = table.unlabeled(users, 9, torch.Generator().manual_seed(3))
    b = search.unlabeled(users, 9, torch.Generator().manual_seed(3))
    assert a.dtype == b.dtype == torch.int64
    assert torch.equal(a, b)


def test_table_respects_its_budget():
    train = random_csr(100, 1000, 0.1, seed=6)
    assert UnlabeledSampler(train, table_mb=0.05)._table is None  # ~180 KB needed
    assert UnlabeledSampler(train, table_mb=1.0)._table is not None
