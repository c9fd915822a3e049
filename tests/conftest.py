"""Shared fixtures: the real datasets are found through $BCL_REC_DATA (never copied here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def data_root() -> Path | None:
    root = os.environ.get("BCL_REC_DATA")
    if root and Path(root).is_dir():
        return Path(root)
    guess = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    return guess if guess.is_dir() else None


@pytest.fixture(scope="session")
def datasets() -> Path:
    root = data_root()
    if root is None:
        if os.environ.get("CI"):
            pytest.fail("BCL_REC_DATA is not set in CI: the real-data tests must run there")
        pytest.skip("set BCL_REC_DATA to the shared datasets folder to run real-data tests")
    return root


@pytest.fixture(scope="session")
def ml100k(datasets: Path) -> Path:
    return datasets / "ml-100k"
