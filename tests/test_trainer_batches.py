"""The trainer's chunked sampling equals per-step sampling bit for bit.

:meth:`Trainer.batches` draws the uniforms of many steps at once. The epoch it produces must be
the one that drawing per step (:meth:`Trainer.step`: ``[B, N]`` unlabeled items, then ``[B, M]``
extra positives) gives from the same generator: the same items, and after training the same
weights.
"""

from __future__ import annotations

import pytest
import torch

import bcl_rec.training.trainer as trainer_module
from bcl_rec.losses import build_loss
from bcl_rec.models import build_model
from bcl_rec.training.trainer import Trainer
from tests.test_training import small_config, synthetic_split

CASES = {
    "bcl": ["loss.name=bcl"],
    "dpl-extras": ["loss.name=dpl", "loss.num_extras=3"],
    "bcl-sampled-reference": ["loss.name=bcl", "loss.ecdf_source=catalogue", "loss.ecdf_sample=6"],
    "pcl-vectors": ["loss.name=pcl", "loss.pcl_kappa=norm"],  # reads the gathered rows
}


def make_trainer(split, overrides: list[str]) -> Trainer:
    cfg = small_config(*overrides)
    gen = torch.Generator().manual_seed(cfg.train.seed)
    model = build_model(cfg.model, split.train, generator=gen)
    return Trainer(model, build_loss(cfg.loss, cfg.model.dim), split, cfg.loss, cfg.train,
                   cfg.eval, torch.device("cpu"), gen)


def per_step_epoch(trainer: Trainer) -> None:
    """An epoch the plain way: one sampler call per step, inside :meth:`Trainer.step`."""
    n_pairs = trainer.pair_users.shape[0]
    order = torch.randperm(n_pairs, generator=trainer.generator)
    for start in range(0, n_pairs, trainer.train_cfg.batch_size):
        idx = order[start : start + trainer.train_cfg.batch_size]
        trainer.step(trainer.pair_users[idx], trainer.pair_items[idx])


@pytest.mark.parametrize("draws", [None, 900])  # the whole epoch in one chunk, or several
@pytest.mark.parametrize("case", sorted(CASES))
def test_batches_equal_per_step_draws(monkeypatch, case: str, draws: int | None) -> None:
    if draws is not None:
        monkeypatch.setattr(trainer_module, "DRAWS_PER_CHUNK", draws)
    split = synthetic_split()
    chunked, plain = make_trainer(split, CASES[case]), make_trainer(split, CASES[case])
    n_pairs, bs = chunked.pair_users.shape[0], chunked.train_cfg.batch_size
    assert n_pairs % bs != 0  # the epoch ends with a short batch
    order = torch.randperm(n_pairs, generator=torch.Generator().manual_seed(5))
    cfg = chunked.loss_cfg
    sizes = []
    for k, (users, pos, neg, extra) in enumerate(chunked.batches(order)):  # lazily, as in training
        sizes.append(users.shape[0])
        idx = order[k * bs : (k + 1) * bs]
        assert torch.equal(users, plain.pair_users[idx])
        assert torch.equal(pos, plain.pair_items[idx])
        assert torch.equal(neg, plain.sampler.unlabeled(users, cfg.num_negatives, plain.generator))
        if cfg.num_extras:
            want = plain.sampler.positives(users, cfg.num_extras, plain.generator)
            assert extra is not None and torch.equal(extra, want)
        else:
            assert extra is None
        if cfg.ecdf_sample is not None:  # drawn inside the step, between two steps' items
            chunked.sampler.unlabeled(users, cfg.ecdf_sample, chunked.generator)
            plain.sampler.unlabeled(users, cfg.ecdf_sample, plain.generator)
    assert sizes == [min(bs, n_pairs - start) for start in range(0, n_pairs, bs)]
    assert torch.equal(chunked.generator.get_state(), plain.generator.get_state())


@pytest.mark.parametrize("case", sorted(CASES))
def test_epochs_train_the_same_weights(monkeypatch, case: str) -> None:
    monkeypatch.setattr(trainer_module, "DRAWS_PER_CHUNK", 700)
    split = synthetic_split()
    chunked, plain = make_trainer(split, CASES[case]), make_trainer(split, CASES[case])
    for _ in range(2):
        chunked.train_epoch()
        per_step_epoch(plain)
    for a, b in zip(chunked.model.parameters(), plain.model.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("case", ["bcl", "dpl-extras", "bcl-sampled-reference", "pcl-vectors"])
def test_row_sparse_tables_score_every_batch_as_dense_ones(case: str) -> None:
    """With ``sparse_adam`` the item rows of a step are gathered at once and scored by one
    product (``gather_side_by_side``): the same scores, so the same first loss, as the dense
    tables' separate gathers; the item table gets one sparse gradient holding each batch row's
    positive, negatives and extras, batch row after batch row."""
    split = synthetic_split()
    dense = make_trainer(split, CASES[case])
    sparse = make_trainer(split, [*CASES[case], "train.optimizer=sparse_adam"])
    seen = {}

    def keep(*_: object) -> None:
        seen["grad"] = sparse.model.item_embedding.grad.clone()

    sparse.optimizer.register_step_pre_hook(keep)
    users, pos, neg, extra = next(dense.batches(dense.pair_users.new_tensor(range(64))))
    sparse.generator.set_state(dense.generator.get_state())  # the same sampled reference items
    assert torch.equal(dense.update(users, pos, neg, extra).loss,
                       sparse.update(users, pos, neg, extra).loss)
    columns = [pos.unsqueeze(1), neg] + ([] if extra is None else [extra])
    assert torch.equal(seen["grad"]._indices()[0], torch.cat(columns, 1).reshape(-1))
