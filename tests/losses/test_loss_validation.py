"""Parameter and input validation (spec section 6, property 11) and adaptive alpha plumbing."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from bcl_rec.losses import (
    BCLLoss,
    BCLNCELoss,
    BPRLoss,
    DCLLoss,
    DPLLoss,
    HCLLoss,
    SampledSoftmaxLoss,
    alpha_from_auc,
    bcl_weights,
    g_inverse,
)

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("cls", [BCLLoss, BCLNCELoss])
@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"alpha": 0.49}, "alpha"),
        ({"alpha": 1.0}, "alpha"),
        ({"alpha": 1.2}, "alpha"),
        ({"alpha": NAN}, "alpha"),
        ({"beta": 0.49}, "beta"),
        ({"beta": 1.01}, "beta"),
        ({"tau_plus": -0.01}, "tau_plus"),
        ({"tau_plus": 1.0}, "tau_plus"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"temperature": INF}, "temperature"),
        ({"ecdf": "min"}, "ecdf"),
        ({"ecdf_source": "global"}, "ecdf_source"),
        ({"alpha": True}, "alpha"),
        ({"alpha": "0.9"}, "alpha"),
    ],
)
def test_bcl_constructor_rejects_bad_parameters(cls, kwargs, param) -> None:
    with pytest.raises(ValueError, match=rf"^{param} "):
        cls(**kwargs)


def test_boundary_values_are_accepted() -> None:
    BCLLoss(alpha=0.5, beta=0.5, tau_plus=0.0)
    BCLLoss(alpha=0.999, beta=1.0, tau_plus=0.49)
    HCLLoss(hcl_beta=0.0)


@pytest.mark.parametrize(
    ("factory", "param"),
    [
        (lambda: HCLLoss(hcl_beta=-0.1), "hcl_beta"),
        (lambda: HCLLoss(tau_plus=1.0), "tau_plus"),
        (lambda: DCLLoss(tau_plus=-0.5), "tau_plus"),
        (lambda: DCLLoss(s_min=NAN), "s_min"),
        (lambda: DCLLoss(pos_source="mean"), "pos_source"),
        (lambda: DCLLoss(temperature=0.0), "temperature"),
        (lambda: DPLLoss(tau_plus=1.5), "tau_plus"),
        (lambda: DPLLoss(floor=0.0), "floor"),
        (lambda: DPLLoss(temperature=-0.1), "temperature"),
        (lambda: BPRLoss(temperature=0.0), "temperature"),
        (lambda: SampledSoftmaxLoss(temperature=NAN), "temperature"),
    ],
)
def test_other_constructors_reject_bad_parameters(factory, param) -> None:
    with pytest.raises(ValueError, match=rf"^{param} "):
        factory()


@pytest.mark.parametrize(
    "factory",
    [
        lambda: BCLLoss(tau_plus=0.5),
        lambda: BCLNCELoss(tau_plus=0.7),
        lambda: DPLLoss(tau_plus=0.6),
        lambda: DCLLoss(tau_plus=0.5),
        lambda: HCLLoss(tau_plus=0.9),
    ],
)
def test_implausible_prior_warns(factory) -> None:
    with pytest.warns(UserWarning, match="tau_plus"):
        factory()


def test_plausible_prior_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BCLLoss(tau_plus=0.49)


def test_weight_functions_validate_parameters() -> None:
    s = torch.randn(2, 4)
    with pytest.raises(ValueError, match="alpha"):
        bcl_weights(s, 0.4, 1.0, 0.1)
    with pytest.raises(ValueError, match="beta"):
        bcl_weights(s, 0.8, 0.3, 0.1)
    with pytest.raises(ValueError, match="tau_plus"):
        bcl_weights(s, 0.8, 1.0, 1.0)
    with pytest.raises(ValueError, match="alpha"):
        g_inverse(torch.rand(3), 1.0, 0.1)


# ------------------------------------------------------------------ inputs


def _ok(b: int = 3, n: int = 4, m: int = 2):
    return torch.randn(b), torch.randn(b, n), torch.randn(b, m)


ALL = [
    BPRLoss(),
    SampledSoftmaxLoss(),
    BCLLoss(),
    BCLNCELoss(),
    DPLLoss(),
    DCLLoss(s_min=-5.0),
    HCLLoss(s_min=-5.0),
]


@pytest.mark.parametrize("loss", ALL, ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("bad", [NAN, INF, -INF])
@pytest.mark.parametrize("where", ["pos", "neg", "extra"])
def test_non_finite_scores_are_rejected(loss, bad: float, where: str) -> None:
    pos, neg, extra = _ok()
    {"pos": pos, "neg": neg, "extra": extra}[where].view(-1)[1] = bad
    with pytest.raises(ValueError, match=rf"^{where} contains NaN"):
        loss(pos, neg, extra)


@pytest.mark.parametrize("loss", ALL, ids=lambda m: type(m).__name__)
def test_shapes_are_checked(loss) -> None:
    pos, neg, extra = _ok()
    with pytest.raises(ValueError, match="^pos"):
        loss(pos.unsqueeze(1), neg, extra)
    with pytest.raises(ValueError, match="^neg"):
        loss(pos, neg[:2], extra)
    with pytest.raises(ValueError, match="^neg"):
        loss(pos, neg[0], extra)
    with pytest.raises(ValueError, match=r"N >= 1"):
        loss(pos, neg[:, :0], extra)
    with pytest.raises(ValueError, match="^extra"):
        loss(pos, neg, extra[:1])
    with pytest.raises(ValueError, match="^pos"):
        loss(pos[:0], neg[:0], extra[:0])
    with pytest.raises(ValueError, match="floating"):
        loss(pos.long(), neg.long(), extra.long())
    with pytest.raises(ValueError, match="dtype"):
        loss(pos, neg.double(), extra)


def test_ref_is_validated_for_catalogue_bcl() -> None:
    pos, neg, _ = _ok()
    loss = BCLLoss(ecdf_source="catalogue")
    with pytest.raises(ValueError, match="^ref"):
        loss(pos, neg, ref=torch.randn(2, 5))
    with pytest.raises(ValueError, match="NaN"):
        loss(pos, neg, ref=torch.full((3, 5), NAN))
    with pytest.raises(ValueError, match="finite"):
        loss(pos, neg, ref=torch.full((3, 5), INF))


def test_inputs_with_grad_and_n_equal_one_work() -> None:
    pos = torch.randn(3, requires_grad=True)
    neg = torch.randn(3, 1, requires_grad=True)
    for rule in ("max", "mid"):
        out = BCLLoss(alpha=0.8, ecdf=rule)(pos, neg)
        out.loss.backward()
        assert pos.grad is not None and bool(torch.isfinite(pos.grad).all())


# ------------------------------------------------------------------ set_alpha


@pytest.mark.parametrize("cls", [BCLLoss, BCLNCELoss])
def test_set_alpha_updates_weights_and_validates(cls) -> None:
    pos, neg = torch.randn(4, dtype=torch.float64), torch.randn(4, 30, dtype=torch.float64)
    loss = cls(alpha=0.5, beta=1.0, tau_plus=0.1)
    assert loss.alpha == 0.5
    before = loss(pos, neg).loss
    loss.set_alpha(0.85)
    assert loss.alpha == 0.85
    after = loss(pos, neg).loss
    assert torch.equal(after, cls(alpha=0.85, beta=1.0, tau_plus=0.1)(pos, neg).loss)
    assert not torch.equal(before, after)
    for bad in (0.3, 1.0, NAN, "auto"):
        with pytest.raises(ValueError, match="alpha"):
            loss.set_alpha(bad)
    assert loss.alpha == 0.85  # unchanged after a rejected update
    with pytest.raises(AttributeError):
        loss.alpha = 0.7  # read-only: updates go through set_alpha


# ------------------------------------------------------------------ alpha_from_auc (spec 1.9)


def _auc_pu(alpha: float, tau: float) -> float:
    auc_pn = 0.5 + (2 * alpha - 1) / 3
    return (1 - tau) * auc_pn + tau / 2


@pytest.mark.parametrize("alpha", [0.5, 0.6, 0.75, 0.9, 0.98])
@pytest.mark.parametrize("tau", [0.0, 0.05, 0.3])
def test_model_mapping_inverts_the_generative_auc(alpha: float, tau: float) -> None:
    assert alpha_from_auc(_auc_pu(alpha, tau), tau, "model", 0.99) == pytest.approx(
        alpha, abs=1e-12
    )


def test_model_auc_formula_by_simulation() -> None:
    # positive latent ~ p_fn, negative ~ p_tn, drawn independently: AUC_PN = 1/2 + (2a - 1)/3
    g = torch.Generator().manual_seed(0)
    n = 200_000

    def draw(take_min_prob: float) -> torch.Tensor:
        u = torch.rand(2, n, generator=g, dtype=torch.float64)
        lo, hi = u.min(0).values, u.max(0).values
        return torch.where(torch.rand(n, generator=g) < take_min_prob, lo, hi)

    for alpha in (0.7, 0.9, 1.0):
        neg = draw(alpha)  # true negatives take the min with probability alpha
        pos = draw(1 - alpha)  # positives take the max with probability alpha
        auc = (pos > neg).double().mean().item()
        assert auc == pytest.approx(0.5 + (2 * alpha - 1) / 3, abs=5e-3)


def test_alpha_from_auc_clips_and_reference_mapping() -> None:
    assert alpha_from_auc(0.3, 0.05, "model", 0.99) == 0.5
    assert alpha_from_auc(0.5, 0.0, "model", 0.99) == 0.5
    assert alpha_from_auc(1.0, 0.0, "model", 0.95) == 0.95
    assert alpha_from_auc(0.83, 0.0, "reference", 0.99) == 0.83
    assert alpha_from_auc(0.995, 0.0, "reference", 0.99) == 0.99
    assert alpha_from_auc(0.4, 0.1, "reference", 0.99) == 0.5
    # the model mapping maps the same AUC to a larger alpha than the reference (AUC <= 5/6 range)
    assert alpha_from_auc(0.7, 0.05, "model", 0.99) > 0.7


@pytest.mark.parametrize(
    ("args", "param"),
    [
        ((1.2, 0.1, "model", 0.99), "auc"),
        ((NAN, 0.1, "model", 0.99), "auc"),
        ((0.7, 1.0, "model", 0.99), "tau_plus"),
        ((0.7, 0.1, "linear", 0.99), "mapping"),
        ((0.7, 0.1, "model", 1.0), "alpha_max"),
    ],
)
def test_alpha_from_auc_validates(args, param) -> None:
    with pytest.raises(ValueError, match=rf"^{param} "):
        alpha_from_auc(*args)


def test_alpha_from_auc_result_is_a_valid_alpha() -> None:
    for auc in torch.linspace(0, 1, 101).tolist():
        for tau in (0.0, 0.1, 0.49):
            a = alpha_from_auc(auc, tau, "model", 0.99)
            assert 0.5 <= a <= 0.99 and not math.isnan(a)
            BCLLoss(alpha=a)
