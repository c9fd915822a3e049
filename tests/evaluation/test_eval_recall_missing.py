"""Standard Recall@K (hits / |held-out|) and held-out items that cannot be ranked (misses),
against an independent argsort ranking in plain numpy."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from eval_helpers import as_csr

import bcl_rec.evaluation.plan as plan_module
from bcl_rec.evaluation.ranking import FullRankingEvaluator

TOPK = (1, 5, 10)


@pytest.fixture(autouse=True, params=[None, 8], ids=["one-block", "blocks-of-8"])
def block_rows(request, monkeypatch):
    """The catalogue in one score block, and in blocks of 8 item rows (the blocked path)."""
    if request.param is not None:
        monkeypatch.setattr(plan_module, "CPU_BLOCK_ROWS", request.param)


def standard_reference(scores, held, excl, missing, topk):
    """Per user (every user with a held-out item, rankable or missing): rank the candidates with
    one argsort (score descending; on a tie non-held-out items first, held-out items in column
    order), missing items below everything; then the textbook formulas."""
    n_users, n_items = scores.shape
    rows = []
    for u in range(n_users):
        h = np.array(sorted(held[u]), dtype=np.int64)
        n_total = len(h) + int(missing[u])
        if n_total == 0:
            continue
        candidate = np.ones(n_items, dtype=bool)
        candidate[list(excl[u])] = False
        candidate[h] = True  # a held-out item is always a candidate
        items = np.flatnonzero(candidate)
        is_held = np.isin(items, h)
        ranking = items[np.lexsort((is_held, -scores[u, items]))]
        pos = np.concatenate([np.flatnonzero(np.isin(ranking, h)),  # rankable, in column order
                              np.full(int(missing[u]), np.inf)])
        nonheld = scores[u, items[~is_held]]
        below = [np.sum(nonheld < scores[u, i]) / max(len(nonheld), 1) for i in h]
        row = {"auc": sum(below) / n_total}  # a missing item has nothing below it
        for k in topk:
            hit = pos[pos < k]
            idcg = sum(1 / math.log2(r + 2) for r in range(min(n_total, k)))
            row[f"recall@{k}"] = len(hit) / n_total
            row[f"ndcg@{k}"] = sum(1 / math.log2(p + 2) for p in hit) / idcg
            row[f"mrr@{k}"] = 1 / (pos.min() + 1) if pos.min() < k else 0.0
        rows.append((u, row))
    return rows


def embeddings_case(seed, n_users=60, n_items=50, max_held=12, integer=True):
    """Random embeddings (small integers: exact scores with many ties; or Gaussian), users with
    0..max_held held-out items (many above K=5) and a few excluded items."""
    rng = np.random.default_rng(seed)
    if integer:
        user = rng.integers(-3, 4, size=(n_users, 8)).astype(np.float32)
        item = rng.integers(-3, 4, size=(n_items, 8)).astype(np.float32)
    else:
        user = rng.standard_normal((n_users, 16)).astype(np.float32)
        item = rng.standard_normal((n_items, 16)).astype(np.float32)
    held, excl = [], []
    for u in range(n_users):
        perm = rng.permutation(n_items)
        k = 0 if u % 9 == 4 else int(rng.integers(1, max_held + 1))
        held.append(perm[:k].tolist())
        excl.append(perm[k : k + int(rng.integers(0, 8))].tolist())
    scores = (torch.from_numpy(user) @ torch.from_numpy(item).T).numpy()
    return user, item, scores, held, excl


def evaluator(held, excl, shape, missing=None, batch=7):
    return FullRankingEvaluator(as_csr(held, *shape), as_csr(excl, *shape), topk=TOPK,
                                users_per_batch=batch, missing=missing)


def assert_matches(ev, user, item, want):
    per_user = ev.per_user(torch.from_numpy(user), torch.from_numpy(item))
    assert ev.users.tolist() == [u for u, _ in want]
    for name, values in per_user.items():
        expected = np.array([row[name] for _, row in want])
        np.testing.assert_allclose(values.numpy(), expected, rtol=0, atol=1e-12, err_msg=name)
    means = ev.evaluate(torch.from_numpy(user), torch.from_numpy(item))
    for name, value in means.items():
        assert value == pytest.approx(np.mean([row[name] for _, row in want]), abs=1e-12), name


@pytest.mark.parametrize("integer", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_recall_is_hits_over_all_heldout_items(seed, integer):
    user, item, scores, held, excl = embeddings_case(seed, integer=integer)
    shape = scores.shape
    want = standard_reference(scores, held, excl, np.zeros(shape[0], dtype=np.int64), TOPK)
    assert_matches(evaluator(held, excl, shape), user, item, want)
    # the case tells the definitions apart: users with more than K items, some with hits
    ev = evaluator(held, excl, shape)
    pos = ev.positions(torch.from_numpy(user), torch.from_numpy(item)).numpy()
    n_held = (pos >= 0).sum(1)
    hits = ((pos >= 0) & (pos < 5)).sum(1)
    truncated = hits / np.minimum(n_held, 5)
    recall = ev.per_user(torch.from_numpy(user), torch.from_numpy(item))["recall@5"].numpy()
    assert ((n_held > 5) & (hits > 0)).any()
    assert not np.allclose(recall, truncated)
    np.testing.assert_allclose(recall, hits / n_held, rtol=0, atol=1e-15)


def test_leave_one_out_recall_equals_the_truncated_formula():
    """With one held-out item per user hits / |H| = hits / min(K, |H|): bitwise the same."""
    user, item, scores, held, excl = embeddings_case(3, max_held=1)
    ev = evaluator(held, excl, scores.shape)
    u, i = torch.from_numpy(user), torch.from_numpy(item)
    pos = ev.positions(u, i).numpy()[:, 0]
    per_user = ev.per_user(u, i)
    for k in TOPK:
        hits = (pos < k).astype(np.float64)
        assert np.array_equal(per_user[f"recall@{k}"].numpy(), hits / np.minimum(1, k))
        assert np.array_equal(per_user[f"ndcg@{k}"].numpy(),
                              np.where(pos < k, 1.0 / np.log2(pos + 2.0), 0.0))
    want = standard_reference(scores, held, excl, np.zeros(len(held), dtype=np.int64), TOPK)
    assert_matches(ev, user, item, want)


@pytest.mark.parametrize("max_held", [1, 6])
@pytest.mark.parametrize("integer", [True, False])
def test_missing_items_are_never_ranked_misses(max_held, integer):
    user, item, scores, held, excl = embeddings_case(7, max_held=max_held, integer=integer)
    n_users = scores.shape[0]
    rng = np.random.default_rng(11)
    missing = rng.integers(0, 4, size=n_users)
    missing[[4, 13]] = [2, 1]  # users without a rankable item: only misses
    missing[22] = 0  # a user with nothing held out at all: not evaluated
    assert not held[4] and not held[13] and not held[22]
    want = standard_reference(scores, held, excl, missing, TOPK)
    ev = evaluator(held, excl, scores.shape, missing=missing)
    assert 4 in ev.users and 13 in ev.users and 22 not in ev.users
    assert_matches(ev, user, item, want)
    per_user = ev.per_user(torch.from_numpy(user), torch.from_numpy(item))
    only_missing = np.isin(ev.users, [4, 13])
    for values in per_user.values():
        assert (values.numpy()[only_missing] == 0).all()
    # and the misses lower the metrics of users who also have rankable items
    plain = evaluator(held, excl, scores.shape).evaluate(torch.from_numpy(user),
                                                         torch.from_numpy(item))
    assert ev.evaluate(torch.from_numpy(user), torch.from_numpy(item))["recall@10"] < plain[
        "recall@10"]


def test_zero_missing_counts_change_nothing():
    user, item, scores, held, excl = embeddings_case(5, max_held=4)
    u, i = torch.from_numpy(user), torch.from_numpy(item)
    plain = evaluator(held, excl, scores.shape).evaluate(u, i)
    zeros = evaluator(held, excl, scores.shape, missing=np.zeros(len(held), dtype=np.int64))
    assert zeros.evaluate(u, i) == plain


def test_only_missing_items_score_zero_for_every_user():
    shape = (3, 6)
    ev = evaluator([[], [], []], [[0], [], [1, 2]], shape, missing=np.array([1, 0, 3]))
    assert ev.users.tolist() == [0, 2]
    user, item = torch.ones(3, 2), torch.ones(6, 2)
    assert set(ev.evaluate(user, item).values()) == {0.0}
    assert all(v.tolist() == [0.0, 0.0] for v in ev.per_user(user, item).values())
    assert ev.positions(user, item).shape == (2, 0)


def test_missing_counts_are_checked():
    with pytest.raises(ValueError, match="missing must be 3 non-negative ints"):
        evaluator([[1], [], []], [[], [], []], (3, 4), missing=np.array([0, 1]))
    with pytest.raises(ValueError, match="missing must be 3 non-negative ints"):
        evaluator([[1], [], []], [[], [], []], (3, 4), missing=np.array([0, -1, 0]))


def write_presplit_with_unseen_items(folder, n_users=24, n_items=32, seed=0):
    """Pre-split csv files; valid and test hold some items ("new0".."new5") that train lacks."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    parts = {"train": [], "valid": [], "test": []}
    for u in range(n_users):
        pool = [f"i{i}" for i in rng.permutation(n_items)[:12]]
        parts["train"] += [(u, i) for i in pool[:8]]
        parts["valid"].append((u, pool[8] if u % 5 else f"new{u % 6}"))
        test = pool[9:12] if u % 3 else [f"new{u % 6}", pool[9]]
        parts["test"] += [(u, i) for i in (test if u != 7 else ["new1", "new2"])]
    for part, rows in parts.items():
        text = "user,item\n" + "".join(f"u{u},{i}\n" for u, i in rows)
        (folder / f"{part}.csv").write_text(text)
    return folder


def test_training_and_saved_run_count_the_misses(tmp_path, monkeypatch, capsys):
    from bcl_rec.cli.main import main
    from bcl_rec.config import load_config
    from bcl_rec.data.split import seen_matrix
    from bcl_rec.training.run import train_run, write_run

    monkeypatch.setenv("BCL_REC_CACHE", str(tmp_path / "cache"))
    data = write_presplit_with_unseen_items(tmp_path / "ds")
    config = load_config(None, [
        f"data.name={data}", "data.presplit_policy=miss", "model.dim=8", "train.epochs=3",
        "train.batch_size=32", "train.progress=false", "train.device=cpu",
        "loss.num_negatives=4", "eval.topk=[5, 10]",
    ])
    result = train_run(config)
    split = result.split
    assert split.test_missing[split.user_ids.tolist().index("u7")] == 2  # only misses
    # users 0 and 15 hold out the same unseen item in valid and test: the test row is a repeat
    assert split.test_missing.sum() == 8 and split.valid_missing.sum() == 5
    with torch.no_grad():
        user_emb, item_emb = (e.detach() for e in result.model.embeddings())
    for part, exclude, got in (("test", seen_matrix(split), result.metrics["test"]),
                               ("valid", split.train, result.metrics["valid"])):
        heldout, missing = getattr(split, part), getattr(split, f"{part}_missing")
        with_misses = FullRankingEvaluator(heldout, exclude, topk=(5, 10), missing=missing)
        assert got == with_misses.evaluate(user_emb, item_emb), part
        without = FullRankingEvaluator(heldout, exclude, topk=(5, 10))
        assert got["recall@10"] < without.evaluate(user_emb, item_emb)["recall@10"], part
        scores = (item_emb @ user_emb.T).T.numpy()  # as the evaluator multiplies
        lists = [heldout[u].indices.tolist() for u in range(split.n_users)]
        excl = [exclude[u].indices.tolist() for u in range(split.n_users)]
        want = standard_reference(scores, lists, excl, missing, (5, 10))
        for name, value in got.items():
            assert value == pytest.approx(np.mean([r[name] for _, r in want]), abs=1e-12), name
    out = write_run(result, tmp_path / "run")
    capsys.readouterr()
    assert main(["evaluate", "--run", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["metrics"] == result.metrics["test"] and report["users"] == 24
    assert captured.err.splitlines() == [
        "valid: 5 held-out rows with items not in train kept as misses (policy miss)",
        "test: 8 held-out rows with items not in train kept as misses (policy miss); 2 repeated "
        "rows dropped",
    ]
