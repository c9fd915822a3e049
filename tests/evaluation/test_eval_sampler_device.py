"""The training sampler on the training device: never a train positive, any degree pattern.

(The timing harness relies on this; the sampler's uniformity is tested in tests/test_sampler.py.)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bcl_rec.data.split import to_csr
from bcl_rec.training.sampler import UnlabeledSampler

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def random_train(seed: int, n_users: int, n_items: int, max_free: int) -> tuple:
    """Users from nearly full (1..max_free unlabeled items) to a single positive."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for u in range(n_users):
        if u % 3 == 0:
            free = int(rng.integers(1, max_free + 1))
            items = rng.permutation(n_items)[: n_items - free]
        else:
            items = rng.choice(n_items, size=int(rng.integers(1, n_items)), replace=False)
        rows += [u] * len(items)
        cols += items.tolist()
    return to_csr(np.array(rows), np.array(cols), n_users, n_items)


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), n_users=st.integers(1, 30), n_items=st.integers(2, 80),
       n=st.integers(1, 12))
def test_device_sampler_never_returns_a_positive(device, seed, n_users, n_items, n):
    train = random_train(seed, n_users, n_items, max_free=min(3, n_items - 1))
    sampler = UnlabeledSampler(train, device)
    gen = torch.Generator(device=device).manual_seed(seed)
    users = torch.arange(n_users, device=device).repeat(20)
    neg = sampler.unlabeled(users, n, gen)
    assert neg.device.type == device and neg.shape == (users.shape[0], n)
    neg, users = neg.cpu().numpy(), users.cpu().numpy()
    assert neg.min() >= 0 and neg.max() < n_items
    dense = train.toarray().astype(bool)
    assert not dense[users[:, None], neg].any()
    extras = sampler.positives(torch.as_tensor(users, device=device), 3, gen).cpu().numpy()
    assert dense[users[:, None], extras].all()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_sampler_draws_the_same_distribution_as_cpu():
    train = random_train(1, 4, 40, 3)
    counts = {}
    for device in ("cpu", "cuda"):
        sampler = UnlabeledSampler(train, device)
        gen = torch.Generator(device=device).manual_seed(0)
        draws = sampler.unlabeled(torch.zeros(20000, dtype=torch.long, device=device), 5, gen)
        counts[device] = np.bincount(draws.cpu().numpy().ravel(), minlength=40)
    assert (counts["cpu"] > 0).sum() == (counts["cuda"] > 0).sum()
    assert np.abs(counts["cpu"] - counts["cuda"]).max() < 0.1 * counts["cpu"].max()
