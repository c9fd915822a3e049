"""BCL weight functions: inverse CDF, weight identities, ECDF, model simulation, reference parity.

Spec section 6, properties 2, 3, 4, 5 (weights), 6 and 12 (weights), and the catalogue ECDF.
"""

from __future__ import annotations

import importlib
import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from loss_refs import (
    densities,
    ecdf_bruteforce,
    ecdf_bruteforce_ref,
    omega_endpoints,
    reference_bcl_omega,
    reference_cdf_trans,
    sample_latent,
)

from bcl_rec.losses import bcl_weights, ecdf, g_cdf, g_inverse, weights_from_t

bcl_weights_module = importlib.import_module("bcl_rec.losses.bcl_weights")

F64 = torch.float64
F32 = torch.float32

ALPHAS = [0.5, 0.500625, 0.5005, 0.55, 0.7, 0.8, 0.9, 0.95, 0.99]
TAUS = [0.0, 0.01, 0.05, 0.1, 0.3, 0.6, 0.9]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------ property 2: inverse


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("dtype", "tol"), [(F64, 1e-12), (F32, 1e-6)])
def test_inverse_roundtrip_on_grid(dtype: torch.dtype, tol: float) -> None:
    u = torch.linspace(0.0, 1.0, 2001, dtype=dtype)
    alphas = np.linspace(0.5, 0.99, 12).tolist() + [0.500625, 0.5005]
    taus = np.linspace(0.0, 0.9, 10).tolist() + [0.1, 0.0]
    for alpha, tau in itertools.product(alphas, taus):
        t = g_inverse(u, alpha, tau)
        assert t.dtype == dtype
        assert bool(((t >= 0) & (t <= 1)).all())
        assert t[0].item() == 0.0 and t[-1].item() == 1.0  # exact endpoints
        # G evaluated independently (in float64) on the returned t
        a = (1 - 2 * alpha) * ((1 - tau) - tau)
        b = 2 * (alpha * (1 - tau) + (1 - alpha) * tau)
        td = t.double()
        err = (a * td**2 + b * td - u.double()).abs().max().item()
        assert err <= tol, (alpha, tau, err)


@pytest.mark.parametrize("dtype", [F64, F32])
@pytest.mark.parametrize(("alpha", "tau"), [(0.500625, 0.1), (0.5005, 0.0), (0.8, 0.05)])
def test_inverse_endpoints_and_reference_singular_points(
    dtype: torch.dtype, alpha: float, tau: float
) -> None:
    u = torch.tensor([0.0, 0.002, 0.5, 1.0], dtype=dtype)
    t = g_inverse(u, alpha, tau)
    assert t[0].item() == 0.0
    assert t[-1].item() == 1.0
    # at the reference's singular points t(0.002) must be ~0.002, not 0 or 0.003
    if alpha < 0.501:
        assert abs(t[1].item() - 0.002) < 1e-5


@pytest.mark.parametrize("dtype", [F64, F32])
@pytest.mark.parametrize("tau", [0.0, 0.05, 0.3, 0.9])
def test_inverse_is_identity_at_half(dtype: torch.dtype, tau: float) -> None:
    u = torch.rand(1000, generator=_gen(0), dtype=dtype)
    u = torch.cat([u, torch.tensor([0.0, 1.0], dtype=dtype)])
    assert torch.equal(g_inverse(u, 0.5, tau), u)


@settings(max_examples=60, deadline=None)
@given(
    u=st.floats(0.0, 1.0),
    alpha=st.floats(0.5, 0.99),
    tau=st.floats(0.0, 0.9),
)
def test_inverse_roundtrip_hypothesis(u: float, alpha: float, tau: float) -> None:
    x = torch.tensor([u], dtype=F64)
    t = g_inverse(x, alpha, tau)
    assert abs(g_cdf(t, alpha, tau).item() - u) <= 1e-12
    assert 0.0 <= t.item() <= 1.0


# ------------------------------------------------------------------ property 3: identities


def test_g_of_one_is_one() -> None:
    one = torch.ones(1, dtype=F64)
    for alpha, tau in itertools.product(np.linspace(0.5, 0.99, 50), np.linspace(0, 0.98, 50)):
        assert abs(g_cdf(one, float(alpha), float(tau)).item() - 1.0) <= 4.5e-16


PARAMS = [
    (0.5, 0.5, 0.0),
    (0.5, 1.0, 0.1),
    (0.6, 0.5, 0.05),
    (0.7, 0.8, 0.1),
    (0.8, 1.0, 0.1),
    (0.9, 1.0, 0.05),
    (0.99, 1.0, 0.0),
    (0.95, 0.6, 0.3),
]


@pytest.mark.parametrize(("alpha", "beta", "tau"), PARAMS)
def test_weight_integrates_to_one(alpha: float, beta: float, tau: float) -> None:
    # Gauss-Legendre on [0, 1] with 40 nodes: omega * p_u is affine, so this is exact up to rounding
    x, w = np.polynomial.legendre.leggauss(40)
    t = torch.tensor((x + 1) / 2, dtype=F64)
    omega, _ = weights_from_t(t, alpha, beta, tau)
    p_u = densities(t, alpha, beta, tau)["p_u"]
    integral = float((torch.tensor(w / 2, dtype=F64) * omega * p_u).sum())
    assert abs(integral - 1.0) <= 1e-10
    # and p_u itself integrates to 1 (G(1) = 1)
    assert abs(float((torch.tensor(w / 2, dtype=F64) * p_u).sum()) - 1.0) <= 1e-12


@pytest.mark.parametrize(("alpha", "beta", "tau"), PARAMS)
def test_weight_positive_monotone_with_closed_form_endpoints(
    alpha: float, beta: float, tau: float
) -> None:
    t = torch.linspace(0, 1, 1001, dtype=F64)
    omega, pi_tn = weights_from_t(t, alpha, beta, tau)
    assert bool((omega >= 0).all())
    d = torch.diff(omega)
    assert bool((d >= -1e-12).all()) or bool((d <= 1e-12).all())
    w0, w1 = omega_endpoints(alpha, beta, tau)
    assert omega[0].item() == pytest.approx(w0, rel=1e-12, abs=1e-15)
    assert omega[-1].item() == pytest.approx(w1, rel=1e-12, abs=1e-15)
    # omega = p_htn / p_u by direct evaluation
    dens = densities(t, alpha, beta, tau)
    torch.testing.assert_close(omega, dens["p_htn"] / dens["p_u"], rtol=1e-13, atol=0)
    # posteriors: pi_TN + pi_FN = 1, both in [0, 1]
    pi_fn = tau * dens["p_fn"] / dens["p_u"]
    torch.testing.assert_close(pi_tn + pi_fn, torch.ones_like(t), rtol=0, atol=1e-14)
    assert bool(((pi_tn >= 0) & (pi_tn <= 1) & (pi_fn >= 0) & (pi_fn <= 1)).all())
    if alpha > 0.5 and tau > 0:
        assert bool((torch.diff(pi_tn) < 0).all())  # top-ranked items: likeliest false negatives


@pytest.mark.parametrize("alpha", [0.55, 0.7, 0.9, 0.99])
@pytest.mark.parametrize("tau", [0.0, 0.05, 0.3])
def test_beta_half_gives_debias_only_weight(alpha: float, tau: float) -> None:
    t = torch.linspace(0, 1, 101, dtype=F64)
    omega, pi_tn = weights_from_t(t, alpha, 0.5, tau)
    torch.testing.assert_close(omega, pi_tn / (1 - tau), rtol=1e-14, atol=0)


@pytest.mark.parametrize("beta", [0.5, 0.7, 1.0])
def test_alpha_half_is_pure_hardness_weight(beta: float) -> None:
    t = torch.linspace(0, 1, 101, dtype=F64)
    omega, _ = weights_from_t(t, 0.5, beta, 0.2)
    torch.testing.assert_close(omega, 2 * (1 - beta) * (1 - t) + 2 * beta * t, rtol=1e-14, atol=0)


def test_spec_posterior_examples() -> None:
    t = torch.tensor([0.0, 1.0], dtype=F64)
    _, p = weights_from_t(t, 0.8, 1.0, 0.1)
    assert p.tolist() == pytest.approx([0.973, 0.692], abs=1e-3)
    _, p = weights_from_t(t, 0.9, 1.0, 0.05)
    assert p.tolist() == pytest.approx([0.994, 0.679], abs=1e-3)
    w, _ = weights_from_t(t, 0.99, 1.0, 0.0)
    assert w[1].item() == pytest.approx(100.0, rel=1e-12, abs=0)


# ------------------------------------------------------------------ property 1 (weights part)


@pytest.mark.parametrize("dtype", [F64, F32])
@pytest.mark.parametrize("tau", [0.0, 0.05, 0.3])
@pytest.mark.parametrize("rule", ["max", "mid"])
def test_weights_exactly_one_at_half_half(dtype: torch.dtype, tau: float, rule: str) -> None:
    s = torch.randn(16, 64, generator=_gen(1), dtype=dtype)
    s[:, :8] = s[:, 8:16]  # ties too
    omega, _ = bcl_weights(s, 0.5, 0.5, tau, rule)
    assert bool((omega == 1).all())
    t = torch.linspace(0, 1, 10001, dtype=dtype)
    assert bool((weights_from_t(t, 0.5, 0.5, tau)[0] == 1).all())


# ------------------------------------------------------------------ property 4: E[omega] ~ 1


def _sim_scores(rows: int, n: int, alpha: float, tau: float, seed: int):
    t, is_tn = sample_latent(rows, n, alpha, tau, _gen(seed))
    return torch.logit(t), is_tn  # any strictly increasing score map


@pytest.mark.parametrize(
    ("alpha", "beta", "tau"), [(0.8, 1.0, 0.1), (0.7, 0.75, 0.05), (0.9, 0.5, 0.2)]
)
@pytest.mark.parametrize("n", [64, 256])
def test_mean_weight_mid_rule_is_unbiased(alpha: float, beta: float, tau: float, n: int) -> None:
    s, _ = _sim_scores(64, n, alpha, tau, seed=n)
    omega, _ = bcl_weights(s, alpha, beta, tau, "mid")
    assert abs(omega.mean().item() - 1.0) < 5e-3


@pytest.mark.parametrize(
    ("alpha", "beta", "tau"), [(0.8, 1.0, 0.1), (0.9, 0.5, 0.05), (0.7, 0.8, 0.2)]
)
@pytest.mark.parametrize("n", [64, 256])
def test_mean_weight_max_rule_bias_matches_prediction(
    alpha: float, beta: float, tau: float, n: int
) -> None:
    s, _ = _sim_scores(64, n, alpha, tau, seed=n + 1)
    omega, _ = bcl_weights(s, alpha, beta, tau, "max")
    w0, w1 = omega_endpoints(alpha, beta, tau)
    predicted = (w1 - w0) / (2 * n)
    bias = omega.mean().item() - 1.0
    assert np.sign(bias) == np.sign(predicted)
    assert bias == pytest.approx(predicted, rel=0.15)
    if beta == 0.5:
        assert bias < 0


def test_spec_max_rule_bias_numbers() -> None:
    s, _ = _sim_scores(8, 256, 0.8, 0.1, seed=3)
    omega, _ = bcl_weights(s, 0.8, 1.0, 0.1, "max")
    assert omega.mean().item() - 1 == pytest.approx(0.0075, abs=5e-4)


def test_posterior_is_calibrated_under_the_model() -> None:
    alpha, beta, tau = 0.8, 1.0, 0.3
    s, is_tn = _sim_scores(200, 1024, alpha, tau, seed=11)
    _, pi_tn = bcl_weights(s, alpha, beta, tau, "mid")
    edges = [0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    checked = 0
    for lo, hi in itertools.pairwise(edges):
        in_bin = (pi_tn >= lo) & (pi_tn < hi)
        if int(in_bin.sum()) < 5000:
            continue
        predicted = pi_tn[in_bin].mean().item()
        observed = is_tn[in_bin].double().mean().item()
        assert abs(predicted - observed) < 0.02, (lo, hi, predicted, observed)
        checked += 1
    assert checked >= 4


# ------------------------------------------------------------------ property 5: rank-based


@pytest.mark.parametrize("rule", ["max", "mid"])
def test_weights_rank_invariance_and_permutation_equivariance(rule: str) -> None:
    s = torch.randn(8, 50, generator=_gen(5), dtype=F64)
    omega, pi = bcl_weights(s, 0.8, 0.9, 0.1, rule)
    transforms = [
        s / 0.05,
        s / 20.0,
        3.0 * s - 2.0,
        s**3,
        torch.exp(s),
        torch.tanh(s / 4),
    ]
    for z in transforms:
        w2, p2 = bcl_weights(z, 0.8, 0.9, 0.1, rule)
        assert torch.equal(w2, omega)
        assert torch.equal(p2, pi)
    perm = torch.randperm(50, generator=_gen(6))
    w3, _ = bcl_weights(s[:, perm], 0.8, 0.9, 0.1, rule)
    assert torch.equal(w3, omega[:, perm])
    # a strictly decreasing transform is *not* allowed: ranks reverse
    w4, _ = bcl_weights(-s, 0.8, 0.9, 0.1, rule)
    assert not torch.equal(w4, omega)


# ------------------------------------------------------------------ property 6: ECDF


@settings(max_examples=60, deadline=None)
@given(
    b=st.integers(1, 4),
    n=st.integers(1, 40),
    span=st.integers(0, 6),
    seed=st.integers(0, 2**31 - 1),
    dtype=st.sampled_from([F32, F64]),
)
def test_ecdf_equals_nxn_comparison(b: int, n: int, span: int, seed: int, dtype) -> None:
    s = torch.randint(-span, span + 1, (b, n), generator=_gen(seed)).to(dtype)
    for rule in ("max", "mid"):
        u = ecdf(s, rule)
        assert torch.equal(u, ecdf_bruteforce(s, rule)), rule
        omega, _ = bcl_weights(s, 0.8, 1.0, 0.1, rule)
        tied = s.unsqueeze(-1) == s.unsqueeze(1)
        assert bool(((omega.unsqueeze(-1) == omega.unsqueeze(1)) | ~tied).all())
    u = ecdf(s, "max")
    grid = torch.arange(1, n + 1, dtype=dtype) / n
    assert bool(torch.isin(u, grid).all())
    assert bool((u.max(-1).values == 1).all())


def test_ecdf_n_equals_one() -> None:
    s = torch.tensor([[3.0], [-1.0]])
    assert ecdf(s, "max").tolist() == [[1.0], [1.0]]
    assert ecdf(s, "mid").tolist() == [[0.5], [0.5]]


def test_ecdf_is_detached_and_rejects_bad_rule() -> None:
    s = torch.randn(2, 5, requires_grad=True)
    assert not ecdf(s).requires_grad
    with pytest.raises(ValueError, match="ecdf"):
        ecdf(s, "min")


# ------------------------------------------------------------------ catalogue ECDF (spec 1.11)


@pytest.mark.parametrize("rule", ["max", "mid"])
def test_catalogue_ecdf_equals_sampled_when_ref_is_neg(rule: str) -> None:
    s = torch.randint(-3, 4, (5, 30), generator=_gen(7)).double()
    assert torch.equal(ecdf(s, rule, ref=s), ecdf(s, rule))
    w_ref, p_ref = bcl_weights(s, 0.8, 1.0, 0.1, rule, ref=s)
    w, p = bcl_weights(s, 0.8, 1.0, 0.1, rule)
    assert torch.equal(w_ref, w) and torch.equal(p_ref, p)


@pytest.mark.parametrize("rule", ["max", "mid"])
def test_catalogue_ecdf_ignores_inf_entries(rule: str) -> None:
    s = torch.randint(-3, 4, (5, 30), generator=_gen(8)).double()
    pad = torch.full((5, 17), float("inf"), dtype=F64)
    ref = torch.cat([s, pad], dim=1)[:, torch.randperm(47, generator=_gen(9))]
    assert torch.equal(ecdf(s, rule, ref=ref), ecdf(s, rule))


@settings(max_examples=40, deadline=None)
@given(
    b=st.integers(1, 4),
    n=st.integers(1, 20),
    k=st.integers(1, 60),
    seed=st.integers(0, 2**31 - 1),
    rule=st.sampled_from(["max", "mid"]),
)
def test_catalogue_ecdf_equals_bruteforce_count(b, n, k, seed, rule) -> None:
    g = _gen(seed)
    s = torch.randint(-4, 5, (b, n), generator=g).double()
    ref = torch.randint(-4, 5, (b, k), generator=g).double()
    hole = torch.rand(b, k, generator=g) < 0.3
    hole[:, 0] = False  # every row keeps at least one finite entry
    ref = ref.masked_fill(hole, float("inf"))
    assert torch.equal(ecdf(s, rule, ref=ref), ecdf_bruteforce_ref(s, ref, rule))


def test_catalogue_ecdf_rejects_bad_ref() -> None:
    s = torch.randn(2, 4)
    with pytest.raises(ValueError, match="finite"):
        ecdf(s, ref=torch.tensor([[1.0, float("inf")], [float("inf"), float("inf")]]))
    with pytest.raises(ValueError, match="NaN"):
        ecdf(s, ref=torch.tensor([[1.0, float("nan")], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="-inf"):
        ecdf(s, ref=torch.tensor([[1.0, float("-inf")], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="ref"):
        ecdf(s, ref=torch.zeros(3, 4))


# ------------------------------------------------------------------ property 12: reference parity


def _distinct_scores(rows: int, n: int, seed: int) -> torch.Tensor:
    return torch.randn(rows, n, generator=_gen(seed), dtype=F64)


@pytest.mark.parametrize("alpha", [0.55, 0.7, 0.85])
@pytest.mark.parametrize("beta", [0.5, 0.75, 1.0])
@pytest.mark.parametrize("tau", [0.05, 0.1, 0.2])
def test_weights_match_reference_criterion_within_2e2(alpha, beta, tau) -> None:
    s = _distinct_scores(4, 256, seed=13)
    ours, _ = bcl_weights(s, alpha, beta, tau, "max")
    ref = reference_bcl_omega(torch.exp(s), alpha, beta, tau)
    rel = ((ours - ref).abs() / ref.abs().clamp_min(1e-12)).max().item()
    assert rel <= 2e-2
    # the epsilons make a measurable difference: these are not the same numbers
    assert rel > 1e-6


@pytest.mark.parametrize(
    ("alpha", "beta", "tau"), [(0.55, 1.0, 0.1), (0.7, 0.6, 0.05), (0.95, 1.0, 0.01)]
)
def test_weights_equal_reference_expression_without_epsilons(alpha, beta, tau) -> None:
    s = _distinct_scores(4, 64, seed=14)
    ours, _ = bcl_weights(s, alpha, beta, tau, "max")
    ref = reference_bcl_omega(
        torch.exp(s), alpha, beta, tau, eps_a=0.0, eps_z=0.0, native_dtype=True
    )
    torch.testing.assert_close(ours, ref, rtol=1e-9, atol=1e-12)


def test_reference_epsilons_are_far_off_outside_the_parity_range() -> None:
    # documents why parity is only asserted for alpha <= 0.85, tau_plus >= 0.05 (spec 1.10)
    s = _distinct_scores(2, 256, seed=15)
    ours, _ = bcl_weights(s, 0.95, 1.0, 0.01, "max")
    ref = reference_bcl_omega(torch.exp(s), 0.95, 1.0, 0.01)
    rel = ((ours - ref).abs() / ours.clamp_min(1e-12)).max().item()
    assert rel > 0.05


def test_reference_inverse_is_singular_where_ours_is_exact() -> None:
    u = torch.tensor([0.25, 0.5, 0.75], dtype=F32)
    bad = reference_cdf_trans(u, 0.500625, 0.1)
    good = g_inverse(u, 0.500625, 0.1)
    assert bool((bad == 0).all()) or not bool(torch.isfinite(bad).all())
    torch.testing.assert_close(g_cdf(good.double(), 0.500625, 0.1), u.double(), rtol=0, atol=1e-6)


# ------------------------------------------------------------------ pairwise vs sorted counts


def _awkward_scores(n: int, dtype: torch.dtype, seed: int) -> torch.Tensor:
    """Rows with ties, signed zeros, +-inf and the dtype's extremes (whose differences
    overflow), in random positions."""
    info = torch.finfo(dtype)
    special = torch.tensor([0.0, -0.0, float("inf"), -float("inf"), info.max, -info.max,
                            info.tiny, -info.tiny, info.eps, 1.0, 1.0, -1.0])
    gen = _gen(seed)
    rows = torch.randn(64, n, generator=gen)
    picks = torch.randint(0, len(special), (64, n), generator=gen)
    use = torch.rand(64, n, generator=gen) < 0.5
    return torch.where(use, special[picks], rows).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, F32, F64])
@pytest.mark.parametrize("rule", ["max", "mid"])
@pytest.mark.parametrize("n", [1, 2, 3, 10, 33, 64])
def test_pairwise_ecdf_equals_sorted_ecdf_bitwise(monkeypatch, dtype, rule, n) -> None:
    """Small rows are ranked by comparing all pairs, large ones by sort + searchsorted; both
    must give the same counts, so the same ECDF and weights, on any finite or infinite input."""
    scores = _awkward_scores(n, dtype, seed=n)
    pairwise_u = ecdf(scores, rule)
    pairwise_w = bcl_weights(scores, 0.9, 1.0, 0.05, rule)
    monkeypatch.setattr(bcl_weights_module, "PAIRWISE_MAX_N", 0)  # always sort
    assert torch.equal(pairwise_u, ecdf(scores, rule))
    for got, want in zip(pairwise_w, bcl_weights(scores, 0.9, 1.0, 0.05, rule), strict=True):
        assert torch.equal(got, want)


def test_pairwise_ecdf_has_a_size_limit() -> None:
    """Beyond PAIRWISE_MAX_N the [B, N, N] temporary would cost more than sorting."""
    n = bcl_weights_module.PAIRWISE_MAX_N + 1
    s = torch.randn(3, n, generator=_gen(1))
    assert torch.equal(ecdf(s, "mid"), ecdf_bruteforce(s, "mid"))


@pytest.mark.parametrize("dtype", [torch.float16, F32, F64])
@pytest.mark.parametrize("rule", ["max", "mid"])
@pytest.mark.parametrize("n", [65, 300, 1000])
def test_sorted_ecdf_equals_binary_search_in_the_sorted_row(dtype, rule, n) -> None:
    """Large rows are counted from the runs of equal scores in the sorted row; the counts must
    be those of searching every score in its own sorted row (ties, zeros of both signs, inf)."""
    scores = _awkward_scores(n, dtype, seed=n)
    scores[:8] = torch.randint(-3, 4, (8, n), generator=_gen(n)).to(dtype)  # many ties
    srt = torch.sort(scores, dim=-1).values
    want = torch.searchsorted(srt, scores, right=True)
    if rule == "mid":
        want = want + torch.searchsorted(srt, scores, right=False)
    numer, total = bcl_weights_module._ecdf_counts(scores, rule, None, F32)
    assert total == n and torch.equal(numer, want)


# ------------------------------------------------------------------ tabulated sampled ECDF


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, F32, F64])
@pytest.mark.parametrize("rule", ["max", "mid"])
@pytest.mark.parametrize("n", [1, 2, 10, 257])
def test_tabulated_weights_equal_per_item_weights_bitwise(dtype, rule, n) -> None:
    """With the sampled ECDF, bcl_weights looks omega up in a table of its 2N + 1 possible
    values; the result must be the per-item computation bit for bit (ties included)."""
    scores = torch.randn(300, n, generator=_gen(n)).to(dtype)
    scores[:, : n // 2] = scores[:, :1]  # ties share a rank
    for alpha, beta, tau in [(0.9, 1.0, 0.05), (0.5, 0.5, 0.0), (0.75, 0.6, 0.3), (0.99, 0.5, 0.1)]:
        omega, pi_tn = bcl_weights(scores, alpha, beta, tau, rule)
        t = g_inverse(ecdf(scores, rule), alpha, tau)
        ref_omega, ref_pi = weights_from_t(t, alpha, beta, tau)
        assert torch.equal(omega, ref_omega.to(dtype))
        assert torch.equal(pi_tn, ref_pi.to(dtype))
