"""The numba kernels of :mod:`bcl_rec.training.row_kernels`; importing this imports numba."""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

PREFETCH_AHEAD = 4  # rows requested ahead of the one being worked on (2 to 16: the same speed)
CACHE_LINE = 64  # bytes
COARSE_STRIDE = 8  # train positives per coarse search key: a cache line of int64 positives
# from this many distinct rows (row_adam) or rows (unlabeled_items) a call with threads > 1
# splits its rows into that many contiguous parts, one per thread; below it, a thread's start
# costs more than its share of the rows (MovieLens-100K's ~1,700 rows a step stay serial)
PARALLEL_MIN_ROWS = 4096


@intrinsic
def _prefetch(typingctx, address):  # noqa: ARG001 - numba's intrinsic signature
    """``llvm.prefetch`` of the cache line at ``address`` for writing, kept in all levels."""

    def codegen(context, builder, signature, args):  # noqa: ARG001
        byte_ptr, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32])
        fn = builder.module.declare_intrinsic("llvm.prefetch", [byte_ptr], fnty)
        builder.call(fn, [builder.inttoptr(args[0], byte_ptr), i32(1), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(types.intp), codegen


@njit(cache=True, nogil=True, error_model="numpy")
def sum_repeats(
    index: np.ndarray, values: np.ndarray, slot: np.ndarray, distinct: np.ndarray, grad: np.ndarray
) -> int:
    """The distinct rows of ``index`` into ``distinct`` (order of first appearance) and their
    summed gradient rows into ``grad`` (repeats summed in entry order); returns their number.
    ``slot`` maps a row to its place; the caller resets it to -1 after use."""
    n, dim = values.shape
    k = 0
    for i in range(n):  # a slot per distinct row, in order of first appearance
        r = index[i]
        if slot[r] < 0:
            slot[r] = k
            distinct[k] = r
            k += 1
    grad[:k] = 0
    for i in range(n):
        summed = grad[slot[index[i]]]
        row = values[i]
        for j in range(dim):
            summed[j] += row[j]
    return k


@njit(cache=True, nogil=True, error_model="numpy")
def row_adam(
    index: np.ndarray,
    values: np.ndarray,
    param: np.ndarray,
    exp_avg: np.ndarray,
    exp_avg_sq: np.ndarray,
    slot: np.ndarray,
    distinct: np.ndarray,
    grad: np.ndarray,
    one_minus_beta1: float,
    one_minus_beta2: float,
    eps: float,
    neg_step_size: float,
    threads: int,
) -> int:
    """SparseAdam's update of the rows ``index`` (repeats summed, in entry order) in place.

    ``values[i]`` is the gradient of row ``index[i]``; ``param``, ``exp_avg``, ``exp_avg_sq``
    are C-contiguous ``[rows, dim]`` of ``values``' dtype and the scalars of that dtype too.
    Scratch, reused from step to step so that a step allocates nothing: ``slot``, int64 -1 per
    row of ``param`` (left all -1 again); ``distinct``, int64 of at least ``len(index)``
    entries; ``grad``, at least ``[len(index), dim]`` of ``values``' dtype. Per distinct row with
    summed gradient g, in the order of :class:`~bcl_rec.training.optim.RowSparseAdam`'s torch form:
    ``m += (g - m)(1 - b1)``, ``v += (g g - v)(1 - b2)``, ``p += m / (sqrt(v) + eps) (-step)``.
    With ``threads`` > 1 and at least ``PARALLEL_MIN_ROWS`` distinct rows, the rows are updated
    by that many threads, each a contiguous part: every row's arithmetic is its own, so the
    result is the same bit for bit. Returns the number of distinct rows.
    """
    k = sum_repeats(index, values, slot, distinct, grad)
    args = (distinct, grad, param, exp_avg, exp_avg_sq, slot,
            one_minus_beta1, one_minus_beta2, eps, neg_step_size)
    if threads > 1 and k >= PARALLEL_MIN_ROWS:
        _adam_parts(threads, k, *args)
    else:
        _adam_rows(0, k, *args)
    return k


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _adam_parts(parts, k, distinct, grad, param, exp_avg, exp_avg_sq, slot, b1, b2, eps, step):  # noqa: ANN001
    """:func:`_adam_rows` of ``parts`` contiguous parts of the ``k`` distinct rows, in parallel."""
    per = (k + parts - 1) // parts
    for t in prange(parts):
        lo = min(k, t * per)
        _adam_rows(lo, min(k, lo + per), distinct, grad, param, exp_avg, exp_avg_sq, slot,
                   b1, b2, eps, step)


@njit(cache=True, nogil=True, error_model="numpy")
def _adam_rows(lo, hi, distinct, grad, param, exp_avg, exp_avg_sq, slot, b1, b2, eps, step):  # noqa: ANN001
    """The update of the distinct rows ``lo`` to ``hi - 1`` (:func:`row_adam`), the rows
    ``PREFETCH_AHEAD`` places ahead requested so that their misses overlap."""
    dim = grad.shape[1]
    row_bytes = dim * grad.itemsize
    p_base, m_base, v_base = param.ctypes.data, exp_avg.ctypes.data, exp_avg_sq.ctypes.data
    for s in range(lo, hi):
        if s + PREFETCH_AHEAD < hi:
            ahead = distinct[s + PREFETCH_AHEAD] * row_bytes
            for offset in range(0, row_bytes, CACHE_LINE):
                _prefetch(p_base + ahead + offset)
                _prefetch(m_base + ahead + offset)
                _prefetch(v_base + ahead + offset)
        r = distinct[s]
        slot[r] = -1
        g_row, p_row, m_row, v_row = grad[s], param[r], exp_avg[r], exp_avg_sq[r]
        for j in range(dim):
            g = g_row[j]
            m = m_row[j]
            m = m + (g - m) * b1
            v = v_row[j]
            v = v + (g * g - v) * b2
            m_row[j] = m
            v_row[j] = v
            p_row[j] = p_row[j] + m / (np.sqrt(v) + eps) * step


@njit(cache=True, nogil=True, error_model="numpy")
def coarse_index(indptr: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ``COARSE_STRIDE``-th search key ``p_m - m`` of each user's sorted positives.

    Returns ``(pointer, keys)`` in CSR form: user u's coarse keys are
    ``keys[pointer[u]:pointer[u + 1]]``, the keys of m = 0, S, 2S, ... (int32: the keys are
    item ids). An eighth of the positives: small enough to stay in cache on a 25M log, where
    the positives themselves (200 MB) do not.
    """
    n_users = indptr.shape[0] - 1
    pointer = np.empty(n_users + 1, np.int64)
    pointer[0] = 0
    for u in range(n_users):
        degree = indptr[u + 1] - indptr[u]
        pointer[u + 1] = pointer[u] + (degree + COARSE_STRIDE - 1) // COARSE_STRIDE
    keys = np.empty(pointer[n_users], np.int32)
    for u in range(n_users):
        start = indptr[u]
        for t in range(pointer[u + 1] - pointer[u]):
            m = t * COARSE_STRIDE
            keys[pointer[u] + t] = indices[start + m] - m
    return pointer, keys


@njit(cache=True, nogil=True, error_model="numpy")
def by_user(users: np.ndarray, n_users: int) -> np.ndarray:
    """The rows of ``users`` grouped by user, in increasing user order (stable): a counting
    sort when the rows are at least an eighth of the users, else a merge sort of the rows."""
    batch = users.shape[0]
    if 8 * batch < n_users:
        return np.argsort(users, kind="mergesort")
    start = np.zeros(n_users + 1, np.int64)
    for b in range(batch):
        start[users[b] + 1] += 1
    for u in range(n_users):
        start[u + 1] += start[u]
    visit = np.empty(batch, np.int64)
    for b in range(batch):
        u = users[b]
        visit[start[u]] = b
        start[u] += 1
    return visit


@njit(cache=True, nogil=True, error_model="numpy")
def unlabeled_items(
    indptr: np.ndarray,
    indices: np.ndarray,
    coarse_pointer: np.ndarray,
    coarse_keys: np.ndarray,
    users: np.ndarray,
    rank: np.ndarray,
    threads: int,
) -> np.ndarray:
    """The ``rank[b, c]``-th unlabeled item (0-based, increasing order) of user ``users[b]``.

    ``indptr``/``indices``: the sorted CSR of train positives; ``coarse_*``: their
    :func:`coarse_index`. The r-th unlabeled item is ``r + #{m : p_m - m <= r}``
    (:mod:`bcl_rec.training.sampler`), and the keys ``p_m - m`` are nondecreasing. The count is
    found in two levels: a branchless binary search of the coarse keys (in cache), run for a
    row's draws side by side, then of the one ``COARSE_STRIDE`` block of positives it points
    to, fetched for all the row's draws before any is searched, so their cache misses overlap.
    Rows are visited grouped by user (:func:`by_user`): a user drawn many times in the batch
    (on a power-law log, the most active users hold most training pairs) has its coarse keys
    and positives still in cache from its previous row. Each row's items depend on its own
    draws only, so the order changes nothing but the time, and with ``threads`` > 1 and at
    least ``PARALLEL_MIN_ROWS`` rows, that many threads each search a contiguous part of the
    visiting order.
    """
    batch, n = rank.shape
    out = np.empty((batch, n), np.int64)
    visit = by_user(users, indptr.shape[0] - 1)
    args = (visit, indptr, indices, coarse_pointer, coarse_keys, users, rank, out)
    if threads > 1 and batch >= PARALLEL_MIN_ROWS:
        _unlabeled_parts(threads, batch, *args)
    else:
        _unlabeled_rows(0, batch, *args)
    return out


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _unlabeled_parts(parts, batch, visit, indptr, indices, c_pointer, c_keys, users, rank, out):  # noqa: ANN001
    """:func:`_unlabeled_rows` of ``parts`` contiguous parts of the visiting order, in parallel."""
    per = (batch + parts - 1) // parts
    for t in prange(parts):
        lo = min(batch, t * per)
        _unlabeled_rows(lo, min(batch, lo + per), visit, indptr, indices, c_pointer, c_keys,
                        users, rank, out)


@njit(cache=True, nogil=True, error_model="numpy")
def _unlabeled_rows(lo, hi, visit, indptr, indices, coarse_pointer, coarse_keys, users, rank, out):  # noqa: ANN001
    """The rows ``visit[lo:hi]`` of :func:`unlabeled_items` into ``out``."""
    n = rank.shape[1]
    block = np.empty(n, np.int64)  # per draw: coarse keys <= r, then the block searched
    itemsize = indices.itemsize
    for i in range(lo, hi):
        b = visit[i]
        u = users[b]
        start, degree = indptr[u], indptr[u + 1] - indptr[u]
        c_start, c_size = coarse_pointer[u], coarse_pointer[u + 1] - coarse_pointer[u]
        if degree == 0:
            for c in range(n):
                out[b, c] = rank[b, c]
            continue
        for c in range(n):
            block[c] = 0
        size = c_size
        while size > 1:  # lockstep over the draws: the same probes' depth, independent loads
            half = size >> 1
            for c in range(n):
                probe = block[c] + half
                block[c] += half * (coarse_keys[c_start + probe] <= rank[b, c])
            size -= half
        for c in range(n):  # block[c]: how many coarse keys are <= r (0: none, count is 0)
            block[c] += coarse_keys[c_start + block[c]] <= rank[b, c]
            if block[c] > 0:
                _prefetch(indices.ctypes.data + (start + (block[c] - 1) * COARSE_STRIDE) * itemsize)
        for c in range(n):
            r = rank[b, c]
            if block[c] == 0:
                out[b, c] = r
                continue
            pos = (block[c] - 1) * COARSE_STRIDE  # its key is <= r: count is pos + 1 or more
            size = min(COARSE_STRIDE, degree - pos)
            while size > 1:
                half = size >> 1
                probe = pos + half
                pos += half * (indices[start + probe] - probe <= r)
                size -= half
            out[b, c] = r + pos + 1
