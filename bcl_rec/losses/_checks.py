"""Scalar parameter checks shared by the loss constructors, the weight functions and the config.

Every check raises ``ValueError`` whose message starts with the parameter name it was given, so
the same helpers serve ``LossConfig`` (names like ``loss.alpha``) and the loss classes (``alpha``).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterable

__all__ = [
    "check_alpha",
    "check_beta",
    "check_choice",
    "check_finite",
    "check_non_negative",
    "check_positive",
    "check_tau_plus",
]


def _as_float(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    return float(value)


def check_finite(value: object, name: str) -> float:
    """Return ``value`` as a float; reject non-numbers, NaN and +-inf."""
    x = _as_float(value, name)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return x


def check_positive(value: object, name: str) -> float:
    """Return ``value`` as a float; it must be finite and > 0."""
    x = _as_float(value, name)
    if not (math.isfinite(x) and x > 0.0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return x


def check_non_negative(value: object, name: str) -> float:
    """Return ``value`` as a float; it must be finite and >= 0."""
    x = _as_float(value, name)
    if not (math.isfinite(x) and x >= 0.0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return x


def check_alpha(value: object, name: str = "alpha") -> float:
    """BCL location parameter: alpha in [0.5, 1).

    alpha < 0.5 would describe an encoder worse than random; alpha = 1 makes ``p_u(1) = 0`` at
    tau_plus = 0 (omega = 0/0) and omega(1) ~ 1/(1 - alpha) explodes as alpha -> 1.
    """
    x = _as_float(value, name)
    if not (0.5 <= x < 1.0):
        raise ValueError(f"{name} must be in [0.5, 1), got {value!r}")
    return x


def check_beta(value: object, name: str = "beta") -> float:
    """BCL concentration parameter: beta in [0.5, 1] (beta < 0.5 would mine easy negatives)."""
    x = _as_float(value, name)
    if not (0.5 <= x <= 1.0):
        raise ValueError(f"{name} must be in [0.5, 1], got {value!r}")
    return x


def check_tau_plus(value: object, name: str = "tau_plus", warn: bool = False) -> float:
    """Class prior of hidden positives: tau_plus in [0, 1).

    With ``warn=True`` (used by user-facing constructors) a value >= 0.5 emits a ``UserWarning``:
    it is mathematically valid but implausible.
    """
    x = _as_float(value, name)
    if not (0.0 <= x < 1.0):
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    if warn and x >= 0.5:
        warnings.warn(
            f"{name}={x} >= 0.5 means most unlabeled items are hidden positives; "
            "this is valid but implausible",
            UserWarning,
            stacklevel=3,
        )
    return x


def check_choice(value: object, name: str, choices: Iterable[str]) -> str:
    """``value`` must be one of ``choices`` (strings)."""
    allowed = tuple(choices)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value
