"""The ``eval`` section of a run config."""

from __future__ import annotations

from dataclasses import dataclass

from bcl_rec.errors import check as _check
from bcl_rec.errors import check_types


@dataclass(frozen=True)
class EvalConfig:
    """Full-ranking evaluation settings; ``metric`` drives early stopping."""

    topk: tuple[int, ...] = (10, 20)
    metric: str = "ndcg@10"
    users_per_batch: int | None = None
    max_memory_mb: float = 256.0

    def __post_init__(self) -> None:
        check_types(self, "eval")
        _check(
            len(self.topk) > 0 and min(self.topk) >= 1,
            "eval.topk",
            f"must be a non-empty list of positive integers, got {list(self.topk)}",
        )
        name, _, k = self.metric.partition("@")
        _check(
            name in ("recall", "ndcg", "mrr") and k.isdigit(),
            "eval.metric",
            f"must be recall@K, ndcg@K or mrr@K, got {self.metric!r}",
        )
        _check(
            int(k) in self.topk,
            "eval.metric",
            f"{self.metric} needs K={int(k)} in eval.topk {list(self.topk)}; "
            f"add {int(k)} to eval.topk or pick a K from it",
        )
        if self.users_per_batch is not None:
            _check(self.users_per_batch >= 1, "eval.users_per_batch",
                   f"must be >= 1, got {self.users_per_batch}")
        _check(self.max_memory_mb > 0, "eval.max_memory_mb",
               f"must be > 0, got {self.max_memory_mb}")
