"""``bcl-rec evaluate`` and ``bcl-rec recommend`` on a small run folder trained here."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bcl_rec.cli.main import main
from bcl_rec.config import load_config
from bcl_rec.data.load import load_split
from bcl_rec.training.run import train_run, write_run


def write_ml100k_like(folder, n_users=40, n_items=48, seed=0):
    """A MovieLens-100K-shaped folder (u.data, u.item) whose users prefer one item cluster."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    lines = []
    for u in range(1, n_users + 1):
        pool = np.arange(1, n_items + 1)[(np.arange(n_items) % 4) == u % 4]
        for t, i in enumerate(rng.choice(pool, size=8, replace=False)):
            lines.append(f"{u}\t{i}\t{int(rng.integers(1, 6))}\t{880000000 + 1000 * u + t}")
    (folder / "u.data").write_text("\n".join(lines) + "\n")
    titles = [f"{i}|Movie {i} (199{i % 10})|01-Jan-1995||http://x|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0"
              f"|0|0|0" for i in range(1, n_items + 1)]
    (folder / "u.item").write_text("\n".join(titles) + "\n", encoding="latin-1")
    return folder


@pytest.fixture(scope="module", params=["mf", "lightgcn"])
def run_dir(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"run-{request.param}")
    mp = pytest.MonkeyPatch()
    mp.setenv("BCL_REC_CACHE", str(root / "cache"))
    data = write_ml100k_like(root / "ml-tiny")
    config = load_config(None, [
        f"data.name={data}", f"model.name={request.param}", "model.dim=8", "train.epochs=4",
        "train.batch_size=64", "train.lr=0.02", "train.progress=false", "train.device=cpu",
        "loss.num_negatives=4", "eval.topk=[5, 10]", "eval.metric=ndcg@10",
    ])
    result = train_run(config)
    out = write_run(result, root / "run")
    yield out, result
    mp.undo()


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_evaluate_reproduces_the_saved_test_metrics(run_dir, capsys):
    out, result = run_dir
    code, stdout, _ = run_cli(capsys, "evaluate", "--run", str(out), "--json")
    assert code == 0
    report = json.loads(stdout)
    assert report["metrics"] == result.metrics["test"]
    assert report["split"] == "test" and report["users"] > 0


def test_evaluate_valid_split_any_k_and_batch_size(run_dir, capsys):
    out, result = run_dir
    code, stdout, _ = run_cli(capsys, "evaluate", "--run", str(out), "--split", "valid", "--json")
    assert code == 0 and json.loads(stdout)["metrics"] == result.metrics["valid"]
    _, a, _ = run_cli(capsys, "evaluate", "--run", str(out), "--topk", "1", "3", "50", "--json")
    _, b, _ = run_cli(capsys, "evaluate", "--run", str(out), "--topk", "1", "3", "50",
                      "--users-per-batch", "2", "--json")
    metrics = json.loads(a)["metrics"]
    assert set(metrics) == {f"{m}@{k}" for m in ("recall", "ndcg", "mrr") for k in (1, 3, 50)} | {
        "auc"}
    assert metrics == json.loads(b)["metrics"]
    code, table, _ = run_cli(capsys, "evaluate", "--run", str(out), "--topk", "5")
    assert code == 0 and "ndcg@5" in table and "auc" in table


def test_recommend_leaves_out_seen_items_and_shows_titles(run_dir, capsys):
    out, result = run_dir
    split = result.split
    raw = str(split.user_ids[3])
    code, stdout, _ = run_cli(capsys, "recommend", "--run", str(out), "--user", raw, "-k", "7",
                              "--json")
    assert code == 0
    report = json.loads(stdout)
    items = report["items"]
    assert [row["rank"] for row in items] == list(range(1, 8))
    scores = [row["score"] for row in items]
    assert scores == sorted(scores, reverse=True)
    index = {str(v): i for i, v in enumerate(split.item_ids)}
    seen = set(split.train[3].indices) | set(split.valid[3].indices)
    assert report["excluded_seen"] == len(seen)
    assert not {index[str(row["item"])] for row in items} & seen
    assert all(row["title"] == f"Movie {row['item']} (199{int(row['item']) % 10})" for row in items)
    code, table, _ = run_cli(capsys, "recommend", "--run", str(out), "--user", raw)
    assert code == 0 and len(table.strip().splitlines()) == 11 and "Movie" in table


def test_recommend_k_larger_than_the_catalogue(run_dir, capsys):
    out, result = run_dir
    raw = str(result.split.user_ids[0])
    code, stdout, _ = run_cli(capsys, "recommend", "--run", str(out), "--user", raw, "-k", "999",
                              "--json")
    seen = result.split.train[0].nnz + result.split.valid[0].nnz
    assert code == 0 and len(json.loads(stdout)["items"]) == result.split.n_items - seen


def test_clear_errors(run_dir, tmp_path, capsys):
    out, _ = run_dir
    code, _, err = run_cli(capsys, "recommend", "--run", str(out), "--user", "no-such-user")
    assert code == 2 and "unknown user id 'no-such-user'" in err
    code, _, err = run_cli(capsys, "evaluate", "--run", str(tmp_path / "missing"))
    assert code == 2 and "run folder not found" in err
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.yaml").write_text((out / "config.yaml").read_text())
    code, _, err = run_cli(capsys, "evaluate", "--run", str(tmp_path / "half"))
    assert code == 2 and "model.pt is missing" in err
    code, _, err = run_cli(capsys, "recommend", "--run", str(out), "--user", "1", "-k", "0")
    assert code == 2 and "-k" in err


def test_split_is_rebuilt_identically(run_dir):
    out, result = run_dir
    split = load_split(load_config(out / "config.yaml").data)
    assert (split.test != result.split.test).nnz == 0
    assert (split.train != result.split.train).nnz == 0
