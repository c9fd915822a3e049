"""The training loop: sample, score, loss, step; validate; stop early; restore the best weights.

One epoch visits every training (user, positive) pair once, in a seeded random order, in
mini-batches of ``train.batch_size`` pairs; each pair gets ``loss.num_negatives`` unlabeled items
(and ``loss.num_extras`` extra positives) sampled afresh. Everything random draws from one
``torch.Generator`` seeded by ``train.seed``, so CPU runs are bit-reproducible.
"""

from __future__ import annotations

import copy
import itertools
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn, Protocol

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from bcl_rec.data.split import Split
from bcl_rec.evaluation.config import EvalConfig
from bcl_rec.evaluation.ranking import FullRankingEvaluator
from bcl_rec.losses import LossConfig, RecLoss
from bcl_rec.losses.base import LossOutput, NonFiniteScoresError
from bcl_rec.models.base import (
    Recommender,
    gather,
    gather_side_by_side,
    item_scores,
    pair_scores,
    row_sparse,
)
from bcl_rec.sparse import TorchCSR
from bcl_rec.training import distributed
from bcl_rec.training.allocator import retain_freed_memory
from bcl_rec.training.alpha import AlphaController
from bcl_rec.training.config import TrainConfig
from bcl_rec.training.distributed import DistContext, DistributedEmbeddings, mean_over_ranks
from bcl_rec.training.interrupt import RunInterrupted, StopRequest
from bcl_rec.training.optim import build_optimizer
from bcl_rec.training.sampler import UnlabeledSampler

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


class TrainingDiverged(RuntimeError):
    """A non-finite loss, gradient, score or weight; the message names the epoch and step."""

    def __init__(self, epoch: int, step: int, message: str) -> None:
        super().__init__(message)
        self.epoch, self.step = epoch, step


class _SkipStep(Exception):
    """Raised before an optimiser step whose loss or gradient is not finite (skip_step mode)."""


@dataclass
class EpochProgress:
    """The epoch in progress: what :meth:`Trainer.train_epoch` needs to continue it exactly.

    ``generator_at_start`` re-derives the epoch's pair order; ``steps`` (skipped ones included)
    are replayed without training; ``sums`` holds the summed loss and diagnostics so far.
    """

    epoch: int
    generator_at_start: torch.Tensor
    steps: int = 0
    skipped: int = 0
    sums: torch.Tensor | None = None
    names: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "generator_at_start": self.generator_at_start,
            "steps": self.steps,
            "skipped": self.skipped,
            "sums": None if self.sums is None else self.sums.cpu(),
            "names": list(self.names),
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], device: torch.device) -> EpochProgress:
        sums = data["sums"]
        return cls(
            epoch=data["epoch"],
            generator_at_start=data["generator_at_start"],
            steps=data["steps"],
            skipped=data["skipped"],
            sums=None if sums is None else sums.to(device),
            names=list(data["names"]),
            seconds=data["seconds"],
        )


@dataclass
class FitState:
    """Where :meth:`Trainer.fit` stands: epochs done, the best so far, the epoch in progress."""

    epoch: int = 0  # last completed epoch
    best_value: float = -math.inf
    best_epoch: int = 0
    best_valid: dict[str, float] = field(default_factory=dict)
    best_state: dict[str, torch.Tensor] | None = None
    since_best: int = 0  # epochs since the best validation (early-stopping counter)
    history: list[dict[str, float]] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)
    eval_seconds: list[float] = field(default_factory=list)
    partial: EpochProgress | None = None


class FitRecorder(Protocol):
    """Where :meth:`Trainer.fit` sends checkpoints and per-epoch state (a run folder)."""

    def checkpoint(self, state: FitState) -> None: ...

    def epoch_done(self, state: FitState) -> None: ...


class StepValues:
    """Each trained step's loss and diagnostics in one epoch, kept to name a non-finite step.

    Rows of one tensor allocated at the first step, not a tensor per step: small blocks kept
    alive between each step's megabyte temporaries fragmented the heap, and the process grew
    by gigabytes over a 5M-pair epoch (benchmarks/scale.py).
    """

    def __init__(self, capacity: int, device: torch.device) -> None:
        self.capacity, self.device = capacity, device
        self.steps = np.empty(capacity, dtype=np.int64)
        self.values: torch.Tensor | None = None
        self.count = 0

    def add(self, step: int, values: torch.Tensor) -> None:
        if self.values is None:
            shape = (self.capacity, *values.shape)
            self.values = torch.empty(shape, dtype=values.dtype, device=self.device)
        self.values[self.count] = values
        self.steps[self.count] = step
        self.count += 1

    def entries(self) -> list[tuple[int, torch.Tensor]]:
        """``(step, values)`` of every step added, in order."""
        if self.values is None:
            return []
        return [(int(step), self.values[i]) for i, step in enumerate(self.steps[: self.count])]


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
        self.forward = self.model.scoring_embeddings
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
        # a loss with its own parameters (e.g. PCL's concentration heads) is optimised too
        self.optimizer = build_optimizer(self.model, train_cfg, self.loss_fn.parameters())
        self.valid_evaluator = self.evaluator(split.valid, split.train, split.valid_missing)
        self.alpha = AlphaController(self.loss_fn, loss_cfg)
        self._last_loss: torch.Tensor | None = None
        if train_cfg.on_nonfinite == "skip_step":
            self.loss_fn.register_forward_hook(self._remember_loss)
            self.optimizer.register_step_pre_hook(self._refuse_nonfinite_step)

    def _remember_loss(self, module: nn.Module, args: Any, output: LossOutput) -> None:
        self._last_loss = output.loss.detach()

    def _refuse_nonfinite_step(self, optimizer: torch.optim.Optimizer, *_: Any) -> None:
        """skip_step: one finiteness check of the loss and every gradient before each step."""
        params = (p for group in optimizer.param_groups for p in group["params"])
        tensors = [p.grad for p in params if p.grad is not None]
        if self._last_loss is not None:
            tensors.append(self._last_loss)
        if tensors and not bool(torch.stack([t.isfinite().all() for t in tensors]).all()):
            raise _SkipStep

    def evaluator(self, heldout, exclude, missing=None):
        """The evaluator of ``heldout`` against ``exclude``; ``missing`` counts per user the
        held-out items outside the catalogue (misses, see :class:`FullRankingEvaluator`). Under
        torchrun the users are sharded across ranks (rank 0 alone when there are misses)."""

        def build(rows, missing=missing):
            return FullRankingEvaluator(
                rows,
                exclude,
                topk=self.eval_cfg.topk,
                users_per_batch=self.eval_cfg.users_per_batch,
                max_memory_mb=self.eval_cfg.max_memory_mb,
                device=self.device,
                missing=missing,
            )

        if self.dist.enabled:
            no_misses = missing is None or not np.any(missing)
            return distributed.evaluator(
                build, heldout, self.dist, sharded=distributed.SHARD_EVALUATION and no_misses
            )
        return build(heldout)

    def train_epoch(
        self,
        bar: tqdm | None = None,
        progress: EpochProgress | None = None,
        stop: StopRequest | None = None,
    ) -> dict[str, float] | None:
        """One pass over the training pairs; returns the mean loss and loss diagnostics.

        With ``progress`` the epoch continues where that record left it (its steps are replayed
        without training: same order and sampling, then the generator jumps to its saved state);
        the record is updated step by step. When ``stop`` is requested the epoch ends after the
        current step and ``None`` is returned. A diverged step raises :class:`TrainingDiverged`.
        """
        self.model.train()
        if progress is None:
            progress = EpochProgress(epoch=0, generator_at_start=self.generator.get_state())
        resume_state = self.generator.get_state() if progress.steps else None
        if resume_state is not None:
            self.generator.set_state(progress.generator_at_start)
        n_pairs = self.pair_users.shape[0]
        order = torch.randperm(n_pairs, generator=self.generator, device="cpu").to(self.device)
        batches = self.batches(order)
        if resume_state is not None:
            for users, *_ in itertools.islice(batches, progress.steps):
                if bar is not None:
                    bar.update(users.shape[0])
            self.generator.set_state(resume_state)
        # the loss and its diagnostics, summed in float64 on the device: one stack and one add
        # per step, no host round trip; each step's values are kept to name a non-finite one
        seen = StepValues(math.ceil(n_pairs / self.train_cfg.batch_size), self.device)
        for users, pos_items, neg_items, extra_items in batches:
            step = progress.steps + 1
            try:
                out = self.update(users, pos_items, neg_items, extra_items)
            except NonFiniteScoresError as err:
                what = f"the scores became non-finite ({err})"
                raise self.diverged(progress, step, what, seen.entries()) from None
            except _SkipStep:
                progress.steps, progress.skipped = step, progress.skipped + 1
                continue
            values = torch.stack([out.loss.detach(), *(v.detach() for v in out.stats.values())])
            if progress.sums is None:
                progress.names = list(out.stats)
                progress.sums = torch.zeros(values.shape, device=self.device, dtype=torch.float64)
            progress.sums += values
            seen.add(step, values)
            progress.steps = step
            if bar is not None and not bar.disable:
                bar.update(users.shape[0])
                if step % 20 == 0:  # .item() waits for the device: only when shown
                    trained = step - progress.skipped
                    bar.set_postfix(loss=f"{progress.sums[0].item() / trained:.4f}", refresh=False)
            if stop is not None and stop.requested:
                return None
        if progress.sums is None:
            if progress.skipped:
                raise self.diverged(
                    progress,
                    progress.steps,
                    "every step had a non-finite loss or gradient",
                    seen.entries(),
                )
            return {"loss": 0.0}
        sums = progress.sums
        if self.dist.enabled:
            sums = mean_over_ranks(sums)
        means = (sums / (progress.steps - progress.skipped)).tolist()
        if not math.isfinite(means[0]):
            entries = seen.entries()
            finite = [bool(v.isfinite().all()) for _, v in entries]
            bad = finite.index(False) if False in finite else len(entries) - 1
            step = entries[bad][0] if entries else progress.steps
            raise self.diverged(progress, step, "the loss became non-finite", entries[: bad + 1])
        record = {"loss": means[0], **dict(zip(progress.names, means[1:], strict=True))}
        if self.train_cfg.on_nonfinite == "skip_step":
            record["skipped_steps"] = progress.skipped
        return record

    def diverged(
        self,
        progress: EpochProgress,
        step: int,
        what: str,
        seen: list[tuple[int, torch.Tensor]],
    ) -> TrainingDiverged:
        """The error for a diverged run: where, what, the last step's loss diagnostics, a hint."""
        detail = ""
        if seen:
            last_step, values = seen[-1]
            names = ["loss", *progress.names]
            stats = ", ".join(f"{n} {v:.4g}" for n, v in zip(names, values.tolist(), strict=True))
            detail = f"; step {last_step}: {stats}"
        return TrainingDiverged(
            progress.epoch,
            step,
            f"training diverged at epoch {progress.epoch}, step {step}: {what}{detail}; "
            f"lower train.lr (now {self.train_cfg.lr:g})",
        )

    def check_weights(self, progress: EpochProgress) -> None:
        """Raise :class:`TrainingDiverged` when a weight is NaN or +-inf (once per epoch)."""
        finite = torch.stack([p.detach().isfinite().all() for p in self.model.parameters()])
        if not bool(finite.all()):
            raise self.diverged(progress, progress.steps, "the weights became non-finite", [])

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
        for LightGCN, and the cosine normalisation run once here, on the whole tables)."""
        user_emb, item_emb = self.forward()
        u = gather(user_emb, users)
        neg_vecs = None
        if row_sparse(item_emb):  # one gather, one product: the table gets one sparse gradient
            extras = [] if extra_items is None else [extra_items]
            rows = gather_side_by_side(item_emb, pos_items, neg_items, *extras)
            scores = pair_scores(u, rows)
            n = neg_items.shape[1]
            pos, neg = scores[:, 0], scores[:, 1 : 1 + n]
            extra = scores[:, 1 + n :] if extras else None
            pos_vecs, neg_vecs = rows[:, 0], rows[:, 1 : 1 + n]
        else:
            pos_vecs = gather(item_emb, pos_items)
            pos = pair_scores(u, pos_vecs)
            neg = item_scores(u, item_emb, neg_items)
            extra = item_scores(u, item_emb, extra_items) if extra_items is not None else None
        ref = self.reference_scores(users, u, item_emb) if self.loss_fn.uses_reference else None
        inputs = self.loss_inputs(u, item_emb, pos_items, neg_items, pos_vecs, neg_vecs)
        out = self.loss_fn(pos, neg, extra, ref, **inputs)
        self.optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        self.optimizer.step()
        return out

    def loss_inputs(
        self,
        u: torch.Tensor,
        item_emb: torch.Tensor,
        pos_items: torch.Tensor,
        neg_items: torch.Tensor,
        pos_vecs: torch.Tensor,
        neg_vecs: torch.Tensor | None = None,
    ) -> dict[str, tuple[torch.Tensor, ...]]:
        """The item ids and/or embeddings a loss asks for (``needs_items`` / ``needs_vectors``);
        ``pos_vecs`` (and ``neg_vecs`` where there are) are rows already gathered for scores."""
        inputs: dict[str, tuple[torch.Tensor, ...]] = {}
        if self.loss_fn.needs_items:
            inputs["items"] = (pos_items, neg_items)
        if self.loss_fn.needs_vectors:
            if neg_vecs is None:
                neg_vecs = gather(item_emb, neg_items)
            inputs["vectors"] = (u, pos_vecs, neg_vecs)
        return inputs

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
            user_emb, item_emb = self.model.scoring_embeddings()
            return self.valid_evaluator.evaluate(user_emb, item_emb)

    def fit(
        self,
        state: FitState | None = None,
        recorder: FitRecorder | None = None,
        stop: StopRequest | None = None,
        on_epoch: Callable[[dict[str, float]], None] | None = None,
    ) -> FitResult:
        """Train with early stopping on ``eval.metric``; the model ends with the best weights.

        ``state`` continues a run restored by :meth:`restore`. ``recorder`` receives a
        checkpoint every ``train.checkpoint_every`` epochs (and when fitting ends) and the state
        after every epoch. A requested ``stop`` ends training after the current step with a
        checkpoint and :class:`RunInterrupted`. ``on_epoch`` (e.g. a TensorBoard logger) receives
        each epoch's history record.
        """
        cfg = self.train_cfg
        metric = self.eval_cfg.metric
        if state is None:
            state = FitState(best_state=copy.deepcopy(self.model.state_dict()))
        n_pairs = self.pair_users.shape[0]
        while state.epoch < cfg.epochs and state.since_best < cfg.patience:
            epoch = state.epoch + 1
            if stop is not None and stop.requested:
                self.interrupt(state, recorder, stop)
            progress = state.partial or EpochProgress(epoch, self.generator.get_state())
            state.partial = progress
            t0 = time.perf_counter()
            self.alpha.epoch_start(epoch)
            self.loss_fn.on_epoch_start(epoch, self.model, self.generator)
            alpha_used = self.alpha.alpha
            with tqdm(
                total=n_pairs,
                desc=f"epoch {epoch}",
                unit="pair",
                unit_scale=True,
                leave=False,
                file=sys.stderr,
                disable=not (cfg.progress and sys.stderr.isatty()),
            ) as bar:
                record = self.train_epoch(bar, progress, stop)
            progress.seconds += time.perf_counter() - t0
            self.check_weights(progress)
            if record is None:
                self.interrupt(state, recorder, stop)
            train_s = progress.seconds
            state.partial = None
            state.train_seconds.append(train_s)
            record = {"epoch": epoch, **record, "train_seconds": train_s}
            if alpha_used is not None:
                record["alpha"] = alpha_used
            if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
                t1 = time.perf_counter()
                valid = self.validate()
                eval_s = time.perf_counter() - t1
                state.eval_seconds.append(eval_s)
                record.update({f"valid_{k}": v for k, v in valid.items()})
                record["eval_seconds"] = eval_s
                self.alpha.after_validation(valid)
                if valid[metric] > state.best_value:
                    state.best_value, state.best_epoch, state.best_valid = (
                        valid[metric], epoch, valid
                    )
                    state.best_state = copy.deepcopy(self.model.state_dict())
                    state.since_best = 0
                else:
                    state.since_best += cfg.eval_every
                if cfg.progress:
                    tqdm.write(
                        f"epoch {epoch:4d}  loss {record['loss']:.4f}  valid {metric} "
                        f"{valid[metric]:.4f}  best {state.best_value:.4f} "
                        f"(epoch {state.best_epoch})  {train_s:.2f}s + {eval_s:.2f}s",
                        file=sys.stderr,
                    )
            state.history.append(record)
            if on_epoch is not None:
                on_epoch(record)
            state.epoch = epoch
            if recorder is not None:
                ending = epoch == cfg.epochs or state.since_best >= cfg.patience
                every = cfg.checkpoint_every
                if every and (ending or epoch % every == 0):
                    recorder.checkpoint(state)
                recorder.epoch_done(state)
        assert state.best_state is not None
        self.model.load_state_dict(state.best_state)
        return FitResult(
            best_epoch=state.best_epoch,
            best_valid=state.best_valid,
            epochs_run=state.epoch,
            history=state.history,
            train_seconds=state.train_seconds,
            eval_seconds=state.eval_seconds,
        )

    def interrupt(
        self, state: FitState, recorder: FitRecorder | None, stop: StopRequest | None
    ) -> NoReturn:
        """Checkpoint the state reached (unless nothing was trained) and raise RunInterrupted."""
        assert stop is not None and stop.signum is not None
        partial = state.partial
        trained = state.epoch > 0 or (partial is not None and partial.steps > 0)
        if recorder is not None and trained:
            recorder.checkpoint(state)
        epoch, step = (partial.epoch, partial.steps) if partial else (state.epoch, 0)
        raise RunInterrupted(stop.signum, epoch, step, recorder is not None and trained)

    def checkpoint_state(self, state: FitState) -> dict[str, Any]:
        """Everything needed to continue ``state`` bit for bit, as tensors and plain values
        (loadable with ``torch.load(..., weights_only=True)``)."""
        partial = state.partial
        assert state.best_state is not None
        return {
            "epoch": state.epoch,
            "model": _on_cpu(self.model.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "loss": _on_cpu(self.loss_fn.state_dict()),
            "alpha": self.alpha.state_dict(),
            "generator": self.generator.get_state(),
            "best": {
                "value": float(state.best_value),
                "epoch": state.best_epoch,
                "valid": dict(state.best_valid),
                "since": state.since_best,
                "model": _on_cpu(state.best_state),
            },
            "history": [dict(row) for row in state.history],
            "train_seconds": list(state.train_seconds),
            "eval_seconds": list(state.eval_seconds),
            "partial": None if partial is None else partial.to_dict(),
        }

    def restore(self, checkpoint: dict[str, Any]) -> FitState:
        """Load a :meth:`checkpoint_state` into the trainer; returns the fit state to continue."""
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.loss_fn.load_state_dict(checkpoint["loss"])
        self.alpha.load_state_dict(checkpoint["alpha"])
        self.generator.set_state(checkpoint["generator"])
        best = checkpoint["best"]
        device_state = {k: v.to(self.device) for k, v in best["model"].items()}
        partial = checkpoint["partial"]
        return FitState(
            epoch=checkpoint["epoch"],
            best_value=best["value"],
            best_epoch=best["epoch"],
            best_valid=dict(best["valid"]),
            best_state=device_state,
            since_best=best["since"],
            history=[dict(row) for row in checkpoint["history"]],
            train_seconds=list(checkpoint["train_seconds"]),
            eval_seconds=list(checkpoint["eval_seconds"]),
            partial=None if partial is None else EpochProgress.from_dict(partial, self.device),
        )

    def test(self) -> dict[str, float]:
        """Test metrics with train and validation items excluded from the candidates."""
        exclude = (self.split.train + self.split.valid).tocsr()
        exclude.data[:] = 1.0
        evaluator = self.evaluator(self.split.test, exclude, self.split.test_missing)
        self.model.eval()
        with torch.no_grad():
            user_emb, item_emb = self.model.scoring_embeddings()
            return evaluator.evaluate(user_emb, item_emb)


def median(values: list[float]) -> float:
    return float(np.median(values)) if values else float("nan")


def _on_cpu(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in state.items()}
