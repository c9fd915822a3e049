"""One contract for every backbone, and LightGCN's propagation against a dense reference."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from bcl_rec.data.split import to_csr
from bcl_rec.models import LightGCN, ModelConfig, build_model
from bcl_rec.models.lightgcn import normalized_adjacency


def tiny_graph():
    users = np.array([0, 0, 1, 2, 2, 2, 3])
    items = np.array([0, 1, 1, 0, 2, 3, 4])  # item 5 isolated
    return to_csr(users, items, 5, 6)  # user 4 isolated


@pytest.fixture(params=["mf", "lightgcn"])
def model(request):
    gen = torch.Generator().manual_seed(0)
    return build_model(ModelConfig(name=request.param, dim=8), tiny_graph(), generator=gen)


class TestContract:
    def test_shapes(self, model):
        users, items = model.embeddings()
        assert users.shape == (5, 8) and items.shape == (6, 8)

    def test_score_matches_full_scores(self, model):
        u = torch.tensor([0, 3, 4])
        full = model.full_scores(u)
        assert full.shape == (3, 6)
        items = torch.tensor([[0, 5], [2, 4], [1, 1]])
        torch.testing.assert_close(model.score(u, items), full.gather(1, items))
        torch.testing.assert_close(model.score(u, items[:, 0]), full.gather(1, items[:, :1])[:, 0])

    def test_gradients_reach_parameters(self, model):
        model.score(torch.tensor([0, 1]), torch.tensor([2, 3])).sum().backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())

    def test_seeded_init_is_reproducible(self, model):
        again = build_model(
            ModelConfig(name=type(model).__name__.lower(), dim=8), tiny_graph(),
            generator=torch.Generator().manual_seed(0),
        )
        for a, b in zip(model.parameters(), again.parameters(), strict=True):
            assert torch.equal(a, b)

    def test_state_dict_loads_with_weights_only(self, model, tmp_path):
        torch.save(model.state_dict(), tmp_path / "m.pt")
        state = torch.load(tmp_path / "m.pt", weights_only=True)
        model.load_state_dict(state)


def test_normalized_adjacency_dense_reference():
    r = tiny_graph().toarray()
    a = np.block([[np.zeros((5, 5)), r], [r.T, np.zeros((6, 6))]])
    d = a.sum(1)
    with np.errstate(divide="ignore"):
        inv = np.where(d > 0, d**-0.5, 0.0)
    expected = inv[:, None] * a * inv[None, :]
    np.testing.assert_allclose(normalized_adjacency(sp.csr_matrix(r)).toarray(), expected,
                               rtol=1e-6)


@pytest.mark.parametrize("layers, weights", [(0, None), (1, None), (3, None), (2, [0.5, 0.3, 0.2])])
def test_lightgcn_propagation_dense_reference(layers, weights):
    gen = torch.Generator().manual_seed(1)
    model = LightGCN(5, 6, tiny_graph(), dim=4, layers=layers, layer_weights=weights,
                     generator=gen).double()
    a = torch.as_tensor(normalized_adjacency(tiny_graph()).toarray(), dtype=torch.float64)
    e = torch.cat([model.user_embedding, model.item_embedding]).detach()
    w = weights or [1 / (layers + 1)] * (layers + 1)
    expected, layer = w[0] * e, e
    for k in range(1, layers + 1):
        layer = a @ layer
        expected = expected + w[k] * layer
    model.adjacency = model.adjacency.to(torch.float64)
    users, items = model.embeddings()
    torch.testing.assert_close(torch.cat([users, items]).detach(), expected)


def test_lightgcn_gradient_matches_dense():
    gen = torch.Generator().manual_seed(2)
    model = LightGCN(5, 6, tiny_graph(), dim=3, layers=2, generator=gen)
    users, items = model.embeddings()
    (users[0] @ items[2] + users[3] @ items[4]).backward()
    got = torch.cat([model.user_embedding.grad, model.item_embedding.grad])
    a = torch.as_tensor(normalized_adjacency(tiny_graph()).toarray())
    e = torch.cat([model.user_embedding, model.item_embedding]).detach().clone().requires_grad_()
    out = (e + a @ e + a @ (a @ e)) / 3
    (out[0] @ out[5 + 2] + out[3] @ out[5 + 4]).backward()
    torch.testing.assert_close(got, e.grad)


def test_bad_layer_weights():
    with pytest.raises(ValueError, match="layer_weights"):
        LightGCN(5, 6, tiny_graph(), layers=2, layer_weights=[1.0, 0.0])


def test_repr_is_compact(model):
    assert "n_users=5, n_items=6, dim=8" in repr(model)


def test_cpu_gather_gradient_is_embeddings_bitwise():
    """gather() replaces F.embedding's CPU backward by an index_add_: same bits, duplicates and
    several uses of one table included."""
    from bcl_rec.models.base import gather, pair_scores

    gen = torch.Generator().manual_seed(0)
    table = torch.randn(50, 8, generator=gen, requires_grad=True)
    users = torch.randn(30, 8, generator=gen, requires_grad=True)
    pos = torch.randint(0, 50, (30,), generator=gen)
    neg = torch.randint(0, 5, (30, 40), generator=gen)  # heavy duplicates
    weight = torch.randn(30, 41, generator=gen)
    grads = []
    for take in (gather, lambda t, i: torch.nn.functional.embedding(i, t)):
        table.grad = users.grad = None
        pos_scores = pair_scores(users, take(table, pos)).unsqueeze(1)
        scores = torch.cat([pos_scores, pair_scores(users, take(table, neg))], dim=1)
        (scores * weight).sin().sum().backward()
        grads.append((scores.detach(), table.grad.clone(), users.grad.clone()))
    for ours, reference in zip(*grads, strict=True):
        assert torch.equal(ours, reference)
