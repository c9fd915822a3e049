"""Small helpers shared by the data tests: write files, list files, pick rows of a split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bcl_rec.data.interactions import Interactions
from bcl_rec.data.split import Split


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode("utf-8"))
    return path


def files_under(root: Path) -> list[Path]:
    """Every file below ``root`` (temporary ones included)."""
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def make_log(rows, columns=("user", "item", "timestamp")) -> Interactions:
    return Interactions.from_raw(pd.DataFrame(rows, columns=list(columns)))


def pairs(matrix) -> set[tuple[int, int]]:
    coo = matrix.tocoo()
    return set(zip(coo.row.tolist(), coo.col.tolist(), strict=True))


def raw_pairs(split: Split, part: str) -> set[tuple]:
    coo = getattr(split, part).tocoo()
    return set(zip(split.user_ids[coo.row].tolist(), split.item_ids[coo.col].tolist(),
                   strict=True))


def check_partition(split: Split, log: Interactions) -> None:
    """Train, valid and test are disjoint and together hold exactly the log's distinct pairs."""
    parts = [pairs(getattr(split, p)) for p in ("train", "valid", "test")]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    users = log.frame["user"].to_numpy()
    items = log.frame["item"].to_numpy()
    expected = set(zip(users.tolist(), items.tolist(), strict=True))
    assert parts[0] | parts[1] | parts[2] == expected
    for p in ("train", "valid", "test"):
        m = getattr(split, p)
        assert m.shape == (log.n_users, log.n_items) and m.has_sorted_indices
        assert np.all(m.data == 1)
