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


# --- ml-latest-small (ratings.csv layout of 20M/25M/32M/latest) ---------------------------------


def test_ml_latest_small_counts(ml_latest_small):
    from bcl_rec.data.load import read_dataset

    log = read_dataset(str(ml_latest_small))
    assert (len(log), log.n_users, log.n_items) == (100_836, 610, 9_724)
    ratings = log.frame["rating"].to_numpy()
    counts = {float(r): int(c) for r, c in zip(*np.unique(ratings, return_counts=True),
                                                strict=True)}
    assert counts == {0.5: 1370, 1.0: 2811, 1.5: 1791, 2.0: 7551, 2.5: 5550, 3.0: 20047,
                      3.5: 13136, 4.0: 26818, 4.5: 8551, 5.0: 13211}
    ts = log.frame["timestamp"].to_numpy()
    assert (ts.min(), ts.max()) == (828124615, 1537799250)
    # first data line of ratings.csv is "1,1,4.0,964982703" (CRLF endings are handled)
    assert log.user_ids[log.frame["user"][0]] == 1 and log.item_ids[log.frame["item"][0]] == 1


def test_ml_latest_small_titles_utf8_and_quoted(ml_latest_small):
    from bcl_rec.data.movielens import read_movielens_titles

    titles = read_movielens_titles(ml_latest_small / "movies.csv")
    assert len(titles) == 9_742
    assert titles[1] == "Toy Story (1995)"
    assert titles[11] == "American President, The (1995)"  # quoted, with a comma


def test_registry_name_equals_path(ml_latest_small):
    from bcl_rec.data.load import read_dataset

    by_name = read_dataset("ml-latest-small")
    by_path = read_dataset(str(ml_latest_small))
    assert by_name.frame.equals(by_path.frame)


# --- ratings.dat (1M / 10M layout) -------------------------------------------------------------


def _write_dat(folder, ratings: str, movies: bytes | None = None):
    folder.mkdir()
    (folder / "ratings.dat").write_text(ratings)
    if movies is not None:
        (folder / "movies.dat").write_bytes(movies)
    return folder


def test_ratings_dat_layout(tmp_path):
    from bcl_rec.data.load import read_dataset

    folder = _write_dat(
        tmp_path / "ml-1m",
        "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n",
        "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
        "661::Misérables, Les (1995)::Drama\n".encode("latin-1"),
    )
    log = read_dataset(str(folder))
    assert (len(log), log.n_users, log.n_items) == (3, 2, 2)
    assert log.frame["rating"].tolist() == [5.0, 3.0, 4.0]
    assert log.frame["timestamp"].tolist() == [978300760, 978302109, 978298413]
    assert log.item_titles.tolist() == ["One Flew Over the Cuckoo's Nest (1975)",
                                        "Misérables, Les (1995)"]


def test_ratings_dat_utf8_titles_with_colons(tmp_path):
    from bcl_rec.data.load import read_dataset

    folder = _write_dat(
        tmp_path / "ml-10M100K",
        "5::260::4.5::1000\n",
        "260::Star Wars: Episode IV - A New Hope (a.k.a. Star Wars) (1977)::Action\n".encode(),
    )
    log = read_dataset(str(folder))
    assert log.item_titles[0].startswith("Star Wars: Episode IV")
    assert log.frame["rating"].tolist() == [4.5]


@pytest.mark.parametrize(
    "bad, reason",
    [
        ("1::2::3\n", "expected 4 fields, found 3"),
        ("1::2::3::4::5\n", "expected 4 fields, found 5"),
        ("1:2::3::4::5\n", "user"),
        ("1::2::x::4\n", "rating"),
        ("1::2:::3::4\n", "rating"),
        ("\n", "empty line"),
    ],
)
def test_ratings_dat_bad_lines(tmp_path, bad, reason):
    from bcl_rec.data.load import read_dataset

    folder = _write_dat(tmp_path / "ml", "1::1::5::1\n2::2::4::2\n" + bad + "3::3::3::3\n")
    with pytest.raises(DataError) as err:
        read_dataset(str(folder))
    assert err.value.line == 3 and reason in str(err.value)
    assert "ratings.dat" in str(err.value)


def test_ratings_csv_requires_movielens_header(tmp_path):
    from bcl_rec.data.load import read_dataset

    folder = tmp_path / "ml-25m"
    folder.mkdir()
    (folder / "ratings.csv").write_text("userId,itemId,rating,timestamp\n1,2,3,4\n")
    with pytest.raises(DataError, match="itemId"):
        read_dataset(str(folder), min_rating=None)
