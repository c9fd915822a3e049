"""Property tests: every reader, fed a random malformed line among good ones, fails on that line.

For each reader a file of random well-formed lines gets one random malformed line inserted at a
random position; reading (through :func:`prepare_split`, the path training takes) must raise a
:class:`DataError` carrying that line's number, and the cache must stay empty.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from data_helpers import files_under
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bcl_rec.data.config import DataConfig
from bcl_rec.data.errors import DataError
from bcl_rec.data.load import prepare_split

NOT_A_NUMBER = st.text(alphabet="bcdghjkmpqxyz!?#", min_size=1, max_size=5)
RATING = st.sampled_from(["1", "2", "3", "4", "5", "0.5", "3.5"])
STAMP = st.integers(800_000_000, 1_600_000_000).map(str)
ID = st.integers(1, 40).map(str)


@dataclass(frozen=True)
class Layout:
    """A delimited ratings format: where it lives, its separator, header and typed fields."""

    file: str
    sep: str
    header: str | None
    numeric_ids: bool
    config: dict


LAYOUTS = {
    "u.data": Layout("ml/u.data", "\t", None, True, {}),
    "ratings.dat": Layout("ml/ratings.dat", "::", None, True, {}),
    "ratings.csv": Layout("ml/ratings.csv", ",", "userId,movieId,rating,timestamp", True, {}),
    "generic.csv": Layout("log.csv", ",", "user,item,rating,timestamp", False, {}),
    "generic.tsv": Layout("log.tsv", "\t", None, False,
                          {"user_col": 0, "item_col": 1, "rating_col": 2, "time_col": 3}),
    "recbole": Layout("ds/ds.inter", "\t",
                      "user_id:token\titem_id:token\trating:float\ttimestamp:float", False, {}),
}


@st.composite
def good_fields(draw) -> list[str]:
    return [draw(ID), draw(ID), draw(RATING), draw(STAMP)]


@st.composite
def bad_line(draw, layout: Layout) -> str | bytes:
    """One malformed line for ``layout`` (never accidentally valid)."""
    fields = draw(good_fields())
    kind = draw(st.sampled_from(
        ["missing", "extra", "empty_field", "rating", "stamp", "blank", "bytes", "nonfinite"]
        + (["id_text", "id_float"] if layout.numeric_ids else [])
        + (["quote"] if layout.sep == "," else [])
    ))
    sep = layout.sep
    if kind == "missing":
        del fields[draw(st.integers(0, 3))]
    elif kind == "extra":
        fields.insert(draw(st.integers(0, 4)), draw(ID))
    elif kind == "empty_field":
        fields[draw(st.integers(0, 3))] = ""
    elif kind == "rating":
        fields[2] = draw(NOT_A_NUMBER)
    elif kind == "stamp":
        fields[3] = draw(NOT_A_NUMBER)
    elif kind == "nonfinite":
        fields[2] = draw(st.sampled_from(["nan", "inf", "-inf", "NaN"]))
    elif kind == "id_text":
        fields[draw(st.integers(0, 1))] = draw(NOT_A_NUMBER)
    elif kind == "id_float":
        fields[draw(st.integers(0, 1))] = "1.5"
    elif kind == "blank":
        return draw(st.sampled_from(["", " ", "\t"])) if sep != "\t" else ""
    elif kind == "bytes":
        return sep.join(fields[:2]).encode() + sep.encode() + b"\xff\xfe" + sep.encode() + \
            fields[3].encode()
    elif kind == "quote":
        fields[1] = '"' + fields[1]
    return sep.join(fields)


@st.composite
def malformed_file(draw, layout: Layout):
    good = draw(st.lists(good_fields(), min_size=1, max_size=25))
    at = draw(st.integers(0, len(good)))
    lines: list[bytes] = [layout.sep.join(f).encode() for f in good]
    bad = draw(bad_line(layout))
    lines.insert(at, bad if isinstance(bad, bytes) else bad.encode())
    if layout.header is not None:
        lines.insert(0, layout.header.encode())
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    return ending.join(lines) + ending, at + 1 + (layout.header is not None)


def _check(files: dict[str, bytes], name: str, expected_line: int, config: dict) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel, data in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        cache = root / "cache"
        with pytest.raises(DataError) as err:
            prepare_split(DataConfig(name=str(root / name), **config), cache_root=cache)
        assert err.value.line == expected_line, str(err.value)
        assert err.value.path is not None and err.value.path.name == Path(
            next(iter(files))).name
        assert f"line {expected_line}" in str(err.value)
        assert files_under(cache) == []


SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(LAYOUTS))
@SETTINGS
@given(data=st.data())
def test_delimited_readers_name_the_bad_line(name, data):
    layout = LAYOUTS[name]
    content, line = data.draw(malformed_file(layout))
    target = layout.file.split("/")[0] if "/" in layout.file else layout.file
    _check({layout.file: content}, target, line, layout.config)


@st.composite
def lightgcn_file(draw):
    good = draw(st.lists(st.lists(ID, min_size=2, max_size=6), min_size=2, max_size=20)
                .filter(lambda lines: len({len(items) for items in lines}) > 1))
    lines = [" ".join(items) for items in good]  # lines of different lengths: an adjacency list
    at = draw(st.integers(0, len(lines)))
    user = draw(ID)
    bad = draw(st.sampled_from([
        f"{user} 1 x", f"{user} -3", f"{user} 2.5", "", " ", f"{user}\t4", f"{user},5",
        f"{user} 1{'9' * 19}",
    ]))
    lines.insert(at, bad)
    return ("\n".join(lines) + "\n").encode(), at + 1


@SETTINGS
@given(content=lightgcn_file())
def test_lightgcn_reader_names_the_bad_line(content):
    data, line = content
    _check({"ds/test.txt": data}, "ds", line, {})


@st.composite
def yelp_file(draw):
    def review(user, item, stars, date):
        return json.dumps({"user_id": user, "business_id": item, "stars": stars, "text": "ok",
                           "date": date})

    n = draw(st.integers(1, 20))
    lines = [review(f"u{draw(ID)}", f"b{draw(ID)}", draw(st.integers(1, 5)),
                    "2019-05-0{} 10:00:00".format(draw(st.integers(1, 9)))) for _ in range(n)]
    at = draw(st.integers(0, n))
    bad = draw(st.sampled_from([
        review("u1", "b1", 4, "2020-01-01")[:-3],
        review("u1", "b1", "four", "2020-01-01"),
        review("u1", "", 4, "2020-01-01"),
        review("u1", "b1", 4, "not a date"),
        json.dumps({"user_id": "u1", "stars": 4, "date": "2020-01-01"}),
        json.dumps({"user_id": None, "business_id": "b1", "stars": 4, "date": "2020-01-01"}),
        "",
        "[]",
        "garbage",
    ]))
    lines.insert(at, bad)
    return ("\n".join(lines) + "\n").encode(), at + 1


@SETTINGS
@given(content=yelp_file())
def test_yelp_reader_names_the_bad_line(content):
    data, line = content
    _check({"yelp/yelp_academic_dataset_review.json": data}, "yelp", line,
           {"user_core": 0, "item_core": 0})
