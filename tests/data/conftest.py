"""Data-layer fixtures: the shared real datasets, and a private cache for every test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch) -> Path:
    """Every test gets its own empty cache, so nothing is read from (or left in) a real one."""
    root = tmp_path / "cache"
    monkeypatch.setenv("BCL_REC_CACHE", str(root))
    return root


@pytest.fixture(scope="session")
def ml_latest_small(datasets: Path) -> Path:
    return datasets / "ml-latest-small"


@pytest.fixture(scope="session")
def yelp_sample(datasets: Path) -> Path:
    return datasets / "yelp2018-lightgcn-test"
