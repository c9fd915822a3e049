"""Full-ranking evaluation: rank every candidate item for every user, in memory-bounded tiles.

For each evaluated user the candidates are all items except the excluded ones (train items, and
the validation item when testing). The position of a held-out item h is the number of candidates
ranked above it, where ties count *against* h (pessimistic): a non-held-out candidate j is above h
when ``s_j >= s_h``; another held-out item h' is above h when ``s_h' > s_h`` or, on a tie, when it
comes first in column order. Metrics, averaged over users with a held-out item:

- ``recall@K`` = hits in the top K / min(K, |H|)  (= HR@K with one held-out item)
- ``ndcg@K``   = sum over hits of 1/log2(pos + 2), divided by the ideal DCG of min(K, |H|) hits
  (binary gain, log2; IDCG = 1 with one held-out item)
- ``mrr@K``    = 1/(pos + 1) of the best-placed held-out item if it is in the top K, else 0
- ``auc``      = fraction of non-held-out candidates ranked below the held-out items (ties count
  against them), averaged over a user's held-out items; used to estimate BCL's alpha.

How (no sort, no top-K, no users x items matrix): users are scored in tiles ``[n_items, width]``
by one product ``item_emb @ user_emb[tile].T`` (see :mod:`bcl_rec.evaluation.plan` for the
width). For every held-out item the tile gives its score ``t``; one pass counts the items of the
whole catalogue scoring ``>= t`` (compare into the tile itself, then a column sum; see
:mod:`bcl_rec.evaluation.counting`). Excluded items are never masked in the tile: their scores
are gathered (O(excluded) work) and the ones ``>= t`` are subtracted, as are the user's held-out
items, whose order among themselves is settled on their own scores. Every score compared comes
from the same product, so the counts are exact. Users are processed by decreasing number of
held-out items: the few tiles whose users hold several items count once per slot (the users with
that many items are a prefix of the columns), and every other tile -- all of them with one
held-out item per user, as in leave-one-out -- does only the product, two gathers, one compare
and one sum; their corrections run once, vectorised, after the loop. Positions are integers and
the metrics are summed per user in a fixed order, so the result is bitwise the same for every
batch size (given BLAS kernels that round a column the same way in any tile of at least 16
columns, which :mod:`bcl_rec.evaluation.plan` ensures and the tests check).

Peak extra memory is the tile (``workspace_bytes``: the scores, a second flag tile when some
user holds several items, the users' rows) plus O(held-out + excluded entries) gathered scores
and positions, which scale with the interactions, not with users x items.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp
import torch

from bcl_rec.evaluation.counting import count_at_least
from bcl_rec.evaluation.metrics import user_metrics
from bcl_rec.evaluation.plan import TilePlan, plan_tiles


class FullRankingEvaluator:
    """Evaluates embedding models against held-out items with train (and other) items excluded.

    Args:
        heldout: user x item CSR of the items to find (one or several per user).
        exclude: user x item CSR of items that are not candidates (e.g. train, or train + valid).
        topk: cut-offs K.
        users_per_batch: users scored at once (tiles narrower than 16 users are padded). None
            derives it from ``max_memory_mb`` and, on the CPU, the cache size.
        max_memory_mb: budget for the score tile when ``users_per_batch`` is None.
        device: where scoring happens (the model's device).
        dim: embedding size, for the memory plan (the user rows of a tile).
    """

    def __init__(
        self,
        heldout: sp.csr_matrix,
        exclude: sp.csr_matrix,
        topk: Sequence[int] = (10, 20),
        users_per_batch: int | None = None,
        max_memory_mb: float = 256.0,
        device: torch.device | str = "cpu",
        dim: int = 64,
    ) -> None:
        if heldout.shape != exclude.shape:
            raise ValueError(f"heldout shape {heldout.shape} != exclude shape {exclude.shape}")
        if not topk or min(topk) < 1:
            raise ValueError(f"eval.topk must be a non-empty list of positive ints, got {topk}")
        self.n_users, self.n_items = heldout.shape
        self.topk = sorted(set(int(k) for k in topk))
        self.device = torch.device(device)
        heldout = _binary(heldout)
        exclude = _binary(exclude)
        exclude = exclude - exclude.multiply(heldout)  # a held-out item is never excluded
        exclude.eliminate_zeros()
        counts = np.diff(heldout.indptr)
        self.users = np.flatnonzero(counts > 0)
        self.max_heldout = int(counts.max()) if len(counts) else 0
        self.plan: TilePlan = plan_tiles(
            self.n_items, dim, self.device, users_per_batch, max_memory_mb, len(self.users),
            several=self.max_heldout > 1,
        )
        self.users_per_batch = self.plan.users
        # evaluation order: most held-out items first, ties by user index
        self._rank = np.argsort(-counts[self.users], kind="stable")
        order = self.users[self._rank]
        held, excl = heldout[order], exclude[order]
        self._n_held = np.diff(held.indptr).astype(np.int64)
        self._held_ptr = held.indptr.astype(np.int64)
        self._excl_ptr = excl.indptr.astype(np.int64)
        self._n_candidates = self.n_items - np.diff(excl.indptr) - self._n_held
        self._order = torch.as_tensor(order, dtype=torch.long, device=self.device)
        step, width = self.plan.users, self.plan.width
        self._held = _Entries(held, step, width, self.device)
        self._excl = _Entries(excl, step, width, self.device)
        self._single = _SingleRows(self._n_held, self._held_ptr, self._excl_ptr, step, width,
                                   self.device)

    @property
    def workspace_bytes(self) -> int:
        """Bytes of the score tile and its buffers (the planned peak of the scoring loop)."""
        return self.plan.workspace_bytes

    @torch.no_grad()
    def evaluate(self, user_emb: torch.Tensor, item_emb: torch.Tensor) -> dict[str, float]:
        """Metrics averaged over the users that have a held-out item.

        Per-user values are summed once, in user order, so the result is bitwise the same for
        every ``users_per_batch``.
        """
        per_user = self.per_user(user_emb, item_emb)
        n = max(len(self.users), 1)
        return {name: float(values.sum()) / n for name, values in per_user.items()}

    @torch.no_grad()
    def per_user(self, user_emb: torch.Tensor, item_emb: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each metric as a float64 vector over the evaluated users (``self.users`` order)."""
        if len(self.users) == 0:
            names = [f"{m}@{k}" for k in self.topk for m in ("recall", "ndcg", "mrr")] + ["auc"]
            return {name: torch.zeros(0, dtype=torch.float64) for name in names}
        nonheld, held_above = self._count(user_emb, item_emb)
        values = user_metrics(
            nonheld, held_above, self._held_ptr, self._n_candidates, self.topk
        )
        out = {}
        for name, vec in values.items():
            in_user_order = np.empty_like(vec)
            in_user_order[self._rank] = vec
            out[name] = torch.from_numpy(in_user_order)
        return out

    @torch.no_grad()
    def positions(self, user_emb: torch.Tensor, item_emb: torch.Tensor) -> torch.Tensor:
        """``[n_eval_users, max_heldout]`` 0-based positions (``-1`` pads); for tests and tools."""
        out = torch.full((len(self.users), self.max_heldout), -1, dtype=torch.long)
        if len(self.users) == 0:
            return out
        nonheld, held_above = self._count(user_emb, item_emb)
        rows = np.repeat(self._rank, self._n_held)
        slots = np.arange(len(nonheld)) - np.repeat(self._held_ptr[:-1], self._n_held)
        out[torch.from_numpy(rows), torch.from_numpy(slots)] = torch.from_numpy(
            nonheld + held_above
        )
        return out

    def _count(self, user_emb: torch.Tensor, item_emb: torch.Tensor) -> tuple[np.ndarray, ...]:
        """Per held-out entry (evaluation order): non-held-out candidates and held-out items
        ranked above it, as int64 numpy arrays.

        Tiles whose users hold one item each (most tiles) only gather the scores they need and
        count the whole catalogue; their corrections (excluded items, the item itself) are
        applied to all of them at once after the loop."""
        items = item_emb.detach().to(self.device).contiguous()
        users = user_emb.detach().to(self.device)
        n, width, step, dev = self.n_items, self.plan.width, self.plan.users, self.device
        n_tiles = -(-len(self.users) // step)
        tile = torch.empty(n * width, dtype=items.dtype, device=dev)
        rows = torch.zeros(width, items.shape[1], dtype=items.dtype, device=dev)
        several = self.max_heldout > 1
        scratch = torch.empty(n, width, dtype=items.dtype, device=dev) if several else None
        thresholds = torch.empty(width, dtype=items.dtype, device=dev)
        sum_dtype = torch.float32 if n <= 2**24 else torch.float64  # exact integer sums
        at_least = torch.zeros(n_tiles * width, dtype=sum_dtype, device=dev)
        targets = torch.empty(len(self._held.cols), dtype=items.dtype, device=dev)
        excl_scores = torch.empty(len(self._excl.cols), dtype=items.dtype, device=dev)
        nonheld = torch.zeros(len(self._held.cols), dtype=torch.long, device=dev)
        held_above = torch.zeros_like(nonheld)
        for t, start in enumerate(range(0, len(self.users), step)):
            stop = min(start + step, len(self.users))
            b = stop - start
            if b < width:
                rows[b:].zero_()
            torch.index_select(users, 0, self._order[start:stop], out=rows[:b])
            scores = torch.mm(items, rows.T, out=tile.view(n, width))
            values = scores.view(-1)
            h0, h1 = int(self._held_ptr[start]), int(self._held_ptr[stop])
            e0, e1 = int(self._excl_ptr[start]), int(self._excl_ptr[stop])
            kmax = int(self._n_held[start])
            with _counting_threads(dev):
                torch.index_select(values, 0, self._held.flat[h0:h1], out=targets[h0:h1])
                torch.index_select(values, 0, self._excl.flat[e0:e1], out=excl_scores[e0:e1])
                if kmax == 1:  # entries are in column order, one per column
                    thresholds[:b] = targets[h0:h1]
                    thresholds[b:] = torch.inf
                    torch.ge(scores, thresholds, out=scores)
                    torch.sum(scores, 0, dtype=sum_dtype, out=at_least[t * width : (t + 1) * width])
                else:
                    counts = self._n_held[start:stop]
                    nonheld[h0:h1], held_above[h0:h1] = _several(
                        scores, self._held.slice(h0, h1), self._excl.slice(e0, e1), counts, kmax,
                        scratch,
                    )
        single = self._single
        if len(single.entries):
            target = targets[single.entries]
            count = at_least[single.columns].long() - (target >= target).long()  # minus itself
            excluded = excl_scores[single.excluded] >= targets[single.excluded_owner]
            count.index_add_(0, single.excluded_slot, excluded.long(), alpha=-1)
            nonheld[single.entries] = count
        return nonheld.cpu().numpy(), held_above.cpu().numpy()


@contextmanager
def _counting_threads(device: torch.device) -> Iterator[None]:
    """Count on one CPU thread: the counting ops are short and memory-bound, and splitting each
    over threads costs a barrier, which dominates when the cores are shared (measured: 2-thread
    counting made a 2-core evaluation 1.2-2x slower under load). The product keeps all threads."""
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class _SingleRows:
    """Where the deferred corrections of users in one-item tiles find their numbers.

    ``entries``: their held-out entries; ``columns``: each one's slot in the flat per-tile
    count buffer; ``excluded``: the excluded entries of those users, ``excluded_owner`` the
    held-out entry each is compared with, ``excluded_slot`` its position in ``entries``.
    """

    def __init__(self, n_held: np.ndarray, held_ptr: np.ndarray, excl_ptr: np.ndarray,
                 step: int, width: int, device: torch.device) -> None:
        index = np.arange(len(n_held), dtype=np.int64)
        single = n_held[index // step * step] == 1  # the row's tile holds one item per user
        rows = np.flatnonzero(single)
        slot_of_row = np.full(len(n_held), -1, dtype=np.int64)
        slot_of_row[rows] = np.arange(len(rows))
        excl_rows = np.repeat(index, np.diff(excl_ptr))
        excluded = np.flatnonzero(single[excl_rows])
        owner_rows = excl_rows[excluded]

        def on_device(values: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(values, dtype=torch.long, device=device)

        self.entries = on_device(held_ptr[rows])
        self.columns = on_device(rows // step * width + rows % step)
        self.excluded = on_device(excluded)
        self.excluded_owner = on_device(held_ptr[owner_rows])
        self.excluded_slot = on_device(slot_of_row[owner_rows])


class _Entries:
    """A CSR's entries on the device, located in the score tiles.

    Rows are in evaluation order and tiles hold ``step`` consecutive rows in ``width`` columns:
    ``cols`` is an entry's column in its tile, ``flat`` its offset in the flattened
    ``[n_items, width]`` tile, ``slots`` its position within its row.
    """

    def __init__(self, matrix: sp.csr_matrix, step: int, width: int, device: torch.device):
        counts = np.diff(matrix.indptr)
        rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), counts)
        slots = np.arange(matrix.nnz, dtype=np.int64) - np.repeat(
            matrix.indptr[:-1].astype(np.int64), counts
        )
        cols = rows % step
        items = matrix.indices.astype(np.int64)
        self.cols = torch.as_tensor(cols, device=device)
        self.flat = torch.as_tensor(items * width + cols, device=device)
        self.slots = torch.as_tensor(slots, device=device)

    def slice(self, lo: int, hi: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(column, offset in the tile, slot) of entries ``lo:hi``."""
        return self.cols[lo:hi], self.flat[lo:hi], self.slots[lo:hi]


def _several(scores, held, excl, counts, kmax, scratch) -> tuple[torch.Tensor, torch.Tensor]:
    """General tile: users hold ``counts`` (non-increasing) held-out items, up to ``kmax``.

    Overwrites the tile."""
    h_cols, h_flat, h_slots = held
    e_cols, e_flat, _ = excl
    values = scores.view(-1)
    device, width, b = scores.device, scores.shape[1], len(counts)
    target = torch.full((b, kmax), torch.nan, dtype=scores.dtype, device=device)
    target[h_cols, h_slots] = values[h_flat]
    valid = torch.zeros(b, kmax, dtype=torch.bool, device=device)
    valid[h_cols, h_slots] = True
    e_scores = values[e_flat].unsqueeze(1)
    at_least = torch.zeros(b, kmax, dtype=torch.long, device=device)
    thresholds = torch.full((kmax, width), torch.inf, dtype=scores.dtype, device=device)
    thresholds[:, :b] = target.T
    for slot in range(1, kmax):
        # full contiguous rows (vectorised); columns without this slot compare against +inf
        c = int(np.count_nonzero(counts > slot))  # a prefix of the columns
        at_least[:c, slot] = count_at_least(scores, thresholds[slot], out=scratch)[:c]
    at_least[:, 0] = count_at_least(scores, thresholds[0])[:b]  # last use of the tile
    excluded = (e_scores >= target[e_cols]) & valid[e_cols]
    at_least.index_add_(0, e_cols, excluded.long(), alpha=-1)
    mine, other = target.unsqueeze(2), target.unsqueeze(1)  # [b, k, 1] vs [b, 1, k]
    other_valid = valid.unsqueeze(1)
    slot = torch.arange(kmax, device=device)
    earlier = slot.unsqueeze(0) < slot.unsqueeze(1)  # [k, k]: other slot comes first
    held_ge = ((other >= mine) & other_valid).sum(2)
    above = (((other > mine) | ((other == mine) & earlier)) & other_valid).sum(2)
    nonheld = at_least - held_ge
    return nonheld[h_cols, h_slots], above[h_cols, h_slots]


def _binary(matrix: sp.csr_matrix) -> sp.csr_matrix:
    out = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    out.sum_duplicates()
    out.data[:] = 1.0
    out.sort_indices()
    return out
