"""The training loop: sample, score, loss, step; validate; stop early; restore the best weights.

One epoch visits every training (user, positive) pair once, in a seeded random order, in
mini-batches of ``train.batch_size`` pairs; each pair gets ``loss.num_negatives`` unlabeled items
(and ``loss.num_extras`` extra positives) sampled afresh. Everything random draws from one
``torch.Generator`` seeded by ``train.seed``, so CPU runs are bit-reproducible.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from bcl_rec.data.sampler import UnlabeledSampler
from bcl_rec.data.split import Split
from bcl_rec.evaluation.config import EvalConfig
from bcl_rec.evaluation.ranking import FullRankingEvaluator
from bcl_rec.losses import LossConfig, RecLoss
from bcl_rec.models.base import Recommender, gather, pair_scores
from bcl_rec.sparse import TorchCSR
from bcl_rec.training import distributed
from bcl_rec.training.allocator import retain_freed_memory
from bcl_rec.training.alpha import AlphaController
from bcl_rec.training.config import TrainConfig
from bcl_rec.training.distributed import DistContext, DistributedEmbeddings, mean_over_ranks
from bcl_rec.training.optim import build_optimizer

# uniforms drawn at once by Trainer.batches (16 MB of float64): ML-100K's epoch in one draw
DRAWS_PER_CHUNK = 2**21

# users [B], positives [B], unlabeled items [B, N], extra positives [B, M] or None
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]


@dataclass
class FitResult:
    """What :meth:`Trainer.fit` learned: the best epoch, its validation metrics, the history."""

    best_epoch: int
    best_valid: dict[str, float]
    epochs_run: int
    history: list[dict[str, float]] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)
    eval_seconds: list[float] = field(default_factory=list)


class Trainer:
    """Trains ``model`` with ``loss_fn`` on ``split.train``; early-stops on ``split.valid``."""

    def __init__(
        self,
        model: Recommender,
        loss_fn: RecLoss,
        split: Split,
        loss_cfg: LossConfig,
        train_cfg: TrainConfig,
        eval_cfg: EvalConfig,
        device: torch.device,
        generator: torch.Generator,
        dist: DistContext | None = None,
    ) -> None:
        if train_cfg.retain_memory:
            retain_freed_memory()
        self.model = model.to(device)
        # data-parallel: this rank's rows of each batch (batches), DDP-reduced gradients (forward)
        self.dist = dist if dist is not None else DistContext()
        self.forward = self.model.embeddings
        if self.dist.enabled:
            self.forward = DistributedEmbeddings(self.model, device)
        self.loss_fn = loss_fn.to(device)
        self.split = split
        self.loss_cfg, self.train_cfg, self.eval_cfg = loss_cfg, train_cfg, eval_cfg
        self.device = device
        self.generator = generator
        self.sampler = UnlabeledSampler(split.train, device)
        users, items = split.train_pairs()
        self.pair_users = torch.as_tensor(users, device=device)
        self.pair_items = torch.as_tensor(items, device=device)
        self.train_csr = TorchCSR(split.train, device)
        self.optimizer = build_optimizer(self.model, train_cfg)
        self.valid_evaluator = self.evaluator(split.valid, split.train)
        self.alpha = AlphaController(self.loss_fn, loss_cfg)

    def evaluator(self, heldout, exclude) -> FullRankingEvaluator:
        def build(heldout):
            return FullRankingEvaluator(
                heldout,
                exclude,
                topk=self.eval_cfg.topk,
                users_per_batch=self.eval_cfg.users_per_batch,
                max_memory_mb=self.eval_cfg.max_memory_mb,
                device=self.device,
            )

        if self.dist.enabled:
            return distributed.evaluator(build, heldout, self.dist)
        return build(heldout)

    def train_epoch(self, bar: tqdm | None = None) -> dict[str, float]:
        """One pass over the training pairs; returns the mean loss and loss diagnostics."""
        self.model.train()
        n_pairs = self.pair_users.shape[0]
        order = torch.randperm(n_pairs, generator=self.generator, device="cpu").to(self.device)
        # the loss and its diagnostics, summed in float64 on the device: one stack and one add
        # per step, no host round trip
        sums: torch.Tensor | None = None
        names: list[str] = []
        steps = 0
        for users, pos_items, neg_items, extra_items in self.batches(order):
            out = self.update(users, pos_items, neg_items, extra_items)
            values = torch.stack([out.loss.detach(), *(v.detach() for v in out.stats.values())])
            if sums is None:
                names = list(out.stats)
                sums = torch.zeros(values.shape, device=self.device, dtype=torch.float64)
            sums += values
            steps += 1
            if bar is not None and not bar.disable:
                bar.update(users.shape[0])
                if steps % 20 == 0:  # .item() waits for the device: only when shown
                    bar.set_postfix(loss=f"{sums[0].item() / steps:.4f}", refresh=False)
        if sums is None:
            return {"loss": 0.0}
        if self.dist.enabled:
            sums = mean_over_ranks(sums)
        means = (sums / steps).tolist()
        return {"loss": means[0], **dict(zip(names, means[1:], strict=True))}

    def batches(self, order: torch.Tensor) -> Iterator[Batch]:
        """The epoch's batches of ``order`` (pair indices) with their sampled items.

        Items are drawn for up to ``DRAWS_PER_CHUNK`` uniforms at a time: one ``[K, B * (N + M)]``
        draw serves K steps. It consumes the generator exactly as K per-step draws of ``[B, N]``
        then ``[B, M]`` would, so the batches equal :meth:`step`'s sampling bit for bit, while the
        per-step indexing and sampling overhead is paid once per chunk. With a sampled reference
        (``loss.ecdf_sample``, drawn inside :meth:`update`) a chunk is one step, to keep the order.
        """
        bs = self.train_cfg.batch_size
        n_neg, n_extra = self.loss_cfg.num_negatives, self.loss_cfg.num_extras
        width = n_neg + n_extra
        per_chunk = 1 if self.loss_cfg.ecdf_sample is not None else DRAWS_PER_CHUNK // (bs * width)
        chunk = max(1, per_chunk) * bs
        n_pairs = order.shape[0]
        for lo in range(0, n_pairs, chunk):
            hi = min(lo + chunk, n_pairs)
            full = (hi - lo) // bs  # whole batches; only the epoch's last chunk has a short one
            parts = [(lo, full, bs)] if full else []
            if lo + full * bs < hi:
                parts.append((lo + full * bs, 1, hi - lo - full * bs))
            for start, count, size in parts:
                idx = order[start : start + count * size]
                uniform = self.sampler.uniform((count, size * width), self.generator)
                u_neg = uniform[:, : size * n_neg].reshape(count * size, n_neg)
                u_extra = uniform[:, size * n_neg :].reshape(count * size, n_extra)
                if self.dist.enabled:  # every rank drew the global chunk: keep this rank's rows
                    idx, u_neg, u_extra, size = self.rank_rows(idx, u_neg, u_extra, count, size)
                users, pos_items = self.pair_users[idx], self.pair_items[idx]
                neg_items = self.sampler.unlabeled_at(users, u_neg)
                extra_items = self.sampler.positives_at(users, u_extra) if n_extra > 0 else None
                for k in range(0, count * size, size):
                    yield (
                        users[k : k + size],
                        pos_items[k : k + size],
                        neg_items[k : k + size],
                        None if extra_items is None else extra_items[k : k + size],
                    )

    def rank_rows(
        self, idx: torch.Tensor, u_neg: torch.Tensor, u_extra: torch.Tensor, count: int, size: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        """This rank's rows of ``count`` global batches of ``size`` rows (pair indices and their
        uniform draws), its batch size, and its gradient share set on the DDP hook."""
        rows, share = self.dist.batch_rows(size)
        self.forward.set_share(share)
        local = rows.stop - rows.start

        def pick(x: torch.Tensor) -> torch.Tensor:
            rest = x.shape[1:]
            return x.reshape(count, size, *rest)[:, rows].reshape(count * local, *rest)

        return pick(idx), pick(u_neg), pick(u_extra), local

    def step(self, users: torch.Tensor, pos_items: torch.Tensor):
        """One optimisation step on a batch of (user, positive) pairs."""
        neg_items, extra_items = self.sample(users)
        return self.update(users, pos_items, neg_items, extra_items)

    def sample(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``[B, N]`` unlabeled items and ``[B, M]`` extra positives (None when M = 0), drawn
        on the training device."""
        cfg = self.loss_cfg
        neg_items = self.sampler.unlabeled(users, cfg.num_negatives, self.generator)
        extra_items = (
            self.sampler.positives(users, cfg.num_extras, self.generator)
            if cfg.num_extras > 0
            else None
        )
        return neg_items, extra_items

    def update(
        self,
        users: torch.Tensor,
        pos_items: torch.Tensor,
        neg_items: torch.Tensor,
        extra_items: torch.Tensor | None = None,
    ):
        """Score, loss, backward and optimiser step for given items (the model's propagation,
        for LightGCN, runs once here)."""
        user_emb, item_emb = self.forward()
        u = gather(user_emb, users)
        pos = pair_scores(u, gather(item_emb, pos_items))
        neg = pair_scores(u, gather(item_emb, neg_items))
        extra = pair_scores(u, gather(item_emb, extra_items)) if extra_items is not None else None
        ref = self.reference_scores(users, u, item_emb) if self.loss_fn.uses_reference else None
        out = self.loss_fn(pos, neg, extra, ref)
        self.optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        self.optimizer.step()
        return out

    @torch.no_grad()
    def reference_scores(
        self, users: torch.Tensor, u: torch.Tensor, item_emb: torch.Tensor
    ) -> torch.Tensor:
        """Scores for the catalogue ECDF: K sampled unlabeled items, or all with positives +inf."""
        u, item_emb = u.detach(), item_emb.detach()
        if self.loss_cfg.ecdf_sample is not None:
            items = self.sampler.unlabeled(users, self.loss_cfg.ecdf_sample, self.generator)
            return pair_scores(u, item_emb[items])
        scores = u @ item_emb.T
        rows, cols, _ = self.train_csr.rows_of(users)
        scores[rows, cols] = math.inf
        return scores

    def validate(self) -> dict[str, float]:
        self.model.eval()
        with torch.no_grad():
            user_emb, item_emb = self.model.embeddings()
            return self.valid_evaluator.evaluate(user_emb, item_emb)

    def fit(self) -> FitResult:
        """Train with early stopping on ``eval.metric``; the model ends with the best weights."""
        cfg = self.train_cfg
        metric = self.eval_cfg.metric
        best_value, best_epoch, best_valid = -math.inf, 0, {}
        best_state = copy.deepcopy(self.model.state_dict())
        result = FitResult(best_epoch=0, best_valid={}, epochs_run=0)
        since_best = 0
        n_pairs = self.pair_users.shape[0]
        for epoch in range(1, cfg.epochs + 1):
            t0 = time.perf_counter()
            self.alpha.epoch_start(epoch)
            alpha_used = self.alpha.alpha
            with tqdm(
                total=n_pairs,
                desc=f"epoch {epoch}",
                unit="pair",
                unit_scale=True,
                leave=False,
                disable=not cfg.progress,
            ) as bar:
                record = self.train_epoch(bar)
            if not math.isfinite(record["loss"]):
                raise FloatingPointError(f"training loss became {record['loss']} at epoch {epoch}")
            train_s = time.perf_counter() - t0
            result.train_seconds.append(train_s)
            record = {"epoch": epoch, **record, "train_seconds": train_s}
            if alpha_used is not None:
                record["alpha"] = alpha_used
            if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
                t1 = time.perf_counter()
                valid = self.validate()
                eval_s = time.perf_counter() - t1
                result.eval_seconds.append(eval_s)
                record.update({f"valid_{k}": v for k, v in valid.items()})
                record["eval_seconds"] = eval_s
                self.alpha.after_validation(valid)
                if valid[metric] > best_value:
                    best_value, best_epoch, best_valid = valid[metric], epoch, valid
                    best_state = copy.deepcopy(self.model.state_dict())
                    since_best = 0
                else:
                    since_best += cfg.eval_every
                if cfg.progress:
                    tqdm.write(
                        f"epoch {epoch:4d}  loss {record['loss']:.4f}  valid {metric} "
                        f"{valid[metric]:.4f}  best {best_value:.4f} (epoch {best_epoch})  "
                        f"{train_s:.2f}s + {eval_s:.2f}s"
                    )
            result.history.append(record)
            result.epochs_run = epoch
            if since_best >= cfg.patience:
                break
        self.model.load_state_dict(best_state)
        result.best_epoch, result.best_valid = best_epoch, best_valid
        return result

    def test(self) -> dict[str, float]:
        """Test metrics with train and validation items excluded from the candidates."""
        exclude = (self.split.train + self.split.valid).tocsr()
        exclude.data[:] = 1.0
        evaluator = self.evaluator(self.split.test, exclude)
        self.model.eval()
        with torch.no_grad():
            user_emb, item_emb = self.model.embeddings()
            return evaluator.evaluate(user_emb, item_emb)


def median(values: list[float]) -> float:
    return float(np.median(values)) if values else float("nan")
