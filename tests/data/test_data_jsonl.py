"""JSON-lines logs: the Yelp Open Dataset review layout, streamed in chunks."""

from __future__ import annotations

import json

import pytest
from data_helpers import write

from bcl_rec.data.columns import ColumnSpec
from bcl_rec.data.config import DataConfig
from bcl_rec.data.errors import DataError
from bcl_rec.data.jsonlines import read_jsonl
from bcl_rec.data.load import read_dataset


def review(user, business, stars, date, **extra):
    return json.dumps({"review_id": f"r{user}{business}", "user_id": user,
                       "business_id": business, "stars": stars, "useful": 0,
                       "text": "Great place!\nWould go again.", "date": date, **extra})


def yelp_folder(tmp_path, lines):
    folder = tmp_path / "yelp"
    write(folder / "yelp_academic_dataset_review.json", "\n".join(lines) + "\n")
    return folder


def test_yelp_review_folder(tmp_path):
    folder = yelp_folder(tmp_path, [
        review("u1", "b1", 5.0, "2016-03-07 17:58:53"),
        review("u2", "b1", 3.0, "2017-01-01 00:00:00"),
        review("u1", "b2", 1.0, "2015-06-01 12:00:00"),
    ])
    log = read_dataset(DataConfig(name=str(folder), user_core=0, item_core=0))
    assert log.user_ids.tolist() == ["u1", "u2"] and log.item_ids.tolist() == ["b1", "b2"]
    assert log.frame["rating"].tolist() == [5.0, 3.0, 1.0]
    assert log.frame["timestamp"].tolist() == [1457373533, 1483228800, 1433160000]


def test_chunks_give_the_same_result(tmp_path):
    lines = [review(f"u{i % 7}", f"b{i % 5}", float(i % 5 + 1), f"2020-01-{i % 28 + 1:02d}")
             for i in range(300)]
    path = yelp_folder(tmp_path, lines) / "yelp_academic_dataset_review.json"
    whole = read_jsonl(path)
    tiny = read_jsonl(path, chunk_bytes=500)
    assert whole.frame.equals(tiny.frame)


@pytest.mark.parametrize(
    "bad, reason",
    [
        ('{"user_id": "u9", "business_id": "b1", "stars": 4', "not valid JSON"),
        ('{"business_id": "b1", "stars": 4, "date": "2020-01-01"}', "'user_id' (user) is missing"),
        ('{"user_id": "u9", "business_id": "", "stars": 4, "date": "2020-01-01"}', "business_id"),
        ('{"user_id": "u9", "business_id": "b1", "stars": "x", "date": "2020-01-01"}', "stars"),
        ('{"user_id": "u9", "business_id": "b1", "stars": 4, "date": "soon"}', "soon"),
        ("", "empty line"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
@pytest.mark.parametrize("chunk_bytes", [200, 1 << 20])
def test_bad_lines(tmp_path, bad, reason, chunk_bytes):
    lines = [review(f"u{i}", "b1", 4.0, "2020-01-01") for i in range(5)]
    lines.insert(3, bad)
    path = yelp_folder(tmp_path, lines) / "yelp_academic_dataset_review.json"
    with pytest.raises(DataError) as err:
        read_jsonl(path, chunk_bytes=chunk_bytes)
    assert err.value.line == 4 and reason in str(err.value), str(err.value)


def test_generic_jsonl_with_keys(tmp_path):
    path = write(tmp_path / "events.jsonl",
                 '{"uid": 1, "song": "s1", "ts": 10}\n{"uid": 2, "song": "s1", "ts": 11}\n')
    log = read_dataset(DataConfig(name=str(path), user_col="uid", item_col="song",
                                  time_col="ts"))
    assert log.user_ids.tolist() == [1, 2] and log.frame["timestamp"].tolist() == [10, 11]
    with pytest.raises(DataError, match="unknown key 'artist'"):
        read_jsonl(path, ColumnSpec(user="uid", item="artist"))
