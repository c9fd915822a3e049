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

__all__ = ["LOSS_NAMES", "LossConfig"]

LOSS_NAMES = ("bpr", "bcl", "bcl-nce", "dpl", "dcl", "hcl", "ssm")


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
    ssm) as usual, and in the pairwise ones (bpr, bcl, dpl) too when it differs from 1 (the
    default 1 leaves them unchanged). BCL weights are rank-based and unaffected by it.
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
    detach_weights: bool = False
    s_min: float | None = None
    dcl_pos: str = "anchor"
    dpl_floor: float = 0.01
    normalize_by_tau_minus: bool = False
    bpr_first_only: bool = False

    def __post_init__(self) -> None:
        def put(field: str, value: object) -> None:
            object.__setattr__(self, field, value)

        check_types(self, "loss")  # every field's type, from the annotations above
        check_choice(self.name, "loss.name", LOSS_NAMES)
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
        if self.s_min is not None:
            put("s_min", check_finite(self.s_min, "loss.s_min"))
        check_choice(self.dcl_pos, "loss.dcl_pos", ("anchor", "extras"))
        if self.dcl_pos == "extras" and self.name in ("dcl", "hcl") and self.num_extras < 1:
            raise ValueError(
                f"loss.num_extras must be >= 1 when loss.dcl_pos='extras', got {self.num_extras}"
            )
        put("dpl_floor", check_positive(self.dpl_floor, "loss.dpl_floor"))

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
