"""One gather or two: ``sparse_adam``'s MF + BCL step with the item table gathered once a step
(``gather_rows``, the trainer's step) against the positives and the negatives gathered apart
(two sparse gradients, which autograd adds into a freshly zeroed buffer), timed in turns.

    python benchmarks/sparse_gather.py [--sizes ml-100k,5M] [--rounds 9] [--steps 204]

Pairs per second of each form (median of the rounds, and each round's one-gather over
two-gather ratio), 1 thread; the turns are ``benchmarks/scale.py``'s ``paired_throughput``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale  # noqa: E402 - the synthetic logs and the timing in turns of benchmarks/scale.py

from bcl_rec.models.base import gather, pair_scores  # noqa: E402
from bcl_rec.training.trainer import Trainer  # noqa: E402


class TwoGathers(Trainer):
    """The step before ``gather_rows``: positives and negatives gathered separately."""

    def update(self, users, pos_items, neg_items, extra_items=None):  # noqa: ANN001
        user_emb, item_emb = self.forward()
        u = gather(user_emb, users)
        pos = pair_scores(u, gather(item_emb, pos_items))
        neg = pair_scores(u, gather(item_emb, neg_items))
        out = self.loss_fn(pos, neg, None, None)
        self.optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        self.optimizer.step()
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="ml-100k,5M")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--steps", type=int, default=204)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for size in args.sizes.split(","):
        if size == "ml-100k":
            split = scale.load_small()
        else:
            split = scale.prepare(scale.synthetic_log(*scale.SIZES[size], seed=0))
        two = scale.make_trainer(split, "mf", "sparse_adam")
        two.__class__ = TwoGathers
        one = scale.make_trainer(split, "mf", "sparse_adam")
        rates = scale.paired_throughput({"two gathers": two, "one gather": one},
                                        args.rounds, args.steps)
        ratios = [a / b for a, b in zip(rates["one gather"], rates["two gathers"], strict=True)]
        print(size, {name: f"{np.median(v) / 1e3:.1f}K pairs/s" for name, v in rates.items()},
              "one/two per round", [round(r, 2) for r in ratios], flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
