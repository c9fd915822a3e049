"""The registry files: well-formed, checksums that match the shared data, counts that match."""

from __future__ import annotations

import re

import pytest

from bcl_rec.data.download import file_digest
from bcl_rec.data.errors import DataError
from bcl_rec.data.load import read_dataset
from bcl_rec.data.registry import parse_entry, registry

SHARED = ("ml-100k", "ml-latest-small", "yelp2018-lightgcn-test")


def test_entries_are_well_formed():
    entries = registry()
    assert set(SHARED) <= set(entries)
    for name, info in entries.items():
        assert info.name == name and info.folder and info.format
        assert info.checksum_note, f"{name}: say where the checksums come from (or why none)"
        if info.md5:
            assert re.fullmatch(r"[0-9a-f]{32}", info.md5)
        for sha in [info.sha256, *info.files.values()]:
            assert sha is None or re.fullmatch(r"[0-9a-f]{64}", sha)
        assert info.url is None or not info.urls


@pytest.mark.parametrize("name", SHARED)
def test_shared_copies_match_registry(name, datasets):
    info = registry()[name]
    folder = datasets / info.folder
    for member, sha in info.files.items():
        if sha:
            assert file_digest(folder / member, "sha256") == sha
    log = read_dataset(name)
    assert {"users": log.n_users, "items": log.n_items, "interactions": len(log)} == info.counts


def test_bad_entries_are_reported():
    with pytest.raises(DataError, match="unknown registry key 'sha1'"):
        parse_entry({"name": "x", "folder": "x", "format": "lightgcn", "sha1": "ab"}, "x.yaml")
    with pytest.raises(DataError, match="bad defaults"):
        parse_entry({"name": "x", "folder": "x", "format": "lightgcn",
                     "defaults": {"split": "whatever"}}, "x.yaml")
