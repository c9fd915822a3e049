"""SL, BSL and PSL (spec 8.2-8.5, properties 16-19): closed forms, gradients, extremes, options."""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd import gradcheck

from bcl_rec.losses import (
    BCLNCELoss,
    BSLLoss,
    LossConfig,
    PSLLoss,
    SampledSoftmaxLoss,
    bcl_weights,
    build_loss,
)
from bcl_rec.losses.psl import PSL_ACTIVATIONS, PSL_FLOOR, psl_activation

F64 = torch.float64


def _rows(b: int = 4, n: int = 7, seed: int = 0, scale: float = 1.0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    pos = (torch.rand(b, generator=g, dtype=dtype) * 2 - 1) * scale
    neg = (torch.rand(b, n, generator=g, dtype=dtype) * 2 - 1) * scale
    return pos, neg


def _sl_without_positive(pos, neg, t):
    """``LSE_j (s_j - s_+)/T`` row by row, averaged: the obvious loop."""
    rows = []
    for p, row in zip(pos.tolist(), neg.tolist(), strict=True):
        rows.append(math.log(sum(math.exp((s - p) / t) for s in row)))
    return sum(rows) / len(rows)


# --- property 16: SL ---------------------------------------------------------------------------
def test_sl_at_t1_is_ssm_and_without_positive_is_the_plain_lse() -> None:
    pos, neg = _rows()
    ssm = SampledSoftmaxLoss()(pos, neg).loss
    brute = sum(
        -p + math.log(math.exp(p) + sum(math.exp(s) for s in row))
        for p, row in zip(pos.tolist(), neg.tolist(), strict=True)
    ) / pos.shape[0]
    assert ssm.item() == pytest.approx(brute, abs=1e-12)
    for t in (1.0, 0.1):
        out = SampledSoftmaxLoss(temperature=t, positive_in_denominator=False)(pos, neg).loss
        assert abs(out.item() - _sl_without_positive(pos, neg, t)) <= 1e-12


# --- property 17: BSL -------------------------------------------------------------------------
def test_bsl_gamma_one_is_sl_without_positive_and_gamma_scales_the_lse() -> None:
    pos, neg = _rows(seed=1)
    for t in (1.0, 0.2):
        bsl = BSLLoss(gamma=1.0, temperature=t)(pos, neg).loss
        sl = SampledSoftmaxLoss(temperature=t, positive_in_denominator=False)(pos, neg).loss
        assert abs(bsl.item() - sl.item()) <= 1e-12
    gamma, t = 0.4, 0.2
    brute = sum(
        -p / t + gamma * math.log(sum(math.exp(s / t) for s in row))
        for p, row in zip(pos.tolist(), neg.tolist(), strict=True)
    ) / pos.shape[0]
    assert BSLLoss(gamma=gamma, temperature=t)(pos, neg).loss.item() == pytest.approx(
        brute, abs=1e-12
    )


# --- property 18: PSL -------------------------------------------------------------------------
def test_psl_identity_is_sl_without_positive() -> None:
    pos, neg = _rows(seed=2)
    for t in (1.0, 0.5):
        psl = PSLLoss(activation="identity", psl_temperature=1.0, temperature=t)(pos, neg).loss
        assert abs(psl.item() - _sl_without_positive(pos, neg, t)) <= 1e-12


@pytest.mark.parametrize("name", ["tanh", "relu", "atan", "identity"])
def test_psl_activation_bounds_the_indicator_on_minus_one_one(name: str) -> None:
    x = torch.linspace(-1.0, 1.0, 2001, dtype=F64)
    e = torch.exp(psl_activation(name)(x))
    assert bool(((x >= 0).to(F64) <= e + 1e-15).all())
    assert bool((e <= torch.exp(x) + 1e-15).all())


@pytest.mark.parametrize("name", ["tanh", "relu", "atan"])
def test_psl_activations_are_their_closed_forms_above_the_floor(name: str) -> None:
    x = torch.linspace(-0.99, 3.0, 500, dtype=F64)
    # log(tanh(x) + 1), log(relu(x + 1)), log(atan(x) + 1)
    g = {"tanh": torch.tanh(x) + 1, "relu": torch.relu(x + 1), "atan": torch.atan(x) + 1}[name]
    torch.testing.assert_close(psl_activation(name)(x), torch.log(g), rtol=1e-12, atol=1e-12)


def test_psl_relu_and_atan_are_floored_below() -> None:
    x = torch.tensor([-1.0, -1.5, -3.0, -50.0], dtype=F64)
    floor = math.log(PSL_FLOOR)
    assert psl_activation("relu")(x).tolist() == [floor] * 4
    assert psl_activation("atan")(x[2:]).tolist() == [floor] * 2
    # tanh has no floor: its stable form keeps decreasing like 2x + log 2
    assert psl_activation("tanh")(x)[-1].item() == pytest.approx(-100.0 + math.log(2.0))


@pytest.mark.parametrize("name", PSL_ACTIVATIONS)
def test_psl_finite_at_x_minus_one(name: str) -> None:
    # d = (s_j - s_+)/T = -1 exactly: s_+ = 1, s_j = -1, T = 2
    pos = torch.tensor([1.0, 1.0], requires_grad=True)
    neg = torch.tensor([[-1.0, -1.0], [-1.0, 0.5]], requires_grad=True)
    out = PSLLoss(activation=name, temperature=2.0, psl_temperature=0.1)(pos, neg)
    assert bool(torch.isfinite(out.loss))
    for g in torch.autograd.grad(out.loss, (pos, neg)):
        assert bool(torch.isfinite(g).all())


def test_psl_closed_form_with_t_star() -> None:
    pos, neg = _rows(seed=3)
    t, ts = 2.0, 0.3
    brute = sum(
        math.log(sum(math.exp(math.log(math.tanh((s - p) / t) + 1) / ts) for s in row))
        for p, row in zip(pos.tolist(), neg.tolist(), strict=True)
    ) / pos.shape[0]
    out = PSLLoss(activation="tanh", temperature=t, psl_temperature=ts)(pos, neg).loss
    assert out.item() == pytest.approx(brute, abs=1e-12)


# --- property 19 and weights: bcl -------------------------------------------------------------
def test_bcl_on_sl_with_unit_weights_is_exactly_sl() -> None:
    pos, neg = _rows(n=50, seed=4)
    for t in (1.0, 0.1):
        bcl = BCLNCELoss(alpha=0.5, beta=0.5, tau_plus=0.05, temperature=t)(pos, neg)
        assert bool((bcl_weights(neg, 0.5, 0.5, 0.05)[0] == 1).all())
        assert bcl.loss.item() == SampledSoftmaxLoss(temperature=t)(pos, neg).loss.item()


@pytest.mark.parametrize(
    "loss",
    [
        BCLNCELoss(alpha=0.9, beta=1.0, tau_plus=0.05, ecdf="mid", temperature=0.1),
        BSLLoss(gamma=0.7, temperature=0.1, weights="bcl", alpha=0.9, ecdf="mid"),
        PSLLoss(activation="relu", temperature=2.0, psl_temperature=0.2, weights="bcl"),
        SampledSoftmaxLoss(temperature=0.1, positive_in_denominator=False),
    ],
    ids=lambda m: type(m).__name__,
)
def test_permuting_the_negatives_changes_nothing(loss) -> None:
    pos, neg = _rows(n=30, seed=5)
    perm = torch.randperm(30, generator=torch.Generator().manual_seed(1))
    a, b = loss(pos, neg).loss, loss(pos, neg[:, perm]).loss
    assert a.item() == pytest.approx(b.item(), abs=1e-12)


@pytest.mark.parametrize("cls", [BSLLoss, PSLLoss])
def test_unit_bcl_weights_equal_no_weights(cls) -> None:
    pos, neg = _rows(n=20, seed=6)
    plain = cls(temperature=0.5)(pos, neg).loss
    weighted = cls(temperature=0.5, weights="bcl", alpha=0.5, beta=0.5)(pos, neg)
    assert weighted.loss.item() == plain.item()
    assert weighted.stats["mean_weight"].item() == 1.0


@pytest.mark.parametrize("cls", [BSLLoss, PSLLoss])
def test_bcl_weights_enter_the_lse_as_log_sum_w_exp(cls) -> None:
    pos, neg = _rows(n=12, seed=7)
    loss = cls(temperature=0.5, weights="bcl", alpha=0.9, beta=1.0, tau_plus=0.05)
    omega, _ = bcl_weights(neg, 0.9, 1.0, 0.05)
    rows = []
    for p, row, w in zip(pos.tolist(), neg.tolist(), omega.tolist(), strict=True):
        if cls is BSLLoss:
            x = [s / 0.5 for s in row]
        else:
            x = [math.log(math.tanh((s - p) / 0.5) + 1) for s in row]
        lse = math.log(sum(wj * math.exp(xj) for wj, xj in zip(w, x, strict=True)))
        rows.append(-p / 0.5 + lse if cls is BSLLoss else lse)
    assert loss(pos, neg).loss.item() == pytest.approx(sum(rows) / len(rows), abs=1e-12)


def test_rows_with_all_zero_weights_contribute_zero() -> None:
    # catalogue ECDF, beta = 1: an item below every reference score has u = t = 0 and omega = 0,
    # so a row whose only negative is there has no weight at all
    pos = torch.tensor([0.5, 0.2], dtype=F64, requires_grad=True)
    neg = torch.tensor([[-3.0], [0.3]], dtype=F64, requires_grad=True)
    ref = torch.tensor([[-2.0, 1.0, 2.0], [-1.0, 0.3, 2.0]], dtype=F64)
    for loss in (
        BSLLoss(weights="bcl", alpha=0.9, beta=1.0, ecdf_source="catalogue"),
        PSLLoss(weights="bcl", alpha=0.9, beta=1.0, ecdf_source="catalogue"),
    ):
        omega, _ = bcl_weights(neg.detach(), 0.9, 1.0, 0.05, "max", ref)
        out = loss(pos, neg, None, ref)
        assert omega[0, 0].item() == 0.0 and omega[1, 0].item() > 0
        assert bool(torch.isfinite(out.loss))
        gp, gn = torch.autograd.grad(out.loss, (pos, neg))
        assert gp[0].item() == 0.0 and gn[0, 0].item() == 0.0


# --- gradients and extremes -------------------------------------------------------------------
GRADCHECK_LOSSES = [
    SampledSoftmaxLoss(temperature=0.3, positive_in_denominator=False),
    BSLLoss(gamma=0.5, temperature=0.2),
    BSLLoss(gamma=1.5, temperature=0.2, weights="bcl", alpha=0.8, ecdf="mid", self_normalise=True),
    PSLLoss(activation="tanh", temperature=2.0, psl_temperature=0.3),
    PSLLoss(activation="relu", temperature=2.0, psl_temperature=0.3),
    PSLLoss(activation="atan", temperature=2.0, psl_temperature=0.3),
    PSLLoss(activation="tanh", temperature=0.5, psl_temperature=0.5, weights="bcl", alpha=0.8),
]


@pytest.mark.parametrize("loss", GRADCHECK_LOSSES, ids=lambda m: repr(m).replace(" ", ""))
def test_gradcheck_float64(loss) -> None:
    g = torch.Generator().manual_seed(0)
    pos = (torch.rand(3, generator=g, dtype=F64) * 2 - 1).requires_grad_()
    # negatives 0.1 apart: finite differences never reorder them (BCL weights are rank-based)
    base = torch.arange(6, dtype=F64) * 0.3 - 0.8
    neg = torch.stack([base[torch.randperm(6, generator=g)] for _ in range(3)]).requires_grad_()
    assert gradcheck(lambda p, n: loss(p, n).loss, (pos, neg), eps=1e-6, atol=1e-6)


EXTREME_LOSSES = [
    SampledSoftmaxLoss(temperature=0.01),
    SampledSoftmaxLoss(temperature=0.01, positive_in_denominator=False),
    BSLLoss(gamma=0.5, temperature=0.01),
    BSLLoss(gamma=1.0, temperature=0.01, weights="bcl", alpha=0.99, beta=1.0, tau_plus=0.0),
    *(PSLLoss(activation=a, temperature=0.01, psl_temperature=0.1) for a in PSL_ACTIVATIONS),
    PSLLoss(activation="relu", temperature=0.01, weights="bcl", alpha=0.9, beta=1.0),
    BCLNCELoss(alpha=0.9, beta=1.0, tau_plus=0.05, temperature=0.01),
]


@pytest.mark.parametrize("loss", EXTREME_LOSSES, ids=lambda m: repr(m).replace(" ", ""))
def test_finite_at_t_001_with_scores_plus_minus_one(loss) -> None:
    f32 = {"dtype": torch.float32}
    pos = torch.tensor([1.0, -1.0, 1.0, -1.0, 0.0], **f32, requires_grad=True)
    neg = torch.tensor(
        [[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0], [1.0, -1.0, 0.0], [-1.0, 1.0, -1.0], [1, 1, -1]],
        **f32,
        requires_grad=True,
    )
    out = loss(pos, neg)
    assert bool(torch.isfinite(out.loss)), out.loss
    for g in torch.autograd.grad(out.loss, (pos, neg)):
        assert bool(torch.isfinite(g).all())


# --- parameters, config and factory -----------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: BSLLoss(gamma=0.0), "gamma must be a finite number > 0, got 0.0"),
        (lambda: BSLLoss(gamma=-1.0), "gamma must be a finite number > 0, got -1.0"),
        (lambda: PSLLoss(psl_temperature=0.0), "psl_temperature must be a finite number > 0"),
        (lambda: PSLLoss(activation="sigmoid"), "psl_activation must be one of tanh, relu, atan"),
        (lambda: BSLLoss(weights="dcl"), "weights must be one of none, bcl; got 'dcl'"),
        (lambda: PSLLoss(weights="bcl", alpha=1.0), "alpha must be in [0.5, 1), got 1.0"),
    ],
)
def test_parameter_errors_name_the_parameter(make, message: str) -> None:
    with pytest.raises(ValueError, match=None) as err:
        make()
    assert str(err.value).startswith(message)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "bsl", "bsl_gamma": 0}, "loss.bsl_gamma must be a finite number > 0, got 0"),
        ({"name": "psl", "psl_activation": "x"}, "loss.psl_activation must be one of tanh, relu"),
        ({"name": "psl", "psl_temperature": -1}, "loss.psl_temperature must be a finite number"),
        ({"name": "ssm", "ssm_positive_in_denominator": "no"},
         "loss.ssm_positive_in_denominator must be true or false, got 'no'"),
        ({"name": "bsl", "weights": "x"}, "loss.weights must be one of none, bcl; got 'x'"),
        ({"name": "ssm", "weights": "bcl"},
         "loss.weights applies to loss.name bsl or psl only (got loss.name='ssm')"),
    ],
)
def test_config_errors_name_the_key(fields: dict, message: str) -> None:
    with pytest.raises(ValueError) as err:
        LossConfig(**fields)
    assert str(err.value).startswith(message)


def test_factory_passes_every_option() -> None:
    bsl = build_loss(LossConfig(name="bsl", bsl_gamma=0.3, temperature=0.2, weights="bcl",
                                alpha=0.8, ecdf="mid", ecdf_source="catalogue"))
    assert isinstance(bsl, BSLLoss) and bsl.gamma == 0.3 and bsl.temperature == 0.2
    assert bsl.weights == "bcl" and bsl.alpha == 0.8 and bsl.ecdf == "mid" and bsl.uses_reference
    psl = build_loss(LossConfig(name="psl", psl_activation="atan", psl_temperature=0.4,
                                temperature=2.0))
    assert isinstance(psl, PSLLoss) and psl.activation == "atan" and psl.psl_temperature == 0.4
    assert psl.weights == "none" and psl.alpha is None and not psl.uses_reference
    ssm = build_loss(LossConfig(name="ssm", ssm_positive_in_denominator=False))
    assert ssm.positive_in_denominator is False


def test_alpha_control_applies_only_with_bcl_weights() -> None:
    from bcl_rec.training.alpha import AlphaController

    plain = LossConfig(name="bsl", alpha_schedule="linear", alpha=0.9, alpha_steps=2)
    assert not AlphaController(build_loss(plain), plain).active
    weighted = LossConfig(name="psl", weights="bcl", alpha_schedule="linear", alpha=0.9,
                          alpha_steps=2, alpha_every=1)
    loss = build_loss(weighted)
    control = AlphaController(loss, weighted)
    control.epoch_start(1)
    assert control.alpha == 0.5
    control.epoch_start(2)
    assert loss.alpha == 0.9
