"""The speed benchmark's harness: the per-row reference sampler and a quick end-to-end run."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from bcl_rec.data.split import to_csr

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def load_module(name: str):
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_reference_sampler_rows_avoid_positives():
    ref = load_module("reference_sampler")
    rng = np.random.default_rng(0)
    mask = rng.random((20, 30)) < 0.5
    mask[:, 0] = False
    mask[np.arange(20), 1 + np.arange(20) % 29] = True
    u, i = np.nonzero(mask)
    train = to_csr(u, i, 20, 30)
    dataset = ref.ReferencePairs(train, n_neg=7, n_extra=2, seed=1)
    assert len(dataset) == train.nnz
    for idx in range(len(dataset)):
        user, pos, neg, extra = dataset[idx]
        assert mask[user, pos] and not mask[user, neg].any() and mask[user, extra].all()
        assert neg.shape == (7,) and extra.shape == (2,)
    batch = next(iter(ref.reference_loader(train, 7, 0, 16, seed=0)))
    assert batch[2].shape == (16, 7) and batch[2].dtype == torch.int64


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    from test_eval_commands import write_ml100k_like

    return write_ml100k_like(tmp_path_factory.mktemp("speed") / "ml-tiny", n_users=60,
                             n_items=50)


def test_quick_run_writes_json_rows_and_markdown(tiny_dataset, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BCL_REC_CACHE", str(tmp_path / "cache"))
    speed = load_module("speed")
    threads = torch.get_num_threads()
    try:
        code = speed.main(["--quick", "--threads", "1", "--datasets", str(tiny_dataset),
                           "--json", str(tmp_path / "rows.json"),
                           "--markdown", str(tmp_path / "table.md")])
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert rows and all(set(r) == {"task", "dataset", "impl", "seconds", "peak_mb"} for r in rows)
    assert {r["task"] for r in rows} == set(speed.JSON_TASKS)
    assert {r["impl"] for r in rows} <= set(speed.IMPLS)
    assert {"bcl-rec", "reference-sampler", "floor"} <= {r["impl"] for r in rows}
    assert all(r["seconds"] > 0 for r in rows)
    table = (tmp_path / "table.md").read_text()
    assert "| eval-all-users |" in table and "train-epoch-mf-bpr" in table
    assert "RecBole" in table


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA path")
def test_cuda_request_without_cuda_writes_no_rows(tmp_path, capsys):
    speed = load_module("speed")
    code = speed.main(["--device", "cuda", "--json", str(tmp_path / "rows.json")])
    assert code == 0
    assert json.loads((tmp_path / "rows.json").read_text()) == []
    assert "no CUDA rows" in capsys.readouterr().out
