"""``bcl-rec report`` over committed result files (rows of ``benchmarks/quality.py``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from bcl_rec.cli.main import main
from bcl_rec.reporting.runs import ReportError
from bcl_rec.reporting.summary import summarise_runs


def rows(label: str, seeds: list[int], ndcg: list[float]) -> list[dict]:
    return [
        {"config": label, "seed": s, "test_ndcg@10": v, "test_recall@10": 2 * v,
         "valid_ndcg@10": v + 0.01, "best_epoch": 10 + s, "epochs": 30}
        for s, v in zip(seeds, ndcg, strict=True)
    ]


@pytest.fixture
def files(tmp_path):
    a = tmp_path / "a.json"
    b = tmp_path / "b.json"
    base = rows("ml/bpr", [1, 2, 3], [0.070, 0.072, 0.069])
    a.write_text(json.dumps(base + rows("ml/bcl", [1, 2], [0.075, 0.074])))
    # b repeats one identical row of a (kept once) and adds seed 3 of bcl and another config
    b.write_text(json.dumps(base[:1] + rows("ml/bcl", [3], [0.078]) + rows("ml/x", [1], [0.05])))
    return a, b


def test_result_rows_give_the_same_numbers_as_an_independent_computation(files):
    summary = summarise_runs(list(files), baseline="ml/bpr", only=["ml/bpr", "ml/bcl"])
    labels = [c.label for c in summary.configurations]
    assert labels == ["ml/bcl", "ml/bpr"]
    for label, values in (("ml/bcl", [0.075, 0.074, 0.078]), ("ml/bpr", [0.070, 0.072, 0.069])):
        cell = summary.cells[(label, "ndcg@10")]
        mean, std = np.mean(values), np.std(values, ddof=1)
        half = stats.t.ppf(0.975, len(values) - 1) * std / np.sqrt(len(values))
        assert cell.mean == pytest.approx(mean, abs=1e-15)
        assert cell.std == pytest.approx(std, abs=1e-15)
        assert cell.half == pytest.approx(half, abs=1e-15)
    diffs = np.array([0.075, 0.074, 0.078]) - np.array([0.070, 0.072, 0.069])
    pair = summary.paired[("ml/bcl", "ndcg@10")]
    assert pair.diff.mean == pytest.approx(diffs.mean(), abs=1e-15) and pair.wins == 3


def test_only_keeps_the_named_labels_and_names_a_missing_one(files):
    summary = summarise_runs(list(files), only=["ml/x"])
    assert [c.label for c in summary.configurations] == ["all runs"]
    with pytest.raises(ReportError, match="--only: no rows labelled ml/nope"):
        summarise_runs(list(files), only=["ml/nope"])


def test_a_file_that_is_not_a_result_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"not": "rows"}))
    assert main(["report", str(bad), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err == f"bcl-rec: error: {bad}: not a result file (a JSON list of rows with config " \
        "and seed)\n"
