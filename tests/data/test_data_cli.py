"""``bcl-rec data list / info / prepare / download`` on the shared datasets and on bad input."""

from __future__ import annotations

import json

from data_helpers import files_under, write

from bcl_rec.cli.main import main


def test_list(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "ml-100k" in out and "yelp2018-lightgcn-test" in out and "verified" in out
    assert main(["data", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["ml-latest-small"]["interactions"] == 100_836
    assert rows["yelp"]["download"] == "manual"


def test_info_by_name_and_path(capsys, ml100k):
    assert main(["data", "info", "ml-100k"]) == 0
    out = capsys.readouterr().out
    for text in ("users         943", "items         1,682", "interactions  100,000",
                 "density       6.3047%", "per user", "median", "1997-09-20 .. 1998-04-22"):
        assert text in out, text
    assert main(["data", "info", str(ml100k), "--min-rating", "4", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["interactions"] == 34_174 + 21_201
    assert stats["per_user"]["min"] >= 1 and stats["config"]["min_rating"] == 4


def test_info_generic_file_with_flags(tmp_path, capsys):
    path = write(tmp_path / "log.txt", "a|x|2020-01-01\nb|x|2020-01-02\na|y|2020-01-03\n")
    args = ["data", "info", str(path), "--sep", "|", "--user-col", "0", "--item-col", "1",
            "--time-col", "2", "--json"]
    assert main(args) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["users"], stats["items"], stats["interactions"]) == (2, 2, 3)


def test_prepare_then_cached(capsys, yelp_sample, private_cache):
    assert main(["data", "prepare", "yelp2018-lightgcn-test"]) == 0
    out = capsys.readouterr().out
    assert "built and cached" in out and "ratio 0.8/0.1/0.1" in out
    assert main(["data", "prepare", "yelp2018-lightgcn-test", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["from_cache"] and record["train"] + record["valid"] + record["test"] == 324_147
    assert len(files_under(private_cache)) == 1


def test_prepare_with_config_and_set(tmp_path, capsys, ml_latest_small):
    config = write(tmp_path / "c.yaml", "data:\n  name: ml-latest-small\n  split: ratio\n"
                   "model:\n  dim: 8\n")
    args = ["data", "prepare", "ml-latest-small", "--config", str(config), "--set",
            "data.seed=3", "--k-core", "5", "--json"]
    assert main(args) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["users"] == 610 and record["items"] < 9_724


def test_bad_file_exit_code_and_message(tmp_path, capsys, private_cache):
    path = write(tmp_path / "log.csv", "user,item,rating\n1,2,5\n1,3,five\n")
    assert main(["data", "prepare", str(path)]) == 2
    err = capsys.readouterr().err
    assert "log.csv, line 3" in err and "rating" in err and "'1,3,five'" in err
    assert files_under(private_cache) == []


def test_unknown_key_and_dataset(tmp_path, capsys):
    assert main(["data", "info", "ml-100k", "--set", "data.min_ratng=4"]) == 2
    assert "unknown key data.min_ratng" in capsys.readouterr().err
    assert main(["data", "info", "nope"]) == 2
    assert "neither a registered dataset" in capsys.readouterr().err
    assert main(["data", "download", "nope"]) == 2


def test_download_refuses_unverified(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("BCL_REC_DATA", raising=False)
    assert main(["data", "download", "ml-32m"]) == 2
    assert "no published checksum" in capsys.readouterr().err


def test_info_with_a_space_separator_set(tmp_path, capsys):
    path = write(tmp_path / "log.txt", "a x 1\nb x 2\na y 3\n")
    assert main(["data", "info", str(path), "--set", "data.sep= ", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["config"]["sep"] == " "
    assert (stats["users"], stats["items"], stats["interactions"]) == (2, 2, 3)
