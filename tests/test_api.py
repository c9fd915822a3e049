"""The Python API: the README's example runs, and keywords are validated as configs are."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bcl_rec
from bcl_rec.errors import ConfigError

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path, monkeypatch, capsys, ml100k) -> None:
    example = readme_python_blocks()[0]
    assert "epochs=50" in example
    monkeypatch.chdir(tmp_path)
    fast = example.replace("epochs=50", "epochs=2, progress=False")
    exec(compile(fast, "README.md", "exec"), {})  # noqa: S102 - the README's own example
    out = capsys.readouterr().out
    assert "recall@10" in out and "ndcg@20" in out
    assert (tmp_path / "runs/api-example/metrics.json").is_file()


def test_readme_register_example_is_a_valid_loss() -> None:
    from bcl_rec.losses import LOSSES
    from bcl_rec.losses.base import CONFIG_MAPPINGS

    namespace: dict = {}
    exec(compile(readme_python_blocks()[1], "README.md", "exec"), namespace)  # noqa: S102
    try:
        model = bcl_rec.Recommender(loss="margin", temperature=0.5)
        assert model.config.loss.name == "margin"
    finally:
        LOSSES.pop("margin")
        CONFIG_MAPPINGS.pop("margin")


def test_keywords_map_onto_config_sections() -> None:
    model = bcl_rec.Recommender(model="lightgcn", loss="bpr", dim=16, lr=0.01, patience=3,
                                eval={"topk": [5], "metric": "ndcg@5"}, seed=4)
    c = model.config
    assert (c.model.name, c.model.dim, c.loss.name) == ("lightgcn", 16, "bpr")
    assert (c.train.lr, c.train.patience, c.train.seed, c.eval.topk) == (0.01, 3, 4, (5,))


def test_unknown_keyword_is_a_did_you_mean_config_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown keyword 'epoch' \(did you mean 'epochs'\?\)"):
        bcl_rec.Recommender(epoch=3)
    with pytest.raises(ConfigError, match=r"loss\.alpha must be a number in \[0\.5, 1\)"):
        bcl_rec.Recommender(alpha=2)


def test_fit_recommend_save_load_on_a_frame(tmp_path) -> None:
    rng = np.random.default_rng(0)
    rows = [(f"u{u}", f"i{(u % 4) * 10 + int(j)}", t)
            for u in range(60) for t, j in enumerate(rng.choice(10, 8, replace=False))]
    frame = pd.DataFrame(rows, columns=["who", "what", "when"])
    data = bcl_rec.Dataset.from_frame(frame, user="who", item="what", time="when")
    model = bcl_rec.Recommender(dim=8, epochs=15, lr=0.02, batch_size=64, num_negatives=4,
                                progress=False, device="cpu")
    metrics = model.fit(data).evaluate(k=[10])
    assert metrics["recall@10"] > 0.6  # users stick to their cluster: far above random (~0.3)
    items, scores = model.recommend(["u0", "u5"], k=3)
    assert items.shape == scores.shape == (2, 3)
    assert all(str(i).startswith("i") for i in items.ravel())
    assert np.all(np.diff(scores, axis=1) <= 0)  # best first
    seen = set(frame.loc[frame.who == "u0", "what"])
    held_out = set(data.item_ids[data.test[0].indices])
    assert not (set(items[0]) & (seen - held_out))  # train/valid items are excluded
    assert model.similar_items(["i3"], k=2)[0].shape == (1, 2)
    model.save(tmp_path / "run")
    again = bcl_rec.Recommender.load(tmp_path / "run", data=data)
    assert again.evaluate(k=[10]) == metrics
    np.testing.assert_array_equal(again.recommend(["u0", "u5"], k=3)[0], items)


def test_fit_and_evaluate_on_plain_matrices() -> None:
    from tests.test_training import synthetic_split

    split = synthetic_split()
    model = bcl_rec.Recommender(dim=8, epochs=15, lr=0.02, batch_size=64, num_negatives=4,
                                progress=False, device="cpu")
    model.fit(split.train, valid=split.valid)
    assert model.metrics["test"] == {}  # no test matrix given to fit
    from_matrix = model.evaluate(split.test, k=[10])
    assert from_matrix["recall@10"] > 0.6
    # the same numbers as the Split path: held out against train + valid
    reference = model.evaluate(bcl_rec.Dataset(split), k=[10])
    assert from_matrix == reference
    items, _ = model.recommend([0, 5], k=3)  # ids are row / column numbers
    assert items.shape == (2, 3) and items.dtype.kind == "i"
