"""Shared helpers for the CLI tests: a small interaction log written where a test wants it."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_log(path: Path, n_users: int = 30, n_items: int = 40, seed: int = 0) -> Path:
    """A small interaction log (user,item,rating,timestamp), 6 items per user."""
    rng = np.random.default_rng(seed)
    lines = ["user,item,rating,timestamp"]
    for u in range(n_users):
        for t, i in enumerate(rng.choice(n_items, size=6, replace=False)):
            lines.append(f"u{u},i{i},{rng.integers(1, 6)},{1000 + 10 * u + t}")
    path.write_text("\n".join(lines) + "\n")
    return path
