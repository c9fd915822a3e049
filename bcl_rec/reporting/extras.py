"""Optional dependencies: fail with one line naming the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the pip extra."""


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtraError` saying ``feature`` needs ``extra``."""
    top = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name is not None and err.name.split(".")[0] != top:
            raise  # the package is there but one of its own imports failed
        raise MissingExtraError(
            f"{feature} needs {top}, which is not installed: pip install 'bcl-rec[{extra}]'"
        ) from None


def figure_class() -> type:
    """matplotlib's ``Figure`` (the ``plots`` extra). Figures are drawn and saved without pyplot,
    so no global backend or figure registry is touched."""
    return require("matplotlib.figure", "plots", "plotting").Figure
