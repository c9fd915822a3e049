"""LightGCN adjacency files (``user item item ...``) against the real Yelp2018 sample."""

from __future__ import annotations

import numpy as np
import pytest
from data_helpers import write

from bcl_rec.data.errors import DataError
from bcl_rec.data.lightgcn import read_lightgcn
from bcl_rec.data.load import prepare_split, read_dataset


def test_yelp_sample_counts(yelp_sample):
    raw = read_lightgcn(yelp_sample / "test.txt")
    frame = raw.frame
    assert len(frame) == 324_147
    assert frame["user"].nunique() == 31_668
    assert (frame["user"].min(), frame["user"].max()) == (0, 31_667)
    assert frame["item"].nunique() == 36_073
    assert (frame["item"].min(), frame["item"].max()) == (0, 38_047)
    per_user = np.bincount(frame["user"].to_numpy())
    assert (per_user.min(), int(np.median(per_user)), per_user.max()) == (2, 7, 463)
    assert not frame.duplicated(["user", "item"]).any()
    # every row points back at the line of its user (line k holds user k-1)
    assert np.array_equal(raw.lines, frame["user"].to_numpy() + 1)


def test_yelp_sample_by_registry_name_is_a_log(yelp_sample):
    log = read_dataset("yelp2018-lightgcn-test")
    assert (len(log), log.n_users, log.n_items) == (324_147, 31_668, 36_073)
    assert not log.has_timestamp and not log.has_rating
    prepared = prepare_split("yelp2018-lightgcn-test")
    assert prepared.source.config.split == "ratio"  # the registry default
    assert prepared.source.config.order == "random"


def test_values_and_layout(tmp_path):
    path = write(tmp_path / "train.txt", "0 5 7 123456789012\n1 5\n2\n3 7 8 \n")
    frame = read_lightgcn(path).frame
    assert frame["user"].tolist() == [0, 0, 0, 1, 3, 3]
    assert frame["item"].tolist() == [5, 7, 123456789012, 5, 7, 8]


def test_crlf_and_no_final_newline(tmp_path):
    path = write(tmp_path / "test.txt", "0 1 2\r\n1 2")
    frame = read_lightgcn(path).frame
    assert frame["item"].tolist() == [1, 2, 2]


@pytest.mark.parametrize(
    "text, line, reason",
    [
        ("0 1\n1 x\n", 2, "unexpected character 'x'"),
        ("0 1\n\n2 3\n", 2, "empty line"),
        ("0 1\n1 2\n2 -3\n", 3, "unexpected character '-'"),
        ("0 1\n1\t2\n", 2, "unexpected character"),
        ("0 1\n1 2 3\n2 1234567890123456789\n", 3, "longer than 18 digits"),
        ("0 1.5\n", 1, "unexpected character '.'"),
    ],
)
def test_bad_lines(tmp_path, text, line, reason):
    path = write(tmp_path / "train.txt", text)
    with pytest.raises(DataError) as err:
        read_lightgcn(path)
    assert err.value.line == line and reason in str(err.value) and "train.txt" in str(err.value)


def test_empty_and_only_users(tmp_path):
    with pytest.raises(DataError, match="empty"):
        read_lightgcn(write(tmp_path / "a.txt", ""))
    with pytest.raises(DataError, match="no interactions"):
        read_lightgcn(write(tmp_path / "b.txt", "0\n1\n"))
