"""How ``sparse_adam``'s MF + BCL step gathers its item rows, three forms timed in turns:

- ``two gathers``: the positives and the negatives gathered apart (two sparse gradients, which
  autograd adds into a freshly zeroed buffer);
- ``one gather, split``: one gather of all the rows, split into positives and negatives and
  scored apart (backward concatenates the parts' gradients);
- ``side by side`` (the trainer's step, ``gather_side_by_side``): each batch row's positive and
  negatives gathered next to each other and scored by one product.

    python benchmarks/sparse_gather.py [--sizes ml-100k,25M] [--rounds 9] [--steps 204]
        [--threads 1]

Pairs per second of each form (median of the rounds) and each round's ratio of the trainer's
step to the others; the turns are ``benchmarks/scale.py``'s ``paired_throughput``.
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
    """The positives and the negatives gathered separately."""

    def update(self, users, pos_items, neg_items, extra_items=None):  # noqa: ANN001
        user_emb, item_emb = self.forward()
        u = gather(user_emb, users)
        pos = pair_scores(u, gather(item_emb, pos_items))
        neg = pair_scores(u, gather(item_emb, neg_items))
        return self.finish(pos, neg)

    def finish(self, pos: torch.Tensor, neg: torch.Tensor):  # noqa: ANN201
        out = self.loss_fn(pos, neg, None, None)
        self.optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        self.optimizer.step()
        return out


class OneGatherSplit(TwoGathers):
    """One gather of the positives then the negatives, split and scored apart."""

    def update(self, users, pos_items, neg_items, extra_items=None):  # noqa: ANN001
        user_emb, item_emb = self.forward()
        u = gather(user_emb, users)
        rows = gather(item_emb, torch.cat([pos_items, neg_items.reshape(-1)]))
        pos_rows, neg_rows = rows.split([pos_items.numel(), neg_items.numel()])
        return self.finish(pair_scores(u, pos_rows),
                           pair_scores(u, neg_rows.view(*neg_items.shape, -1)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="ml-100k,25M")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--steps", type=int, default=204)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    for size in args.sizes.split(","):
        if size == "ml-100k":
            split = scale.load_small()
        else:
            split = scale.prepare(scale.synthetic_log(*scale.SIZES[size], seed=0))
        trainers = {}
        for name, kind in (("two gathers", TwoGathers), ("one gather, split", OneGatherSplit),
                           ("side by side", Trainer)):
            trainers[name] = scale.make_trainer(split, "mf", "sparse_adam")
            trainers[name].__class__ = kind
        rates = scale.paired_throughput(trainers, args.rounds, args.steps)
        print(size, {name: f"{np.median(v) / 1e3:.1f}K pairs/s" for name, v in rates.items()},
              flush=True)
        for other in ("two gathers", "one gather, split"):
            ratios = [a / b for a, b in zip(rates["side by side"], rates[other], strict=True)]
            print(f"  side by side / {other} per round: median {np.median(ratios):.2f}",
                  [round(r, 2) for r in ratios], flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
