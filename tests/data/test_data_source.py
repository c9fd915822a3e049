"""Names or paths everywhere: registered names, folders in published layouts, single files."""

from __future__ import annotations

import pytest
from data_helpers import write

from bcl_rec.data.config import DataConfig
from bcl_rec.data.errors import DataError
from bcl_rec.data.source import detect_file_format, resolve_source


def resolve(name, **kwargs):
    return resolve_source(DataConfig(name=str(name), **kwargs))


def test_registered_names(ml100k, ml_latest_small, yelp_sample):
    assert resolve("ml-100k").files == {"log": ml100k / "u.data"}
    source = resolve("ml-latest-small")
    assert source.format == "movielens-csv" and source.titles == ml_latest_small / "movies.csv"
    yelp = resolve("yelp2018-lightgcn-test")
    assert yelp.format == "lightgcn" and yelp.files == {"log": yelp_sample / "test.txt"}
    assert yelp.config.split == "ratio" and yelp.config.ratios == (0.8, 0.1, 0.1)


def test_config_beats_registry_defaults():
    source = resolve("yelp2018-lightgcn-test", split="leave-one-out", order="random")
    assert source.config.split == "leave-one-out"


def test_data_dir_finds_registered_and_relative(tmp_path, ml100k, monkeypatch):
    monkeypatch.delenv("BCL_REC_DATA", raising=False)
    source = resolve_source(DataConfig(name="ml-100k"), data_dir=ml100k.parent)
    assert source.files["log"] == ml100k / "u.data"
    source = resolve_source(DataConfig(name="ml-latest-small"), data_dir=ml100k.parent)
    assert source.format == "movielens-csv"


@pytest.mark.parametrize(
    "files, fmt, parts",
    [
        ({"u.data": "1\t2\t3\t4\n"}, "movielens-100k", {"log"}),
        ({"ratings.dat": "1::2::3::4\n"}, "movielens-dat", {"log"}),
        ({"ratings.csv": "userId,movieId,rating,timestamp\n1,2,3,4\n"}, "movielens-csv",
         {"log"}),
        ({"train.txt": "0 1\n", "test.txt": "0 2\n"}, "lightgcn", {"train", "test"}),
        ({"test.txt": "0 1 2\n1 3\n"}, "lightgcn", {"log"}),
        ({"x.inter": "user_id:token\titem_id:token\n1\t2\n"}, "recbole", {"log"}),
        ({"train.csv": "user,item\n1,2\n", "test.csv": "user,item\n1,3\n",
          "valid.csv": "user,item\n1,4\n"}, "delimited", {"train", "valid", "test"}),
        ({"yelp_academic_dataset_review.json": "{}\n"}, "yelp", {"log"}),
    ],
)
def test_folder_layouts(tmp_path, files, fmt, parts):
    for name, text in files.items():
        write(tmp_path / "ds" / name, text)
    source = resolve(tmp_path / "ds")
    assert source.format == fmt and set(source.files) == parts
    assert source.presplit == ("train" in parts)
    assert source.config.split == ("presplit" if source.presplit else "leave-one-out")


def test_unknown_folder_lists_contents(tmp_path):
    write(tmp_path / "ds" / "notes.md", "hi")
    with pytest.raises(DataError, match="not in a known dataset layout.*notes.md"):
        resolve(tmp_path / "ds")


def test_unknown_name():
    with pytest.raises(DataError, match="neither a registered dataset.*ml-100k"):
        resolve("no-such-dataset")


def test_file_formats(tmp_path):
    assert detect_file_format(write(tmp_path / "u.data", "1\t2\t3\t4\n")) == "movielens-100k"
    assert detect_file_format(write(tmp_path / "a.parquet", "x")) == "parquet"
    assert detect_file_format(write(tmp_path / "a.jsonl", "{}")) == "jsonl"
    assert detect_file_format(write(tmp_path / "a.inter", "x")) == "recbole"
    assert detect_file_format(write(tmp_path / "ratings.csv", "user,item\n")) == "delimited"
    assert detect_file_format(write(tmp_path / "log.tsv", "1\t2\n")) == "delimited"


def test_explicit_presplit_files(tmp_path):
    write(tmp_path / "a.csv", "user,item\n1,2\n")
    write(tmp_path / "b.csv", "user,item\n1,3\n")
    source = resolve(tmp_path, train_file="a.csv", test_file="b.csv")
    assert source.presplit and source.files["train"] == tmp_path / "a.csv"
    with pytest.raises(DataError, match="both data.train_file and data.test_file"):
        resolve(tmp_path, train_file="a.csv")
    with pytest.raises(DataError, match="file not found"):
        resolve(tmp_path, train_file="a.csv", test_file="zzz.csv")


def test_presplit_requested_for_a_log(ml100k):
    with pytest.raises(DataError, match="single log"):
        resolve(ml100k, split="presplit")


def test_k_core_refused_for_presplit(tmp_path):
    write(tmp_path / "train.txt", "0 1\n")
    write(tmp_path / "test.txt", "0 2\n")
    with pytest.raises(DataError, match="k-core"):
        resolve(tmp_path, user_core=5)


def test_column_flags_refused_for_fixed_formats(ml100k):
    from bcl_rec.data.load import read_dataset

    with pytest.raises(DataError, match="format=delimited"):
        read_dataset(DataConfig(name=str(ml100k), user_col=1))
