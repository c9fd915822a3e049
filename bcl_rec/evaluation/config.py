"""The ``eval`` section of a run config."""

from __future__ import annotations

from dataclasses import dataclass

from bcl_rec.errors import check as _check


@dataclass(frozen=True)
class EvalConfig:
    """Full-ranking evaluation settings; ``metric`` drives early stopping."""

    topk: tuple[int, ...] = (10, 20)
    metric: str = "ndcg@10"
    users_per_batch: int | None = None
    max_memory_mb: float = 256.0

    def __post_init__(self) -> None:
        topk = self.topk
        _check(
            isinstance(topk, (list, tuple)) and len(topk) > 0 and all(
                isinstance(k, int) and k >= 1 for k in topk
            ),
            "eval.topk",
            f"must be a non-empty list of positive integers, got {topk!r}",
        )
        object.__setattr__(self, "topk", tuple(int(k) for k in topk))
        name, _, k = self.metric.partition("@")
        _check(
            name in ("recall", "ndcg", "mrr") and k.isdigit() and int(k) in self.topk,
            "eval.metric",
            f"must be recall@K, ndcg@K or mrr@K with K in eval.topk {list(self.topk)}, "
            f"got {self.metric!r}",
        )
        if self.users_per_batch is not None:
            _check(self.users_per_batch >= 1, "eval.users_per_batch", "must be >= 1")
        _check(self.max_memory_mb > 0, "eval.max_memory_mb", "must be > 0")
