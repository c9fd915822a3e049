"""The unlabeled sampler never returns a train positive and is uniform over unlabeled items."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy import stats

from bcl_rec.data.errors import DataError
from bcl_rec.data.split import to_csr
from bcl_rec.training import row_kernels
from bcl_rec.training.sampler import UnlabeledSampler

needs_numba = pytest.mark.skipif(not row_kernels.AVAILABLE, reason="numba not installed")


def random_csr(n_users, n_items, density, seed):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    mask[:, 0] = False  # keep at least one unlabeled item per user
    u, i = np.nonzero(mask)
    return to_csr(u, i, n_users, n_items)


# (table_mb, kernels): the tabulated path, the torch binary search, the compiled search
PATHS = [(64.0, False), (0.0, False), pytest.param(0.0, True, marks=needs_numba)]


@pytest.mark.parametrize(("table_mb", "kernels"), PATHS)
@pytest.mark.parametrize("density", [0.02, 0.5, 0.95])
def test_never_returns_a_positive(density, table_mb, kernels):
    train = random_csr(50, 200, density, seed=1)
    sampler = UnlabeledSampler(train, table_mb=table_mb, kernels=kernels)
    assert (sampler._table is None) == (table_mb == 0)
    assert (sampler._keys is None) == (table_mb > 0 or kernels)
    gen = torch.Generator().manual_seed(0)
    users = torch.arange(50).repeat(40)
    neg = sampler.unlabeled(users, 25, gen)
    assert neg.shape == (2000, 25)
    assert int(neg.min()) >= 0 and int(neg.max()) < 200
    dense = train.toarray().astype(bool)
    assert not dense[users.numpy()[:, None], neg.numpy()].any()


@pytest.mark.parametrize(("table_mb", "kernels"), PATHS)
def test_uniform_over_unlabeled_chi_square(table_mb, kernels):
    train = random_csr(3, 60, 0.4, seed=2)
    sampler = UnlabeledSampler(train, table_mb=table_mb, kernels=kernels)
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
    table, search = UnlabeledSampler(train), UnlabeledSampler(train, table_mb=0, kernels=False)
    assert table._table is not None and search._table is None
    users = torch.randint(0, 40, (500,), generator=torch.Generator().manual_seed(1))
    a = table.unlabeled(users, 9, torch.Generator().manual_seed(3))
    b = search.unlabeled(users, 9, torch.Generator().manual_seed(3))
    assert a.dtype == b.dtype == torch.int64
    assert torch.equal(a, b)


@needs_numba
@pytest.mark.parametrize("batch", [1, 3, 8, 600])
def test_rows_are_visited_grouped_by_user_on_both_sorting_paths(batch):
    """Counting sort (rows >= users / 8) and merge sort (fewer rows): the stable order."""
    from bcl_rec.training.compiled_rows import by_user

    users = np.random.default_rng(batch).integers(0, 40, batch)
    assert np.array_equal(by_user(users, 40), np.argsort(users, kind="stable"))


@needs_numba
@pytest.mark.parametrize("n_items", [2, 300, 40_000])
def test_compiled_search_draws_the_torch_search_items(n_items):
    """The compiled per-user search is the torch search's map from draws to items, including
    users with no train positive, one unlabeled item, and ranks at both ends."""
    train = random_csr(40, n_items, 0.3 if n_items < 1000 else 0.002, seed=8).tolil()
    train[3, :] = 0  # no train positive: the r-th unlabeled item is r
    train[4, 1:] = 1  # one unlabeled item (0)
    train = sp.csr_matrix(train)
    train.eliminate_zeros()
    torch_search = UnlabeledSampler(train, table_mb=0, kernels=False)
    compiled = UnlabeledSampler(train, table_mb=0, kernels=True)
    assert compiled.kernels and compiled._keys is None
    users = torch.randint(0, 40, (600,), generator=torch.Generator().manual_seed(1))
    users[:4] = torch.tensor([3, 3, 4, 4])
    uniform = torch.rand(600, 11, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    uniform[:, 0], uniform[:, 1] = 0.0, 1.0 - 2**-53  # the first and the last unlabeled item
    expected = torch_search.unlabeled_at(users, uniform)
    got = compiled.unlabeled_at(users, uniform)
    assert got.dtype == torch.int64
    assert torch.equal(got, expected)
    assert got[0, 0] == 0 and got[0, 1] == n_items - 1 and (got[2:4] == 0).all()
    few = compiled.unlabeled_at(users[:4], uniform[:4])  # fewer rows than users / 8: merge sort
    assert torch.equal(few, expected[:4])


def test_table_respects_its_budget():
    train = random_csr(100, 1000, 0.1, seed=6)
    assert UnlabeledSampler(train, table_mb=0.05)._table is None  # ~180 KB needed
    assert UnlabeledSampler(train, table_mb=1.0)._table is not None


@needs_numba
def test_compiled_search_at_every_degree_around_the_coarse_stride():
    """Users with 0..41 positives (below, at and across multiples of the coarse index's stride),
    positives clustered at the start, the end or spread: every rank of every user maps to the
    torch search's item."""
    rng = np.random.default_rng(4)
    rows, cols = [], []
    for user in range(42):
        layout = user % 3
        if layout == 0:
            items = np.arange(user)
        elif layout == 1:
            items = np.arange(60 - user, 60)
        else:
            items = np.sort(rng.choice(60, user, replace=False))
        rows += [user] * user
        cols += items.tolist()
    train = to_csr(np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), 42, 60)
    free = 60 - np.diff(train.indptr)
    users = np.repeat(np.arange(42), free)
    rank = np.concatenate([np.arange(f) for f in free])
    uniform = torch.as_tensor((rank + 0.5) / free[users], dtype=torch.float64).unsqueeze(1)
    users = torch.as_tensor(users)
    expected = UnlabeledSampler(train, table_mb=0, kernels=False).unlabeled_at(users, uniform)
    got = UnlabeledSampler(train, table_mb=0, kernels=True).unlabeled_at(users, uniform)
    assert torch.equal(got, expected)
    dense = train.toarray().astype(bool)
    assert not dense[users.numpy(), got[:, 0].numpy()].any()
    for user in range(42):  # each user's unlabeled items, each once, in increasing order
        mine = got[users == user, 0].numpy()
        assert np.array_equal(mine, np.flatnonzero(~dense[user]))


def test_without_numba_the_torch_search_runs_and_asking_for_kernels_says_what_to_install(
    monkeypatch,
):
    monkeypatch.setattr(row_kernels, "AVAILABLE", False)
    train = random_csr(10, 50, 0.2, seed=4)
    sampler = UnlabeledSampler(train, table_mb=0)
    assert sampler.kernels is False and sampler._keys is not None
    with pytest.raises(ValueError) as err:
        UnlabeledSampler(train, table_mb=0, kernels=True)
    assert str(err.value) == (
        "kernels=True needs numba (pip install 'bcl-rec[fast]'), the CPU and fewer than "
        "2**31 items"
    )


@needs_numba
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_compiled_search_on_threads_draws_the_torch_search_items(threads, monkeypatch):
    """From PARALLEL_MIN_ROWS rows a batch is searched in contiguous parts of its visiting
    order, one per thread (torch's thread count): the same items as the torch search."""
    from bcl_rec.training.compiled_rows import PARALLEL_MIN_ROWS

    train = random_csr(300, 5_000, 0.01, seed=9)
    gen = torch.Generator().manual_seed(3)
    users = torch.randint(0, 300, (2 * PARALLEL_MIN_ROWS,), generator=gen)
    uniform = torch.rand(len(users), 6, generator=torch.Generator().manual_seed(4),
                         dtype=torch.float64)
    expected = UnlabeledSampler(train, table_mb=0, kernels=False).unlabeled_at(users, uniform)
    monkeypatch.setattr(row_kernels, "threads", lambda: threads)
    got = UnlabeledSampler(train, table_mb=0, kernels=True).unlabeled_at(users, uniform)
    assert torch.equal(got, expected)
