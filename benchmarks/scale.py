"""How bcl-rec's costs grow with the log: seeded power-law logs of 1M, 5M and 25M interactions.

    python benchmarks/scale.py [--sizes 1M,5M,25M] [--threads N] [--lightgcn-steps S]
        [--mf-steps S] [--sparse-steps S] [--breakdown-steps S] [--tasks T,...] [--json FILE]
        [--plot FILE] [--paired-rounds R] [--paired-steps S] [--device cpu|cuda]

For each size, a seeded synthetic log (``synthetic_log``: user activity and item popularity
both power-law, catalogue sizes of ``SIZES``; 25M is MovieLens-25M's 162K users x 59K items) is
split leave-one-out, then timed with the peak extra memory of each call (``peak_memory``: the
rise of the resident set's high-water mark):

- ``prepare``: raw log -> :class:`Interactions` -> leave-one-out :class:`Split`;
- ``mf-bcl-epoch`` / ``lightgcn-bcl-epoch``: :meth:`Trainer.train_epoch` (B = 1024, N = 10,
  dim 64, Adam); ``mf-bcl-sparse-adam-epoch``: the same MF epoch with
  ``train.optimizer=sparse_adam``; ``--mf-steps``/``--sparse-steps``/``--lightgcn-steps`` time
  only the first S steps of the epoch and scale to the whole epoch (the row says so);
- ``eval-all-users``: the test evaluation of every user (train + valid excluded), with
  ``eval.max_memory_mb``'s default budget;
- ``breakdown-adam`` / ``breakdown-sparse_adam``: S steps of the MF + BCL step cut into
  sampling, forward + backward, and the optimiser step, on this log and on MovieLens-100K, to
  show where pairs per second go; with numba installed (``kernels: true`` in the JSON) the
  sampler and ``sparse_adam`` run the compiled row kernels, and ``breakdown-sparse_adam-torch``
  times the same steps on their torch forms for comparison;
- ``pairs_ratio``: MovieLens-100K's pairs per second (the fastest of 5 whole MF + BCL epochs,
  timed first in the same run) over each MF epoch's, for each optimiser (the target is <= 1.5);
- ``paired``: the same ratio timed in turns (``paired_throughput``: MovieLens-100K with each
  optimiser and this log with ``sparse_adam`` take turns of ``--paired-steps`` steps for
  ``--paired-rounds`` rounds), so that both sides of each round's ratio ran under the same
  load: on a shared virtual machine, rates timed minutes apart can differ by 2x.

The log-log plot of seconds against interactions and the growth exponent (least-squares slope
of log seconds on log interactions) come from the same run.

``--device cuda`` runs the epochs and the evaluation on the GPU (sampling too, from a CUDA
generator, as ``bcl-rec train`` does there); their peak memory is then the GPU's
(``torch.cuda.max_memory_allocated``). The step breakdown and the paired ratio time CPU steps
against MovieLens-100K's, so they are skipped there.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bcl_rec.config import load_config
from bcl_rec.data.interactions import Interactions
from bcl_rec.data.split import Split, leave_one_out
from bcl_rec.evaluation.memory import peak_memory
from bcl_rec.evaluation.ranking import FullRankingEvaluator
from bcl_rec.losses import build_loss
from bcl_rec.models import build_model
from bcl_rec.training import row_kernels
from bcl_rec.training.sampler import UnlabeledSampler
from bcl_rec.training.trainer import Trainer

# interactions -> (users, items): 5M as the throughput case of the docs, 25M as MovieLens-25M
SIZES = {"1M": (1_000_000, 40_000, 15_000), "5M": (5_000_000, 100_000, 30_000),
         "25M": (25_000_000, 162_000, 59_000)}
USER_EXPONENT, ITEM_EXPONENT = 1.0, 0.9  # Zipf exponents of user activity and item popularity
MIN_DEGREE = 3  # every user keeps a train, a validation and a test item
MAX_DEGREE_SHARE = 0.1  # no user holds more than this share of the catalogue
POPULARITY_ROUNDS = 8  # draw rounds by popularity before the shortfall is filled uniformly


def user_degrees(n: int, n_users: int, n_items: int) -> np.ndarray:
    """Distinct items per user, summing to ``n``: proportional to ``rank^-USER_EXPONENT``, clipped
    to ``[MIN_DEGREE, MAX_DEGREE_SHARE * n_items]`` (the scale found by bisection so the clipped
    degrees sum to ``n``), rounded by largest remainder.

    Clipping is what makes a power law a log: unclipped, the top user of 25M interactions over
    162K users would need 2M distinct items of a 59K catalogue."""
    cap = max(MIN_DEGREE, int(MAX_DEGREE_SHARE * n_items))
    if not MIN_DEGREE * n_users <= n <= cap * n_users:
        raise ValueError(
            f"{n} interactions do not fit {n_users} users of {MIN_DEGREE}..{cap} items"
        )
    weight = np.arange(1, n_users + 1, dtype=np.float64) ** -USER_EXPONENT
    lo, hi = 0.0, n / weight[-1]
    for _ in range(200):  # bisection on the scale: the clipped sum is monotone in it
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.clip(mid * weight, MIN_DEGREE, cap).sum() < n else (lo, mid)
    exact = np.clip(hi * weight, MIN_DEGREE, cap)
    degrees = np.floor(exact).astype(np.int64)
    short = n - int(degrees.sum())  # 0 <= short < n_users: hand out by largest remainder
    remainder = np.where(degrees < cap, exact - degrees, -1.0)
    degrees[np.argsort(-remainder, kind="stable")[:short]] += 1
    return degrees


def sorted_unique(keys: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting (numpy 2's hash-based unique is ~10x slower on these keys)."""
    keys = np.sort(keys)
    return keys[np.concatenate(([True], keys[1:] != keys[:-1]))]


def synthetic_log(n: int, n_users: int, n_items: int, seed: int = 0) -> pd.DataFrame:
    """``n`` distinct (user, item, timestamp) rows with power-law user activity
    (:func:`user_degrees`) and item popularity (item i drawn with weight ``(i+1)^-b``); user and
    item ids are shuffled.

    Each round draws every user's shortfall, 25% over, from the popularity law, drops pairs
    already held, and keeps a random subset up to the user's degree; after
    ``POPULARITY_ROUNDS`` rounds the rest is drawn uniformly, so heavy users terminate."""
    rng = np.random.default_rng(seed)
    degrees = user_degrees(n, n_users, n_items)
    item_p = np.arange(1, n_items + 1, dtype=np.float64) ** -ITEM_EXPONENT
    item_p /= item_p.sum()
    keys = np.empty(0, dtype=np.int64)  # user * n_items + item, sorted
    held = np.zeros(n_users, dtype=np.int64)
    for round_ in range(10_000):
        need = degrees - held
        if not need.any():
            break
        users = np.repeat(np.arange(n_users, dtype=np.int64), need + (need + 3) // 4)
        p = item_p if round_ < POPULARITY_ROUNDS else None
        drawn = sorted_unique(users * n_items + rng.choice(n_items, len(users), p=p))
        drawn = rng.permutation(drawn[~np.isin(drawn, keys, assume_unique=True, kind="sort")])
        drawn = drawn[np.argsort(drawn // n_items, kind="stable")]  # by user, random within
        owner = drawn // n_items
        rank = np.arange(len(drawn)) - np.searchsorted(owner, owner)  # position within its user
        drawn = drawn[rank < need[owner]]
        keys = np.sort(np.concatenate([keys, drawn]))  # disjoint: no repeats to drop
        held += np.bincount(drawn // n_items, minlength=n_users)
    else:
        raise RuntimeError(f"synthetic_log: {int((degrees - held).sum())} pairs still missing")
    user_perm, item_perm = rng.permutation(n_users), rng.permutation(n_items)
    keys = rng.permutation(keys)
    return pd.DataFrame({
        "user": user_perm[keys // n_items],
        "item": item_perm[keys % n_items],
        "timestamp": rng.permutation(n).astype(np.int64),
    })


def prepare(raw: pd.DataFrame) -> Split:
    return leave_one_out(Interactions.from_raw(raw, source="synthetic"))


def make_trainer(
    split: Split, model: str, optimizer: str = "adam", kernels: bool = True, device: str = "cpu"
) -> Trainer:
    """The MF/LightGCN + BCL trainer timed here, on ``device`` (sampling on it too, from a
    generator of its own, as ``bcl-rec train`` does); ``kernels=False``: the torch sampler and
    ``sparse_adam`` even where numba is installed."""
    cfg = load_config(None, [f"model.name={model}", "loss.name=bcl", "loss.num_negatives=10",
                             f"train.optimizer={optimizer}",
                             "train.batch_size=1024", "model.dim=64", "train.progress=false",
                             f"train.device={device}"])
    gen = torch.Generator().manual_seed(cfg.train.seed)
    net = build_model(cfg.model, split.train, generator=gen)
    if device != "cpu":
        gen = torch.Generator(device=device).manual_seed(cfg.train.seed)
    trainer = Trainer(net, build_loss(cfg.loss), split, cfg.loss, cfg.train, cfg.eval,
                      torch.device(device), gen)
    if not kernels:
        trainer.sampler = UnlabeledSampler(split.train, kernels=False)
        if hasattr(trainer.optimizer, "kernels"):
            trainer.optimizer.kernels = False
    return trainer


def epoch(trainer: Trainer, steps: int | None) -> tuple[float, str]:
    """Seconds of one epoch and how they were measured: the whole epoch, or the first ``steps``
    steps scaled to the epoch's number of steps (the epoch's shuffle, paid once, not scaled)."""
    n_pairs = trainer.pair_users.shape[0]
    total = math.ceil(n_pairs / trainer.train_cfg.batch_size)
    t0 = time.perf_counter()
    if steps is None or steps >= total:
        trainer.train_epoch()
        synchronize(trainer.device)
        return time.perf_counter() - t0, "whole epoch"
    order = torch.randperm(n_pairs, generator=trainer.generator, device=trainer.device)
    order = order[: steps * 1024]
    synchronize(trainer.device)
    t1 = time.perf_counter()
    trainer.model.train()
    for batch in trainer.batches(order):
        trainer.update(*batch)
    synchronize(trainer.device)
    seconds = (t1 - t0) + (time.perf_counter() - t1) * total / steps
    return seconds, f"first {steps} steps, scaled x{total / steps:.1f}"


def synchronize(device: torch.device) -> None:
    """Wait for ``device``'s queued work, so that the clock read next includes it (CUDA runs
    asynchronously; the CPU needs nothing)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def breakdown(trainer: Trainer, steps: int) -> dict[str, float]:
    """Seconds per step of sampling, forward + backward, and the optimiser step (MF + BCL):
    :meth:`Trainer.update` timed whole, its optimiser step timed by the optimiser's hooks."""
    n_pairs = trainer.pair_users.shape[0]
    order = torch.randperm(n_pairs, generator=trainer.generator)[: steps * 1024]
    parts = {"sample": 0.0, "forward_backward": 0.0, "optimizer": 0.0}
    stamps: list[float] = []

    def stamp(*_: object) -> None:
        stamps.append(time.perf_counter())

    hooks = [trainer.optimizer.register_step_pre_hook(stamp),
             trainer.optimizer.register_step_post_hook(stamp)]
    trainer.model.train()
    batches = trainer.batches(order)
    while True:
        t0 = time.perf_counter()
        batch = next(batches, None)
        t1 = time.perf_counter()
        if batch is None:
            break
        trainer.update(*batch)
        t2 = time.perf_counter()
        step = stamps[-1] - stamps[-2]
        parts["sample"] += t1 - t0
        parts["forward_backward"] += t2 - t1 - step
        parts["optimizer"] += step
    for hook in hooks:
        hook.remove()
    n = max(1, math.ceil(len(order) / 1024))
    return {k: v / n for k, v in parts.items()}


def endless_batches(trainer: Trainer) -> Iterator[tuple]:
    """The trainer's batches epoch after epoch, each epoch in a fresh seeded order."""
    n_pairs = trainer.pair_users.shape[0]
    while True:
        yield from trainer.batches(torch.randperm(n_pairs, generator=trainer.generator))


def timed_steps(trainer: Trainer, batches: Iterator[tuple], steps: int) -> float:
    """Pairs per second of the next ``steps`` training steps of ``batches``, sampling included."""
    trainer.model.train()
    pairs = 0
    t0 = time.perf_counter()
    for _ in range(steps):
        batch = next(batches)
        trainer.update(*batch)
        pairs += batch[0].shape[0]
    return pairs / (time.perf_counter() - t0)


def paired_throughput(trainers: dict[str, Trainer], rounds: int, steps: int) -> dict:
    """Pairs per second of each trainer, measured in turns: ``rounds`` rounds in which every
    trainer runs its next ``steps`` steps (the order reversed every other round), after one
    warm-up turn each. On a shared virtual machine the speed drifts by 2x within minutes
    (steal time), so logs timed minutes apart do not compare; timed in turns, each round's
    ratio is measured under the same conditions."""
    streams = {name: endless_batches(trainer) for name, trainer in trainers.items()}
    for name, trainer in trainers.items():  # the first epoch's shuffle, compiled kernels, caches
        timed_steps(trainer, streams[name], steps)
    names = list(trainers)
    out: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            out[name].append(timed_steps(trainers[name], streams[name], steps))
    return out


def summary(values: list[float]) -> dict:
    return {"median": float(np.median(values)), "min": min(values), "max": max(values),
            "per_round": values}


def paired_ratio(split: Split, small: Split, args: argparse.Namespace) -> dict:
    """MF + BCL pairs per second of MovieLens-100K (``adam`` and ``sparse_adam``) and of this
    log (``sparse_adam``) timed in turns (:func:`paired_throughput`), and per round the ratio of
    each small-log rate to this log's (the target is <= 1.5). Also the ratios of each side's
    fastest turn (the least disturbed) and of all turns together (total pairs / total time)."""
    trainers = {"ml-100k adam": make_trainer(small, "mf", "adam"),
                "ml-100k sparse_adam": make_trainer(small, "mf", "sparse_adam"),
                "this log sparse_adam": make_trainer(split, "mf", "sparse_adam")}
    rates = paired_throughput(trainers, args.paired_rounds, args.paired_steps)
    large = rates["this log sparse_adam"]
    ratios = {
        f"{name} / this log sparse_adam": [s / g for s, g in zip(rates[name], large, strict=True)]
        for name in ("ml-100k adam", "ml-100k sparse_adam")
    }
    ratios["faster ml-100k / this log sparse_adam"] = [
        max(a, b) / g
        for a, b, g in zip(rates["ml-100k adam"], rates["ml-100k sparse_adam"], large, strict=True)
    ]
    # all turns: total pairs over total time, the harmonic mean of rates of equal turns
    rate = {name: {**summary(v), "all_turns": len(v) / sum(1 / r for r in v)}
            for name, v in rates.items()}
    smalls = ("ml-100k adam", "ml-100k sparse_adam")
    return {"rounds": args.paired_rounds, "steps": args.paired_steps,
            "pairs_per_second": rate,
            "ratio": {name: summary(v) for name, v in ratios.items()},
            "fastest_turns": {name: rate[name]["max"] / rate["this log sparse_adam"]["max"]
                              for name in smalls},
            "all_turns": {name: rate[name]["all_turns"] / rate["this log sparse_adam"]["all_turns"]
                          for name in smalls}}


def run_size(name: str, args: argparse.Namespace, small: Split | None = None) -> dict:
    n, n_users, n_items = SIZES[name]
    device = torch.device(args.device)
    raw = synthetic_log(n, n_users, n_items, seed=0)
    t0 = time.perf_counter()
    split, mem = peak_memory(functools.partial(prepare, raw))
    row: dict = {"size": name, "interactions": n, "users": split.n_users, "items": split.n_items,
                 "train_pairs": int(split.train.nnz), "threads": torch.get_num_threads(),
                 "device": args.device}
    row["prepare"] = {"seconds": time.perf_counter() - t0, "peak_mb": (mem or 0) / 2**20}
    del raw
    print(name, row, flush=True)
    for task, model, optimizer, steps in timed_runs(args):
        trainer = make_trainer(split, model, optimizer, device=args.device)
        (seconds, note), mem = peak_memory(functools.partial(epoch, trainer, steps), device)
        row[task] = {
            "seconds": seconds, "peak_mb": (mem or 0) / 2**20,
            "pairs_per_second": row["train_pairs"] / seconds, "note": note,
        }
        print(name, task, row[task], flush=True)
        if model == "mf" and args.breakdown_steps:
            row[f"breakdown-{optimizer}"] = breakdown(trainer, args.breakdown_steps)
            print(name, optimizer, "breakdown", row[f"breakdown-{optimizer}"], flush=True)
            if optimizer == "sparse_adam" and row_kernels.AVAILABLE:
                torch_forms = make_trainer(split, model, optimizer, kernels=False)
                row["breakdown-sparse_adam-torch"] = breakdown(torch_forms, args.breakdown_steps)
                print(name, "sparse_adam torch forms breakdown",
                      row["breakdown-sparse_adam-torch"], flush=True)
                del torch_forms
        del trainer
    if small is not None and args.paired_rounds:
        row["paired"] = paired_ratio(split, small, args)
        paired = row["paired"]
        print(name, "paired: median", {k: v["median"] for k, v in paired["ratio"].items()},
              "fastest turns", paired["fastest_turns"], "all turns", paired["all_turns"],
              flush=True)
    if "eval-all-users" not in args.tasks:
        return row
    exclude = (split.train + split.valid).tocsr()
    exclude.data[:] = 1.0
    budget = load_config(None, []).eval.max_memory_mb
    evaluator = FullRankingEvaluator(split.test, exclude, max_memory_mb=budget, device=device)
    gen = torch.Generator().manual_seed(0)
    user_emb = (torch.randn(split.n_users, 64, generator=gen) * 0.1).to(device)
    item_emb = (torch.randn(split.n_items, 64, generator=gen) * 0.1).to(device)
    synchronize(device)
    t0 = time.perf_counter()
    _, mem = peak_memory(lambda: evaluator.evaluate(user_emb, item_emb), device)
    row["eval-all-users"] = {"seconds": time.perf_counter() - t0, "peak_mb": (mem or 0) / 2**20,
                             "users": len(evaluator.users), "budget_mb": budget,
                             "workspace_mb": evaluator.workspace_bytes / 2**20}
    print(name, "eval", row["eval-all-users"], flush=True)
    return row


SMALL_EPOCHS = 5


def load_small() -> Split:
    """MovieLens-100K, the small log of the throughput target."""
    from bcl_rec.data.load import load_split

    return load_split(load_config(None, []).data, None)


def small_log(split: Split, steps: int) -> dict[str, dict[str, float]]:
    """MovieLens-100K's whole MF + BCL epochs with each optimiser (the fastest one's pairs per
    second is the reference of ``pairs_ratio``) and its step breakdown."""
    out = {}
    for optimizer in ("adam", "sparse_adam"):
        trainer = make_trainer(split, "mf", optimizer)
        epoch(trainer, None)  # warm-up
        # the fastest of SMALL_EPOCHS: a 1 s epoch is at the mercy of one hiccup, and the
        # fastest small-log epoch makes the target harder, not easier
        seconds = min(epoch(trainer, None)[0] for _ in range(SMALL_EPOCHS))
        out[optimizer] = {"epoch_seconds": seconds,
                          "pairs_per_second": trainer.pair_users.shape[0] / seconds}
        if steps:
            out[optimizer]["breakdown"] = breakdown(trainer, steps)
    return out


def exponent(sizes: list[float], seconds: list[float]) -> float:
    """Least-squares slope of log seconds on log size."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


TASKS = ("prepare", "mf-bcl-epoch", "mf-bcl-sparse-adam-epoch", "lightgcn-bcl-epoch",
         "eval-all-users")


def timed_runs(args: argparse.Namespace) -> list[tuple[str, str, str, int | None]]:
    """(task, model, train.optimizer, steps timed) of each timed epoch."""
    runs = [("mf-bcl-epoch", "mf", "adam", args.mf_steps),
            ("mf-bcl-sparse-adam-epoch", "mf", "sparse_adam", args.sparse_steps),
            ("lightgcn-bcl-epoch", "lightgcn", "adam", args.lightgcn_steps)]
    return [run for run in runs if run[0] in args.tasks]


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    sizes = [r["interactions"] for r in rows]
    for task in (t for t in TASKS if t in rows[0]):
        secs = [r[task]["seconds"] for r in rows]
        label = task if len(rows) < 2 else f"{task} (slope {exponent(sizes, secs):.2f})"
        ax.loglog(sizes, secs, "o-", label=label)
    ax.set_xlabel("interactions")
    ax.set_ylabel("seconds")
    ax.set_title(f"bcl-rec on synthetic power-law logs ({rows[0]['threads']} thread(s))")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1M,5M", help="comma list of 1M, 5M, 25M")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--mf-steps", type=int, default=None, help="default: whole epochs")
    parser.add_argument("--sparse-steps", type=int, default=None,
                        help="steps of the sparse_adam epoch timed (default: the whole epoch)")
    parser.add_argument("--lightgcn-steps", type=int, default=20)
    parser.add_argument("--breakdown-steps", type=int, default=None,
                        help="steps of each step breakdown (default 300 on the CPU; 0: skip)")
    parser.add_argument("--paired-rounds", type=int, default=None,
                        help="rounds of the paired throughput ratio (default 7 on the CPU; "
                             "0: skip it)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                        help="where the epochs and the evaluation run (cuda: the GPU rows)")
    parser.add_argument("--paired-steps", type=int, default=204,
                        help="steps per trainer and round (204: one sampling chunk at N = 10)")
    parser.add_argument("--tasks", default=",".join(TASKS[1:]),
                        help=f"comma list of {', '.join(TASKS[1:])} (prepare always runs)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args(argv)
    on_cpu = args.device == "cpu"
    if not on_cpu and not torch.cuda.is_available():
        parser.error("--device cuda: this torch sees no CUDA device (torch.cuda.is_available() "
                     "is False); run without --device")
    for flag, default in (("breakdown_steps", 300), ("paired_rounds", 7)):
        if getattr(args, flag) is None:
            setattr(args, flag, default if on_cpu else 0)
        elif getattr(args, flag) and not on_cpu:
            parser.error(f"--{flag.replace('_', '-')}: the step breakdown and the paired ratio "
                         "time CPU steps against MovieLens-100K's; leave it out with --device cuda")
    torch.set_num_threads(args.threads)
    sizes = args.sizes.split(",")
    args.tasks = ["prepare", *(t for t in args.tasks.split(",") if t)]  # "": the paired ratio only
    wrong = [t for t in args.tasks if t not in TASKS]
    if wrong:
        parser.error(f"--tasks: unknown {wrong}; choose from {list(TASKS[1:])}")
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"--sizes: unknown {unknown}; choose from {list(SIZES)}")
    result = {"threads": args.threads, "cpu_count": os.cpu_count(), "torch": torch.__version__,
              "kernels": row_kernels.AVAILABLE, "device": args.device}
    if not on_cpu:
        result["gpu"] = torch.cuda.get_device_name()
    # the throughput target is MovieLens-100K's CPU rate: on a GPU, only the large logs are timed
    ratio_tasks = [t for t in ("mf-bcl-epoch", "mf-bcl-sparse-adam-epoch")
                   if t in args.tasks and on_cpu]
    small = load_small() if ratio_tasks or args.paired_rounds else None
    if ratio_tasks:
        result["ml-100k"] = small_log(small, args.breakdown_steps)
        print("ml-100k", result["ml-100k"], flush=True)
    rows = [run_size(s, args, small) for s in sizes]
    # the throughput target: MovieLens-100K's pairs/s over this log's, <= 1.5
    for row in rows if ratio_tasks else []:
        row["pairs_ratio"] = {
            f"{task} vs ml-100k {opt}": result["ml-100k"][opt]["pairs_per_second"]
            / row[task]["pairs_per_second"]
            for task in ratio_tasks
            for opt in ("adam", "sparse_adam")
        }
        print(row["size"], "pairs ratio", row["pairs_ratio"], flush=True)
    result["rows"] = rows
    if len(rows) >= 2:
        ns = [r["interactions"] for r in rows]
        result["exponents"] = {t: exponent(ns, [r[t]["seconds"] for r in rows])
                               for t in TASKS if t in args.tasks}
        print("exponents", result["exponents"])
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.plot:
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
