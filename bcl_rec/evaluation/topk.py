"""Top-K recommendations for one user: every item scored, seen items left out, ties by item id."""

from __future__ import annotations

import torch


@torch.no_grad()
def top_items(
    user_vec: torch.Tensor, item_emb: torch.Tensor, seen: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(items, scores)`` of the ``k`` best-scored items not in ``seen``, best first.

    Args:
        user_vec: ``[dim]`` user embedding.
        item_emb: ``[n_items, dim]`` item embeddings.
        seen: item indices to leave out.
        k: how many (fewer when fewer items are left).

    Equal scores are ordered by item index, so the list is deterministic.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    scores = item_emb @ user_vec
    keep = torch.ones_like(scores, dtype=torch.bool)
    keep[seen.to(scores.device)] = False
    candidates = torch.nonzero(keep).squeeze(1)
    cand_scores = scores[candidates]
    order = torch.sort(cand_scores, descending=True, stable=True).indices[:k]
    return candidates[order], cand_scores[order]
