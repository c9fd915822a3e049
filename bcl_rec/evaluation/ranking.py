"""Full-ranking evaluation: rank every candidate item for every user, in memory-bounded tiles.

For each evaluated user the candidates are all items except the excluded ones (train items, and
the validation item when testing). The position of a held-out item h is the number of candidates
ranked above it, where ties count *against* h (pessimistic): a non-held-out candidate j is above h
when ``s_j >= s_h``; another held-out item h' is above h when ``s_h' > s_h`` or, on a tie, when it
comes first in column order. Metrics, averaged over users with a held-out item:

- ``recall@K`` = hits in the top K / |H|  (the standard definition, RecBole's and LightGCN's;
  = HR@K with one held-out item)
- ``ndcg@K``   = sum over hits of 1/log2(pos + 2), divided by the ideal DCG of min(K, |H|) hits
  (binary gain, log2; IDCG = 1 with one held-out item)
- ``mrr@K``    = 1/(pos + 1) of the best-placed held-out item if it is in the top K, else 0
- ``auc``      = fraction of non-held-out candidates ranked below the held-out items (ties count
  against them), averaged over a user's held-out items; used to estimate BCL's alpha.

Held-out items that cannot be ranked (``missing``: not in the catalogue, e.g. a test item that
never occurs in train under ``data.presplit_policy: miss``) are misses: they count in |H| and in
the ideal DCG, are never a hit, and count as ranked last in the AUC (0 candidates below them). A
user whose held-out items are all missing is evaluated with every metric 0.

How (no sort, no top-K, no users x items matrix): scores come from products
``item_block @ user_emb[tile].T`` over fixed blocks of item rows (:mod:`bcl_rec.evaluation.plan`:
the whole catalogue on CUDA and for catalogues up to 4,096 items, else cache-sized blocks; a short
last block is zero-padded, so every product has one shape). Users with one held-out item -- all
of them in leave-one-out -- are tiled so that a tile's items share one block: that block is scored
first and gives each user's threshold ``t`` (its item's score); then every block is scored,
compared into itself (``>= t``) and column-summed while it is still in cache (see
:mod:`bcl_rec.evaluation.counting`). Excluded items are never masked: their scores are gathered
from their block (O(excluded) work) and the ones ``>= t`` are subtracted after the loop, with the
item itself, in one vectorised pass. Users with several held-out items (processed first, most
items first) get whole ``[n_items, width]`` tiles assembled from the same block products, one
counting pass per held-out slot, and their held-out items' order among themselves is settled on
their own scores. Every score compared comes from the same block product, so the counts are
exact. Positions are integers and the metrics are summed per user in a fixed order, so the result
is bitwise the same for every batch size (given BLAS kernels that round a column the same way in
any product of at least 16 columns, which :mod:`bcl_rec.evaluation.plan` ensures and the tests
check).

Peak extra memory is the planned workspace (``workspace_bytes``: the larger of one score block
with its users' rows, and -- when some user holds several items -- a whole tile, its flag tile
and the padded last block) plus O(held-out + excluded entries) gathered scores
and positions (4 bytes per excluded entry, the corrections in ``CORRECTION_CHUNK`` pieces), which
scale with the interactions, not with users x items.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp
import torch

from bcl_rec.evaluation.counting import count_at_least, exact_sum_dtype
from bcl_rec.evaluation.metrics import user_metrics
from bcl_rec.evaluation.plan import TilePlan, plan_tiles

# excluded entries corrected per pass after the block loop: bounds that pass's memory (~13 bytes
# an entry) at ~13 MB however many items train holds
CORRECTION_CHUNK = 1 << 20


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
        missing: ``[n_users]`` held-out items per user that cannot be ranked (counted as
            misses, see the module docstring); None means none.
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
        missing: np.ndarray | None = None,
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
        ranked = np.flatnonzero(counts > 0)  # users with a held-out item to rank
        self.users, self._n_missing, self._slot = _evaluated_users(ranked, missing, self.n_users)
        self.max_heldout = int(counts.max()) if len(counts) else 0
        self.plan: TilePlan = plan_tiles(
            self.n_items, dim, self.device, users_per_batch, max_memory_mb, len(ranked),
            several=self.max_heldout > 1,
        )
        self.users_per_batch = self.plan.users
        # evaluation order: users with several held-out items first, most items first; then the
        # one-item users grouped by the score block their item falls in; ties by user index
        n_held = counts[ranked]
        first_item = heldout.indices[heldout.indptr[ranked]].astype(np.int64)
        key = np.where(n_held > 1, -n_held, first_item // self.plan.block_rows)
        self._rank = np.argsort(key, kind="stable")
        order = ranked[self._rank]
        self._n_ranked = len(ranked)
        if self._n_missing is not None:
            self._n_missing = self._n_missing[self._rank]  # evaluation order
        held, excl = heldout[order], exclude[order]
        self._n_held = np.diff(held.indptr).astype(np.int64)
        self._n_several = int(np.count_nonzero(n_held > 1))
        self._held_ptr = held.indptr.astype(np.int64)
        self._excl_ptr = excl.indptr.astype(np.int64)
        self._n_candidates = self.n_items - np.diff(excl.indptr) - self._n_held
        self._order = torch.as_tensor(order, dtype=torch.long, device=self.device)
        step, width = self.plan.users, self.plan.width
        several = slice(0, self._n_several)  # whole tiles: only these rows look entries up
        self._held = _Entries(held[several], step, width, self.device)
        self._excl = _Entries(excl[several], step, width, self.device)
        self._blocked = _BlockedTiles(held, excl, self._n_several, self.plan, self.device)

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
        if self._n_ranked == 0:  # nothing to rank: every evaluated user has only misses
            names = [f"{m}@{k}" for k in self.topk for m in ("recall", "ndcg", "mrr")] + ["auc"]
            return {name: torch.zeros(len(self.users), dtype=torch.float64) for name in names}
        nonheld, held_above = self._count(user_emb, item_emb)
        values = user_metrics(
            nonheld, held_above, self._held_ptr, self._n_candidates, self.topk, self._n_missing
        )
        out = {}
        for name, vec in values.items():
            in_user_order = np.zeros(len(self.users), dtype=vec.dtype)  # all-missing users: 0
            in_user_order[self._rank if self._slot is None else self._slot[self._rank]] = vec
            out[name] = torch.from_numpy(in_user_order)
        return out

    @torch.no_grad()
    def positions(self, user_emb: torch.Tensor, item_emb: torch.Tensor) -> torch.Tensor:
        """``[n_eval_users, max_heldout]`` 0-based positions (``-1`` pads); for tests and tools."""
        out = torch.full((len(self.users), self.max_heldout), -1, dtype=torch.long)
        if self._n_ranked == 0:
            return out
        nonheld, held_above = self._count(user_emb, item_emb)
        rank = self._rank if self._slot is None else self._slot[self._rank]
        rows = np.repeat(rank, self._n_held)
        slots = np.arange(len(nonheld)) - np.repeat(self._held_ptr[:-1], self._n_held)
        out[torch.from_numpy(rows), torch.from_numpy(slots)] = torch.from_numpy(
            nonheld + held_above
        )
        return out

    def _count(self, user_emb: torch.Tensor, item_emb: torch.Tensor) -> tuple[np.ndarray, ...]:
        """Per held-out entry (evaluation order): non-held-out candidates and held-out items
        ranked above it, as int64 numpy arrays."""
        items = item_emb.detach().to(self.device).contiguous()
        users = user_emb.detach().to(self.device)
        blocks = _item_blocks(items, self.plan.block_rows)
        nonheld = torch.zeros(int(self._held_ptr[-1]), dtype=torch.long, device=self.device)
        held_above = torch.zeros_like(nonheld)
        if self._n_several:
            self._count_several(users, blocks, nonheld, held_above)
        if self._n_several < self._n_ranked:
            self._count_blocked(users, blocks, nonheld)
        return nonheld.cpu().numpy(), held_above.cpu().numpy()

    def _count_several(self, users, blocks, nonheld, held_above) -> None:
        """Users with several held-out items: whole ``[n_items, width]`` tiles (computed block by
        block, so every score is the one the one-item path computes), one counting pass per
        held-out slot."""
        n, width, step, dev = self.n_items, self.plan.width, self.plan.users, self.device
        dtype, dim = blocks[0].dtype, blocks[0].shape[1]
        tile = torch.empty(n, width, dtype=dtype, device=dev)
        rows = torch.zeros(width, dim, dtype=dtype, device=dev)
        scratch = torch.empty(n, width, dtype=dtype, device=dev)
        for start in range(0, self._n_several, step):
            stop = min(start + step, self._n_several)
            b = stop - start
            if b < width:
                rows[b:].zero_()
            torch.index_select(users, 0, self._order[start:stop], out=rows[:b])
            _scores_into(tile, blocks, rows)
            h0, h1 = int(self._held_ptr[start]), int(self._held_ptr[stop])
            e0, e1 = int(self._excl_ptr[start]), int(self._excl_ptr[stop])
            counts = self._n_held[start:stop]
            with _counting_threads(dev):
                nonheld[h0:h1], held_above[h0:h1] = _several(
                    tile, self._held.slice(h0, h1), self._excl.slice(e0, e1), counts,
                    int(counts[0]), scratch,
                )

    def _count_blocked(self, users, blocks, nonheld) -> None:
        """Users with one held-out item, in tiles whose users' items share one score block.

        Per tile, that block is scored first and gives the thresholds (the held-out items'
        scores); then every block is scored, compared into itself and counted while it is in
        cache. Excluded items' scores are gathered from their block before the comparison; the
        corrections (excluded items, the item itself) run once, vectorised, after the loop."""
        plan, blocked, dev = self.plan, self._blocked, self.device
        r, width, n_blocks = plan.block_rows, plan.block_width, len(blocks)
        dtype = blocks[0].dtype
        block = torch.empty(r, width, dtype=dtype, device=dev)
        flat = block.view(-1)
        rows = torch.zeros(width, blocks[0].shape[1], dtype=dtype, device=dev)
        thresholds = torch.full((width,), torch.inf, dtype=dtype, device=dev)
        sum_dtype = exact_sum_dtype(self.n_items)
        part = torch.empty(width, dtype=sum_dtype, device=dev)
        acc = torch.empty(width, dtype=sum_dtype, device=dev)
        counts = torch.empty(len(blocked.entries), dtype=sum_dtype, device=dev)
        targets = torch.empty(len(blocked.entries), dtype=dtype, device=dev)
        excl_scores = torch.empty(len(blocked.excluded_at), dtype=dtype, device=dev)
        first = self._n_several
        for t, (start, stop, own) in enumerate(blocked.tiles):
            b = stop - start
            if b < width:
                rows[b:].zero_()
            torch.index_select(users, 0, self._order[start:stop], out=rows[:b])
            lo, hi = start - first, stop - first
            acc.zero_()
            for k in [own, *(k for k in range(n_blocks) if k != own)]:
                torch.mm(blocks[k], rows.T, out=block)
                if k == own:
                    torch.index_select(flat, 0, blocked.target_at[lo:hi], out=targets[lo:hi])
                    thresholds[:b] = targets[lo:hi]
                    thresholds[b:] = torch.inf
                p0, p1 = blocked.excluded_ptr[t * n_blocks + k : t * n_blocks + k + 2]
                if p1 > p0:
                    torch.index_select(flat, 0, blocked.excluded_at[p0:p1], out=excl_scores[p0:p1])
                torch.ge(block, thresholds, out=block)
                real = min(r, self.n_items - k * r)  # the last block may be padded
                torch.sum(block[:real], 0, dtype=sum_dtype, out=part)
                acc += part
            counts[lo:hi] = acc[:b]
        count = counts.long() - (targets >= targets).long()  # minus the item itself
        owner = blocked.excluded_owner
        for lo in range(0, len(owner), CORRECTION_CHUNK):  # O(chunk) transient memory
            part_owner = owner[lo : lo + CORRECTION_CHUNK]
            above = excl_scores[lo : lo + CORRECTION_CHUNK] >= targets[part_owner]
            count.index_add_(0, part_owner, above.long(), alpha=-1)
        nonheld[blocked.entries] = count


def _evaluated_users(ranked: np.ndarray, missing: np.ndarray | None, n_users: int
                     ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The evaluated users (those with a held-out item to rank, and those with only missing
    ones), each ranked user's missing count and its index among the evaluated users (both None
    when no item is missing, so the common case pays nothing)."""
    if missing is None:
        return ranked, None, None
    missing = np.asarray(missing)
    if missing.shape != (n_users,) or missing.dtype.kind not in "iu" or (missing < 0).any():
        raise ValueError(f"missing must be {n_users} non-negative ints (one per user), got "
                         f"shape {missing.shape} dtype {missing.dtype}")
    if not missing.any():
        return ranked, None, None
    users = np.union1d(ranked, np.flatnonzero(missing))
    return users, missing[ranked].astype(np.int64), np.searchsorted(users, ranked)


def _item_blocks(items: torch.Tensor, rows: int) -> list[torch.Tensor]:
    """``items`` in blocks of ``rows`` rows; a short last block is zero-padded to ``rows``, so
    every product has the same shape (and BLAS rounds every block alike)."""
    blocks = [items[i : i + rows] for i in range(0, items.shape[0], rows)]
    if blocks[-1].shape[0] < rows:
        padded = items.new_zeros(rows, items.shape[1])
        padded[: blocks[-1].shape[0]] = blocks[-1]
        blocks[-1] = padded
    return blocks


def _scores_into(tile: torch.Tensor, blocks: list[torch.Tensor], rows: torch.Tensor) -> None:
    """``tile[n_items, width] = items @ rows.T``, block by block."""
    r, n = blocks[0].shape[0], tile.shape[0]
    for k, block in enumerate(blocks):
        lo, hi = k * r, min((k + 1) * r, n)
        if hi - lo == r:
            torch.mm(block, rows.T, out=tile[lo:hi])
        else:
            tile[lo:hi] = torch.mm(block, rows.T)[: hi - lo]


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


class _BlockedTiles:
    """The tiles of the one-item users (rows ``first:`` of the evaluation order) and where their
    scores are found in the score blocks.

    ``tiles``: ``(start, stop, block)`` per tile, its users sharing the block of their item.
    ``entries``: each user's held-out entry; ``target_at``: its offset in the flattened
    ``[block_rows, block_width]`` block. ``excluded_at`` / ``excluded_owner``: the users'
    excluded entries, sorted by (tile, block), their offsets in their block and the user (index
    into ``entries``) each belongs to; ``excluded_ptr[tile * n_blocks + block]`` starts each
    (tile, block) run.
    """

    def __init__(self, held: sp.csr_matrix, excl: sp.csr_matrix, first: int, plan: TilePlan,
                 device: torch.device) -> None:
        r, width, step = plan.block_rows, plan.block_width, plan.block_users
        n_rows = held.shape[0]
        n_blocks = max(-(-held.shape[1] // r), 1)
        items = held.indices[held.indptr[first:n_rows]].astype(np.int64)
        own = items // r
        group = first + np.flatnonzero(np.r_[True, own[1:] != own[:-1]])  # runs of one block
        ends = np.r_[group[1:], n_rows] if len(group) else group
        self.tiles = [(lo, min(lo + step, int(end)), int(own[lo - first]))
                      for g0, end in zip(group.tolist(), ends.tolist(), strict=True)
                      for lo in range(g0, end, step)]
        starts = np.array([lo for lo, _, _ in self.tiles], dtype=np.int64)
        sizes = np.array([hi - lo for lo, hi, _ in self.tiles], dtype=np.int64)
        tile_of = np.repeat(np.arange(len(self.tiles), dtype=np.int64), sizes)
        col = np.arange(first, n_rows, dtype=np.int64) - starts[tile_of]
        e0, e1 = int(excl.indptr[first]), int(excl.indptr[n_rows])
        e_user = np.repeat(np.arange(n_rows - first, dtype=np.int64),
                           np.diff(excl.indptr[first:]))
        e_items = excl.indices[e0:e1].astype(np.int64)
        e_block = e_items // r
        key = tile_of[e_user] * n_blocks + e_block
        perm = np.argsort(key, kind="stable")

        def on_device(values: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(values, dtype=torch.long, device=device)

        self.entries = on_device(held.indptr[first:n_rows])
        self.target_at = on_device((items - own * r) * width + col)
        self.excluded_at = on_device(((e_items - e_block * r) * width + col[e_user])[perm])
        self.excluded_owner = on_device(e_user[perm])
        self.excluded_ptr = np.searchsorted(
            key[perm], np.arange(len(self.tiles) * n_blocks + 1)).tolist()


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
