"""Summary statistics of per-seed results: mean, std and 95% t-interval, paired differences.

Seeds are few (3-5), so intervals use Student's t with ``n - 1`` degrees of freedom. With one
value there is no spread: std and the half-width are NaN, never zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


def interval(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean, std (ddof=1) and the half-width of the 95% t-interval of the mean."""
    arr = np.asarray(values, dtype=np.float64)
    if len(arr) == 0:
        raise ValueError("interval needs at least one value")
    if len(arr) < 2:
        return float(arr.mean()), float("nan"), float("nan")
    std = float(arr.std(ddof=1))
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, len(arr) - 1) * std / math.sqrt(len(arr)))
    return float(arr.mean()), std, half


@dataclass(frozen=True)
class Summary:
    """Mean, std and 95% interval ``[low, high]`` of ``n`` values."""

    mean: float
    std: float
    half: float
    n: int

    @property
    def low(self) -> float:
        return self.mean - self.half

    @property
    def high(self) -> float:
        return self.mean + self.half


def summarise(values: Sequence[float]) -> Summary:
    """:func:`interval` as a :class:`Summary`."""
    mean, std, half = interval(values)
    return Summary(mean, std, half, len(values))


@dataclass(frozen=True)
class Paired:
    """Paired differences ``a - b`` over ``n`` shared seeds; ``wins``: seeds with ``a > b``."""

    diff: Summary
    wins: int

    @property
    def n(self) -> int:
        return self.diff.n


def paired(a: Sequence[float], b: Sequence[float]) -> Paired:
    """Summary of ``a[i] - b[i]`` (same seed at the same index) and the count of ``a > b``."""
    if len(a) != len(b):
        raise ValueError(f"paired values need equal lengths, got {len(a)} and {len(b)}")
    diffs = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return Paired(summarise(diffs.tolist()), int((diffs > 0).sum()))
