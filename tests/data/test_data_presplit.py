"""Pre-split train/validation/test files: one id map, and the held-out checks."""

from __future__ import annotations

import numpy as np
import pytest
from data_helpers import raw_pairs, write

from bcl_rec.data.config import DataConfig
from bcl_rec.data.errors import DataError
from bcl_rec.data.load import prepare_split
from bcl_rec.errors import ConfigError


def lightgcn_folder(tmp_path, train, test):
    write(tmp_path / "ds" / "train.txt", train)
    write(tmp_path / "ds" / "test.txt", test)
    return tmp_path / "ds"


def test_lightgcn_presplit(tmp_path):
    folder = lightgcn_folder(tmp_path, "0 1 2 3\n1 1 2\n2 4\n", "0 4\n1 3\n")
    split = prepare_split(str(folder)).split
    assert raw_pairs(split, "test") == {(0, 4), (1, 3)}
    # no valid file: one training item per user with >= 2 held out (seeded random: no times)
    assert split.valid.nnz == 2 and np.diff(split.valid.indptr).tolist() == [1, 1, 0]
    train_valid = raw_pairs(split, "train") | raw_pairs(split, "valid")
    assert train_valid == {(0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (2, 4)}
    assert not raw_pairs(split, "train") & raw_pairs(split, "valid")


def test_generic_presplit_with_valid_and_time(tmp_path):
    folder = tmp_path / "mine"
    write(folder / "train.csv", "user,item,timestamp\nu1,a,1\nu1,b,2\nu2,a,3\nu2,c,4\n")
    write(folder / "valid.csv", "user,item,timestamp\nu1,c,5\n")
    write(folder / "test.csv", "user,item,timestamp\nu2,b,7\n")
    write(folder / "notes.csv", "user,item,timestamp\nu9,zz,1\n")
    prepared = prepare_split(str(folder))
    split = prepared.split
    assert prepared.source.format == "delimited" and prepared.source.config.split == "presplit"
    assert raw_pairs(split, "train") == {("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "c")}
    assert raw_pairs(split, "valid") == {("u1", "c")}
    assert raw_pairs(split, "test") == {("u2", "b")}
    assert (split.n_users, split.n_items) == (2, 3)


def test_unseen_item_error_and_drop(tmp_path):
    folder = lightgcn_folder(tmp_path, "0 1 2\n1 1\n", "0 3\n1 2\n")
    with pytest.raises(DataError) as err:
        prepare_split(str(folder))
    message = str(err.value)
    assert "test.txt, line 1" in message and "item 3 does not occur in the train file" in message
    assert message.endswith("1 such row(s) in all. Set data.presplit_policy=drop to drop them "
                            "(or miss to count them as misses)")
    prepared = prepare_split(DataConfig(name=str(folder), presplit_policy="drop"))
    assert raw_pairs(prepared.split, "test") == {(1, 2)}
    assert prepared.meta["presplit"]["dropped"] == {"unseen_item": 1}
    assert prepared.split.n_items == 2  # item 3 is gone from the id map


def test_unseen_user(tmp_path):
    folder = lightgcn_folder(tmp_path, "0 1 2\n3 1\n", "0 2\n5 1\n")
    with pytest.raises(DataError, match="line 2: user 5 does not occur"):
        prepare_split(str(folder))


def test_test_pair_in_train(tmp_path):
    folder = lightgcn_folder(tmp_path, "0 1 2\n1 1 2 3\n", "0 3\n1 2\n")
    with pytest.raises(DataError, match="line 2: user 1 / item 2 is also in the train file"):
        prepare_split(str(folder))


def test_repeated_heldout_pair(tmp_path):
    folder = tmp_path / "ds"
    write(folder / "train.csv", "user,item\n1,a\n1,b\n2,a\n2,c\n")
    write(folder / "test.csv", "user,item\n1,c\n2,b\n1,c\n")
    with pytest.raises(DataError, match="test.csv, line 4: user 1 / item 'c' is held out more"):
        prepare_split(str(folder))
    prepared = prepare_split(DataConfig(name=str(folder), presplit_policy="drop"))
    assert raw_pairs(prepared.split, "test") == {(1, "c"), (2, "b")}


def test_mixed_id_types_across_files(tmp_path):
    folder = tmp_path / "ds"
    write(folder / "train.csv", "user,item\n1,10\n1,11\nx,10\nx,12\n")
    write(folder / "test.csv", "user,item\n1,12\n")
    split = prepare_split(str(folder)).split
    assert raw_pairs(split, "test") == {("1", 12)}


def test_movielens_format_presplit(tmp_path, ml100k):
    """GroupLens-style u1.base / u1.test files: any reader's format works for pre-split parts."""
    lines = (ml100k / "u.data").read_text().splitlines(keepends=True)
    write(tmp_path / "u1.base", "".join(lines[:80_000]))
    write(tmp_path / "u1.test", "".join(lines[80_000:]))
    config = DataConfig(name=str(tmp_path), format="movielens-100k", train_file="u1.base",
                        test_file="u1.test", presplit_policy="drop")
    prepared = prepare_split(config)
    split = prepared.split
    dropped = sum(prepared.meta["presplit"]["dropped"].values())
    assert split.train.nnz + split.valid.nnz == 80_000
    assert split.test.nnz == 20_000 - dropped
    assert split.valid.nnz == (np.diff(split.train.indptr) + np.diff(split.valid.indptr) >= 2).sum()


def miss_folder(tmp_path):
    """Train a-d; held-out items x, y, z never occur in train; users u8, u9 neither."""
    folder = tmp_path / "ds"
    write(folder / "train.csv", "user,item\nu1,a\nu1,b\nu1,c\nu2,a\nu2,b\nu3,c\nu3,d\nu4,a\n")
    write(folder / "valid.csv", "user,item\nu1,z\nu4,b\n")
    write(folder / "test.csv", "user,item\nu1,d\nu1,x\nu1,y\nu2,x\nu2,c\nu3,z\nu9,a\nu9,x\n"
          "u8,b\nu1,x\nu2,a\n")
    return folder


def per_raw_user(split, counts):
    return {u: int(c) for u, c in zip(split.user_ids.tolist(), counts.tolist(), strict=True)}


def test_policy_miss_keeps_unseen_items_as_misses(tmp_path, capsys):
    folder = miss_folder(tmp_path)
    prepared = prepare_split(DataConfig(name=str(folder), presplit_policy="miss"))
    split = prepared.split
    assert split.item_ids.tolist() == ["a", "b", "c", "d"]  # the catalogue: train items only
    assert raw_pairs(split, "test") == {("u1", "d"), ("u2", "c")}
    assert raw_pairs(split, "valid") == {("u4", "b")}
    assert per_raw_user(split, split.test_missing) == {"u1": 2, "u2": 1, "u3": 1, "u4": 0}
    assert per_raw_user(split, split.valid_missing) == {"u1": 1, "u2": 0, "u3": 0, "u4": 0}
    assert capsys.readouterr().err.splitlines() == [
        "valid: 1 held-out row with items not in train kept as misses (policy miss)",
        "test: 4 held-out rows with items not in train kept as misses (policy miss); 3 rows of "
        "2 users not in train dropped; 1 row also in train dropped; 1 repeated row dropped",
    ]
    report = prepared.meta["presplit"]
    assert report["dropped"] == {"unseen_user": 3, "train_pair": 1, "repeated_heldout": 1}
    # the cache keeps the counts, and the summary is printed again when loading from it
    again = prepare_split(DataConfig(name=str(folder), presplit_policy="miss"))
    assert again.from_cache
    assert np.array_equal(again.split.test_missing, split.test_missing)
    assert np.array_equal(again.split.valid_missing, split.valid_missing)
    assert again.split.test_missing.dtype == np.int64
    assert len(capsys.readouterr().err.splitlines()) == 2


def test_policy_drop_prints_what_it_dropped(tmp_path, capsys):
    prepared = prepare_split(DataConfig(name=str(miss_folder(tmp_path)), presplit_policy="drop"))
    assert not prepared.split.test_missing.any() and not prepared.split.valid_missing.any()
    assert capsys.readouterr().err.splitlines() == [
        "valid: 1 row with items not in train dropped",
        "test: 3 rows of 2 users not in train dropped; 5 rows with items not in train dropped; "
        "1 row also in train dropped",
    ]


def test_policy_miss_when_every_test_item_is_missing(tmp_path):
    folder = tmp_path / "ds"
    write(folder / "train.csv", "user,item\n1,a\n1,b\n2,a\n2,c\n")
    write(folder / "test.csv", "user,item\n1,q\n2,r\n2,s\n")
    split = prepare_split(DataConfig(name=str(folder), presplit_policy="miss")).split
    assert split.test.nnz == 0 and per_raw_user(split, split.test_missing) == {1: 1, 2: 2}


def test_presplit_policy_values():
    with pytest.raises(ConfigError) as err:
        DataConfig(presplit_policy="skip")
    assert str(err.value) == "data.presplit_policy: must be one of error, drop, miss"


def test_valid_ratio_by_time(tmp_path):
    folder = tmp_path / "ds"
    rows = [f"a,i{k},{k}" for k in range(10)] + ["b,i0,1", "b,i1,3", "b,i2,2", "c,i3,1"]
    write(folder / "train.csv", "user,item,timestamp\n" + "\n".join(rows + ["a,i3x,0"]) + "\n")
    write(folder / "test.csv", "user,item,timestamp\nb,i3,99\n")
    split = prepare_split(DataConfig(name=str(folder), valid_ratio=0.2)).split
    # a: floor(0.2 * 11) = 2 latest; b: 0.6 of an item rounds up to one (its latest); c: none
    assert raw_pairs(split, "valid") == {("a", "i9"), ("a", "i8"), ("b", "i1")}
    one = prepare_split(DataConfig(name=str(folder), valid_ratio=None)).split
    assert raw_pairs(one, "valid") == {("a", "i9"), ("b", "i1")}
    zero = prepare_split(DataConfig(name=str(folder), valid_ratio=0)).split
    assert raw_pairs(zero, "valid") == raw_pairs(one, "valid")


def test_valid_ratio_random_is_seeded(tmp_path):
    train = "".join(f"{u} {' '.join(str(i) for i in range(20 + u))}\n" for u in range(6))
    folder = lightgcn_folder(tmp_path, train, "0 24\n1 24\n")
    per_user = []
    for seed in (0, 0, 1):
        split = prepare_split(DataConfig(name=str(folder), valid_ratio=0.25, seed=seed)).split
        assert np.diff(split.valid.indptr).tolist() == [5, 5, 5, 5, 6, 6]  # floor(n / 4)
        assert split.train.nnz + split.valid.nnz == sum(range(20, 26))
        per_user.append(raw_pairs(split, "valid"))
    assert per_user[0] == per_user[1] and per_user[0] != per_user[2]
