"""``bcl-rec report``: its numbers against metrics.json (statistics recomputed here with numpy and
scipy), grouping, paired differences, and runs with missing seeds or metrics."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from bcl_rec.cli.main import main
from bcl_rec.reporting.runs import ReportError
from bcl_rec.reporting.summary import summarise_runs
from tests.reporting.report_helpers import write_run

NDCG = {"bpr": [0.0700, 0.0712, 0.0695], "bcl": [0.0761, 0.0749, 0.0770]}
RECALL = {"bpr": [0.131, 0.135, 0.129], "bcl": [0.140, 0.139, 0.145]}


def expected(values: list[float]) -> tuple[float, float, float, float]:
    """Mean, std (ddof 1) and the 95% t-interval, computed directly."""
    x = np.array(values)
    mean, std = x.mean(), x.std(ddof=1)
    half = stats.t.ppf(0.975, len(x) - 1) * std / np.sqrt(len(x))
    return mean, std, mean - half, mean + half


@pytest.fixture()
def sweep(tmp_path):
    """A sweep-like folder: run folders two levels down and a summary.json on top."""
    root = tmp_path / "sweep"
    for loss, lr in (("bpr", 0.002), ("bcl", 0.001)):
        for k, seed in enumerate((1, 2, 3)):
            test = {"ndcg@10": NDCG[loss][k], "recall@10": RECALL[loss][k]}
            write_run(root / loss / f"seed{seed}", loss, seed, test, lr=lr)
    (root / "summary.json").write_text("{}")
    return root


def test_numbers_equal_the_runs_metrics(sweep):
    summary = summarise_runs([sweep])
    assert [c.label for c in summary.configurations] == ["loss.name=bcl", "loss.name=bpr"]
    assert summary.varying == ["loss.name", "train.lr"]
    assert summary.metrics == ["ndcg@10", "recall@10"]
    for loss in ("bpr", "bcl"):
        for metric, values in (("ndcg@10", NDCG[loss]), ("recall@10", RECALL[loss])):
            cell = summary.cells[(f"loss.name={loss}", metric)]
            mean, std, low, high = expected(values)
            assert cell.n == 3
            assert (cell.mean, cell.std, cell.low, cell.high) == pytest.approx(
                (mean, std, low, high), rel=1e-12
            )
    assert summary.notes == []


def test_paired_differences_against_the_baseline(sweep):
    summary = summarise_runs([sweep], baseline="bpr")
    assert summary.baseline == "loss.name=bpr"
    pair = summary.paired[("loss.name=bcl", "ndcg@10")]
    diffs = np.array(NDCG["bcl"]) - np.array(NDCG["bpr"])
    mean, std, low, high = expected(list(diffs))
    assert (pair.diff.mean, pair.diff.low, pair.diff.high) == pytest.approx((mean, low, high))
    assert (pair.wins, pair.n) == (3, 3)
    assert ("loss.name=bpr", "ndcg@10") not in summary.paired


def test_report_files_show_the_numbers(sweep, tmp_path):
    pytest.importorskip("matplotlib", reason="the report's figures need the plots extra")
    out = tmp_path / "report"
    assert main(["report", str(sweep), "--out", str(out), "--baseline", "loss.name=bpr"]) == 0
    md = (out / "report.md").read_text()
    mean, std, low, high = expected(NDCG["bcl"])
    # the best NDCG@10 (BCL's) is bold; BPR's is not
    assert f"**{mean:.4f} ± {std:.4f} [{low:.4f}, {high:.4f}]**" in md
    mean, std, low, high = expected(NDCG["bpr"])
    assert f"| {mean:.4f} ± {std:.4f} [{low:.4f}, {high:.4f}] |" in md
    diffs = list(np.array(NDCG["bcl"]) - np.array(NDCG["bpr"]))
    mean, _, low, high = expected(diffs)
    assert f"{mean:+.4f} [{low:+.4f}, {high:+.4f}], won 3/3" in md
    assert "| loss.name=bcl | bcl | 0.001 |" in md  # the keys that differ, per configuration
    assert "- model: dim=64, name=mf" in md and "seed=" not in md.split("## Runs")[0]
    for png in ("learning-curves.png", "test-ndcg10.png", "loss.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({png})" in md
    page = (out / "report.html").read_text()
    assert page.count("src='data:image/png;base64,") == 3
    saved = json.loads((out / "report.json").read_text())
    bcl = saved["configurations"][0]
    assert bcl["label"] == "loss.name=bcl" and bcl["seeds"] == [1, 2, 3]
    assert bcl["test"]["ndcg@10"]["mean"] == pytest.approx(np.mean(NDCG["bcl"]), rel=1e-12)


def test_missing_seeds_and_metrics_are_reported_not_fatal(tmp_path, capsys):
    root = tmp_path / "runs"
    for seed in (1, 2, 3):
        write_run(root / f"bpr-{seed}", "bpr", seed, {"ndcg@10": 0.07 + seed / 1000,
                                                      "recall@10": 0.13})
    write_run(root / "ssm-1", "ssm", 1, {"ndcg@10": 0.08}, history=[])
    write_run(root / "ssm-2", "ssm", 2, {"ndcg@10": 0.081, "recall@10": 0.15})
    summary = summarise_runs([root], baseline="bpr")
    assert summary.notes == [
        "runs/ssm-1: no history.csv (left out of the per-epoch figures)",
        "loss.name=ssm: no run with seed 3 (2 of 3 seeds)",
        "loss.name=ssm: test recall@10 missing in runs/ssm-1",
    ]
    assert summary.cells[("loss.name=ssm", "recall@10")].n == 1
    assert math.isnan(summary.cells[("loss.name=ssm", "recall@10")].std)
    pair = summary.paired[("loss.name=ssm", "ndcg@10")]
    assert (pair.n, pair.wins) == (2, 2)
    pytest.importorskip("matplotlib", reason="the report's figures need the plots extra")
    assert main(["report", str(root), "--out", str(tmp_path / "r")]) == 0
    md = (tmp_path / "r" / "report.md").read_text()
    assert "- loss.name=ssm: no run with seed 3 (2 of 3 seeds)" in md
    assert "0.1500 ± n/a [n/a] (n=1)" in md
    assert "note: loss.name=ssm: test recall@10 missing in runs/ssm-1" in capsys.readouterr().out


def test_group_by_and_duplicate_seeds(tmp_path):
    root = tmp_path / "runs"
    write_run(root / "a", "bcl", 1, {"ndcg@10": 0.07}, lr=0.001)
    write_run(root / "b", "bcl", 2, {"ndcg@10": 0.08}, lr=0.002)
    write_run(root / "c", "bcl", 2, {"ndcg@10": 0.09}, lr=0.003)
    summary = summarise_runs([root], group_by=["loss.name"])
    (conf,) = summary.configurations
    assert conf.label == "loss.name=bcl" and conf.seeds == [1, 2]
    assert summary.cells[(conf.label, "ndcg@10")].mean == pytest.approx(0.075)
    assert summary.notes == ["loss.name=bcl: seed 2 appears twice; used runs/b, left out runs/c"]


def test_errors_are_one_line(tmp_path, sweep, capsys):
    assert main(["report", str(tmp_path / "nothing-here")]) == 2
    assert capsys.readouterr().err == (
        f"bcl-rec: error: {tmp_path / 'nothing-here'}: neither a folder of runs nor a result file\n"
    )
    with pytest.raises(ReportError, match=r"^--group-by loss\.nam: no run has this config key"):
        summarise_runs([sweep], group_by=["loss.nam"])
    assert main(["report", str(sweep), "--baseline", "dpl"]) == 2
    assert capsys.readouterr().err == (
        "bcl-rec: error: --baseline 'dpl' is no configuration; the configurations are: "
        "loss.name=bcl; loss.name=bpr\n"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ReportError, match="^no run folders"):
        summarise_runs([empty])


def test_runs_stopped_by_the_epoch_budget_are_named(tmp_path):
    root = tmp_path / "runs"
    for seed in (1, 2):
        folder = write_run(root / f"bcl-{seed}", "bcl", seed, {"ndcg@10": 0.07})
        metrics = json.loads((folder / "metrics.json").read_text())
        last = 300 if seed == 2 else 250  # seed 1 stopped early at its best epoch + patience
        metrics.update(best_epoch=last, epochs=300 if seed == 2 else 270)
        (folder / "metrics.json").write_text(json.dumps(metrics))
    summary = summarise_runs([root])
    assert summary.notes == [
        "all runs: the best epoch is the last one allowed (train.epochs) for seed 2: more "
        "epochs may still help"
    ]
