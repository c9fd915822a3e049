"""Importing the adapter names the ``recbole`` extra when RecBole is missing or another version.

Runs with and without RecBole installed.
"""

from __future__ import annotations

import importlib
import sys
from importlib import metadata

import pytest


def _import_adapter_with_recbole_version(monkeypatch, version):
    real = metadata.version

    def fake(name):
        if name != "recbole":
            return real(name)
        if version is None:
            raise metadata.PackageNotFoundError(name)
        return version

    monkeypatch.setattr(metadata, "version", fake)
    for name in [m for m in sys.modules if m.startswith("bcl_rec.integrations.recbole")]:
        monkeypatch.delitem(sys.modules, name)
    return importlib.import_module("bcl_rec.integrations.recbole")


def test_missing_recbole_names_the_extra(monkeypatch):
    with pytest.raises(ImportError, match=r"pip install 'bcl-rec\[recbole\]'"):
        _import_adapter_with_recbole_version(monkeypatch, None)


def test_other_recbole_version_is_refused(monkeypatch):
    with pytest.raises(ImportError, match=r"supports RecBole 1\.2\.1 .*found 1\.1\.1"):
        _import_adapter_with_recbole_version(monkeypatch, "1.1.1")
