"""The prepared-split cache: keyed by inputs and options, reused by training, written atomically."""

from __future__ import annotations

import os

import numpy as np
import pytest
from data_helpers import files_under, write

from bcl_rec.data import cache as cache_module
from bcl_rec.data.config import DataConfig
from bcl_rec.data.errors import DataError
from bcl_rec.data.load import load_split, prepare_split


def same_split(a, b) -> bool:
    return all((getattr(a, p) != getattr(b, p)).nnz == 0 for p in ("train", "valid", "test")) \
        and np.array_equal(a.user_ids, b.user_ids) and np.array_equal(a.item_ids, b.item_ids)


def test_second_load_comes_from_cache(ml100k, private_cache):
    first = prepare_split(str(ml100k))
    assert not first.from_cache and first.cache_path.is_file()
    assert first.cache_path.parent == private_cache / "splits"
    second = prepare_split(str(ml100k))
    assert second.from_cache and second.cache_path == first.cache_path
    assert same_split(first.split, second.split)
    # item 242 is on the first line of u.data
    assert second.split.item_titles[0] == first.split.item_titles[0] == "Kolya (1996)"
    assert second.meta["train"] == first.split.train.nnz
    assert len(files_under(private_cache)) == 1


def test_string_ids_round_trip(yelp_sample, tmp_path):
    folder = tmp_path / "ds"
    write(folder / "log.csv", "user,item,t\nzoë,🍕,1\nzoë,b,2\nzoë,c,3\nal,b,4\n")
    first = prepare_split(str(folder / "log.csv"))
    second = prepare_split(str(folder / "log.csv"))
    assert second.from_cache and same_split(first.split, second.split)
    assert second.split.item_ids.tolist() == ["🍕", "b", "c"]


@pytest.mark.parametrize(
    "change",
    [{"seed": 1}, {"split": "ratio"}, {"min_rating": 4}, {"user_core": 30}, {"order": "random"}],
)
def test_options_change_the_key(ml100k, change):
    base = prepare_split(str(ml100k))
    other = prepare_split(DataConfig(name=str(ml100k), **change))
    assert not other.from_cache and other.cache_path != base.cache_path


def test_editing_the_file_changes_the_key(tmp_path):
    path = write(tmp_path / "log.csv", "user,item,t\n1,1,1\n1,2,2\n1,3,3\n")
    first = prepare_split(str(path))
    write(path, "user,item,t\n1,1,1\n1,2,2\n1,4,3\n")
    os.utime(path, ns=(1, path.stat().st_mtime_ns + 10**9))
    second = prepare_split(str(path))
    assert not second.from_cache and second.cache_path != first.cache_path
    assert second.split.item_ids.tolist() == [1, 2, 4]


def test_cache_off(ml100k, private_cache):
    prepared = prepare_split(DataConfig(name=str(ml100k), cache=False))
    assert prepared.cache_path is None and files_under(private_cache) == []


def test_training_entry_reuses_the_cache(ml100k, monkeypatch):
    load_split(DataConfig(name=str(ml100k)))

    def no_reading(*args, **kwargs):
        raise AssertionError("the data was read again")

    monkeypatch.setattr("bcl_rec.data.load.build_split", no_reading)
    split = load_split(DataConfig(name=str(ml100k)))
    assert split.test.nnz == 943
    # the old keyword form still works
    assert load_split(str(ml100k), split="leave-one-out", seed=0).test.nnz == 943


def test_crash_while_writing_leaves_nothing(ml100k, private_cache, monkeypatch):
    def broken_savez(handle, **arrays):
        handle.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(cache_module.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        prepare_split(str(ml100k))
    assert files_under(private_cache) == []


def test_damaged_entry_is_rebuilt(ml100k):
    first = prepare_split(str(ml100k))
    first.cache_path.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="unreadable cache entry"):
        again = prepare_split(str(ml100k))
    assert not again.from_cache and same_split(first.split, again.split)
    assert prepare_split(str(ml100k)).from_cache


def test_bad_data_is_never_cached(tmp_path, private_cache):
    path = write(tmp_path / "log.csv", "user,item\n1,2\n1,\n")
    with pytest.raises(DataError):
        prepare_split(str(path))
    assert files_under(private_cache) == []
