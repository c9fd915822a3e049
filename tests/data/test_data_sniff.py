"""``.txt`` files told apart by content: LightGCN adjacency lists vs interaction lists."""

from __future__ import annotations

import numpy as np
import pytest
from data_helpers import raw_pairs, write

from bcl_rec.data.config import DataConfig
from bcl_rec.data.errors import DataError
from bcl_rec.data.load import prepare_split
from bcl_rec.data.readers import read_file
from bcl_rec.data.source import detect_file_format, resolve_source

SELFREC = {
    "train.txt": "0 10 1\n0 11 1\n1 10 1\n1 12 1\n2 11 1\n2 12 1\n",
    "valid.txt": "0 12 1\n",
    "test.txt": "1 11 1\n2 10 1\n",
}


def folder_of(tmp_path, files: dict[str, str]):
    for name, text in files.items():
        write(tmp_path / "ds" / name, text)
    return tmp_path / "ds"


def test_lightgcn_folder_with_valid(tmp_path):
    folder = folder_of(tmp_path, {"train.txt": "0 1 2 3\n1 1\n", "valid.txt": "0 4\n",
                                  "test.txt": "1 2 3\n0 5\n"})
    source = resolve_source(DataConfig(name=str(folder)))
    assert source.format == "lightgcn" and set(source.files) == {"train", "valid", "test"}
    write(folder / "test.txt", "1 2\n0 5\n")  # only two fields: the train file decides
    write(folder / "train.txt", "0 1 2 3\n1 1\n0 4\n")
    assert resolve_source(DataConfig(name=str(folder))).format == "lightgcn"


def test_yelp_sample_is_lightgcn(yelp_sample):
    assert detect_file_format(yelp_sample / "test.txt") == "lightgcn"


@pytest.mark.parametrize("explicit", [False, True])
def test_selfrec_interaction_lists(tmp_path, explicit):
    folder = folder_of(tmp_path, SELFREC)
    files = ({"train_file": "train.txt", "valid_file": "valid.txt", "test_file": "test.txt"}
             if explicit else {})
    prepared = prepare_split(DataConfig(name=str(folder), **files))
    assert prepared.source.format == "delimited"
    split = prepared.split
    assert raw_pairs(split, "train") == {(0, 10), (0, 11), (1, 10), (1, 12), (2, 11), (2, 12)}
    assert raw_pairs(split, "valid") == {(0, 12)}  # the valid file, not a carve of train
    assert raw_pairs(split, "test") == {(1, 11), (2, 10)}
    assert sorted(split.item_ids.tolist()) == [10, 11, 12]  # the constant 1 is no item
    log = read_file(folder / "train.txt", "delimited", prepared.source.config)
    assert log.frame.columns.tolist() == ["user", "item", "rating"]
    assert (log.frame["rating"].to_numpy() == 1).all() and len(log.frame) == 6


def test_csv_with_header_as_txt(tmp_path):
    folder = folder_of(tmp_path, {"train.txt": "userId,itemId,rating\n1,7,4\n1,8,5\n2,7,3\n",
                                  "test.txt": "userId,itemId,rating\n2,8,4\n"})
    prepared = prepare_split(DataConfig(name=str(folder)))
    assert prepared.source.format == "delimited"
    assert raw_pairs(prepared.split, "test") == {(2, 8)}
    assert raw_pairs(prepared.split, "train") | raw_pairs(prepared.split, "valid") == {
        (1, 7), (1, 8), (2, 7)}


def test_tab_separated_weights(tmp_path):
    folder = folder_of(tmp_path, {"train.txt": "u1\ta\t0.5\nu1\tb\t1.5\nu2\ta\t2\n",
                                  "test.txt": "u2\tb\t0.25\n"})
    source = resolve_source(DataConfig(name=str(folder)))
    assert source.format == "delimited"
    log = read_file(folder / "train.txt", source.format, source.config)
    assert log.frame["user"].tolist() == ["u1", "u1", "u2"]
    # string ids: the third field is not read as a weight unless every field is a number
    assert "rating" not in log.frame.columns
    write(folder / "train.txt", "1\t5\t0.5\n1\t6\t1.5\n2\t5\t2\n")
    log = read_file(folder / "train.txt", "delimited", source.config)
    np.testing.assert_array_equal(log.frame["rating"].to_numpy(), [0.5, 1.5, 2.0])


def test_ambiguous_three_fields(tmp_path):
    folder = folder_of(tmp_path, {"train.txt": "0 1 5\n1 2 7\n", "test.txt": "0 2\n"})
    expected = (
        f"{folder / 'train.txt'}: cannot tell the format: each of its first 2 lines has 3 "
        "space-separated ids and the third varies, so it is either a LightGCN adjacency list "
        "(user item item ...) or an interaction list (user item weight). Set data.format: "
        "lightgcn or data.format: delimited"
    )
    with pytest.raises(DataError) as err:
        resolve_source(DataConfig(name=str(folder)))
    assert str(err.value) == expected
    with pytest.raises(DataError, match="cannot tell the format"):
        resolve_source(DataConfig(name=str(folder), train_file="train.txt",
                                  test_file="test.txt"))
    assert resolve_source(DataConfig(name=str(folder), format="lightgcn")).format == "lightgcn"
    prepared = prepare_split(DataConfig(name=str(folder), format="delimited"))
    assert raw_pairs(prepared.split, "test") == {(0, 2)}


def test_two_fields_read_the_same_either_way(tmp_path):
    folder = folder_of(tmp_path, {"train.txt": "0 1\n0 2\n1 1\n", "test.txt": "1 2\n"})
    assert resolve_source(DataConfig(name=str(folder))).format == "lightgcn"
    assert detect_file_format(write(tmp_path / "log.txt", "0 1\n0 2\n")) == "delimited"


def test_files_that_disagree(tmp_path):
    folder = folder_of(tmp_path, {"train.txt": "0 1 2\n1 1\n", "test.txt": "0\t3\t1\n"})
    with pytest.raises(DataError, match=r"different formats \(train.txt: lightgcn, test.txt: "
                                        r"delimited\); set data.format"):
        resolve_source(DataConfig(name=str(folder)))
