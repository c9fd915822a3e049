"""Cosine scores (spec 8.1, property 15) and the dense scoring path for many negatives."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bcl_rec.evaluation.ranking import FullRankingEvaluator
from bcl_rec.losses import LOSS_NAMES, LossConfig, build_loss
from bcl_rec.models import ModelConfig, build_model
from bcl_rec.models.base import DENSE_MIN_ITEMS, gather, item_scores, pair_scores
from bcl_rec.training.run import train_run
from tests.evaluation.eval_helpers import as_csr, reference_metrics
from tests.test_models import tiny_graph
from tests.test_training import small_config, synthetic_split


def cosine_model(name: str, dim: int = 8, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return build_model(ModelConfig(name=name, dim=dim, score="cosine"), tiny_graph(), gen)


@pytest.mark.parametrize("name", ["mf", "lightgcn"])
def test_cosine_scores_are_cosines_in_minus_one_one(name: str) -> None:
    model = cosine_model(name)
    users, items = model.embeddings()
    full = model.full_scores(torch.arange(model.n_users))
    assert bool((full.abs() <= 1 + 1e-6).all())
    naive = F.cosine_similarity(users.unsqueeze(1), items.unsqueeze(0), dim=-1)
    torch.testing.assert_close(full, naive)
    u = torch.tensor([0, 1, 2])
    i = torch.tensor([[0, 1, 5], [2, 3, 4], [1, 1, 0]])
    torch.testing.assert_close(model.score(u, i), full[u.unsqueeze(1), i])


@pytest.mark.parametrize("name", ["mf", "lightgcn"])
def test_dot_is_the_default_and_leaves_embeddings_as_they_are(name: str) -> None:
    gen = torch.Generator().manual_seed(0)
    model = build_model(ModelConfig(name=name, dim=8), tiny_graph(), gen)
    assert model.score_kind == "dot"
    for a, b in zip(model.scoring_embeddings(), model.embeddings(), strict=True):
        assert torch.equal(a, b)


def test_model_score_is_validated_naming_the_key() -> None:
    with pytest.raises(ValueError, match=r"^model\.score: must be 'dot' or 'cosine', got 'l2'"):
        ModelConfig(score="l2")


@pytest.mark.parametrize("name", ["mf", "lightgcn"])
@pytest.mark.parametrize("loss_name", LOSS_NAMES)
def test_zero_embeddings_give_finite_losses_and_gradients(name: str, loss_name: str) -> None:
    model = cosine_model(name)
    with torch.no_grad():
        model.user_embedding[0] = 0.0  # user 0: zero ego embedding
        model.user_embedding[4] = 0.0  # user 4 is isolated: zero propagated embedding too
        model.item_embedding[5] = 0.0  # item 5 is isolated
    users = torch.tensor([0, 4, 1])
    pos = torch.tensor([5, 5, 1])
    neg = torch.tensor([[5, 2, 3], [0, 5, 1], [5, 4, 0]])
    user_emb, item_emb = model.scoring_embeddings()
    assert user_emb[4].abs().sum().item() == 0.0 and item_emb[5].abs().sum().item() == 0.0
    u = gather(user_emb, users)
    sp, sn = pair_scores(u, gather(item_emb, pos)), item_scores(u, item_emb, neg)
    cfg = LossConfig(name=loss_name, temperature=0.1, num_extras=1 if loss_name == "dpl" else 0)
    extra = sp.unsqueeze(1) if loss_name == "dpl" else None
    loss_fn = build_loss(cfg, embedding_dim=model.dim)
    inputs = {}
    if loss_fn.needs_items:
        inputs["items"] = (pos, neg)
    if loss_fn.needs_vectors:
        inputs["vectors"] = (u, gather(item_emb, pos), gather(item_emb, neg))
    out = loss_fn(sp, sn, extra, **inputs)
    out.loss.backward()
    assert bool(torch.isfinite(out.loss))
    for p in model.parameters():
        assert p.grad is not None and bool(torch.isfinite(p.grad).all())


@pytest.mark.parametrize("name", ["mf", "lightgcn"])
def test_evaluator_ranks_by_the_normalised_embeddings(name: str) -> None:
    model = cosine_model(name, seed=3)
    rng = np.random.default_rng(0)
    held = [[int(rng.integers(0, 6))] for _ in range(5)]
    exclude = [[i for i in range(6) if i != h[0] and rng.random() < 0.3] for h in held]
    evaluator = FullRankingEvaluator(
        as_csr(held, 5, 6), as_csr(exclude, 5, 6), topk=(1, 3), device="cpu"
    )
    with torch.no_grad():
        got = evaluator.evaluate(*model.scoring_embeddings())
        users, items = model.embeddings()
        naive = (F.normalize(users, dim=-1) @ F.normalize(items, dim=-1).T).numpy()
    want = reference_metrics(naive, held, exclude, (1, 3))
    assert got.keys() >= want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key
    # a dot-product ranking differs on this case, so the test can tell the two apart
    with torch.no_grad():
        dot = reference_metrics((users @ items.T).numpy(), held, exclude, (1, 3))
    assert dot != want


def test_trainer_validates_and_tests_on_cosine_scores() -> None:
    split = synthetic_split()
    result = train_run(
        small_config("model.score=cosine", "loss.name=ssm", "loss.temperature=0.2",
                     "train.epochs=3"),
        split=split,
    )
    model = result.model
    assert model.score_kind == "cosine"
    evaluator = FullRankingEvaluator(split.test, (split.train + split.valid).tocsr(),
                                     topk=(10, 20), device="cpu")
    with torch.no_grad():
        users, items = model.embeddings()
        want = evaluator.evaluate(F.normalize(users, dim=-1), F.normalize(items, dim=-1))
    for key, value in want.items():
        assert result.metrics["test"][key] == pytest.approx(value, abs=1e-9), key


@pytest.mark.parametrize("n", [DENSE_MIN_ITEMS - 1, DENSE_MIN_ITEMS, 300])
def test_item_scores_equal_gathered_products_with_equal_gradients(n: int) -> None:
    g = torch.Generator().manual_seed(0)
    table = torch.randn(50, 8, generator=g, dtype=torch.float64, requires_grad=True)
    users = torch.randn(6, 8, generator=g, dtype=torch.float64, requires_grad=True)
    items = torch.randint(0, 50, (6, n), generator=g)
    weights = torch.randn(6, n, generator=g, dtype=torch.float64)
    got = item_scores(users, table, items)
    ga = torch.autograd.grad((got * weights).sum(), (users, table))
    want = pair_scores(users, table[items])
    wa = torch.autograd.grad((want * weights).sum(), (users, table))
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    for a, b in zip(ga, wa, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_small_n_keeps_the_gather_path_bit_for_bit() -> None:
    g = torch.Generator().manual_seed(1)
    table = torch.randn(2000, 16, generator=g, requires_grad=True)
    users = torch.randn(32, 16, generator=g)
    items = torch.randint(0, 2000, (32, 10), generator=g)
    assert torch.equal(item_scores(users, table, items), pair_scores(users, gather(table, items)))
