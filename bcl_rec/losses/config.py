"""Validated, immutable configuration of the training loss (the ``loss:`` section of a config)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bcl_rec.errors import build_section, check_types

from ._checks import (
    check_alpha,
    check_beta,
    check_choice,
    check_finite,
    check_non_negative,
    check_positive,
    check_tau_plus,
)
from .alpha import check_alpha_setting, is_adaptive
from .base import LOSSES
from .psl import PSL_ACTIVATIONS
from .weighting import WEIGHTS

__all__ = ["LossConfig"]

#: Losses that take ``weights: bcl`` (BCL's omega on their log-sum-exp term).
WEIGHTED_LSE_LOSSES = ("bsl", "psl")


def _check_int(value: int, name: str, minimum: int) -> int:
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


@dataclass(frozen=True)
class LossConfig:
    """Loss settings, checked on construction (a ``ValueError`` names the ``loss.<field>``).

    Fields used by the trainer rather than the loss itself: ``num_negatives`` (N),
    ``num_extras`` (M), the ``alpha_*`` schedule / adaptive-alpha settings and ``ecdf_sample``
    (K unlabeled items scored per user for a subsampled catalogue ECDF; ignored with
    ``ecdf_source="sampled"``).

    ``alpha="auto"`` means adaptive alpha: the loss starts at 0.5 and the trainer updates it from
    the validation AUC after every validation pass (``alpha_from_auc`` mapping, clipped to
    ``alpha_max``).
    ``alpha_schedule="linear"`` steps alpha every ``alpha_every`` epochs over ``alpha_steps`` values
    from 0.5 to ``alpha`` (it needs a numeric alpha).

    ``temperature`` divides the scores in every loss: in the contrastive losses (bcl-nce, dcl, hcl,
    ssm, bsl, psl) as usual, and in the pairwise ones (bpr, bcl, dpl) too when it differs from 1
    (the default 1 leaves them unchanged). BCL weights are rank-based and unaffected by it.

    The softmax family on cosine scores (spec 8): ``ssm`` is SL (``ssm_positive_in_denominator:
    false`` drops the positive's own term), ``bsl`` takes ``bsl_gamma``, ``psl`` takes
    ``psl_activation`` and ``psl_temperature`` (T*); ``weights: bcl`` puts BCL's omega (from
    ``alpha``, ``beta``, ``tau_plus``, ``ecdf``, ``ecdf_source``, ``self_normalise``) on the
    log-sum-exp of ``bsl`` and ``psl``.

    IFND (``ifnd_*``), PCL (``pcl_*``) and H-SCL (``hscl_*``) keys: see docs/losses.md. The BCL
    posterior they may use (``ifnd_source: posterior``, ``hscl_q: posterior``) takes ``alpha``,
    ``tau_plus`` and ``ecdf``. ``detach_weights`` defaults to False for HCL (reference parity) and
    True for H-SCL.
    """

    name: str = "bcl"
    num_negatives: int = 10
    num_extras: int = 0
    alpha: float | str = 0.9
    alpha_max: float = 0.99
    alpha_from_auc: str = "model"
    alpha_schedule: str = "constant"
    alpha_every: int = 20
    alpha_steps: int = 20
    beta: float = 1.0
    tau_plus: float = 0.05
    ecdf: str = "mid"
    ecdf_source: str = "sampled"
    ecdf_sample: int | None = None
    self_normalise: bool = False
    temperature: float = 1.0
    hcl_beta: float = 1.0
    detach_weights: bool | None = None
    s_min: float | None = None
    dcl_pos: str = "anchor"
    dpl_floor: float = 0.01
    normalize_by_tau_minus: bool = False
    bpr_first_only: bool = False
    ifnd_mode: str = "elimination"
    ifnd_source: str = "kmeans"
    ifnd_clusters: tuple[int, ...] = (100, 30)
    ifnd_every: int = 1
    ifnd_warmup: int = 10
    ifnd_end: int = 100
    ifnd_threshold: float = 0.2
    pcl_form: str = "A"
    pcl_kappa: str = "learned"
    pcl_kappa_min: float = 5.0
    pcl_kappa_max: float = 50.0
    pcl_lambda: float = 1e-4
    hscl_gamma: float = 1.0
    hscl_q: str = "ones"
    ssm_positive_in_denominator: bool = True
    bsl_gamma: float = 1.0
    psl_activation: str = "tanh"
    psl_temperature: float = 1.0
    weights: str = "none"

    def __post_init__(self) -> None:
        def put(field: str, value: object) -> None:
            object.__setattr__(self, field, value)

        check_types(self, "loss")  # every field's type, from the annotations above
        check_choice(self.name, "loss.name", tuple(LOSSES))
        _check_int(self.num_negatives, "loss.num_negatives", 1)
        _check_int(self.num_extras, "loss.num_extras", 0)
        if self.name == "dpl" and self.num_extras < 1:
            raise ValueError(
                f"loss.num_extras must be >= 1 for loss.name='dpl' (DPL needs extra positives), "
                f"got {self.num_extras}"
            )
        put("alpha", check_alpha_setting(self.alpha, "loss.alpha"))
        put("alpha_max", check_alpha(self.alpha_max, "loss.alpha_max"))
        check_choice(self.alpha_from_auc, "loss.alpha_from_auc", ("model", "reference"))
        check_choice(self.alpha_schedule, "loss.alpha_schedule", ("constant", "linear"))
        if self.alpha_schedule == "linear" and is_adaptive(self.alpha):
            raise ValueError(
                "loss.alpha_schedule='linear' needs a numeric loss.alpha target in [0.5, 1), "
                "got 'auto'"
            )
        _check_int(self.alpha_every, "loss.alpha_every", 1)
        _check_int(self.alpha_steps, "loss.alpha_steps", 1)
        put("beta", check_beta(self.beta, "loss.beta"))
        put("tau_plus", check_tau_plus(self.tau_plus, "loss.tau_plus", warn=True))
        check_choice(self.ecdf, "loss.ecdf", ("max", "mid"))
        check_choice(self.ecdf_source, "loss.ecdf_source", ("sampled", "catalogue"))
        if self.ecdf_sample is not None:
            _check_int(self.ecdf_sample, "loss.ecdf_sample", 1)
        put("temperature", check_positive(self.temperature, "loss.temperature"))
        put("hcl_beta", check_non_negative(self.hcl_beta, "loss.hcl_beta"))
        if self.detach_weights is None:
            put("detach_weights", self.name == "hscl")
        if self.s_min is not None:
            put("s_min", check_finite(self.s_min, "loss.s_min"))
        check_choice(self.dcl_pos, "loss.dcl_pos", ("anchor", "extras"))
        if self.dcl_pos == "extras" and self.name in ("dcl", "hcl") and self.num_extras < 1:
            raise ValueError(
                f"loss.num_extras must be >= 1 when loss.dcl_pos='extras', got {self.num_extras}"
            )
        put("dpl_floor", check_positive(self.dpl_floor, "loss.dpl_floor"))
        put("bsl_gamma", check_positive(self.bsl_gamma, "loss.bsl_gamma"))
        check_choice(self.psl_activation, "loss.psl_activation", PSL_ACTIVATIONS)
        put("psl_temperature", check_positive(self.psl_temperature, "loss.psl_temperature"))
        check_choice(self.weights, "loss.weights", WEIGHTS)
        if self.weights != "none" and self.name not in WEIGHTED_LSE_LOSSES:
            raise ValueError(
                f"loss.weights applies to loss.name {' or '.join(WEIGHTED_LSE_LOSSES)} only "
                f"(got loss.name={self.name!r}); remove it or use weights: none"
            )
        self._check_seeds(put)

    def _check_seeds(self, put: Any) -> None:
        """The IFND, PCL and H-SCL keys."""
        check_choice(self.ifnd_mode, "loss.ifnd_mode", ("elimination", "attraction"))
        check_choice(self.ifnd_source, "loss.ifnd_source", ("kmeans", "posterior"))
        clusters = self.ifnd_clusters
        if not (
            isinstance(clusters, (list, tuple))
            and len(clusters) > 0
            and all(isinstance(k, int) and not isinstance(k, bool) and k >= 2 for k in clusters)
        ):
            raise ValueError(
                f"loss.ifnd_clusters must be a non-empty list of integers >= 2, got {clusters!r}"
            )
        put("ifnd_clusters", tuple(clusters))
        _check_int(self.ifnd_every, "loss.ifnd_every", 1)
        _check_int(self.ifnd_warmup, "loss.ifnd_warmup", 0)
        _check_int(self.ifnd_end, "loss.ifnd_end", 1)
        if self.ifnd_end <= self.ifnd_warmup:
            raise ValueError(
                f"loss.ifnd_end must be > loss.ifnd_warmup ({self.ifnd_warmup}), "
                f"got {self.ifnd_end}"
            )
        put("ifnd_threshold", check_positive(self.ifnd_threshold, "loss.ifnd_threshold"))
        if self.ifnd_threshold >= 1.0:
            raise ValueError(f"loss.ifnd_threshold must be in (0, 1), got {self.ifnd_threshold!r}")
        check_choice(self.pcl_form, "loss.pcl_form", ("A", "B"))
        check_choice(self.pcl_kappa, "loss.pcl_kappa", ("learned", "norm"))
        put("pcl_kappa_min", check_positive(self.pcl_kappa_min, "loss.pcl_kappa_min"))
        put("pcl_kappa_max", check_positive(self.pcl_kappa_max, "loss.pcl_kappa_max"))
        if self.pcl_kappa_max <= self.pcl_kappa_min:
            raise ValueError(
                f"loss.pcl_kappa_max must be > loss.pcl_kappa_min ({self.pcl_kappa_min}), "
                f"got {self.pcl_kappa_max}"
            )
        put("pcl_lambda", check_non_negative(self.pcl_lambda, "loss.pcl_lambda"))
        put("hscl_gamma", check_non_negative(self.hscl_gamma, "loss.hscl_gamma"))
        check_choice(self.hscl_q, "loss.hscl_q", ("ones", "posterior", "ifnd"))
        uses_posterior = (self.name == "ifnd" and self.ifnd_source == "posterior") or (
            self.name == "hscl" and self.hscl_q == "posterior"
        )
        if uses_posterior and self.alpha == "auto":
            raise ValueError(
                f"loss.alpha must be a number in [0.5, 1) for the BCL posterior of "
                f"loss.name={self.name!r}, got 'auto'"
            )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LossConfig:
        """Build from a mapping (e.g. the parsed ``loss:`` section of a YAML file).

        An unknown key raises ``ConfigError("unknown key loss.<k> (did you mean loss.<x>?); valid
        keys: ...")`` (a ``ValueError``), as every config section does; missing keys take their
        defaults.
        """
        return build_section("loss", cls, d)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (round-trips through :meth:`from_dict`)."""
        return dataclasses.asdict(self)
