"""Fail early, with the install command, when RecBole is missing or is not the supported version."""

from __future__ import annotations

from importlib import metadata

SUPPORTED = "1.2.1"
INSTALL_HINT = "pip install 'bcl-rec[recbole]'"


def require_recbole() -> str:
    """RecBole's version; an ImportError naming the ``recbole`` extra when it is not installed."""
    try:
        version = metadata.version("recbole")
    except metadata.PackageNotFoundError:
        raise ImportError(
            "bcl_rec.integrations.recbole needs RecBole, which is not installed. "
            f"Install the extra: {INSTALL_HINT}"
        ) from None
    if version != SUPPORTED:
        raise ImportError(
            f"bcl_rec.integrations.recbole supports RecBole {SUPPORTED} (its compatibility fixes "
            f"replace RecBole internals of that release), found {version}. "
            f"Install the extra: {INSTALL_HINT}"
        )
    return version
