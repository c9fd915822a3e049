"""BCL importance weights: the unlabeled CDF ``G``, its inverse, the empirical CDF and omega.

Generative model (spec 1.1): every unlabeled score of an anchor maps to a latent ``t`` in [0, 1].
With ``phi1(t) = 2(1 - t)`` and ``phi2(t) = 2t``::

    p_tn  = alpha phi1 + (1 - alpha) phi2          true negatives
    p_fn  = (1 - alpha) phi1 + alpha phi2          false (hidden) negatives
    p_htn = [alpha (1-beta) phi1 + (1-alpha) beta phi2] / Z,  Z = alpha(1-beta) + (1-alpha)beta
    p_u   = tau_minus p_tn + tau_plus p_fn         unlabeled items
    G(t)  = int_0^t p_u = a t^2 + b t

The weight of an unlabeled item is ``omega = p_htn(t) / p_u(t)`` at ``t = G^-1(u_hat)``, where
``u_hat`` is its empirical-CDF rank. ``E_{p_u}[omega] = 1`` exactly, and ``omega`` depends on the
scores only through ranks, so it is computed under ``no_grad`` on raw (detached) scores and never
receives a gradient. No epsilon is used anywhere: the inverse uses the cancellation-free
("citardauq") root, which is exact for every sign of ``a`` including ``a = 0``.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from ._checks import check_alpha, check_beta, check_choice, check_tau_plus

__all__ = [
    "ECDF_RULES",
    "bcl_weights",
    "ecdf",
    "g_cdf",
    "g_coefficients",
    "g_inverse",
    "g_pdf",
    "weights_from_t",
]

ECDF_RULES = ("max", "mid")

# the within-row ECDF compares all pairs (a [B, N, N] temporary) up to this N and size, and
# sorts beyond: pairs are several times faster for training-sized rows
PAIRWISE_MAX_N = 64
PAIRWISE_MAX_CELLS = 2**22


def g_coefficients(alpha: float, tau_plus: float) -> tuple[float, float]:
    """Coefficients ``(a, b)`` of ``G(t) = a t^2 + b t``.

    ``a = (1 - 2 alpha)(tau_minus - tau_plus)`` and
    ``b = 2(alpha tau_minus + (1 - alpha) tau_plus)``; ``a + b = 1`` and ``b > 0`` on the valid
    domain.
    """
    return _g_coefficients(check_alpha(alpha), check_tau_plus(tau_plus))


def _g_coefficients(alpha: float, tau_plus: float) -> tuple[float, float]:
    tau_minus = 1.0 - tau_plus
    a = (1.0 - 2.0 * alpha) * (tau_minus - tau_plus)
    b = 2.0 * (alpha * tau_minus + (1.0 - alpha) * tau_plus)
    return a, b


def g_cdf(t: Tensor, alpha: float, tau_plus: float) -> Tensor:
    """CDF of the unlabeled latent, ``G(t) = a t^2 + b t`` (spec 1.2).

    Shape:
        - t: any shape, values in [0, 1]
        - output: same shape as ``t``
    """
    a, b = g_coefficients(alpha, tau_plus)
    return t * (a * t + b)


def g_pdf(t: Tensor, alpha: float, tau_plus: float) -> Tensor:
    """Density of the unlabeled latent, ``p_u(t) = G'(t) = b + 2 a t`` (> 0 on [0, 1]).

    Shape:
        - t: any shape
        - output: same shape as ``t``
    """
    a, b = g_coefficients(alpha, tau_plus)
    return b + (2.0 * a) * t


def g_inverse(u: Tensor, alpha: float, tau_plus: float) -> Tensor:
    """Stable inverse ``t = G^-1(u) = 2u / (b + sqrt(b^2 + 4 a u))``, clamped to [0, 1].

    The discriminant is guarded with ``max(D, 0)`` against rounding; the denominator is >= b > 0.
    The endpoint ``u = 1`` maps to ``t = 1`` exactly (``G(1) = 1``), so the top-ranked item under
    ``ecdf="max"`` gets exactly ``omega(1)``. At alpha = 0.5 (``a = 0``, ``b = 1``) it returns
    ``u``.

    Shape:
        - u: any shape, values in [0, 1]
        - output: same shape as ``u``
    """
    return _g_inverse(u, check_alpha(alpha), check_tau_plus(tau_plus))


def _g_inverse(u: Tensor, alpha: float, tau_plus: float) -> Tensor:
    a, b = _g_coefficients(alpha, tau_plus)
    disc = torch.clamp(b * b + (4.0 * a) * u, min=0.0)
    t = (2.0 * u) / (b + torch.sqrt(disc))
    t = torch.where(u >= 1.0, torch.ones_like(t), t)
    return torch.clamp(t, 0.0, 1.0)


def weights_from_t(t: Tensor, alpha: float, beta: float, tau_plus: float) -> tuple[Tensor, Tensor]:
    """Importance weight ``omega(t) = p_htn / p_u`` and posterior ``pi_TN = tau_minus p_tn / p_u``.

    At alpha = beta = 0.5 every factor is exact in floating point, so ``omega == 1`` bit for bit.
    ``pi_FN = 1 - pi_TN = tau_plus p_fn / p_u``.

    Shape:
        - t: any shape, values in [0, 1]
        - output: ``(omega, pi_tn)``, each the shape of ``t``
    """
    return _weights_from_t(t, check_alpha(alpha), check_beta(beta), check_tau_plus(tau_plus))


def _weights_from_t(
    t: Tensor, alpha: float, beta: float, tau_plus: float
) -> tuple[Tensor, Tensor]:
    tp, tm = _prior_in(t.dtype, tau_plus)
    phi1 = 2.0 * (1.0 - t)
    phi2 = 2.0 * t
    p_tn = alpha * phi1 + (1.0 - alpha) * phi2
    p_fn = (1.0 - alpha) * phi1 + alpha * phi2
    c1 = alpha * (1.0 - beta)
    c2 = (1.0 - alpha) * beta
    p_htn = (c1 * phi1 + c2 * phi2) / (c1 + c2)
    tn = tm * p_tn
    p_u = tn + tp * p_fn
    return p_htn / p_u, tn / p_u


@functools.lru_cache(maxsize=128)
def _prior_in(dtype: torch.dtype, tau_plus: float) -> tuple[float, float]:
    """``(tau_plus, 1 - tau_plus)`` rounded to ``dtype`` (as Python floats, so no device copy).

    ``1 - tau_plus`` is computed in ``dtype`` itself, which makes ``tau_minus + tau_plus == 1``
    exact in that dtype (hence ``omega == 1`` exactly at alpha = beta = 0.5).
    """
    tp = torch.tensor(tau_plus, dtype=dtype)
    return float(tp), float(1.0 - tp)


def ecdf(scores: Tensor, rule: str = "max", ref: Tensor | None = None) -> Tensor:
    """Exact empirical CDF of each score within its row, O(N log N) via one sort.

    ``rule="max"`` (the reference): ``u_j = #{k: s_k <= s_j} / n``; ties share the largest rank,
    the minimum gets ``1/n`` and the maximum gets exactly 1.
    ``rule="mid"``: ``u_j = (#{k: s_k < s_j} + #{k: s_k <= s_j}) / (2n)``; the midpoint rule, whose
    mean-weight bias is O(1/n^2) instead of O(1/n); ties share their mid-rank.

    Without ``ref`` the ranks are taken among the row's own scores (``n = N``, the item itself is
    counted). With ``ref`` (catalogue ECDF, spec 1.11) they are taken among the row's *finite*
    entries of ``ref``; ``+inf`` marks entries that are not unlabeled items and is never counted,
    and ``n`` is the number of finite entries of that row. ``ref`` must be on the same scale as
    ``scores``. Computed under ``no_grad`` on detached tensors; equal scores get equal values.

    Shape:
        - scores: :math:`(B, N)`
        - ref: :math:`(B, K)` or ``None``
        - output: :math:`(B, N)`, same dtype as ``scores`` (float32 at least)
    """
    out_dtype = torch.promote_types(scores.dtype, torch.float32)
    with torch.no_grad():
        numer, n = _ecdf_counts(scores, rule, ref, out_dtype)
        return _ecdf_values(numer, n, rule, out_dtype)


def _ecdf_counts(
    scores: Tensor, rule: str, ref: Tensor | None, out_dtype: torch.dtype
) -> tuple[Tensor, Tensor | int]:
    """The ECDF as exact integers: numerators ``#{<=}`` (``"max"``) or ``#{<} + #{<=}``
    (``"mid"``), and ``n``, the number of entries ranked among: the int ``N`` without ``ref``,
    else each row's count of finite ``ref`` entries (``[B, 1]``, in ``out_dtype``)."""
    check_choice(rule, "ecdf", ECDF_RULES)
    if scores.dim() != 2 or scores.shape[-1] < 1:
        raise ValueError(f"scores must have shape [B, N] with N >= 1, got {tuple(scores.shape)}")
    s = scores.detach()
    n: Tensor | int
    if ref is None:
        n = s.shape[-1]
        if n <= PAIRWISE_MAX_N and s.numel() * n <= PAIRWISE_MAX_CELLS:
            return _pairwise_counts(s, rule), n
        return _sorted_run_counts(s, rule), n
    else:
        if ref.dim() != 2 or ref.shape[0] != s.shape[0] or ref.shape[-1] < 1:
            raise ValueError(
                f"ref must have shape [B, K] with B = {s.shape[0]} and K >= 1, "
                f"got {tuple(ref.shape)}"
            )
        r = ref.detach()
        cmp_dtype = torch.promote_types(s.dtype, r.dtype)
        s, r = s.to(cmp_dtype), r.to(cmp_dtype)
        if not bool((r > float("-inf")).all()):
            raise ValueError("ref must not contain NaN or -inf (use +inf to mark non-items)")
        n = torch.isfinite(r).sum(dim=-1, keepdim=True).to(out_dtype)
        if not bool((n > 0).all()):
            raise ValueError("every row of ref needs at least one finite entry")
        srt = torch.sort(r, dim=-1).values
    s = s.contiguous()
    numer = torch.searchsorted(srt, s, right=True)
    if rule == "mid":
        numer = numer + torch.searchsorted(srt, s, right=False)
    return numer, n


def _sorted_run_counts(s: Tensor, rule: str) -> Tensor:
    """The within-row ECDF numerators from one sort of the row: equal scores form a run of the
    sorted row, and an entry's ``#{<=}`` is one past the last position of its run, its ``#{<}``
    the first position of its run. Exact integers, equal to searching each score in its own
    sorted row (``searchsorted``), at the cost of the sort and a few linear passes: for the
    hundreds of negatives of a row several times faster than the two binary searches."""
    srt, order = torch.sort(s, dim=-1)
    n = s.shape[-1]
    pos = torch.arange(n, device=s.device).expand_as(order)
    starts = torch.ones_like(order, dtype=torch.bool)
    starts[:, 1:] = srt[:, 1:] != srt[:, :-1]
    ends = torch.ones_like(starts)
    ends[:, :-1] = starts[:, 1:]
    # next run end at or after each position (reverse running minimum), plus one
    numer = torch.where(ends, pos + 1, n).flip(-1).cummin(-1).values.flip(-1)
    if rule == "mid":
        numer = numer + torch.where(starts, pos, 0).cummax(-1).values
    return torch.empty_like(numer).scatter_(-1, order, numer)


def _pairwise_counts(s: Tensor, rule: str) -> Tensor:
    """The within-row ECDF numerators from all ``N x N`` pairs of a row:
    ``#{k: s_k <= s_j}`` by comparison, and ``#{<} + #{<=} = N + sum_k sign(s_j - s_k)``.

    Exact integers, equal to the sort + searchsorted counts: the difference of two floats is 0
    only when they are equal and keeps the sign of their order when it overflows; ``inf - inf``
    (a tie) is NaN and is set to 0. For the small N of training rows a few elementwise passes
    over ``[B, N, N]`` are several times faster than a per-row sort and binary search.
    """
    mine, other = s.unsqueeze(-1), s.unsqueeze(-2)  # [B, N, 1] against [B, 1, N]
    if rule == "max":
        return (other <= mine).sum(-1)
    d = mine - other
    torch.nan_to_num_(d, nan=0.0)
    torch.sign(d, out=d)
    return d.sum(-1).long() + s.shape[-1]


def _ecdf_values(numer: Tensor, n: Tensor | int, rule: str, dtype: torch.dtype) -> Tensor:
    """``numer / n`` (``"max"``) or ``numer / 2n`` (``"mid"``) in ``dtype``; an int ``n`` is
    divided as a tensor, so every caller rounds the same way."""
    if isinstance(n, int):
        n = torch.full((1,), n, dtype=dtype, device=numer.device)
    u = numer.to(dtype)
    return u / n if rule == "max" else u / (2.0 * n)


def bcl_weights(
    neg: Tensor,
    alpha: float,
    beta: float,
    tau_plus: float,
    ecdf_rule: str = "max",
    ref: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """BCL weights ``omega`` and true-negative posteriors ``pi_TN`` of the N unlabeled items.

    ``u_hat = ecdf(neg, ecdf_rule, ref)``, ``t = G^-1(u_hat)``, then :func:`weights_from_t`. The
    result is a constant: computed under ``no_grad`` from ``neg.detach()``, so
    ``omega.requires_grad`` is False and no gradient can flow through it. Rank-based: invariant to
    the temperature and to any strictly increasing transform of the scores.

    With the sampled ECDF (``ref=None``) ``u_hat`` takes one of the ``N + 1`` (``"max"``) or
    ``2N + 1`` (``"mid"``) values ``k / n``, so the weights are computed once per value and
    looked up by ``k``: the same elementwise arithmetic on the same inputs, hence the same bits as
    computing them per item, at a fraction of the cost for a ``[B, N]`` batch.

    Shape:
        - neg: :math:`(B, N)` raw scores of the sampled unlabeled items
        - ref: :math:`(B, K)` or ``None`` (catalogue ECDF; ``+inf`` = not an unlabeled item)
        - output: ``(omega, pi_tn)``, each :math:`(B, N)` in ``neg``'s dtype
    """
    return _bcl_weights(
        neg, check_alpha(alpha), check_beta(beta), check_tau_plus(tau_plus), ecdf_rule, ref
    )


def _bcl_weights(
    neg: Tensor,
    alpha: float,
    beta: float,
    tau_plus: float,
    ecdf_rule: str = "max",
    ref: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """:func:`bcl_weights` for parameters validated already (by the loss that holds them)."""
    with torch.no_grad():
        dtype = torch.promote_types(neg.dtype, torch.float32)
        if ref is None:
            numer, n = _ecdf_counts(neg, ecdf_rule, None, dtype)
            omega_of, pi_tn_of = _weight_table(
                alpha, beta, tau_plus, ecdf_rule, n, dtype, neg.device
            )
            omega, pi_tn = torch.take(omega_of, numer), torch.take(pi_tn_of, numer)
        else:
            t = _g_inverse(ecdf(neg, ecdf_rule, ref), alpha, tau_plus)
            omega, pi_tn = _weights_from_t(t, alpha, beta, tau_plus)
        return omega.to(neg.dtype), pi_tn.to(neg.dtype)


@functools.lru_cache(maxsize=64)
def _weight_table(
    alpha: float,
    beta: float,
    tau_plus: float,
    rule: str,
    n: int,
    dtype: torch.dtype,
    device: torch.device,
) -> tuple[Tensor, Tensor]:
    """``(omega, pi_tn)`` at every value the sampled ECDF of ``n`` scores can take, indexed by
    its integer numerator (read-only, cached: alpha changes at most once per epoch)."""
    top = n if rule == "max" else 2 * n
    u = _ecdf_values(torch.arange(top + 1, device=device), n, rule, dtype)
    return _weights_from_t(_g_inverse(u, alpha, tau_plus), alpha, beta, tau_plus)
