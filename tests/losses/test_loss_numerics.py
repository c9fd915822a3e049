"""The stable log-space helpers every loss is built on."""

from __future__ import annotations

import math

import torch

from bcl_rec.losses._numerics import log1mexp, row_mean, softplus, weighted_logsumexp

F64 = torch.float64


def test_softplus_is_exact_and_has_the_sigmoid_gradient() -> None:
    x = torch.tensor([-800.0, -40.0, -1.0, 0.0, 1.0, 25.0, 800.0], dtype=F64, requires_grad=True)
    y = softplus(x)
    expected = [max(v, 0.0) + math.log1p(math.exp(-abs(v))) for v in x.tolist()]
    for got, want in zip(y.tolist(), expected, strict=True):
        assert abs(got - want) <= 1e-15 * max(1.0, abs(want))
    (g,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(g, torch.sigmoid(x.detach()), rtol=1e-15, atol=0)
    assert g[3].item() == 0.5  # tied scores: exact derivative at 0


def test_log1mexp_is_accurate_on_both_branches() -> None:
    xs = [-1e-12, -1e-6, -0.1, -math.log(2.0), -0.7, -5.0, -50.0, -700.0]
    x = torch.tensor(xs, dtype=F64, requires_grad=True)
    y = log1mexp(x)
    for got, v in zip(y.tolist(), xs, strict=True):
        want = math.log(-math.expm1(v)) if v > -math.log(2.0) else math.log1p(-math.exp(v))
        assert abs(got - want) <= 1e-14 * abs(want)
    (g,) = torch.autograd.grad(y.sum(), x)
    assert bool(torch.isfinite(g).all())
    # d/dx log(1 - e^x) = -e^x / (1 - e^x)
    want_g = torch.tensor([-math.exp(v) / -math.expm1(v) for v in xs], dtype=F64)
    torch.testing.assert_close(g, want_g, rtol=1e-9, atol=0)


def test_weighted_logsumexp_drops_zero_weights_without_nan() -> None:
    s = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [5.0, -5.0, 0.0]], dtype=F64)
    s.requires_grad_()
    w = torch.tensor([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0], [0.5, 0.5, 0.5]], dtype=F64)
    y = weighted_logsumexp(s, w)
    assert abs(y[0].item() - math.log(math.exp(1.0) + 2 * math.exp(3.0))) < 1e-14
    assert y[1].item() == float("-inf")
    assert abs(y[2].item() - math.log(0.5 * (math.exp(5) + math.exp(-5) + 1))) < 1e-14
    (g,) = torch.autograd.grad(softplus(y).sum(), s)
    assert bool(torch.isfinite(g).all())
    assert g[0, 1].item() == 0.0 and bool((g[1] == 0).all())
    # no weights = plain logsumexp, bit for bit
    assert torch.equal(weighted_logsumexp(s.detach()), torch.logsumexp(s.detach(), -1))
    assert torch.equal(
        weighted_logsumexp(s.detach(), torch.ones_like(w)), torch.logsumexp(s.detach(), -1)
    )


def test_weighted_logsumexp_does_not_overflow() -> None:
    s = torch.tensor([[1e4, 1e4 - 1.0], [-1e4, -1e4]], dtype=torch.float32)
    y = weighted_logsumexp(s, torch.ones_like(s))
    assert bool(torch.isfinite(y).all())
    assert abs(y[1].item() - (-1e4 + math.log(2.0))) < 1e-2


def test_row_mean_equals_sum_over_count() -> None:
    x = torch.randn(4, 7, dtype=F64)
    assert torch.equal(row_mean(x), x.sum(-1) / 7)
