"""Full-ranking evaluation: rank every candidate item for every user, in memory-bounded batches.

For each evaluated user the candidates are all items except the excluded ones (train items, and
the validation item when testing). The position of a held-out item h is the number of candidates
ranked above it, where ties count *against* h (pessimistic): a non-held-out candidate j is above h
when ``s_j >= s_h``; another held-out item h' is above h when ``s_h' > s_h`` or, on a tie, when it
comes first in column order. With one held-out item per user (leave-one-out) this is an exact count
``#{j : s_j >= s_h}``: no sort, no top-K. Metrics, averaged over users with a held-out item:

- ``recall@K`` = hits in the top K / min(K, |H|)  (= HR@K with one held-out item)
- ``ndcg@K``   = sum over hits of 1/log2(pos + 2), divided by the ideal DCG of min(K, |H|) hits
  (binary gain, log2; IDCG = 1 with one held-out item)
- ``mrr@K``    = 1/(pos + 1) of the best-placed held-out item if it is in the top K, else 0
- ``auc``      = fraction of non-held-out candidates ranked below the held-out items (ties count
  against them), averaged over a user's held-out items; used to estimate BCL's alpha.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch

from bcl_rec.sparse import TorchCSR


class FullRankingEvaluator:
    """Evaluates embedding models against held-out items with train (and other) items excluded.

    Args:
        heldout: user x item CSR of the items to find (one or several per user).
        exclude: user x item CSR of items that are not candidates (e.g. train, or train + valid).
        topk: cut-offs K.
        users_per_batch: users scored at once; the peak extra memory is about
            ``users_per_batch * n_items * 4 * 3`` bytes. None derives it from ``max_memory_mb``.
        max_memory_mb: memory budget for the score blocks when ``users_per_batch`` is None.
        device: where scoring happens (the model's device).
    """

    def __init__(
        self,
        heldout: sp.csr_matrix,
        exclude: sp.csr_matrix,
        topk: Sequence[int] = (10, 20),
        users_per_batch: int | None = None,
        max_memory_mb: float = 256.0,
        device: torch.device | str = "cpu",
    ) -> None:
        if heldout.shape != exclude.shape:
            raise ValueError(f"heldout shape {heldout.shape} != exclude shape {exclude.shape}")
        if not topk or min(topk) < 1:
            raise ValueError(f"eval.topk must be a non-empty list of positive ints, got {topk}")
        self.n_users, self.n_items = heldout.shape
        self.topk = sorted(set(int(k) for k in topk))
        self.device = torch.device(device)
        if users_per_batch is None:
            per_user = self.n_items * 4 * 3
            users_per_batch = max(1, int(max_memory_mb * 2**20 // per_user))
        if users_per_batch < 1:
            raise ValueError(f"eval.users_per_batch must be >= 1, got {users_per_batch}")
        self.users_per_batch = int(users_per_batch)

        heldout = heldout.tocsr().astype(np.float32)
        heldout.sort_indices()
        exclude = exclude.tocsr().astype(np.float32)
        exclude = exclude - exclude.multiply(heldout)  # a held-out item is never excluded
        exclude.eliminate_zeros()
        exclude.sort_indices()
        counts = np.diff(heldout.indptr)
        self.users = np.flatnonzero(counts > 0)
        self.max_heldout = int(counts.max()) if len(counts) else 0
        self._held = TorchCSR(heldout, self.device)
        self._excl = TorchCSR(exclude, self.device)
        self._n_excluded = self._excl.row_counts

    @torch.no_grad()
    def evaluate(self, user_emb: torch.Tensor, item_emb: torch.Tensor) -> dict[str, float]:
        """Metrics averaged over the users that have a held-out item.

        Per-user values are gathered and summed once, in user order, so the result is bitwise
        the same for every ``users_per_batch``.
        """
        per_user = self.per_user(user_emb, item_emb)
        n = max(len(self.users), 1)
        return {name: float(values.sum()) / n for name, values in per_user.items()}

    @torch.no_grad()
    def per_user(self, user_emb: torch.Tensor, item_emb: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each metric as a float64 vector over the evaluated users (``self.users`` order)."""
        parts: dict[str, list[torch.Tensor]] = {}
        item_t = item_emb.detach().T.contiguous()
        user_emb = user_emb.detach()
        users = torch.as_tensor(self.users, device=self.device)
        for start in range(0, len(users), self.users_per_batch):
            batch = users[start : start + self.users_per_batch]
            scores = user_emb[batch] @ item_t
            pos, heldout_mask, n_cand = self._positions(batch, scores)
            for name, value in self._batch_metrics(pos, heldout_mask, n_cand).items():
                parts.setdefault(name, []).append(value)
        return {name: torch.cat(values).cpu() for name, values in parts.items()}

    def positions(self, user_emb: torch.Tensor, item_emb: torch.Tensor) -> torch.Tensor:
        """``[n_eval_users, max_heldout]`` 0-based positions (``-1`` pads); for tests and tools."""
        out = []
        item_t = item_emb.detach().T
        users = torch.as_tensor(self.users, device=self.device)
        with torch.no_grad():
            for start in range(0, len(users), self.users_per_batch):
                batch = users[start : start + self.users_per_batch]
                pos, mask, _ = self._positions(batch, user_emb.detach()[batch] @ item_t)
                out.append(torch.where(mask, pos, torch.full_like(pos, -1)))
        return torch.cat(out) if out else torch.empty(0, self.max_heldout, dtype=torch.long)

    def _positions(
        self, batch: torch.Tensor, scores: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Positions ``[b, kmax]`` of each user's held-out items, their mask, candidate counts."""
        b = batch.shape[0]
        h_rows, h_cols, h_slot = self._held.rows_of(batch)
        held_items = torch.zeros(b, self.max_heldout, dtype=torch.long, device=self.device)
        held_items[h_rows, h_slot] = h_cols
        mask = torch.zeros(b, self.max_heldout, dtype=torch.bool, device=self.device)
        mask[h_rows, h_slot] = True
        held_scores = scores.gather(1, held_items)  # pads read item 0, masked out below

        e_rows, e_cols, _ = self._excl.rows_of(batch)
        scores[e_rows, e_cols] = -math.inf
        scores[h_rows, h_cols] = -math.inf  # held-out items are compared among themselves below
        n_held = mask.sum(1)
        n_cand = self.n_items - self._n_excluded[batch] - n_held  # non-held-out candidates

        if self.max_heldout == 1:
            above = (scores >= held_scores).sum(1, keepdim=True)
        else:
            ordered, _ = torch.sort(scores, dim=1)
            below = torch.searchsorted(ordered, held_scores.contiguous(), right=False)
            above = self.n_items - below
            slot = torch.arange(self.max_heldout, device=self.device)
            hs_i, hs_j = held_scores.unsqueeze(2), held_scores.unsqueeze(1)
            earlier = slot.unsqueeze(1) > slot.unsqueeze(0)  # [k, k]: j comes before i
            beats = (hs_j > hs_i) | ((hs_j == hs_i) & earlier)
            above = above + (beats & mask.unsqueeze(1)).sum(2)
        return above, mask, n_cand

    def _batch_metrics(
        self, pos: torch.Tensor, mask: torch.Tensor, n_cand: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        n_held = mask.sum(1)
        pos_f = pos.to(torch.float64)
        gain = torch.where(mask, 1.0 / torch.log2(pos_f + 2.0), torch.zeros_like(pos_f))
        best = torch.where(mask, pos, torch.full_like(pos, 2**62)).min(1).values
        out: dict[str, torch.Tensor] = {}
        for k in self.topk:
            hit = mask & (pos < k)
            ideal_n = torch.clamp(n_held, max=k)
            ranks = torch.arange(k, device=pos.device, dtype=torch.float64)
            idcg_table = torch.cumsum(1.0 / torch.log2(ranks + 2.0), 0)
            idcg = idcg_table[ideal_n - 1]
            out[f"recall@{k}"] = hit.sum(1).to(torch.float64) / ideal_n
            out[f"ndcg@{k}"] = (gain * hit).sum(1) / idcg
            out[f"mrr@{k}"] = torch.where(best < k, 1.0 / (best.to(torch.float64) + 1.0), 0.0)
        below = (n_cand.unsqueeze(1) - (pos - _held_above(pos, mask))).to(torch.float64)
        auc = torch.where(mask, below / n_cand.clamp(min=1).unsqueeze(1), 0.0).sum(1) / n_held
        out["auc"] = auc
        return out


def _held_above(pos: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Number of other held-out items placed above each held-out item (0 with one per user)."""
    if pos.shape[1] == 1:
        return torch.zeros_like(pos)
    order = torch.where(mask, pos, torch.full_like(pos, 2**62))
    return (order.unsqueeze(1) < order.unsqueeze(2)).sum(2)
