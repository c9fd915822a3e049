"""Gradients: float64 gradcheck, no gradient through omega, finiteness at extreme scores.

Spec section 6, properties 7 and 8, plus autograd checks of every loss.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd import gradcheck

from bcl_rec.losses import (
    BCLLoss,
    BCLNCELoss,
    BPRLoss,
    DCLLoss,
    DPLLoss,
    HCLLoss,
    SampledSoftmaxLoss,
    bcl_weights,
)

F64 = torch.float64
F32 = torch.float32


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _spaced_rows(b: int = 3, n: int = 5, m: int = 2, seed: int = 0):
    """Scores at least 0.05 apart within a row, so finite differences never change a rank."""
    g = _gen(seed)
    pos = torch.randn(b, generator=g, dtype=F64)
    base = torch.arange(n, dtype=F64) * 0.4 - 0.8
    neg = torch.stack([base[torch.randperm(n, generator=g)] for _ in range(b)])
    neg = neg + 0.05 * torch.rand(b, n, generator=g, dtype=F64)
    extra = torch.randn(b, m, generator=g, dtype=F64)
    return pos, neg, extra


GRADCHECK_LOSSES = [
    BPRLoss(),
    BPRLoss(first_only=True, temperature=0.7),
    SampledSoftmaxLoss(temperature=0.5),
    BCLLoss(alpha=0.8, beta=0.9, tau_plus=0.1),
    BCLLoss(alpha=0.8, beta=1.0, tau_plus=0.1, ecdf="mid", self_normalise=True, temperature=0.6),
    BCLNCELoss(alpha=0.7, beta=1.0, tau_plus=0.05, temperature=0.5),
    BCLNCELoss(alpha=0.9, beta=0.7, tau_plus=0.05, ecdf="mid", self_normalise=True),
    DCLLoss(tau_plus=0.1, s_min=-3.0),
    DCLLoss(tau_plus=0.1, s_min=-3.0, pos_source="extras", temperature=0.8),
    DCLLoss(tau_plus=0.0, s_min=None),
    HCLLoss(tau_plus=0.1, hcl_beta=1.0, s_min=-3.0),
    HCLLoss(tau_plus=0.05, hcl_beta=0.5, s_min=-3.0, pos_source="extras", temperature=0.5),
    DPLLoss(tau_plus=0.1),
    DPLLoss(tau_plus=0.1, normalize_by_tau_minus=True, temperature=0.5),
    DPLLoss(tau_plus=0.1, floor=1e-40),
]


@pytest.mark.parametrize("loss", GRADCHECK_LOSSES, ids=lambda m: repr(m).replace(" ", ""))
def test_gradcheck_float64(loss) -> None:
    pos, neg, extra = _spaced_rows()
    inputs = tuple(x.clone().requires_grad_() for x in (pos, neg, extra))
    # the point must be away from any clamp boundary
    if isinstance(loss, (DCLLoss, DPLLoss)):
        assert loss(*inputs).stats["floored_fraction"].item() == 0.0
    assert gradcheck(lambda p, n, e: loss(p, n, e).loss, inputs, eps=1e-6, atol=1e-8)


def test_gradcheck_dcl_with_an_active_floor() -> None:
    pos = torch.tensor([3.0, 0.2], dtype=F64, requires_grad=True)
    neg = torch.tensor([[-1.0, -2.0, -1.5], [0.5, -0.5, 0.1]], dtype=F64, requires_grad=True)
    loss = DCLLoss(tau_plus=0.3, s_min=-2.5)
    assert loss(pos, neg).stats["floored_fraction"].item() == 0.5
    assert gradcheck(lambda p, n: loss(p, n).loss, (pos, neg), eps=1e-6, atol=1e-8)


def test_hcl_detached_weights_are_constant_importance_weights() -> None:
    pos, neg, _ = _spaced_rows(b=4, n=6)
    gamma, tau, t, s_min = 0.8, 0.1, 0.5, -4.0
    p = pos.clone().requires_grad_()
    n = neg.clone().requires_grad_()
    ours = HCLLoss(tau_plus=tau, hcl_beta=gamma, s_min=s_min, temperature=t, detach_weights=True)
    g_ours = torch.autograd.grad(ours(p, n).loss, (p, n))
    # same estimator with w = exp(gamma s / T) frozen as constants
    w = torch.exp(gamma * neg / t)
    sp, sn = p / t, n / t
    reweight = (w * torch.exp(sn)).sum(-1) / w.mean(-1)
    ng = (-tau * neg.shape[1] * torch.exp(sp) + reweight) / (1 - tau)
    ng = torch.clamp(ng, min=neg.shape[1] * math.exp(s_min))
    ref = (-torch.log(torch.exp(sp) / (torch.exp(sp) + ng))).mean()
    g_ref = torch.autograd.grad(ref, (p, n))
    for a, b in zip(g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-14)
    # and it differs from the default, which differentiates through the weights
    g_full = torch.autograd.grad(
        HCLLoss(tau_plus=tau, hcl_beta=gamma, s_min=s_min, temperature=t)(p, n).loss, n
    )[0]
    assert not torch.allclose(g_full, g_ours[1])


# ------------------------------------------------------------------ property 7


@pytest.mark.parametrize("self_normalise", [False, True])
@pytest.mark.parametrize("rule", ["max", "mid"])
def test_no_gradient_through_omega_pairwise(self_normalise: bool, rule: str) -> None:
    pos, neg, _ = _spaced_rows(b=4, n=8, seed=1)
    p = pos.clone().requires_grad_()
    n = neg.clone().requires_grad_()
    loss = BCLLoss(alpha=0.85, beta=0.8, tau_plus=0.1, ecdf=rule, self_normalise=self_normalise)
    g_ours = torch.autograd.grad(loss(p, n).loss, (p, n))
    c, _ = bcl_weights(neg.detach(), 0.85, 0.8, 0.1, rule)  # constants c_j = omega_j
    c = c.clone()
    per = torch.nn.functional.softplus(n - p[:, None])
    row = (c * per).sum(-1) / (c.sum(-1) if self_normalise else n.shape[1])
    g_ref = torch.autograd.grad(row.mean(), (p, n))
    for a, b in zip(g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-16)


def test_no_gradient_through_omega_contrastive() -> None:
    pos, neg, _ = _spaced_rows(b=4, n=8, seed=2)
    p = pos.clone().requires_grad_()
    n = neg.clone().requires_grad_()
    g_ours = torch.autograd.grad(BCLNCELoss(alpha=0.85, beta=0.8)(p, n).loss, (p, n))
    c, _ = bcl_weights(neg, 0.85, 0.8, 0.05)
    ng = (c * torch.exp(n)).sum(-1)
    ref = (-torch.log(torch.exp(p) / (torch.exp(p) + ng))).mean()
    g_ref = torch.autograd.grad(ref, (p, n))
    for a, b in zip(g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-16)


def test_omega_from_grad_requiring_scores_has_no_grad() -> None:
    neg = torch.randn(3, 7, dtype=F64, requires_grad=True)
    omega, pi_tn = bcl_weights(neg, 0.8, 1.0, 0.1)
    assert not omega.requires_grad and omega.grad_fn is None
    assert not pi_tn.requires_grad and pi_tn.grad_fn is None
    ref = torch.randn(3, 20, dtype=F64, requires_grad=True)
    omega, _ = bcl_weights(neg, 0.8, 1.0, 0.1, ref=ref)
    assert not omega.requires_grad
    # and under an enabled grad mode inside the loss, too
    loss = BCLLoss(alpha=0.8)
    w, _ = loss.weights(neg, None)
    assert not w.requires_grad


# ------------------------------------------------------------------ property 8


def _extreme_cases(v: float):
    """(pos, neg, extra) float32 rows with the positive far above / below / amid the items."""
    f = dict(dtype=F32)
    pos = torch.tensor([v, -v, 0.0, v, -v, 0.0], **f)
    neg = torch.tensor(
        [
            [-v, -v, -v / 2, -v, -v],
            [v, v, v / 2, v, v],
            [-v, v, 0.0, v / 2, -v / 2],
            [v, -v, v, -v, 0.0],
            [-v, -v, v, 0.0, -v / 2],
            [0.0, 0.0, 0.0, 0.0, 0.0],
        ],
        **f,
    )
    extra = torch.tensor([[v, -v], [-v, v], [0.0, v], [v, v], [-v, -v], [0.0, 0.0]], **f)
    return pos, neg, extra


EXTREME_LOSSES = [
    BPRLoss(),
    BPRLoss(first_only=True),
    SampledSoftmaxLoss(),
    SampledSoftmaxLoss(temperature=0.05),
    BCLLoss(alpha=0.99, beta=1.0, tau_plus=0.0),
    BCLLoss(alpha=0.9, beta=0.7, tau_plus=0.05, self_normalise=True, ecdf="mid"),
    BCLNCELoss(alpha=0.99, beta=1.0, tau_plus=0.0),
    BCLNCELoss(alpha=0.9, beta=0.7, tau_plus=0.05, self_normalise=True, temperature=0.1),
    DPLLoss(tau_plus=0.05),
    DPLLoss(tau_plus=0.05, floor=1e-40, normalize_by_tau_minus=True),
    DCLLoss(tau_plus=0.1, s_min=-1.0),
    DCLLoss(tau_plus=0.1, s_min=-1.0, pos_source="extras"),
    DCLLoss(tau_plus=0.0),
    HCLLoss(tau_plus=0.1, hcl_beta=1.0, s_min=-1.0),
    HCLLoss(tau_plus=0.1, hcl_beta=2.0, s_min=-1.0, pos_source="extras", detach_weights=True),
]


@pytest.mark.parametrize("v", [80.0, 1e4])
@pytest.mark.parametrize("loss", EXTREME_LOSSES, ids=lambda m: repr(m).replace(" ", ""))
def test_finite_loss_and_gradients_at_extreme_scores(v: float, loss) -> None:
    inputs = tuple(x.clone().requires_grad_() for x in _extreme_cases(v))
    out = loss(*inputs)
    assert out.loss.dtype == F32
    assert bool(torch.isfinite(out.loss)), out.loss
    grads = torch.autograd.grad(out.loss, inputs, allow_unused=True)
    for g in grads:
        assert g is None or bool(torch.isfinite(g).all())
    assert all(bool(torch.isfinite(s).all()) for s in out.stats.values())
    # bounded gradients: |d loss_row / d s| <= max(1, max omega); rows are averaged (x B)
    if isinstance(loss, (BPRLoss, SampledSoftmaxLoss, BCLLoss, BCLNCELoss)):
        bound = max(1.0, out.stats["max_weight"].item() if "max_weight" in out.stats else 1.0)
        b = inputs[0].shape[0]
        t = loss.temperature
        for g in grads[:2]:
            assert g.abs().max().item() * b * t <= bound * (1 + 1e-5)


@pytest.mark.parametrize("normalize", [False, True])
def test_dpl_at_its_floor_returns_minus_log_floor_with_zero_gradient(normalize: bool) -> None:
    pos = torch.tensor([-80.0, -1e4], requires_grad=True)
    neg = torch.tensor([[80.0, 70.0], [1e4, 0.0]], requires_grad=True)
    extra = torch.tensor([[-80.0], [-1e4]], requires_grad=True)
    out = DPLLoss(tau_plus=0.05, normalize_by_tau_minus=normalize)(pos, neg, extra)
    assert out.loss.item() == pytest.approx(-math.log(0.01), rel=1e-6)
    assert out.stats["floored_fraction"].item() == 1.0
    grads = torch.autograd.grad(out.loss, (pos, neg, extra))
    assert all(bool((g == 0).all()) for g in grads)


@pytest.mark.parametrize("cls", [DCLLoss, HCLLoss])
def test_dcl_hcl_with_active_floor_are_finite(cls) -> None:
    pos = torch.tensor([1e4, 81.0], requires_grad=True)
    neg = torch.tensor([[-1e4, 0.0, 1.0], [-80.0, -79.0, 79.0]], requires_grad=True)
    out = cls(tau_plus=0.2, s_min=-1.0)(pos, neg)
    assert out.stats["floored_fraction"].item() == 1.0
    assert bool(torch.isfinite(out.loss))
    for g in torch.autograd.grad(out.loss, (pos, neg)):
        assert bool(torch.isfinite(g).all())


def test_bcl_top_item_weight_is_exactly_omega_one_at_extremes() -> None:
    # float32 exp would saturate at +-80 and create ties; ranking raw scores does not
    neg = torch.tensor([[79.0, 80.0, 81.0, -1e4, 1e4]])
    omega, _ = bcl_weights(neg, 0.99, 1.0, 0.0)
    assert omega[0, -1].item() == pytest.approx(100.0, rel=1e-5)
    assert len(set(omega[0].tolist())) == 5  # no artificial ties
