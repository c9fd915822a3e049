"""Summary statistics of a log or a split, for ``bcl-rec data info`` and ``data prepare``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bcl_rec.data.interactions import Interactions
from bcl_rec.data.split import Split

QUANTILES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)
QUANTILE_NAMES = ("min", "p10", "p25", "median", "p75", "p90", "max")


def quantiles(counts: np.ndarray) -> dict[str, float]:
    """Min, deciles, quartiles, median and max of ``counts`` (plus the mean)."""
    values = np.quantile(counts, QUANTILES) if len(counts) else np.zeros(len(QUANTILES))
    out = {name: float(v) for name, v in zip(QUANTILE_NAMES, values, strict=True)}
    out["mean"] = float(np.mean(counts)) if len(counts) else 0.0
    return out


def log_stats(log: Interactions) -> dict[str, Any]:
    """Users, items, interactions, density, per-user and per-item count quantiles, ranges."""
    users = log.frame["user"].to_numpy()
    items = log.frame["item"].to_numpy()
    n = len(log)
    out: dict[str, Any] = {
        "users": log.n_users,
        "items": log.n_items,
        "interactions": n,
        "density": n / (log.n_users * log.n_items),
        "per_user": quantiles(np.bincount(users, minlength=log.n_users)),
        "per_item": quantiles(np.bincount(items, minlength=log.n_items)),
    }
    if log.has_rating:
        ratings = log.frame["rating"].to_numpy()
        values, counts = np.unique(ratings, return_counts=True)
        out["ratings"] = {
            "min": float(values[0]),
            "max": float(values[-1]),
            "values": {f"{v:g}": int(c) for v, c in zip(values, counts, strict=True)}
            if len(values) <= 20
            else len(values),
        }
    if log.has_timestamp:
        stamps = log.frame["timestamp"].to_numpy()
        out["time"] = {"first": int(stamps.min()), "last": int(stamps.max())}
    return out


def split_stats(split: Split) -> dict[str, Any]:
    """Sizes of each part and how many users have held-out items."""
    out: dict[str, Any] = {"users": split.n_users, "items": split.n_items}
    for part in ("train", "valid", "test"):
        matrix = getattr(split, part)
        out[part] = int(matrix.nnz)
        out[f"{part}_users"] = int((np.diff(matrix.indptr) > 0).sum())
    return out


def format_log_stats(stats: dict[str, Any]) -> list[str]:
    """Human-readable lines for :func:`log_stats`."""
    lines = [
        f"users         {stats['users']:,}",
        f"items         {stats['items']:,}",
        f"interactions  {stats['interactions']:,}",
        f"density       {stats['density']:.4%}",
    ]
    head = "  ".join(f"{name:>7}" for name in (*QUANTILE_NAMES, "mean"))
    lines.append(f"{'':14}{head}")
    for key, title in (("per_user", "per user"), ("per_item", "per item")):
        q = stats[key]
        row = "  ".join(f"{q[name]:>7.6g}" for name in (*QUANTILE_NAMES, "mean"))
        lines.append(f"{title:14}{row}")
    if "ratings" in stats:
        r = stats["ratings"]
        shown = r["values"] if isinstance(r["values"], int) else ", ".join(
            f"{k}:{v:,}" for k, v in r["values"].items()
        )
        lines.append(f"ratings       {r['min']:g}..{r['max']:g} ({shown})")
    if "time" in stats:
        t = stats["time"]
        first = pd.Timestamp(t["first"], unit="s").strftime("%Y-%m-%d")
        last = pd.Timestamp(t["last"], unit="s").strftime("%Y-%m-%d")
        lines.append(f"time          {first} .. {last}")
    return lines


def format_split_stats(stats: dict[str, Any]) -> list[str]:
    """Human-readable lines for :func:`split_stats`."""
    return [
        f"{part:<14}{stats[part]:,} interactions, {stats[f'{part}_users']:,} users"
        for part in ("train", "valid", "test")
    ]
