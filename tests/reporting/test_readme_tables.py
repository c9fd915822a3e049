"""The README's result tables are rebuilt from committed result files by one command."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[2]


def load_script():
    spec = importlib.util.spec_from_file_location(
        "readme_tables", ROOT / "benchmarks/readme_tables.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_tables_equal_their_result_files():
    script = load_script()
    for name in script.FILES:
        text = (ROOT / name).read_text()
        assert script.BLOCK.search(text), f"{name} has no generated result table"
        assert script.regenerate(text) == text, "run python benchmarks/readme_tables.py"


def test_a_table_holds_the_mean_interval_and_paired_difference_of_its_rows(tmp_path, monkeypatch):
    script = load_script()
    a = [0.070, 0.072, 0.069, 0.071, 0.068]
    b = [0.075, 0.074, 0.078, 0.070, 0.077]
    rows = [
        {"config": label, "seed": s + 1, "test_ndcg@10": v, "test_recall@10": 2 * v}
        for label, values in (("bpr", a), ("bcl", b))
        for s, v in enumerate(values)
    ]
    (tmp_path / "r.json").write_text(json.dumps(rows))
    monkeypatch.setattr(script, "ROOT", tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(
        "x\n<!-- results: r.json baseline=bpr only=bpr,bcl -->\nold\n<!-- /results -->\n"
    )
    assert script.main(["--readme", str(readme), "--check"]) == 1
    assert script.main(["--readme", str(readme)]) == 0
    lines = readme.read_text().splitlines()
    assert lines[4].startswith("| bpr | 5 | 0.0700 +- 0.0016 [0.0680, 0.0720]")
    diff = np.subtract(b, a)
    half = stats.t.ppf(0.975, 4) * diff.std(ddof=1) / np.sqrt(5)
    expected = f"{diff.mean():+.4f} [{diff.mean() - half:+.4f}, {diff.mean() + half:+.4f}], 4/5"
    assert lines[5].startswith("| bcl | 5 | **0.0748")
    assert lines[5].endswith(f"| {expected} |")
    assert script.main(["--readme", str(readme), "--check"]) == 0


def test_a_marker_naming_a_missing_file_is_one_line_with_its_line_number(tmp_path, capsys):
    script = load_script()
    readme = tmp_path / "README.md"
    readme.write_text(
        "x\n\n<!-- results: results/fair/nope.json baseline=sl -->\n<!-- /results -->\n"
    )
    assert script.main(["--readme", str(readme)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"{readme}:3: results marker: ") and "nope.json" in err
    assert "\n" not in err and "Traceback" not in err
    assert readme.read_text().count("<!--") == 2  # nothing written


def _rows(table: dict[str, list[float]]) -> str:
    return json.dumps(
        [
            {"config": label, "seed": s + 1, "test_ndcg@10": v, "test_recall@10": 2 * v}
            for label, values in table.items()
            for s, v in enumerate(values)
        ]
    )


def test_the_scoreboard_says_where_bcl_stands_against_the_best_other_loss(tmp_path, monkeypatch):
    script = load_script()
    sl = [0.070, 0.072, 0.069, 0.071, 0.068]
    ahead = list(np.add(sl, [0.004, 0.003, 0.005, 0.004, 0.003]))
    level = list(np.add(sl, [0.004, -0.004, 0.002, -0.003, -0.001]))
    (tmp_path / "a.json").write_text(_rows({"sl": sl, "bcl": level, "hcl": ahead}))
    bpr = list(np.subtract(sl[:3], 0.01))
    (tmp_path / "b.json").write_text(_rows({"sl": sl, "bcl": ahead, "bpr": bpr}))
    (tmp_path / "c.json").write_text(_rows({"sl": ahead, "bcl": sl}))
    monkeypatch.setattr(script, "ROOT", tmp_path)
    lines = script.scoreboard("A=a.json; B, two=b.json; C=c.json").splitlines()
    assert lines[0] == "| table | sl | bcl | hcl | bpr | BCL against the best other loss (paired) |"
    a, b, c = lines[2:]
    assert a.startswith(f"| A | 0.0700 | {np.mean(level):.4f} | **{np.mean(ahead):.4f}** | - |")
    diff = np.subtract(level, ahead)
    half = stats.t.ppf(0.975, 4) * diff.std(ddof=1) / np.sqrt(5)
    assert a.endswith(
        f"| behind: {diff.mean():+.4f} [{diff.mean() - half:+.4f}, {diff.mean() + half:+.4f}]"
        " vs hcl, 0/5 |"
    )
    # BPR ran 3 of the row's 5 seeds: its mean says so; BCL is ahead of SL on all 5
    assert f"| B, two | 0.0700 | **{np.mean(ahead):.4f}** | - | {np.mean(bpr):.4f} (3) |" in b
    assert b.endswith(" vs sl, 5/5 |") and "| **best**: +0.0038 [" in b
    assert "| **tied-best**: " not in c and "| behind: -0.0038 [" in c
    level_row = script.scoreboard("L=a.json").splitlines()[2]
    assert "behind" in level_row  # against HCL; against SL alone it would be tied
    (tmp_path / "d.json").write_text(_rows({"sl": sl, "bcl": level}))
    tied = script.scoreboard("D=d.json").splitlines()[2]
    assert "| **tied-best**: " in tied and " vs sl, 2/5 |" in tied


def test_a_scoreboard_row_without_a_file_is_one_line_naming_it(tmp_path, capsys):
    script = load_script()
    readme = tmp_path / "README.md"
    marker = "<!-- scoreboard: A=results/fair/yelp-mf.json; B -->"
    readme.write_text(f"x\n{marker}\n<!-- /scoreboard -->\n")
    assert script.main(["--readme", str(readme)]) == 2
    err = capsys.readouterr().err.strip()
    expected = "'B' is not LABEL=FILE (rows are separated by ';')"
    assert err == f"{readme}:2: scoreboard marker: {expected}"


def test_a_scoreboard_row_with_bcl_alone_is_one_line_naming_its_file(tmp_path, monkeypatch,
                                                                      capsys):
    script = load_script()
    (tmp_path / "only.json").write_text(_rows({"bcl": [0.07, 0.071]}))
    monkeypatch.setattr(script, "ROOT", tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- scoreboard: A=only.json -->\n<!-- /scoreboard -->\n")
    assert script.main(["--readme", str(readme)]) == 2
    err = capsys.readouterr().err.strip()
    expected = "only.json has no loss besides bcl to compare it with"
    assert err == f"{readme}:2: scoreboard marker: {expected}"


def test_the_scoreboard_is_drawn_with_bcls_paired_difference(tmp_path, monkeypatch, capsys):
    script = load_script()
    sl = [0.070, 0.072, 0.069, 0.071, 0.068]
    bcl = list(np.add(sl, [0.004, -0.001, 0.002, 0.003, 0.001]))
    bpr = list(np.subtract(sl, 0.01))
    (tmp_path / "a.json").write_text(_rows({"sl": sl, "bcl": bcl, "bpr": bpr}))
    (tmp_path / "b.json").write_text(_rows({"sl": sl[:1], "bcl": bcl[:1]}))
    monkeypatch.setattr(script, "ROOT", tmp_path)
    columns, rows = script.board("A=a.json; B=b.json")
    a, b = script.score_rows(rows)
    diff = np.subtract(bcl, sl)
    half = stats.t.ppf(0.975, 4) * diff.std(ddof=1) / np.sqrt(5)
    assert columns == ["sl", "bcl", "bpr"] and a.other == "sl"
    assert a.diff == pytest.approx((diff.mean(), diff.mean() - half, diff.mean() + half))
    assert a.means == pytest.approx({"sl": np.mean(sl), "bcl": np.mean(bcl), "bpr": np.mean(bpr)})
    assert b.diff is None  # one paired seed: no interval to draw
    pytest.importorskip("matplotlib", reason="the figure needs the plots extra")
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- scoreboard: A=a.json; B=b.json -->\n<!-- /scoreboard -->\n")
    assert script.main(["--readme", str(readme)]) == 0
    figure = tmp_path / script.FIGURE
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"{figure}: the scoreboard drawn" in capsys.readouterr().out


def test_a_budget_of_a_loss_still_being_tuned_shows_its_cells_known_and_the_best_so_far(
    tmp_path, monkeypatch
):
    script = load_script()
    monkeypatch.setattr(script, "ROOT", tmp_path)
    cell = {"config": "sl", "seed": 1, "seconds": 600.0}
    tuning = [
        cell | {"params": {"loss.temperature": 0.1}, "valid_ndcg@10": 0.0141},
        cell | {"params": {"loss.temperature": 0.15}, "valid_ndcg@10": 0.0152},
    ]
    (tmp_path / "tuning.json").write_text(json.dumps(tuning))

    table = script.budget("tuning.json no-pick-yet.json")

    assert table.splitlines()[2] == (
        "| sl | 2 of 4 | temperature 0.1, 0.15 | none yet; best so far temperature 0.15 (0.0152) "
        "| 20 | 0 |"
    )
