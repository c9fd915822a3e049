"""bcl-rec: debiased contrastive losses for implicit-feedback recommenders.

``bcl_rec.load_dataset``, ``bcl_rec.Dataset`` and ``bcl_rec.Recommender`` (see
:mod:`bcl_rec.api`) are imported on first use, so ``import bcl_rec.evaluation`` (or the CLI's
``--help``) does not load training code.
"""

from typing import Any

__version__ = "0.1.0"

__all__ = ["Dataset", "Recommender", "__version__", "load_dataset"]

_API = ("Dataset", "Recommender", "load_dataset")


def __getattr__(name: str) -> Any:
    if name in _API:
        from bcl_rec import api

        return getattr(api, name)
    raise AttributeError(f"module 'bcl_rec' has no attribute {name!r}")
