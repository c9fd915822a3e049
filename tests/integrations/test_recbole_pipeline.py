"""The adapter on real RecBole batches of ml-100k, and one short end-to-end RecBole run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("recbole")

from recbole.data import create_dataset, data_preparation  # noqa: E402

from bcl_rec.cli.main import main  # noqa: E402
from bcl_rec.integrations.recbole import (  # noqa: E402
    BCLMF,
    BCLLightGCN,
    Trainer,
    build_config,
    load_checkpoint,
    load_data_and_model,
    pairwise_rows,
)
from bcl_rec.integrations.recbole.data import ML100K_HEADER, build_ml100k, packaged_ml100k  # noqa: E402
from bcl_rec.losses import LossConfig, build_loss  # noqa: E402
from bcl_rec.models.base import pair_scores  # noqa: E402
from bcl_rec.training.sampler import UnlabeledSampler  # noqa: E402

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "recbole" / "ml-100k-loo.yaml"
N = 4


@pytest.fixture(scope="module")
def loaders():
    config = build_config(
        "BCLMF",
        "ml-100k",
        config_dict={"train_batch_size": 128 * N, "train_neg_sample_args": {"sample_num": N}},
        config_file_list=[CONFIG],
    )
    dataset = create_dataset(config)
    train, valid, test = data_preparation(config, dataset)
    return config, train


@pytest.fixture(scope="module")
def batch(loaders):
    _, train = loaders
    return next(iter(train))


def _model(cls, config, train, **settings):
    saved = {k: config[k] for k in settings}
    for key, value in settings.items():
        config[key] = value
    try:
        return cls(config, train._dataset)
    finally:
        for key, value in saved.items():
            config[key] = value


def _scores(model, users, pos_items, neg_items, extra_items=None):
    """The scores bcl-rec's trainer would compute (same primitives, so bitwise the same)."""
    user_emb, item_emb = model.backbone.embeddings()
    u = user_emb[users]
    pos = pair_scores(u, item_emb[pos_items])
    neg = pair_scores(u, item_emb[neg_items])
    extra = None if extra_items is None else pair_scores(u, item_emb[extra_items])
    return pos, neg, extra


def test_recbole_batch_is_n_blocks_of_b_positives(loaders, batch):
    config, train = loaders
    uid, iid = config["USER_ID_FIELD"], config["ITEM_ID_FIELD"]
    neg_id = config["NEG_PREFIX"] + iid
    users, pos_items, neg_items = pairwise_rows(batch[uid], batch[iid], batch[neg_id], N)
    b = users.shape[0]
    assert len(batch) == N * b and b == 128 and neg_items.shape == (b, N)
    seen = train._dataset.inter_matrix(form="csr")
    rows = users.numpy()[:, None].repeat(N, 1)
    assert seen[users.numpy().copy(), pos_items.numpy().copy()].min() == 1  # train items
    assert int(neg_items.min()) >= 1  # never RecBole's padding item
    hits = seen[rows, neg_items.numpy().copy()]
    assert hits.sum() == 0  # every negative is unlabeled for ITS user
    wrong = batch[neg_id].view(b, N)  # the tempting but wrong reading of the rows
    assert seen[rows, wrong.numpy().copy()].sum() > 0


@pytest.mark.parametrize(
    ("model", "settings", "expected"),
    [
        ("BCLMF", {}, 10),  # bcl-rec's default N
        ("BCLMF", {"loss": {"num_negatives": 3}}, 3),  # copied from the loss
        ("BCLMF", {"train_neg_sample_args": {"sample_num": 2}}, 2),  # RecBole's setting wins
        ("BPR", {}, 1),  # RecBole's own models keep RecBole's default
    ],
)
def test_build_config_fills_defaults_and_n(model, settings, expected):
    config = build_config(model, "ml-100k", config_dict=settings)
    assert config["train_neg_sample_args"]["sample_num"] == expected
    assert config["train_neg_sample_args"]["distribution"] == "uniform"
    if model == "BCLMF":
        assert config["embedding_size"] == 64 and config["init"] == "xavier"
    assert Path(config["data_path"], "ml-100k.inter").is_file()


def test_build_config_refuses_inconsistent_n_before_loading_data():
    settings = {"loss": {"num_negatives": 5}, "train_neg_sample_args": {"sample_num": 3}}
    with pytest.raises(ValueError, match="sample_num = 3"):
        build_config("BCLMF", "ml-100k", config_dict=settings)


@pytest.mark.parametrize(
    "loss",
    [
        {"name": "bpr"},
        {"name": "bcl", "alpha": 0.9, "beta": 1.0, "ecdf": "mid"},
        {"name": "bcl", "ecdf_source": "catalogue"},
        {"name": "bcl-nce"},
        {"name": "dcl"},
        {"name": "hcl"},
        {"name": "ssm"},
        {"name": "dpl", "num_extras": 3},
    ],
    ids=lambda d: "-".join(str(v) for v in d.values()),
)
def test_adapter_loss_equals_bcl_rec_loss_on_the_same_scores(loaders, batch, loss):
    config, train = loaders
    torch.manual_seed(0)
    model = _model(BCLMF, config, train, loss=loss)
    users, pos_items, neg_items = pairwise_rows(
        batch[model.USER_ID], batch[model.ITEM_ID], batch[model.NEG_ITEM_ID], N
    )
    got = model.calculate_loss(batch)

    extra_items = None
    if loss.get("num_extras"):
        sampler = UnlabeledSampler(model.train_matrix)
        gen = torch.Generator().manual_seed(model.seed)
        extra_items = sampler.positives(users, loss["num_extras"], gen)
    pos, neg, extra = _scores(model, users, pos_items, neg_items, extra_items)
    loss_fn = build_loss(LossConfig.from_dict({**loss, "num_negatives": N}))
    ref = None
    if loss_fn.uses_reference:
        user_emb, item_emb = model.backbone.embeddings()
        ref = (user_emb[users] @ item_emb.T).detach()
        ref[model.train_matrix[users.numpy()].toarray() > 0] = math.inf
        ref[:, 0] = math.inf
    want = loss_fn(pos, neg, extra, ref).loss
    assert torch.isfinite(got)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_lightgcn_scores_and_loss(loaders, batch):
    config, train = loaders
    model = _model(BCLLightGCN, config, train, n_layers=1, loss={"name": "bpr"})
    users, pos_items, neg_items = pairwise_rows(
        batch[model.USER_ID], batch[model.ITEM_ID], batch[model.NEG_ITEM_ID], N
    )
    pos, neg, _ = _scores(model, users, pos_items, neg_items)
    want = build_loss(LossConfig(name="bpr", num_negatives=N))(pos, neg).loss
    torch.testing.assert_close(model.calculate_loss(batch), want)
    model.eval()
    with torch.no_grad():
        scores = model.full_sort_predict(batch).view(-1, model.n_items)
        user_emb, item_emb = model.backbone.embeddings()
    torch.testing.assert_close(scores, user_emb[batch[model.USER_ID]] @ item_emb.T)
    assert model.predict(batch).shape == (len(batch),)


def test_grouplens_folder_builds_recbole_atomic_file(ml100k, tmp_path):
    folder = build_ml100k(ml100k, tmp_path)
    built = (folder / "ml-100k.inter").read_bytes()
    assert built.startswith(ML100K_HEADER)
    bundled = packaged_ml100k()
    if bundled is not None:
        assert built == (bundled / "ml-100k.inter").read_bytes()


@pytest.mark.slow
def test_one_epoch_run_and_its_checkpoint_reload(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # RecBole writes log/ and log_tensorboard/ here
    out = tmp_path / "run"
    code = main([
        "recbole", "--model", "BCLMF", "--dataset", "ml-100k", "--config-file", str(CONFIG),
        "--set", "epochs=1", "--set", "train_neg_sample_args.sample_num=2",
        "--set", "train_batch_size=4096", "--set", "loss.name=bcl", "--out", str(out),
    ])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["best_epoch"] == 1 and metrics["epochs"] == 1
    assert set(metrics["test"]) == {f"{m}@{k}" for m in ("recall", "ndcg", "mrr", "hit")
                                    for k in (10, 20)}
    assert 0.0 <= metrics["test"]["ndcg@10"] <= 1.0
    assert set(metrics["seconds"]) == {"train_epoch_median", "eval_median", "total"}

    checkpoint = load_checkpoint(printed["checkpoint"])  # weights_only=True
    assert checkpoint["config"]["model"] == "BCLMF"

    config, model, _, _, _, test_data = load_data_and_model(printed["checkpoint"])
    assert isinstance(model, BCLMF) and model.num_negatives == 2
    for key, value in checkpoint["state_dict"].items():
        assert torch.equal(model.state_dict()[key], value)
    again = Trainer(config, model).evaluate(test_data, load_best_model=False)
    for key, value in metrics["test"].items():
        assert float(again[key]) == pytest.approx(value, abs=1e-9)


def test_bclmf_bpr_trains_step_for_step_like_recbole_bpr(loaders):
    """Same seed, same RecBole batches: BCLMF(bpr) starts from BPR's weights and stays equal."""
    from recbole.model.general_recommender import BPR
    from recbole.utils import init_seed

    config, train = loaders
    init_seed(config["seed"], True)
    ours = _model(BCLMF, config, train, loss={"name": "bpr"})
    init_seed(config["seed"], True)
    theirs = BPR(config, train._dataset)
    assert torch.equal(ours.backbone.user_embedding, theirs.user_embedding.weight)
    assert torch.equal(ours.backbone.item_embedding, theirs.item_embedding.weight)
    opt_ours = torch.optim.Adam(ours.parameters(), lr=1e-3)
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=1e-3)
    for step, batch in enumerate(train):
        if step == 10:
            break
        for model, opt in ((ours, opt_ours), (theirs, opt_theirs)):
            loss = model.calculate_loss(batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
        torch.testing.assert_close(
            ours.backbone.item_embedding, theirs.item_embedding.weight, rtol=0, atol=1e-5
        )
    torch.testing.assert_close(
        ours.backbone.user_embedding, theirs.user_embedding.weight, rtol=0, atol=1e-5
    )


def test_cosine_score_setting_trains_and_ranks_by_cosine(loaders, batch):
    config, train = loaders
    model = _model(BCLMF, config, train, score="cosine", loss={"name": "ssm", "temperature": 0.2})
    assert model.backbone.score_kind == "cosine"
    users, pos_items, neg_items = pairwise_rows(
        batch[model.USER_ID], batch[model.ITEM_ID], batch[model.NEG_ITEM_ID], N
    )
    user_emb, item_emb = model.backbone.embeddings()
    u, i = F.normalize(user_emb, dim=-1), F.normalize(item_emb, dim=-1)
    pos = (u[users] * i[pos_items]).sum(-1)
    neg = (u[users].unsqueeze(1) * i[neg_items]).sum(-1)
    want = build_loss(LossConfig(name="ssm", num_negatives=N, temperature=0.2))(pos, neg).loss
    torch.testing.assert_close(model.calculate_loss(batch), want)
    model.eval()
    with torch.no_grad():
        scores = model.full_sort_predict(batch).view(-1, model.n_items)
    torch.testing.assert_close(scores, (u[batch[model.USER_ID]] @ i.T).detach())
    assert bool((scores.abs() <= 1 + 1e-6).all())
