"""The ML-100K reader against the real GroupLens files (counts from the dataset README)."""

from __future__ import annotations

import numpy as np
import pytest

from bcl_rec.data.errors import DataError
from bcl_rec.data.movielens import read_ml100k


def test_ml100k_counts(ml100k):
    log = read_ml100k(ml100k)
    assert len(log) == 100_000
    assert log.n_users == 943
    assert log.n_items == 1682
    ratings = log.frame["rating"].to_numpy()
    counts = {int(r): int((ratings == r).sum()) for r in range(1, 6)}
    assert counts == {1: 6110, 2: 11370, 3: 27145, 4: 34174, 5: 21201}
    ts = log.frame["timestamp"].to_numpy()
    assert ts.min() == 874724710 and ts.max() == 893286638
    assert not log.frame.duplicated(["user", "item"]).any()
    # raw ids map back: first line of u.data is "196\t242\t3\t881250949"
    u0, i0 = log.frame["user"].iloc[0], log.frame["item"].iloc[0]
    assert log.user_ids[u0] == 196 and log.item_ids[i0] == 242


def test_ml100k_titles_latin1(ml100k):
    log = read_ml100k(ml100k)
    titles = dict(zip(log.item_ids.tolist(), log.item_titles.tolist(), strict=True))
    assert titles[1] == "Toy Story (1995)"
    assert titles[543] == "Misérables, Les (1995)"


def test_min_rating_filters(ml100k):
    log = read_ml100k(ml100k, min_rating=4)
    assert len(log) == 34174 + 21201
    assert (log.frame["rating"].to_numpy() >= 4).all()


def test_malformed_line_names_file_and_line(tmp_path):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_text("1\t2\t3\t100\n1\t3\tx\t101\n")
    with pytest.raises(DataError) as err:
        read_ml100k(folder)
    msg = str(err.value)
    assert "u.data" in msg and "line 2" in msg and "rating" in msg and err.value.line == 2


def test_wrong_field_count(tmp_path):
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "u.data").write_text("1\t2\t3\t100\n1\t3\t4\n")
    with pytest.raises(DataError, match="line 2.*expected 4 fields, found 3"):
        read_ml100k(folder)


def test_empty_file(tmp_path):
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "u.data").write_text("")
    with pytest.raises(DataError, match="empty"):
        read_ml100k(folder)


def test_min_rating_removing_everything(tmp_path):
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "u.data").write_text("1\t2\t3\t100\n")
    with pytest.raises(DataError, match="min_rating"):
        read_ml100k(folder, min_rating=5)


def test_dense_ids_are_first_appearance_order(tmp_path):
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "u.data").write_text("7\t9\t1\t5\n3\t9\t1\t6\n7\t4\t1\t7\n")
    log = read_ml100k(folder)
    np.testing.assert_array_equal(log.user_ids, [7, 3])
    np.testing.assert_array_equal(log.item_ids, [9, 4])
    np.testing.assert_array_equal(log.frame["user"], [0, 1, 0])
