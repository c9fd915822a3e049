"""Loss-level identities: reductions to the baselines, DCL/HCL/DPL special cases, reference parity,
permutation invariance and the catalogue ECDF inside BCL.

Spec section 6, properties 1, 5 (losses), 9, 10 and 12 (losses).
"""

from __future__ import annotations

import math

import pytest
import torch
from loss_refs import (
    direct_bpr_first,
    direct_dcl,
    direct_dpl,
    direct_hcl,
    direct_infonce,
)

from bcl_rec.losses import (
    LOSSES,
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


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _rows(b: int = 6, n: int = 12, m: int = 3, scale: float = 2.0, seed: int = 0):
    g = _gen(seed)
    pos = scale * torch.randn(b, generator=g, dtype=F64)
    neg = scale * torch.randn(b, n, generator=g, dtype=F64)
    extra = scale * torch.randn(b, m, generator=g, dtype=F64)
    return pos, neg, extra


# ------------------------------------------------------------------ property 1


@pytest.mark.parametrize("tau", [0.0, 0.05, 0.3])
@pytest.mark.parametrize("rule", ["max", "mid"])
@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_bcl_reduces_to_bpr_and_ssm_at_half_half(tau: float, rule: str, temperature: float) -> None:
    pos, neg, _ = _rows(seed=1)
    neg[:, :3] = neg[:, 3:6]  # include ties
    kw = dict(alpha=0.5, beta=0.5, tau_plus=tau, ecdf=rule, temperature=temperature)
    bpr = BPRLoss(temperature=temperature)(pos, neg).loss
    ssm = SampledSoftmaxLoss(temperature=temperature)(pos, neg).loss
    pair = BCLLoss(**kw)(pos, neg)
    pair_sn = BCLLoss(self_normalise=True, **kw)(pos, neg).loss
    nce = BCLNCELoss(**kw)(pos, neg).loss
    nce_sn = BCLNCELoss(self_normalise=True, **kw)(pos, neg).loss
    assert pair.stats["max_weight"].item() == 1.0 and pair.stats["min_weight"].item() == 1.0
    assert torch.equal(pair.loss, bpr)
    assert torch.equal(pair_sn, bpr)
    assert torch.equal(nce, ssm)
    assert torch.equal(nce_sn, ssm)


def test_pairwise_losses_are_accurate_for_large_margins() -> None:
    # softplus(x) = x + log1p(e^-x): no threshold cut-off, even in float64 at x = 30
    pos = torch.tensor([-30.0, 30.0], dtype=F64)
    neg = torch.zeros(2, 1, dtype=F64)
    expected = (30.0 + math.log1p(math.exp(-30.0)) + math.log1p(math.exp(-30.0))) / 2
    assert abs(BPRLoss()(pos, neg).loss.item() - expected) <= 2e-15 * expected


@pytest.mark.parametrize("cls", [BCLLoss, BCLNCELoss])
def test_bcl_weights_do_not_depend_on_temperature(cls) -> None:
    pos, neg, _ = _rows(seed=24)
    stats = [cls(alpha=0.8, temperature=t)(pos, neg).stats for t in (0.05, 1.0, 20.0)]
    for other in stats[1:]:
        assert all(torch.equal(stats[0][k], other[k]) for k in stats[0])


def test_bcl_differs_from_bpr_away_from_half_half() -> None:
    pos, neg, _ = _rows(seed=2)
    assert not torch.allclose(BCLLoss(alpha=0.8, beta=1.0)(pos, neg).loss, BPRLoss()(pos, neg).loss)


def test_bcl_forms_match_direct_formulas() -> None:
    pos, neg, _ = _rows(seed=3)
    kw = dict(alpha=0.8, beta=0.9, tau_plus=0.1, ecdf="mid", temperature=0.7)
    w, _ = bcl_weights(neg, 0.8, 0.9, 0.1, "mid")
    sp, sn = pos / 0.7, neg / 0.7
    pair = (w * torch.log1p(torch.exp(sn - sp[:, None]))).mean(-1)
    pair_sn = (w * torch.log1p(torch.exp(sn - sp[:, None]))).sum(-1) / w.sum(-1)
    ng = (w * torch.exp(sn)).sum(-1)
    nce = -torch.log(torch.exp(sp) / (torch.exp(sp) + ng))
    ng_sn = neg.shape[1] * ng / w.sum(-1)
    nce_sn = -torch.log(torch.exp(sp) / (torch.exp(sp) + ng_sn))
    close = dict(rtol=1e-12, atol=0)
    torch.testing.assert_close(BCLLoss(**kw)(pos, neg).loss, pair.mean(), **close)
    torch.testing.assert_close(
        BCLLoss(self_normalise=True, **kw)(pos, neg).loss, pair_sn.mean(), **close
    )
    torch.testing.assert_close(BCLNCELoss(**kw)(pos, neg).loss, nce.mean(), **close)
    torch.testing.assert_close(
        BCLNCELoss(self_normalise=True, **kw)(pos, neg).loss, nce_sn.mean(), **close
    )


def test_bcl_stats_describe_the_weights() -> None:
    pos, neg, _ = _rows(seed=4)
    out = BCLLoss(alpha=0.8, beta=1.0, tau_plus=0.1)(pos, neg)
    w, p = bcl_weights(neg, 0.8, 1.0, 0.1)
    assert out.stats["mean_weight"].item() == pytest.approx(w.mean().item(), rel=1e-14, abs=0)
    assert out.stats["max_weight"].item() == w.max().item()
    assert out.stats["mean_pi_tn"].item() == pytest.approx(p.mean().item(), rel=1e-14, abs=0)
    assert all(v.dim() == 0 and not v.requires_grad for v in out.stats.values())


def test_bcl_row_with_all_zero_weights_is_zero_not_nan() -> None:
    # catalogue ECDF where every sampled item lies below all reference items: u = 0, t = 0,
    # omega(0) = 0 when beta = 1; the self-normalised and contrastive forms must give 0, not NaN
    pos = torch.tensor([0.0, 0.0], dtype=F64, requires_grad=True)
    neg = torch.tensor([[-5.0, -6.0], [1.0, 2.0]], dtype=F64, requires_grad=True)
    ref = torch.tensor([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]], dtype=F64)
    for cls in (BCLLoss, BCLNCELoss):
        for sn in (False, True):
            loss = cls(alpha=0.8, beta=1.0, ecdf_source="catalogue", self_normalise=sn)
            out = loss(pos, neg, ref=ref)
            assert out.stats["min_weight"].item() == 0.0
            g = torch.autograd.grad(out.loss, (pos, neg))
            assert torch.isfinite(out.loss) and all(bool(torch.isfinite(x).all()) for x in g)
            assert g[1][0].abs().sum().item() == 0.0  # the all-zero row contributes nothing


# ------------------------------------------------------------------ property 5 (losses)


def _all_losses():
    return [
        BPRLoss(),
        BCLLoss(alpha=0.8, beta=0.9, tau_plus=0.1),
        BCLLoss(alpha=0.8, ecdf="mid", self_normalise=True),
        BCLNCELoss(alpha=0.7, beta=1.0, tau_plus=0.05, temperature=0.5),
        BCLNCELoss(alpha=0.7, self_normalise=True),
        DPLLoss(tau_plus=0.1),
        DPLLoss(tau_plus=0.1, floor=1e-40, normalize_by_tau_minus=True),
        DCLLoss(tau_plus=0.1, s_min=-3.0),
        DCLLoss(tau_plus=0.1, s_min=-3.0, pos_source="extras"),
        HCLLoss(tau_plus=0.1, hcl_beta=0.7, s_min=-3.0),
        HCLLoss(tau_plus=0.1, hcl_beta=0.7, s_min=-3.0, pos_source="extras", detach_weights=True),
        SampledSoftmaxLoss(temperature=2.0),
    ]


@pytest.mark.parametrize("loss", _all_losses(), ids=lambda m: type(m).__name__)
def test_losses_invariant_to_permuting_unlabeled_items_and_extras(loss) -> None:
    # (n = 9 with tau_plus = 0.1 would make DCL's e^{s_+} cancel exactly: tau_plus N = tau_minus)
    pos, neg, extra = _rows(b=5, n=11, m=4, seed=5)
    base = loss(pos, neg, extra).loss
    g = _gen(6)
    for _ in range(3):
        p_neg = neg[:, torch.randperm(11, generator=g)]
        p_ext = extra[:, torch.randperm(4, generator=g)]
        torch.testing.assert_close(loss(pos, p_neg, p_ext).loss, base, rtol=1e-12, atol=1e-15)
    # sanity: the loss does depend on which item is which row's
    assert not torch.allclose(loss(pos.flip(0), neg, extra).loss, base, rtol=1e-9)


def test_bcl_first_only_bpr_is_not_permutation_invariant() -> None:
    # bpr_first_only uses j_1 only (reference parity), so it is the documented exception
    pos, neg, _ = _rows(seed=7)
    loss = BPRLoss(first_only=True)
    assert not torch.allclose(loss(pos, neg).loss, loss(pos, neg.flip(1)).loss)


# ------------------------------------------------------------------ catalogue ECDF inside BCL


@pytest.mark.parametrize("cls", [BCLLoss, BCLNCELoss])
def test_bcl_catalogue_source_uses_ref(cls) -> None:
    pos, neg, _ = _rows(seed=8)
    sampled = cls(alpha=0.8, ecdf="mid")
    catalogue = cls(alpha=0.8, ecdf="mid", ecdf_source="catalogue")
    assert catalogue.uses_reference and not sampled.uses_reference
    # ref == neg (plus +inf padding) reproduces the sampled ECDF exactly
    pad = torch.full((neg.shape[0], 5), float("inf"), dtype=F64)
    assert torch.equal(
        catalogue(pos, neg, ref=torch.cat([pad, neg], 1)).loss, sampled(pos, neg).loss
    )
    wide = torch.randn(neg.shape[0], 300, generator=_gen(9), dtype=F64) * 2
    assert not torch.equal(catalogue(pos, neg, ref=wide).loss, sampled(pos, neg).loss)
    # a sampled-source loss ignores ref
    assert torch.equal(sampled(pos, neg, ref=wide).loss, sampled(pos, neg).loss)
    with pytest.raises(ValueError, match="ref"):
        catalogue(pos, neg)


# ------------------------------------------------------------------ property 9: DCL / HCL


def _cosine_rows(t: float, b: int = 6, n: int = 16, m: int = 3, seed: int = 10):
    g = _gen(seed)
    e = torch.nn.functional.normalize(torch.randn(b + b * n + b * m, 8, generator=g, dtype=F64))
    u = torch.nn.functional.normalize(torch.randn(b, 8, generator=g, dtype=F64))
    items = e[: b + b * n + b * m]
    pos = (u * items[:b]).sum(-1)
    neg = torch.einsum("bd,bnd->bn", u, items[b : b + b * n].view(b, n, 8))
    extra = torch.einsum("bd,bmd->bm", u, items[b + b * n :].view(b, m, 8))
    return pos, neg, extra  # cosine scores in [-1, 1]


@pytest.mark.parametrize("t", [0.5, 1.0, 0.1])
def test_dcl_with_zero_prior_equals_infonce(t: float) -> None:
    pos, neg, extra = _cosine_rows(t)
    dcl = DCLLoss(tau_plus=0.0, s_min=-1.0 / t, temperature=t)(pos, neg)
    ssm = SampledSoftmaxLoss(temperature=t)(pos, neg).loss
    assert dcl.stats["floored_fraction"].item() == 0.0
    assert torch.equal(dcl.loss, ssm)
    torch.testing.assert_close(ssm, direct_infonce(pos, neg, t), rtol=1e-12, atol=0)


@pytest.mark.parametrize("tau", [0.0, 0.1])
@pytest.mark.parametrize("pos_source", ["anchor", "extras"])
def test_hcl_with_zero_tilt_equals_dcl(tau: float, pos_source: str) -> None:
    pos, neg, extra = _cosine_rows(0.5)
    kw = dict(tau_plus=tau, s_min=-2.0, temperature=0.5, pos_source=pos_source)
    dcl = DCLLoss(**kw)(pos, neg, extra).loss
    assert torch.equal(HCLLoss(hcl_beta=0.0, **kw)(pos, neg, extra).loss, dcl)
    # the tilted code path is continuous at gamma -> 0
    torch.testing.assert_close(
        HCLLoss(hcl_beta=1e-9, **kw)(pos, neg, extra).loss, dcl, rtol=1e-7, atol=0
    )
    if tau == 0.0:
        ssm = SampledSoftmaxLoss(temperature=0.5)(pos, neg).loss
        assert torch.equal(HCLLoss(hcl_beta=0.0, **kw)(pos, neg, extra).loss, ssm)


@pytest.mark.parametrize("tau", [0.05, 0.1, 0.3])
@pytest.mark.parametrize("t", [1.0, 0.5])
@pytest.mark.parametrize("use_extras", [False, True])
def test_dcl_log_space_matches_direct_formula(tau: float, t: float, use_extras: bool) -> None:
    pos, neg, extra = _rows(b=8, n=16, m=3, scale=1.5, seed=11)
    s_min = -1.0 / t
    loss = DCLLoss(
        tau_plus=tau, s_min=s_min, temperature=t, pos_source="extras" if use_extras else "anchor"
    )
    ours = loss(pos, neg, extra).loss
    ref = direct_dcl(pos, neg, tau, t, s_min, extra if use_extras else None)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=0)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=0)  # in fact to rounding


@pytest.mark.parametrize("tau", [0.05, 0.2])
@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("use_extras", [False, True])
def test_hcl_log_space_matches_direct_formula(tau: float, gamma: float, use_extras: bool) -> None:
    pos, neg, extra = _rows(b=8, n=16, m=3, scale=1.5, seed=12)
    t, s_min = 0.5, -2.0
    pos_, neg_ = pos.clone().requires_grad_(), neg.clone().requires_grad_()
    loss = HCLLoss(
        tau_plus=tau,
        hcl_beta=gamma,
        s_min=s_min,
        temperature=t,
        pos_source="extras" if use_extras else "anchor",
    )
    ours = loss(pos_, neg_, extra).loss
    ref = direct_hcl(pos_, neg_, tau, t, s_min, gamma, extra if use_extras else None)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=0)
    # gradients too (reference keeps the gradient through the weights)
    g1 = torch.autograd.grad(ours, (pos_, neg_))
    g2 = torch.autograd.grad(ref, (pos_, neg_))
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-15)


def test_dcl_floor_and_missing_floor() -> None:
    # positive far above the unlabeled items: estimated Ng < 0
    pos = torch.tensor([5.0, 0.0], dtype=F64)
    neg = torch.tensor([[-1.0, -2.0, -1.5], [0.5, -0.5, 0.1]], dtype=F64)
    out = DCLLoss(tau_plus=0.2, s_min=-3.0)(pos, neg)
    assert out.stats["floored_fraction"].item() == 0.5
    torch.testing.assert_close(out.loss, direct_dcl(pos, neg, 0.2, 1.0, -3.0), rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="s_min"):
        DCLLoss(tau_plus=0.2, s_min=None)(pos, neg)
    with pytest.raises(ValueError, match="s_min"):
        HCLLoss(tau_plus=0.2, s_min=None)(pos, neg)
    # without hidden-positive correction Ng > 0 always: no floor needed
    assert torch.isfinite(DCLLoss(tau_plus=0.0, s_min=None)(pos, neg).loss)


def test_dcl_extras_source_requires_extras() -> None:
    pos, neg, _ = _rows(seed=13)
    loss = DCLLoss(tau_plus=0.1, s_min=-3.0, pos_source="extras")
    assert loss.needs_extras and not DCLLoss().needs_extras
    with pytest.raises(ValueError, match="extra"):
        loss(pos, neg)


# ------------------------------------------------------------------ property 10: DPL


def test_dpl_equals_bpr_with_zero_prior_and_one_item() -> None:
    pos, neg, extra = _rows(n=1, seed=14)
    dpl = DPLLoss(tau_plus=0.0)(pos, neg, extra)
    assert dpl.stats["floored_fraction"].item() == 0.0
    torch.testing.assert_close(dpl.loss, BPRLoss()(pos, neg).loss, rtol=1e-13, atol=0)


def test_dpl_is_not_bpr_for_more_items() -> None:
    pos, neg, extra = _rows(n=5, scale=0.5, seed=15)
    assert not torch.allclose(DPLLoss(tau_plus=0.0)(pos, neg, extra).loss, BPRLoss()(pos, neg).loss)


@pytest.mark.parametrize("tau", [0.01, 0.05, 0.2])
def test_dpl_normalised_form_is_reference_plus_log_tau_minus(tau: float) -> None:
    pos, neg, extra = _rows(scale=0.7, seed=16)
    pos = pos + 2.0  # keep every row above the floor
    ref = DPLLoss(tau_plus=tau)(pos, neg, extra)
    norm = DPLLoss(tau_plus=tau, normalize_by_tau_minus=True)(pos, neg, extra)
    assert ref.stats["floored_fraction"].item() == 0.0
    torch.testing.assert_close(norm.loss, ref.loss + math.log(1 - tau), rtol=1e-13, atol=1e-15)


def test_dpl_matches_reference_criterion_exactly() -> None:
    pos, neg, extra = _rows(b=32, n=10, m=10, scale=1.5, seed=17)
    pos[:6] -= 8.0  # rows that hit the 0.01 floor
    for tau in (0.0, 0.05, 0.07, 0.3):
        ours = DPLLoss(tau_plus=tau)(pos, neg, extra)
        assert torch.equal(ours.loss, direct_dpl(pos, neg, extra, tau))
    assert ours.stats["floored_fraction"].item() > 0  # the clamp is exercised too


def test_dpl_extras_equal_to_positive_give_half() -> None:
    pos, neg, _ = _rows(scale=0.5, seed=18)
    pos = pos + 1.0
    extra = pos.unsqueeze(1).repeat(1, 4)
    tau = 0.1
    out = DPLLoss(tau_plus=tau)(pos, neg, extra)
    assert out.stats["mean_p_p"].item() == 0.5
    p_u = torch.sigmoid(pos[:, None] - neg).mean(-1)
    torch.testing.assert_close(out.loss, (-torch.log(p_u - tau * 0.5)).mean(), rtol=1e-14, atol=0)


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("tau", [0.0, 0.1])
def test_dpl_log_space_form_matches_direct_form(normalize: bool, tau: float) -> None:
    pos, neg, extra = _rows(b=16, scale=1.5, seed=19)
    pos_ = pos.clone().requires_grad_()
    direct = DPLLoss(tau_plus=tau, normalize_by_tau_minus=normalize, floor=1e-30)(pos_, neg, extra)
    logsp = DPLLoss(tau_plus=tau, normalize_by_tau_minus=normalize, floor=1e-31)(pos_, neg, extra)
    torch.testing.assert_close(logsp.loss, direct.loss, rtol=1e-12, atol=0)
    g1 = torch.autograd.grad(direct.loss, pos_)[0]
    g2 = torch.autograd.grad(logsp.loss, pos_)[0]
    torch.testing.assert_close(g1, g2, rtol=1e-9, atol=1e-15)
    assert logsp.stats["mean_p_p"].item() == pytest.approx(
        direct.stats["mean_p_p"].item(), rel=1e-12, abs=0
    )


def test_dpl_log_space_handles_probabilities_below_float_range() -> None:
    # P_U ~ e^-120 underflows float32 in the direct form; the log-space form keeps it
    pos = torch.tensor([-60.0])
    neg = torch.tensor([[60.0, 61.0]])
    extra = torch.tensor([[-200.0]])
    out = DPLLoss(tau_plus=0.0, floor=1e-300)(pos, neg, extra)
    expected = -math.log((math.exp(-120.0) + math.exp(-121.0)) / 2)
    assert out.loss.item() == pytest.approx(expected, rel=1e-6)


def test_dpl_requires_extras() -> None:
    pos, neg, _ = _rows(seed=20)
    assert DPLLoss.needs_extras
    with pytest.raises(ValueError, match="extra"):
        DPLLoss()(pos, neg)
    with pytest.raises(ValueError, match="extra"):
        DPLLoss()(pos, neg, torch.zeros(pos.shape[0], 0, dtype=F64))


# ------------------------------------------------------------------ property 12 (losses)


def test_bpr_first_only_matches_reference() -> None:
    pos, neg, _ = _rows(seed=21)
    torch.testing.assert_close(
        BPRLoss(first_only=True)(pos, neg).loss, direct_bpr_first(pos, neg), rtol=1e-13, atol=0
    )


@pytest.mark.parametrize("t", [0.5, 1.0])
def test_dcl_hcl_match_bcl_reference_criterion(t: float) -> None:
    # reference: cosine scores, exp(s/T), Ng clamped at N e^{-1/T}, HCL imp = neg**beta
    pos, neg, _ = _cosine_rows(t, seed=22)
    tau = 0.1
    dcl = DCLLoss(tau_plus=tau, s_min=-1.0 / t, temperature=t)(pos, neg).loss
    torch.testing.assert_close(dcl, direct_dcl(pos, neg, tau, t, -1.0 / t), rtol=1e-13, atol=0)
    hcl = HCLLoss(tau_plus=tau, hcl_beta=1.0, s_min=-1.0 / t, temperature=t)(pos, neg).loss
    torch.testing.assert_close(hcl, direct_hcl(pos, neg, tau, t, -1.0 / t, 1.0), rtol=1e-13, atol=0)


def test_every_registered_loss_returns_scalar_and_detached_stats() -> None:
    pos, neg, extra = _rows(seed=23)
    kwargs = {"dcl": {"s_min": -5.0}, "hcl": {"s_min": -5.0}, "pcl": {"dim": 3}}
    b, n = neg.shape
    g = torch.Generator().manual_seed(24)
    items = (torch.zeros(b, dtype=torch.long), torch.ones(b, n, dtype=torch.long))
    vectors = tuple(
        torch.randn(*shape, generator=g, dtype=neg.dtype) for shape in ((b, 3), (b, 3), (b, n, 3))
    )
    for name, cls in LOSSES.items():
        loss = cls(**kwargs.get(name, {})).to(neg.dtype)
        more = {"items": items} if loss.needs_items else {}
        if loss.needs_vectors:
            more["vectors"] = vectors
        out = loss(pos, neg, extra, **more)
        assert out.loss.dim() == 0 and torch.isfinite(out.loss), name
        assert all(v.dim() == 0 and not v.requires_grad for v in out.stats.values()), name
