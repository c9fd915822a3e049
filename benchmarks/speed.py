"""Speed of bcl-rec's sampler, training epoch and full-ranking evaluation, next to baselines.

    python benchmarks/speed.py [--quick] [--json FILE] [--markdown FILE] [--device cpu|cuda]
        [--threads N] [--datasets ml-100k yelp2018-lightgcn-test] [--data-dir DIR]

Every number comes from this one run, on one device and thread count. For each task and dataset:

- ``bcl-rec``: this package (device sampler, :class:`Trainer`, :class:`FullRankingEvaluator`).
- ``reference-sampler``: negatives drawn per row in Python (``random.randint`` + rejection
  against a ``set`` of the user's positives) and batched by a ``DataLoader``, then the *same*
  model/loss/optimiser step (:mod:`reference_sampler`), like the debiased-loss papers' code.
- ``recbole``: RecBole 1.2.1 on the same data (RecBole's own data loaders, sampler and
  full-sort evaluator; training rows use bcl-rec's BCL loss inside RecBole via
  ``bcl_rec.integrations.recbole``). Only when ``import recbole`` works in this interpreter.
- ``floor``: the bare products the task needs, timed here:
  ``sample``: drawing the same ``[B, N]`` item indices with ``torch.randint`` (no exclusion);
  ``train-epoch-*``: per step the embedding gathers of ``B`` users and ``B x (1 + N)`` items,
  their dot products and ``.sum().backward()`` into the embedding tables (plus LightGCN's
  propagation, forward and backward) -- no sampling, loss or optimiser;
  ``eval-all-users``: the score products ``item_emb @ user_emb[tile].T`` for all users in the
  fastest tile width tried -- no masking, counting or metrics.

JSON rows are ``{"task", "dataset", "impl", "seconds", "peak_mb"}`` with task in ``sample``,
``train-epoch-mf-bcl``, ``train-epoch-lightgcn-bcl``, ``eval-all-users``; the Markdown table also
lists BPR epochs (``train-epoch-*-bpr``) and throughputs. ``peak_mb`` is the peak extra memory of
the timed call: the CUDA allocator's peak, or on the CPU the rise of the process's resident-set
high-water mark (an upper bound that includes Python objects and allocator slack).
The BCL epochs of bcl-rec and of the reference pipeline are timed in turns (bcl-rec, reference,
bcl-rec, ...; at least three each, also with ``--quick``), so that background load that comes and
goes during the run slows both alike; each row is the median of its turns.
Otherwise ``--quick`` times one repetition (evaluations: the median of three), ``sample`` on
50,000 rows and at most 100 steps of an epoch, scaled to the whole epoch; the default times whole
epochs and takes the median of three.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_sampler import ReferencePairs, reference_epoch, reference_loader  # noqa: E402

from bcl_rec.config import load_config  # noqa: E402
from bcl_rec.data.load import load_split  # noqa: E402
from bcl_rec.data.split import (
    Split,  # noqa: E402
    seen_matrix,  # noqa: E402
)
from bcl_rec.evaluation.memory import peak_memory  # noqa: E402
from bcl_rec.evaluation.ranking import FullRankingEvaluator  # noqa: E402
from bcl_rec.losses import build_loss  # noqa: E402
from bcl_rec.models import build_model  # noqa: E402
from bcl_rec.models.base import gather, pair_scores  # noqa: E402
from bcl_rec.training.sampler import UnlabeledSampler  # noqa: E402
from bcl_rec.training.trainer import Trainer  # noqa: E402

JSON_TASKS = ("sample", "train-epoch-mf-bcl", "train-epoch-lightgcn-bcl", "eval-all-users")
IMPLS = ("bcl-rec", "reference-sampler", "recbole", "floor")
DATASETS = ("ml-100k", "yelp2018-lightgcn-test")
N_NEG, BATCH, DIM = 10, 1024, 64
EVAL_BUDGET_MB = 256.0
EVAL_REPEATS = 3  # evaluations are short: always the median of three, --quick too
QUICK_STEPS = 100  # --quick times this many steps of longer epochs and scales to the epoch
PAIRED = 3  # bcl-rec vs reference epochs: at least this many turns each, --quick too


@dataclass
class Row:
    task: str
    dataset: str
    impl: str
    seconds: float
    peak_mb: float | None
    note: str = ""
    rows: int | None = None  # work items (pairs sampled) behind `seconds`, for throughputs

    def record(self) -> dict[str, Any]:
        peak = None if self.peak_mb is None else round(self.peak_mb, 2)
        return {"task": self.task, "dataset": self.dataset, "impl": self.impl,
                "seconds": round(self.seconds, 6), "peak_mb": peak}


@dataclass
class Bench:
    """Settings shared by every measurement of the run."""

    device: torch.device
    repeats: int
    quick: bool
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def once(self, fn: Callable[[], Any], setup: Callable[[], Any] | None = None
             ) -> tuple[float, float | None]:
        """Seconds of one call, and its peak extra memory (MB)."""
        if setup is not None:
            setup()
        self.sync()

        def timed() -> float:
            start = time.perf_counter()
            fn()
            self.sync()
            return time.perf_counter() - start

        seconds, peak = peak_memory(timed, self.device)
        return seconds, (None if peak is None else peak / 2**20)

    def measure(self, fn: Callable[[], Any], setup: Callable[[], Any] | None = None,
                repeats: int | None = None) -> tuple[float, float | None]:
        """Median seconds over the repeats, and the largest peak extra memory (MB)."""
        return summarise([self.once(fn, setup) for _ in range(repeats or self.repeats)])

    def add(self, task: str, dataset: str, impl: str, fn: Callable[[], Any], note: str = "",
            rows: int | None = None, setup: Callable[[], Any] | None = None,
            scale: float = 1.0, repeats: int | None = None) -> Row:
        """Time ``fn``; ``scale`` extrapolates a timed part of the work to the whole task."""
        return self.record(task, dataset, impl, self.measure(fn, setup, repeats), note, rows,
                           scale)

    def add_alternating(self, task: str, dataset: str,
                        impls: list[tuple[str, Callable[[], Any], str]], rows: int | None,
                        scale: float, repeats: int) -> None:
        """Time several implementations of one task in turns (A, B, A, B, ...), so that a
        change in background load over the run hits all of them alike; median of each."""
        runs: list[list[tuple[float, float | None]]] = [[] for _ in impls]
        for _ in range(repeats):
            for k, (_, fn, _) in enumerate(impls):
                runs[k].append(self.once(fn))
        for (impl, _, note), measured in zip(impls, runs, strict=True):
            self.record(task, dataset, impl, summarise(measured), note, rows, scale)

    def record(self, task: str, dataset: str, impl: str, measured: tuple[float, float | None],
               note: str, rows: int | None, scale: float) -> Row:
        seconds, peak = measured
        row = Row(task, dataset, impl, seconds * scale, peak, note, rows)
        seconds = row.seconds
        self.rows.append(row)
        peak_text = "-" if peak is None else f"{peak:.1f} MB"
        print(f"  {task:<26} {impl:<18} {seconds:9.3f} s  {peak_text:>10}  {note}",
              file=sys.stderr, flush=True)
        return row


def summarise(measured: list[tuple[float, float | None]]) -> tuple[float, float | None]:
    """Median seconds and largest peak (MB) of repeated calls."""
    peaks = [peak for _, peak in measured if peak is not None]
    return statistics.median(t for t, _ in measured), (max(peaks) if peaks else None)


# --- sampling -------------------------------------------------------------------------------


def bench_sample(b: Bench, name: str, split: Split) -> None:
    users_all, _ = split.train_pairs()
    n_rows = min(len(users_all), 50_000) if b.quick else len(users_all)
    order = np.random.default_rng(0).permutation(len(users_all))[:n_rows]
    users = torch.as_tensor(users_all[order], device=b.device)
    sampler = UnlabeledSampler(split.train, b.device)
    gen = torch.Generator(device=b.device).manual_seed(0)

    def ours() -> None:
        for start in range(0, n_rows, BATCH):
            sampler.unlabeled(users[start : start + BATCH], N_NEG, gen)

    def floor() -> None:
        for start in range(0, n_rows, BATCH):
            rows = users[start : start + BATCH].shape[0]
            torch.randint(0, split.n_items, (rows, N_NEG), generator=gen, device=b.device)

    dataset = ReferencePairs(split.train, N_NEG, seed=0)
    loader = DataLoader(Subset(dataset, order.tolist()), batch_size=BATCH, num_workers=0)

    def reference() -> None:
        for _, _, neg, _ in loader:
            neg.to(b.device)

    what = f"{n_rows} rows x N={N_NEG}"
    b.add("sample", name, "bcl-rec", ours, what, n_rows)
    b.add("sample", name, "reference-sampler", reference, what + ", DataLoader batches", n_rows)
    b.add("sample", name, "floor", floor, what + ", torch.randint (no exclusion)", n_rows)


# --- training -------------------------------------------------------------------------------


def make_trainer(split: Split, model: str, loss: str, device: torch.device) -> Trainer:
    cfg = load_config(None, [f"model.name={model}", f"loss.name={loss}",
                             f"loss.num_negatives={N_NEG}", f"train.batch_size={BATCH}",
                             f"model.dim={DIM}", "train.progress=false"])
    gen = torch.Generator().manual_seed(cfg.train.seed)
    net = build_model(cfg.model, split.train, generator=gen)
    sample_gen = gen if device.type == "cpu" else torch.Generator(device=device).manual_seed(0)
    return Trainer(net, build_loss(cfg.loss), split, cfg.loss, cfg.train, cfg.eval, device,
                   sample_gen)


def warm_up(trainer: Trainer, steps: int = 3) -> None:
    """A few steps first, so one-off initialisation is not timed."""
    users, items = trainer.pair_users[: steps * BATCH], trainer.pair_items[: steps * BATCH]
    for start in range(0, users.shape[0], BATCH):
        trainer.step(users[start : start + BATCH], items[start : start + BATCH])


def floor_epoch(trainer: Trainer, gen: torch.Generator, steps: int) -> Callable[[], None]:
    """The bare gathers, products and backward of ``steps`` steps (indices drawn beforehand)."""
    n_users, n_items, device = trainer.split.n_users, trainer.split.n_items, trainer.device
    users = torch.randint(0, n_users, (steps, BATCH), generator=gen).to(device)
    items = torch.randint(0, n_items, (steps, BATCH, 1 + N_NEG), generator=gen).to(device)
    model = trainer.model

    def run() -> None:
        for step in range(steps):
            user_emb, item_emb = model.embeddings()
            scores = pair_scores(gather(user_emb, users[step]), gather(item_emb, items[step]))
            model.zero_grad(set_to_none=True)
            scores.sum().backward()

    return run


def epoch_steps(b: Bench, n_pairs: int) -> tuple[int, int, float, str]:
    """Steps per epoch, steps timed, the factor to a whole epoch, and a note on it."""
    total = math.ceil(n_pairs / BATCH)
    if not b.quick or total <= QUICK_STEPS:
        return total, total, 1.0, ""
    return total, QUICK_STEPS, total / QUICK_STEPS, f"; {QUICK_STEPS} of {total} steps, scaled"


def partial_epoch(trainer: Trainer, steps: int) -> None:
    """The first ``steps`` steps of :meth:`Trainer.train_epoch` (same order, sampling, step)."""
    trainer.model.train()
    n_pairs = trainer.pair_users.shape[0]
    order = torch.randperm(n_pairs, generator=torch.Generator().manual_seed(0)).to(
        trainer.device)
    for batch in trainer.batches(order[: steps * BATCH]):
        trainer.update(*batch)


def bench_train(b: Bench, name: str, split: Split, model: str, loss: str,
                recbole: RecBoleRunner | None) -> None:
    task = f"train-epoch-{model}-{loss}"
    trainer = make_trainer(split, model, loss, b.device)
    warm_up(trainer)
    n_pairs = trainer.pair_users.shape[0]
    total, steps, scale, part = epoch_steps(b, n_pairs)
    ours = trainer.train_epoch if steps == total else (lambda: partial_epoch(trainer, steps))
    ours_note = f"{n_pairs} pairs, B={BATCH}, N={N_NEG}{part}"
    if loss != "bcl":
        b.add(task, name, "bcl-rec", ours, ours_note, n_pairs, scale=scale)
        return
    ref = make_trainer(split, model, loss, b.device)
    loader = reference_loader(split.train, N_NEG, 0, BATCH, seed=0)
    warm_up(ref)
    turns = max(b.repeats, PAIRED)
    # bcl-rec and the reference take turns, so background load cannot favour either
    b.add_alternating(task, name, [
        ("bcl-rec", ours, ours_note + f"; in turns with the reference, median of {turns}"),
        ("reference-sampler", lambda: reference_epoch(ref, loader, steps),
         f"per-row Python sampling + DataLoader, same step{part}"),
    ], n_pairs, scale, turns)
    if recbole is not None:
        if steps == total:
            recbole.train_epoch(b, task, name, model)
        else:
            b.notes.append(f"--quick: no RecBole {task} row on {name} ({total} steps per epoch).")
    gen = torch.Generator().manual_seed(1)
    b.add(task, name, "floor", floor_epoch(trainer, gen, steps),
          f"gathers + dot products + backward only{part}", n_pairs, scale=scale)


# --- evaluation -----------------------------------------------------------------------------


def bench_eval(b: Bench, name: str, split: Split, recbole: RecBoleRunner | None) -> None:
    gen = torch.Generator().manual_seed(0)
    user_emb = (torch.randn(split.n_users, DIM, generator=gen) * 0.1).to(b.device)
    item_emb = (torch.randn(split.n_items, DIM, generator=gen) * 0.1).to(b.device)
    evaluator = FullRankingEvaluator(split.test, seen_matrix(split), topk=(10, 20),
                                     max_memory_mb=EVAL_BUDGET_MB, device=b.device, dim=DIM)
    evaluator.evaluate(user_emb, item_emb)  # warm-up
    plan = evaluator.plan
    users_eval = user_emb[torch.as_tensor(evaluator.users, device=b.device)]
    tried = {plan.width, 32, 64, 128, 256, 1024} | (
        {4096, 16384} if b.device.type == "cuda" else set())
    widths = sorted({w for w in tried if w <= max(len(users_eval), 16)} or {plan.width})
    probe = users_eval[: max(4096, max(widths))]  # the search runs on a slice of the users
    best: tuple[float, int] | None = None
    for width in widths:  # the fastest bare product becomes the floor row
        run = floor_products(probe, item_emb, width)
        run()
        b.sync()
        start = time.perf_counter()
        run()
        b.sync()
        elapsed = time.perf_counter() - start
        if best is None or elapsed < best[0]:
            best = (elapsed, width)
    assert best is not None
    # the evaluation and its floor take turns, so background load hits both alike
    b.add_alternating("eval-all-users", name, [
        ("bcl-rec", lambda: evaluator.evaluate(user_emb, item_emb),
         f"{len(evaluator.users)} users x {split.n_items} items, blocks of {plan.block_rows} "
         f"items x {plan.block_width} users, tile {plan.width} users for users with several "
         f"items ({plan.workspace_bytes / 2**20:.1f} MB planned, budget {EVAL_BUDGET_MB:g} MB); "
         f"in turns with the floor, median of {EVAL_REPEATS}"),
        ("floor", floor_products(users_eval, item_emb, best[1]),
         f"item_emb @ user_emb[tile].T for all users, tile {best[1]} (fastest of {widths})"),
    ], None, 1.0, EVAL_REPEATS)
    if recbole is not None:
        recbole.evaluate(b, name)


def floor_products(user_emb: torch.Tensor, item_emb: torch.Tensor, width: int
                   ) -> Callable[[], None]:
    n_users = user_emb.shape[0]

    def run() -> None:
        out = torch.empty(item_emb.shape[0], width, device=item_emb.device)
        rows = torch.zeros(width, user_emb.shape[1], device=item_emb.device)
        for start in range(0, n_users, width):
            stop = min(start + width, n_users)
            rows[: stop - start] = user_emb[start:stop]
            torch.mm(item_emb, rows.T, out=out)

    return run


# --- RecBole --------------------------------------------------------------------------------


class RecBoleRunner:
    """RecBole 1.2.1's data preparation, training epoch and full-sort evaluation."""

    def __init__(self, device: torch.device, work: Path) -> None:
        from bcl_rec.integrations import recbole as adapter  # applies RecBole compatibility fixes

        self.adapter = adapter
        self.device = device
        self.work = work
        self.prepared: dict[str, Any] = {}
        self.splits: dict[str, Split] = {}

    def config(self, model: str, name: str, split: Split | None) -> Any:
        settings = {"device": str(self.device), "gpu_id": "" if self.device.type == "cpu" else 0,
                    "show_progress": False, "embedding_size": DIM, "train_batch_size": BATCH,
                    "checkpoint_dir": str(self.work / "checkpoints"),
                    "train_neg_sample_args": {"distribution": "uniform", "sample_num": N_NEG,
                                              "alpha": 1.0, "dynamic": False,
                                              "candidate_num": 0},
                    "loss": {"name": "bcl", "num_negatives": N_NEG}}
        files = []
        if name == "ml-100k":
            files = [str(Path(__file__).resolve().parents[1] / "configs/recbole/ml-100k-loo.yaml")]
            dataset = "ml-100k"
        else:
            assert split is not None
            dataset = self.atomic(name, split)
            settings.update({"data_path": str(self.work), "load_col": {"inter": ["user_id",
                             "item_id"]}, "eval_args": {"split": {"RS": [0.8, 0.1, 0.1]},
                             "order": "RO", "group_by": "user", "mode": "full"},
                             "metrics": ["Recall", "NDCG", "MRR", "Hit"], "topk": [10, 20],
                             "valid_metric": "NDCG@10", "learning_rate": 0.001,
                             "learner": "adam", "epochs": 1, "seed": 2020,
                             "reproducibility": True})
        return self.adapter.build_config(model, dataset, settings, files)

    def atomic(self, name: str, split: Split) -> str:
        """RecBole atomic file of every (user, item) interaction of ``split``; its dataset name."""
        name = re.sub(r"[^A-Za-z0-9_-]", "_", Path(name).name)
        folder = self.work / name
        target = folder / f"{name}.inter"
        if not target.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            both = (split.train + split.valid + split.test).tocoo()
            lines = ["user_id:token\titem_id:token"]
            lines += [f"{u}\t{i}" for u, i in zip(both.row.tolist(), both.col.tolist(),
                                                   strict=True)]
            target.write_text("\n".join(lines) + "\n")
        return name

    def prepare(self, model: str, name: str, split: Split | None) -> tuple[Any, Any, Any]:
        from recbole.data import create_dataset, data_preparation
        from recbole.utils import get_trainer, init_seed

        key = f"{model}/{name}"
        if key not in self.prepared:
            config = self.config(model, name, split)
            data = create_dataset(config)
            train, _, test = data_preparation(config, data)
            init_seed(config["seed"], config["reproducibility"])
            net = self.adapter.runner.resolve_model(model)(config, train._dataset).to(
                config["device"])
            trainer_cls = (self.adapter.trainer_class(config["MODEL_TYPE"], config["model"])
                           if model.startswith("BCL") else
                           get_trainer(config["MODEL_TYPE"], config["model"]))
            self.prepared[key] = (config, train, test, trainer_cls(config, net))
        return self.prepared[key][1:]

    def train_epoch(self, b: Bench, task: str, name: str, model: str) -> None:
        cls = "BCLMF" if model == "mf" else "BCLLightGCN"
        try:
            train, _, trainer = self.prepare(cls, name, self.splits[name])
        except Exception as err:  # noqa: BLE001 - report, keep benchmarking
            b.notes.append(f"RecBole {cls} on {name} failed to set up: {err!r}"[:300])
            return
        b.add(task, name, "recbole", lambda: trainer._train_epoch(train, 0, show_progress=False),
              f"RecBole {cls} (bcl loss), its sampler, train_batch_size={BATCH}")

    def evaluate(self, b: Bench, name: str) -> None:
        try:
            _, test, trainer = self.prepare("BPR", name, self.splits[name])
        except Exception as err:  # noqa: BLE001 - report, keep benchmarking
            b.notes.append(f"RecBole BPR on {name} failed to set up: {err!r}"[:300])
            return
        trainer.evaluate(test, load_best_model=False, show_progress=False)  # warm-up
        size = trainer.config["eval_batch_size"]
        b.add("eval-all-users", name, "recbole",
              lambda: trainer.evaluate(test, load_best_model=False, show_progress=False),
              f"full sort, eval_batch_size={size} (RecBole's default)", repeats=EVAL_REPEATS)


def recbole_runner(device: torch.device, work: Path) -> tuple[RecBoleRunner | None, str]:
    try:
        import recbole  # noqa: F401
    except ImportError:
        return None, (f"RecBole is not installed in this interpreter ({sys.executable}): no "
                      "recbole rows. Run with an environment that has the recbole extra.")
    try:
        return RecBoleRunner(device, work), f"RecBole {recbole.__version__}"
    except Exception as err:  # noqa: BLE001
        return None, f"RecBole is installed but the adapter failed to load: {err!r}"


# --- report ---------------------------------------------------------------------------------


def markdown(b: Bench, header: list[str]) -> str:
    lines = [*header, "",
             "| task | dataset | impl | seconds | peak MB | x bcl-rec | throughput | notes |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |"]
    ours = {(r.task, r.dataset): r.seconds for r in b.rows if r.impl == "bcl-rec"}
    for r in b.rows:
        base = ours.get((r.task, r.dataset))
        ratio = "-" if base is None or r.impl == "bcl-rec" else f"{r.seconds / base:.2f}"
        peak = "-" if r.peak_mb is None else f"{r.peak_mb:.1f}"
        rate = "-" if not r.rows else f"{r.rows / r.seconds:,.0f} rows/s"
        lines.append(f"| {r.task} | {r.dataset} | {r.impl} | {r.seconds:.4f} | {peak} | {ratio} "
                     f"| {rate} | {r.note} |")
    lines += ["", "`x bcl-rec`: seconds / bcl-rec's seconds for the same task and dataset "
              "(above 1: bcl-rec is faster; for `floor` rows, below 1 is the headroom left)."]
    lines += [f"- {note}" for note in dict.fromkeys(b.notes)]  # each note once
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repetition, sampled rows")
    parser.add_argument("--json", type=Path, help="write the rows here")
    parser.add_argument("--markdown", type=Path, help="write the table here too")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int,
                        help="torch CPU threads (default: one per core, or 1 when the load "
                        "average says the cores are busy: threads waiting for each other at "
                        "every parallel op would then dominate the timings)")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS),
                        help="registered names or paths")
    parser.add_argument("--data-dir", type=Path, help="folder holding the datasets")
    parser.add_argument("--repeats", type=int, help="repetitions per measurement (median)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    thread_note = ""
    if args.threads:
        torch.set_num_threads(args.threads)
    elif torch.get_num_threads() > 1 and os.getloadavg()[0] > (os.cpu_count() or 1) - 0.5:
        thread_note = (f"Load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: "
                       "1 CPU thread (pass --threads N to choose).")
        torch.set_num_threads(1)
    device = torch.device(args.device)
    repeats = args.repeats or (1 if args.quick else 3)
    bench = Bench(device, repeats, args.quick)
    if thread_note:
        bench.notes.append(thread_note)
    header = [f"# bcl-rec speed ({'quick' if args.quick else 'full'})", "",
              f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} CPU "
              f"thread(s), {os.cpu_count()} cores, {platform.processor() or platform.machine()}"
              f", load average {os.getloadavg()[0]:.1f}, median of {repeats}."]
    if device.type == "cuda" and not torch.cuda.is_available():
        note = (f"--device cuda: torch {torch.__version__} sees no CUDA device, so no CUDA "
                "rows were measured.")
        print(note, file=sys.stderr)
        bench.notes.append(note)
        return finish(args, bench, header, started)
    if device.type == "cuda":
        header.append(f"GPU: {torch.cuda.get_device_name(device)}")
    with tempfile.TemporaryDirectory(prefix="bcl-rec-speed-") as work:
        recbole, recbole_note = recbole_runner(device, Path(work))
        bench.notes.append(recbole_note)
        for name in args.datasets:
            split = load_split(name, args.data_dir)
            if recbole is not None:
                recbole.splits[name] = split
            print(f"{name}: {split.n_users} users, {split.n_items} items, "
                  f"{split.train.nnz} train pairs", file=sys.stderr, flush=True)
            bench_sample(bench, name, split)
            for model in ("mf", "lightgcn"):
                for loss in ("bcl", "bpr"):
                    bench_train(bench, name, split, model, loss, recbole)
            bench_eval(bench, name, split, recbole)
    return finish(args, bench, header, started)


def finish(args: argparse.Namespace, bench: Bench, header: list[str], started: float) -> int:
    bench.notes.append(f"Benchmark wall time {time.perf_counter() - started:.0f} s.")
    table = markdown(bench, header)
    print(table)
    if args.markdown:
        args.markdown.write_text(table)
    if args.json:
        rows = [r.record() for r in bench.rows if r.task in JSON_TASKS]
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
