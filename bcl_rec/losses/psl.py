"""PSL: the pairwise softmax loss (Yang et al., NeurIPS 2024), spec 8.4."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ._checks import check_choice, check_positive
from ._numerics import softplus
from .base import LossOutput, register
from .weighting import WeightedLSELoss

__all__ = ["PSL_ACTIVATIONS", "PSL_FLOOR", "PSLLoss", "psl_activation"]

#: Floor on the argument of the ``log`` in the ``relu`` and ``atan`` activations:
#: ``sigma(x) >= log(PSL_FLOOR) ~ -13.8``. ``log(relu(x + 1))`` is ``-inf`` at ``x <= -1`` and
#: ``log(atan(x) + 1)`` is undefined below ``x = tan(-1) ~ -1.557``; the floored form is finite
#: everywhere, equal to the unfloored one wherever that is above ``log(PSL_FLOOR)``, and has zero
#: gradient below it (those pairs are already ranked correctly by a wide margin).
PSL_FLOOR = 1e-6

_LOG2 = math.log(2.0)


def _tanh(x: Tensor) -> Tensor:
    # log(1 + tanh x) = log 2 - softplus(-2x): exact, and finite where 1 + tanh x rounds to 0
    return _LOG2 - softplus(-2.0 * x)


def _relu(x: Tensor) -> Tensor:
    return torch.log(torch.clamp(x + 1.0, min=PSL_FLOOR))


def _atan(x: Tensor) -> Tensor:
    return torch.log(torch.clamp(torch.atan(x) + 1.0, min=PSL_FLOOR))


def _identity(x: Tensor) -> Tensor:
    return x


_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": _tanh,
    "relu": _relu,
    "atan": _atan,
    "identity": _identity,
}
#: Values of ``loss.psl_activation``; ``identity`` (``sigma(x) = x``) makes PSL sampled softmax
#: without the positive, at temperature ``T * T*``.
PSL_ACTIVATIONS = tuple(_ACTIVATIONS)


def psl_activation(name: str) -> Callable[[Tensor], Tensor]:
    """The activation ``sigma`` called ``name`` (tanh, relu, atan: ``log(g(x) + 1)``; identity)."""
    return _ACTIVATIONS[check_choice(name, "psl_activation", PSL_ACTIVATIONS)]


@register("psl")
class PSLLoss(WeightedLSELoss):
    """Pairwise softmax (PSL1): ``l = LSE_j( sigma(d_j) / T* )``, ``d_j = (s_j - s_+)/T``.

    ``sigma(x) = log(g(x) + 1)`` with ``g`` tanh, relu or atan satisfies ``sigma(x) <= x`` on
    [-1, 1], so PSL is a tighter surrogate of the ranking indicator than sampled softmax. On
    cosine scores the reference takes ``T >= 2`` so that ``d`` stays in [-1, 1]; ``T*``
    (``psl_temperature``) then sets the sharpness. ``relu`` and ``atan`` are floored (see
    :data:`PSL_FLOOR`); ``tanh`` is evaluated in an exact stable form. With ``weights="bcl"`` the
    LSE is ``log sum_j omega_j e^{sigma(d_j)/T*}`` (a row whose weights are all 0 contributes 0).

    Args:
        activation: ``"tanh"`` (default), ``"relu"``, ``"atan"`` or ``"identity"``.
        psl_temperature: ``T*`` (> 0).
        others: as :class:`.weighting.WeightedLSELoss`.

    Shape:
        - pos: :math:`(B,)`
        - neg: :math:`(B, N)`
        - output: scalar ``loss``; BCL weight stats with ``weights="bcl"``
    """

    def __init__(
        self, activation: str = "tanh", psl_temperature: float = 1.0, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.activation = check_choice(activation, "psl_activation", PSL_ACTIVATIONS)
        self.sigma = _ACTIVATIONS[activation]
        self.psl_temperature = check_positive(psl_temperature, "psl_temperature")

    def compute(
        self, pos: Tensor, neg: Tensor, extra: Tensor | None, ref: Tensor | None
    ) -> LossOutput:
        d = self.scale(neg - pos.unsqueeze(-1))
        x = self.sigma(d)
        if self.psl_temperature != 1.0:
            x = x / self.psl_temperature
        row, stats = self.log_sum(x, neg, ref)
        if self.weights == "bcl":
            row = torch.where(torch.isfinite(row), row, torch.zeros_like(row))
        return LossOutput(row.mean(), stats)

    def extra_repr(self) -> str:
        return (
            f"activation={self.activation!r}, psl_temperature={self.psl_temperature}, "
            f"temperature={self.temperature}, {self.weight_repr()}"
        )
