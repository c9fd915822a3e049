"""Generic delimited files with a column mapping, RecBole atomic files, and Parquet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from data_helpers import write

from bcl_rec.data.columns import ColumnSpec
from bcl_rec.data.config import DataConfig
from bcl_rec.data.errors import DataError
from bcl_rec.data.load import read_dataset
from bcl_rec.data.rawlog import parse_times
from bcl_rec.data.tabular import TableOptions, read_recbole, read_table


def test_header_names_are_recognised(tmp_path):
    path = write(tmp_path / "log.csv",
                 "user_id,item_id,rating,timestamp\nu1,i1,4,100\nu2,i1,5,90\n")
    log = read_dataset(str(path))
    assert log.user_ids.tolist() == ["u1", "u2"] and log.item_ids.tolist() == ["i1"]
    assert log.frame["rating"].tolist() == [4.0, 5.0]
    assert log.frame["timestamp"].tolist() == [100, 90]


def test_column_mapping_and_extra_columns(tmp_path):
    path = write(
        tmp_path / "clicks.tsv",
        "session\tvisitor\tproduct\twhen\n1\t7\tA\t2021-05-01T10:00:00\n2\t8\tB\t2021-05-02\n",
    )
    config = DataConfig(name=str(path), user_col="visitor", item_col="product", time_col="when")
    log = read_dataset(config)
    assert log.user_ids.tolist() == [7, 8]  # integer ids stay integers
    assert log.item_ids.tolist() == ["A", "B"]
    assert log.frame["timestamp"].tolist() == [1619863200, 1619913600]


def test_time_format(tmp_path):
    path = write(tmp_path / "log.csv", "u,i,t\n1,2,01/02/2020\n1,3,03/02/2020\n")
    config = DataConfig(name=str(path), user_col="u", item_col="i", time_col="t",
                        time_format="%d/%m/%Y")
    assert read_dataset(config).frame["timestamp"].tolist() == [1580515200, 1580688000]


def test_positions_without_header(tmp_path):
    path = write(tmp_path / "log.txt", "5 x 3.5 10\n6 y 4 11\n")
    config = DataConfig(name=str(path), sep=" ", user_col=0, item_col=1, rating_col=2,
                        time_col=3)
    log = read_dataset(config)
    assert log.frame["rating"].tolist() == [3.5, 4.0] and log.user_ids.tolist() == [5, 6]


def test_headerless_defaults_to_first_two_fields(tmp_path):
    path = write(tmp_path / "pairs.tsv", "1\t10\n2\t10\n")
    log = read_dataset(str(path))
    assert log.user_ids.tolist() == [1, 2] and not log.has_timestamp


@pytest.mark.parametrize(
    "config_kwargs, message",
    [
        ({"user_col": "usr"}, "unknown column 'usr' (data.user_col); the file's columns are: "
                              "user, item, stars"),
        ({"item_col": 5}, "data.item_col=5 is past the last field"),
        ({"user_col": "item", "item_col": "item"}, "same field"),
    ],
)
def test_column_errors(tmp_path, config_kwargs, message):
    path = write(tmp_path / "log.csv", "user,item,stars\n1,2,3\n")
    with pytest.raises(DataError) as err:
        read_dataset(DataConfig(name=str(path), **config_kwargs))
    assert message in str(err.value)


def test_no_recognisable_columns(tmp_path):
    path = write(tmp_path / "log.csv", "who,what\n1,2\n")
    config = DataConfig(name=str(path), header=True)
    with pytest.raises(DataError, match="no user column: set data.user_col"):
        read_dataset(config)


@pytest.mark.parametrize(
    "body, line, reason",
    [
        ("1,2,3\n1,2\n", 3, "expected 3 fields, found 2"),
        ("1,2,3\n1,2,3,4\n", 3, "expected 3 fields, found 4"),
        ("1,2,3\n1,,3\n", 3, "empty field"),
        ('1,2,3\n1,"2,3\n', 3, "unbalanced quotes"),
        ("1,2,3\n1,2,nan\n", 3, "rating"),
        ("1,2,3\n1,2,inf\n", 3, "rating"),
        ("1,2,3\n\n1,2,3\n", 3, "empty line"),
    ],
)
def test_bad_lines(tmp_path, body, line, reason):
    path = write(tmp_path / "log.csv", "user,item,rating\n" + body)
    with pytest.raises(DataError) as err:
        read_dataset(str(path))
    assert err.value.line == line and reason in str(err.value), str(err.value)


def test_bad_date_names_its_line(tmp_path):
    path = write(tmp_path / "log.csv", "user,item,date\n1,2,2020-01-01\n1,3,yesterday\n")
    with pytest.raises(DataError) as err:
        read_dataset(str(path))
    assert err.value.line == 3 and "yesterday" in str(err.value)


def test_invalid_utf8_names_its_line(tmp_path):
    path = write(tmp_path / "log.csv", b"user,item\nalice,1\nb\xffb,2\n")
    with pytest.raises(DataError) as err:
        read_dataset(str(path))
    assert err.value.line == 3 and "utf-8" in str(err.value)


def test_header_only_and_empty(tmp_path):
    with pytest.raises(DataError, match="header but no data"):
        read_dataset(str(write(tmp_path / "a.csv", "user,item\n")))
    with pytest.raises(DataError, match="empty"):
        read_dataset(str(write(tmp_path / "b.csv", "")))


def test_string_ids_fall_back_only_on_ids(tmp_path):
    path = write(tmp_path / "log.csv", "user,item,rating\n1,2,3\nx,2,oops\n")
    options = TableOptions(sep=",", columns=ColumnSpec())
    with pytest.raises(DataError) as err:
        read_table(path, options)
    assert err.value.line == 3 and "rating" in str(err.value)


# --- RecBole atomic files ------------------------------------------------------------------------


def test_recbole_inter_matches_u_data(tmp_path, ml100k):
    inter = tmp_path / "ml-100k" / "ml-100k.inter"
    inter.parent.mkdir()
    inter.write_bytes(b"user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                      + (ml100k / "u.data").read_bytes())
    raw = read_recbole(inter)
    assert len(raw) == 100_000 and raw.frame["user"].iloc[0] == "196"
    log = read_dataset(str(inter.parent))  # a folder with one .inter is recognised
    assert (len(log), log.n_users, log.n_items) == (100_000, 943, 1682)
    assert log.frame["timestamp"].min() == 874724710


def test_recbole_other_field_names_and_titles(tmp_path):
    folder = tmp_path / "yelp"
    write(folder / "yelp.inter", "user_id:token\tbusiness_id:token\tstars:float\tdate:float\n"
          "u1\tb1\t4\t1500000000\nu2\tb1\t2\t1500000001\n")
    write(folder / "yelp.item", "business_id:token\tname:token_seq\nb1\tCafe Luna\n")
    log = read_dataset(str(folder))
    assert log.frame["rating"].tolist() == [4.0, 2.0]
    assert log.item_titles.tolist() == ["Cafe Luna"]


def test_recbole_needs_typed_header(tmp_path):
    path = write(tmp_path / "x.inter", "user_id\titem_id\n1\t2\n")
    with pytest.raises(DataError, match="typed|type"):
        read_recbole(path)


def test_recbole_presplit_folder(tmp_path):
    folder = tmp_path / "ds"
    head = "user_id:token\titem_id:token\n"
    write(folder / "ds.train.inter", head + "a\t1\na\t2\na\t3\nb\t1\nb\t2\n")
    write(folder / "ds.valid.inter", head + "a\t4\n")
    write(folder / "ds.test.inter", head + "a\t5\nb\t3\n")
    write(folder / "ds.item", "item_id:token\n1\n")
    from bcl_rec.data.load import prepare_split

    with pytest.raises(DataError) as err:
        prepare_split(str(folder))
    assert "ds.valid.inter" in str(err.value) and "line 2" in str(err.value)
    assert "item '4'" in str(err.value)


# --- Parquet -------------------------------------------------------------------------------------


def test_parquet_columns_and_nulls(tmp_path):
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({
        "user_id": ["a", "b", "a"], "movie": [1, 2, 2], "score": [4.0, 3.5, 5.0],
        "ts": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03"]),
    })
    path = tmp_path / "log.parquet"
    frame.to_parquet(path)
    config = DataConfig(name=str(path), item_col="movie", rating_col="score", time_col="ts")
    log = read_dataset(config)
    assert log.user_ids.tolist() == ["a", "b"] and log.item_ids.tolist() == [1, 2]
    assert log.frame["timestamp"].tolist() == [1577836800, 1577923200, 1578009600]
    with pytest.raises(DataError, match="unknown column 'film'"):
        read_dataset(DataConfig(name=str(path), item_col="film"))
    frame.loc[1, "movie"] = np.nan
    frame.to_parquet(path)
    with pytest.raises(DataError, match="row 2: item column 'movie' is empty"):
        read_dataset(config)


def test_parquet_not_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    path = write(tmp_path / "log.parquet", "user,item\n1,2\n")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        read_dataset(str(path))


def test_dates_outside_nanosecond_range_are_exact_seconds():
    """ISO dates before 1677 parse in seconds' unit; the epoch must not force nanoseconds."""
    values = pd.Series(["1000-01-01", "2000-01-01T00:00:01", "1970-01-01T00:00:05"])
    seconds = parse_times(values, "", lambda row, message: ValueError(message))
    expected = [-30610224000, 946684801, 5]  # (date - 1970-01-01) in seconds, by hand
    assert seconds.tolist() == expected
