"""LossConfig validation, the registry and build_loss."""

from __future__ import annotations

import dataclasses
import warnings

import pytest
import torch

import bcl_rec.losses as losses_pkg
from bcl_rec.losses import (
    LOSS_NAMES,
    LOSSES,
    BCLLoss,
    BCLNCELoss,
    BPRLoss,
    BSLLoss,
    DCLLoss,
    DPLLoss,
    HCLLoss,
    LossConfig,
    LossOutput,
    PSLLoss,
    RecLoss,
    SampledSoftmaxLoss,
    build_loss,
    get_loss_class,
    register,
)

NAN = float("nan")

EXPECTED_DEFAULTS = {
    "name": "bcl",
    "num_negatives": 10,
    "num_extras": 0,
    "alpha": 0.9,
    "alpha_max": 0.99,
    "alpha_from_auc": "model",
    "alpha_schedule": "constant",
    "alpha_every": 20,
    "alpha_steps": 20,
    "beta": 1.0,
    "tau_plus": 0.05,
    "ecdf": "mid",
    "ecdf_source": "sampled",
    "ecdf_sample": None,
    "self_normalise": False,
    "temperature": 1.0,
    "hcl_beta": 1.0,
    "detach_weights": False,
    "s_min": None,
    "dcl_pos": "anchor",
    "dpl_floor": 0.01,
    "normalize_by_tau_minus": False,
    "bpr_first_only": False,
    "ifnd_mode": "elimination",
    "ifnd_source": "kmeans",
    "ifnd_clusters": (100, 30),
    "ifnd_every": 1,
    "ifnd_warmup": 10,
    "ifnd_end": 100,
    "ifnd_threshold": 0.2,
    "pcl_form": "A",
    "pcl_kappa": "learned",
    "pcl_kappa_min": 5.0,
    "pcl_kappa_max": 50.0,
    "pcl_lambda": 1e-4,
    "hscl_gamma": 1.0,
    "hscl_q": "ones",
    "ssm_positive_in_denominator": True,
    "bsl_gamma": 1.0,
    "psl_activation": "tanh",
    "psl_temperature": 1.0,
    "weights": "none",
}


def test_fields_and_defaults() -> None:
    cfg = LossConfig()
    assert [f.name for f in dataclasses.fields(LossConfig)] == list(EXPECTED_DEFAULTS)
    assert cfg.to_dict() == EXPECTED_DEFAULTS
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.alpha = 0.7  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "bpr2"),
        ("name", "BCL"),
        ("num_negatives", 0),
        ("num_negatives", 2.5),
        ("num_negatives", True),
        ("num_extras", -1),
        ("alpha", 0.49),
        ("alpha", 1.0),
        ("alpha", "adaptive"),
        ("alpha", NAN),
        ("alpha_max", 1.0),
        ("alpha_max", 0.3),
        ("alpha_from_auc", "auc"),
        ("alpha_schedule", "cosine"),
        ("alpha_every", 0),
        ("alpha_steps", 0),
        ("beta", 0.4),
        ("beta", 1.1),
        ("tau_plus", -0.1),
        ("tau_plus", 1.0),
        ("ecdf", "min"),
        ("ecdf_source", "global"),
        ("ecdf_sample", 0),
        ("self_normalise", "yes"),
        ("temperature", 0.0),
        ("temperature", -2.0),
        ("hcl_beta", -0.5),
        ("detach_weights", 1),
        ("s_min", float("inf")),
        ("dcl_pos", "mean"),
        ("dpl_floor", 0.0),
        ("normalize_by_tau_minus", None),
        ("bpr_first_only", "false"),
    ],
)
def test_bad_values_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"loss\.{field}\b"):
        LossConfig(**{field: value})


def test_error_messages_state_the_allowed_range() -> None:
    with pytest.raises(ValueError, match=r"loss\.alpha must be a number in \[0\.5, 1\) or 'auto'"):
        LossConfig(alpha=1.5)
    with pytest.raises(ValueError, match=r"loss\.name must be one of bcl, bcl-nce, bpr"):
        LossConfig(name="x")
    with pytest.raises(ValueError, match=r"loss\.beta must be in \[0\.5, 1\]"):
        LossConfig(beta=0.2)


def test_cross_field_rules() -> None:
    with pytest.raises(ValueError, match=r"loss\.num_extras.*dpl"):
        LossConfig(name="dpl", num_extras=0)
    LossConfig(name="dpl", num_extras=1)
    with pytest.raises(ValueError, match=r"loss\.num_extras.*dcl_pos"):
        LossConfig(name="dcl", dcl_pos="extras")
    LossConfig(name="hcl", dcl_pos="extras", num_extras=2)
    LossConfig(name="bcl", dcl_pos="extras")  # irrelevant for BCL
    with pytest.raises(ValueError, match=r"loss\.alpha_schedule"):
        LossConfig(alpha="auto", alpha_schedule="linear")


def test_numbers_are_normalised_and_auto_is_kept() -> None:
    cfg = LossConfig(beta=1, temperature=2, alpha="auto", s_min=-1)
    assert isinstance(cfg.beta, float) and isinstance(cfg.temperature, float)
    assert isinstance(cfg.s_min, float)
    assert cfg.alpha == "auto"


def test_tau_plus_warning() -> None:
    with pytest.warns(UserWarning, match=r"loss\.tau_plus"):
        LossConfig(tau_plus=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LossConfig(tau_plus=0.3)


def test_from_dict() -> None:
    cfg = LossConfig.from_dict({"name": "hcl", "hcl_beta": 0.5, "s_min": -2.0})
    assert cfg == LossConfig(name="hcl", hcl_beta=0.5, s_min=-2.0)
    assert LossConfig.from_dict(cfg.to_dict()) == cfg
    assert LossConfig.from_dict({}) == LossConfig()
    with pytest.raises(
        ValueError,
        match=r"^unknown key loss\.gamma \(did you mean loss\.bsl_gamma\?\); "
        r"valid keys: loss\.alpha, ",
    ):
        LossConfig.from_dict({"name": "hcl", "gamma": 0.5})
    with pytest.raises(ValueError, match="mapping"):
        LossConfig.from_dict([("name", "bpr")])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"loss\.beta"):
        LossConfig.from_dict({"beta": 2.0})


# ------------------------------------------------------------------ registry


def test_registry_holds_exactly_the_config_names() -> None:
    assert set(LOSSES) == set(LOSS_NAMES)
    expected = {
        "bpr": BPRLoss,
        "bcl": BCLLoss,
        "bcl-nce": BCLNCELoss,
        "dpl": DPLLoss,
        "dcl": DCLLoss,
        "hcl": HCLLoss,
        "ssm": SampledSoftmaxLoss,
        "bsl": BSLLoss,
        "psl": PSLLoss,
    }
    for name, cls in expected.items():
        assert LOSSES[name] is cls and cls.name == name


def test_register_rejects_duplicates_and_adds_new_names() -> None:
    with pytest.raises(ValueError, match="already registered"):

        @register("bpr")
        class Again(RecLoss):
            pass

    assert LOSSES["bpr"] is BPRLoss
    try:

        @register("test-constant")
        class Constant(RecLoss):
            def compute(self, pos, neg, extra, ref):
                return LossOutput(pos.sum() * 0.0, {})

        assert get_loss_class("test-constant") is Constant
        assert Constant.name == "test-constant"
        out = Constant()(torch.zeros(2), torch.zeros(2, 3))
        assert out.loss.item() == 0.0
    finally:
        LOSSES.pop("test-constant", None)
    with pytest.raises(ValueError, match="non-empty"):
        register("")


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ValueError, match=r"unknown loss 'nope'; valid names: bcl, bcl-nce, bpr"):
        get_loss_class("nope")
    cfg = LossConfig()
    object.__setattr__(cfg, "name", "nope")  # bypass the config's own check
    with pytest.raises(ValueError, match=r"valid names: .*hcl.*ssm"):
        build_loss(cfg)


# ------------------------------------------------------------------ build_loss


def test_build_loss_maps_every_field() -> None:
    bpr = build_loss(LossConfig(name="bpr", bpr_first_only=True, temperature=0.5))
    assert isinstance(bpr, BPRLoss) and bpr.first_only and bpr.temperature == 0.5

    cfg = LossConfig(
        name="bcl",
        alpha=0.7,
        beta=0.8,
        tau_plus=0.1,
        ecdf="mid",
        ecdf_source="catalogue",
        self_normalise=True,
        temperature=0.3,
    )
    bcl = build_loss(cfg)
    assert isinstance(bcl, BCLLoss)
    assert (bcl.alpha, bcl.beta, bcl.tau_plus, bcl.ecdf, bcl.ecdf_source) == (
        0.7,
        0.8,
        0.1,
        "mid",
        "catalogue",
    )
    assert bcl.self_normalise and bcl.temperature == 0.3 and bcl.uses_reference

    nce = build_loss(dataclasses.replace(cfg, name="bcl-nce", ecdf_source="sampled"))
    assert isinstance(nce, BCLNCELoss) and not nce.uses_reference

    dpl = build_loss(
        LossConfig(
            name="dpl", num_extras=3, tau_plus=0.07, dpl_floor=0.02, normalize_by_tau_minus=True
        )
    )
    assert isinstance(dpl, DPLLoss) and dpl.needs_extras
    assert (dpl.tau_plus, dpl.floor, dpl.normalize_by_tau_minus) == (0.07, 0.02, True)

    dcl = build_loss(LossConfig(name="dcl", s_min=-2.0, dcl_pos="extras", num_extras=2))
    assert isinstance(dcl, DCLLoss) and not isinstance(dcl, HCLLoss)
    assert (dcl.s_min, dcl.pos_source, dcl.needs_extras) == (-2.0, "extras", True)

    hcl = build_loss(LossConfig(name="hcl", hcl_beta=0.4, detach_weights=True, tau_plus=0.2))
    assert isinstance(hcl, HCLLoss)
    assert (hcl.hcl_beta, hcl.detach_weights, hcl.tau_plus, hcl.s_min) == (0.4, True, 0.2, None)
    assert not hcl.needs_extras

    ssm = build_loss(LossConfig(name="ssm", temperature=0.2))
    assert isinstance(ssm, SampledSoftmaxLoss) and ssm.temperature == 0.2


@pytest.mark.parametrize("name", ["bcl", "bcl-nce"])
def test_auto_alpha_starts_at_half(name: str) -> None:
    loss = build_loss(LossConfig(name=name, alpha="auto", beta=0.5))
    assert loss.alpha == 0.5
    pos, neg = torch.randn(3), torch.randn(3, 8)
    assert loss(pos, neg).stats["max_weight"].item() == 1.0
    loss.set_alpha(0.8)
    assert loss.alpha == 0.8


def test_every_config_name_builds_and_runs() -> None:
    pos, neg, extra = torch.randn(4), torch.randn(4, 6), torch.randn(4, 2)
    items = (torch.zeros(4, dtype=torch.long), torch.ones(4, 6, dtype=torch.long))
    vectors = (torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 6, 3))
    for name in LOSS_NAMES:
        cfg = LossConfig(name=name, num_extras=2, s_min=-5.0)
        loss = build_loss(cfg, embedding_dim=3)
        more = {"items": items} if loss.needs_items else {}
        if loss.needs_vectors:
            more["vectors"] = vectors
        out = loss(pos, neg, extra, **more)
        assert isinstance(out, LossOutput) and out.loss.dim() == 0


def test_package_exports() -> None:
    for symbol in (
        "LossConfig",
        "LossOutput",
        "RecLoss",
        "LOSSES",
        "build_loss",
        "g_cdf",
        "g_inverse",
        "ecdf",
        "bcl_weights",
        "alpha_from_auc",
    ):
        assert symbol in losses_pkg.__all__ and hasattr(losses_pkg, symbol)
