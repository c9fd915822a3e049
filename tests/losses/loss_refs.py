"""Independent brute-force references for the loss tests.

Nothing here imports ``bcl_rec``: these are literal transcriptions of the spec's formulas and of
the public reference code's expressions (exponentials included), used to cross-check the stable
implementations where the direct forms do not overflow.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

# ---------------------------------------------------------------- generative model (spec 1.1)


def densities(t: Tensor, alpha: float, beta: float, tau_plus: float) -> dict[str, Tensor]:
    """p_tn, p_fn, p_htn, p_u at latent t, straight from the order-statistic mixtures."""
    phi1 = 2.0 * (1.0 - t)
    phi2 = 2.0 * t
    tau_minus = 1.0 - tau_plus
    p_tn = alpha * phi1 + (1.0 - alpha) * phi2
    p_fn = (1.0 - alpha) * phi1 + alpha * phi2
    z = alpha * (1.0 - beta) + (1.0 - alpha) * beta
    p_htn = (alpha * (1.0 - beta) * phi1 + (1.0 - alpha) * beta * phi2) / z
    p_u = tau_minus * p_tn + tau_plus * p_fn
    return {"p_tn": p_tn, "p_fn": p_fn, "p_htn": p_htn, "p_u": p_u}


def omega_endpoints(alpha: float, beta: float, tau_plus: float) -> tuple[float, float]:
    """Closed forms of omega(0) and omega(1) from spec 1.4."""
    tau_minus = 1.0 - tau_plus
    z = alpha * (1.0 - beta) + (1.0 - alpha) * beta
    w0 = alpha * (1.0 - beta) / (z * (alpha * tau_minus + (1.0 - alpha) * tau_plus))
    w1 = (1.0 - alpha) * beta / (z * ((1.0 - alpha) * tau_minus + alpha * tau_plus))
    return w0, w1


def sample_latent(
    rows: int, n: int, alpha: float, tau_plus: float, gen: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Latent t of unlabeled items drawn from the spec 1.1 model, and their true-negative labels.

    A true negative takes the smaller of two uniforms with probability alpha (else the larger); a
    false negative takes the larger with probability alpha.
    """
    shape = (rows, n)
    is_tn = torch.rand(shape, generator=gen, dtype=torch.float64) >= tau_plus
    u1 = torch.rand(shape, generator=gen, dtype=torch.float64)
    u2 = torch.rand(shape, generator=gen, dtype=torch.float64)
    lo, hi = torch.minimum(u1, u2), torch.maximum(u1, u2)
    takes_min = torch.rand(shape, generator=gen, dtype=torch.float64) < alpha
    # true negative: min with prob alpha; false negative: max with prob alpha
    use_min = torch.where(is_tn, takes_min, ~takes_min)
    return torch.where(use_min, lo, hi), is_tn


# ---------------------------------------------------------------- ECDF by N x N comparison


def ecdf_bruteforce(s: Tensor, rule: str) -> Tensor:
    """The reference's ``(X <= hatx).sum(-1) / N`` (and the mid-rank variant)."""
    n = s.shape[-1]
    le = (s.unsqueeze(1) <= s.unsqueeze(-1)).sum(-1)
    if rule == "max":
        return le.to(s.dtype) / n
    lt = (s.unsqueeze(1) < s.unsqueeze(-1)).sum(-1)
    return (lt + le).to(s.dtype) / (2 * n)


def ecdf_bruteforce_ref(s: Tensor, ref: Tensor, rule: str) -> Tensor:
    """Rank of each s among the finite entries of its row of ref, by explicit counting."""
    finite = torch.isfinite(ref)
    n = finite.sum(-1, keepdim=True)
    r = ref.unsqueeze(1)  # [B, 1, K]
    f = finite.unsqueeze(1)
    le = ((r <= s.unsqueeze(-1)) & f).sum(-1)
    if rule == "max":
        return le.to(s.dtype) / n.to(s.dtype)
    lt = ((r < s.unsqueeze(-1)) & f).sum(-1)
    return (lt + le).to(s.dtype) / (2 * n).to(s.dtype)


# ---------------------------------------------------------------- BCL reference criterion


def reference_cdf_trans(cdf_u: Tensor, alpha: float, tau_plus: float, eps: float = 1e-3) -> Tensor:
    """Literal copy of the reference ``cdf_trans`` (with its ``+1e-3`` in ``a``)."""
    tau_minus = 1 - tau_plus
    a = (1 - 2 * alpha) * (tau_minus - tau_plus) + eps
    b = 2 * (alpha * tau_minus + (1 - alpha) * tau_plus)
    return (-b + torch.sqrt(b**2 + 4 * a * cdf_u)) / (2 * a)


def reference_bcl_omega(
    neg: Tensor,
    alpha: float,
    beta: float,
    tau_plus: float,
    eps_a: float = 1e-3,
    eps_z: float = 1e-3,
    native_dtype: bool = False,
) -> Tensor:
    """Literal copy of the ``estimator == 'BCL'`` branch of the reference ``criterion``.

    ``neg`` are the *exponentiated* scores, as in the reference. The reference's integer count
    divided by N is a float32 tensor; ``native_dtype=True`` divides in ``neg``'s dtype instead.
    """
    hatx = neg.unsqueeze(-1)
    X = neg.unsqueeze(1)  # noqa: N806 (reference naming)
    cdf_u = (X <= hatx).sum(dim=-1) / X.shape[-1]
    if native_dtype:
        cdf_u = (X <= hatx).sum(dim=-1).to(neg.dtype) / X.shape[-1]
    cdf = reference_cdf_trans(cdf_u, alpha, tau_plus, eps_a)
    ccdf = 1 - cdf
    phi1 = 2 * ccdf
    phi2 = 2 * cdf
    x_tn = alpha * phi1 + (1 - alpha) * phi2
    x_fn = (1 - alpha) * phi1 + alpha * phi2
    x_htn = (alpha * (1 - beta) * phi1 + (1 - alpha) * beta * phi2) / (
        alpha * (1 - beta) + (1 - alpha) * beta + eps_z
    )
    return x_htn / (x_tn * (1 - tau_plus) + x_fn * tau_plus)


# ---------------------------------------------------------------- direct (exp) loss formulas


def direct_infonce(pos: Tensor, neg: Tensor, t: float = 1.0) -> Tensor:
    p, n = torch.exp(pos / t), torch.exp(neg / t)
    return (-torch.log(p / (p + n.sum(-1)))).mean()


def direct_dcl(
    pos: Tensor,
    neg: Tensor,
    tau_plus: float,
    t: float,
    s_min: float,
    extra: Tensor | None = None,
) -> Tensor:
    """BCL-reference DCL: ``Ng = (-tau_plus N pos + sum neg) / tau_minus``, clamped at N e^{s_min}.

    With ``extra`` the positive term uses the mean of ``exp`` over the extras (DCL paper).
    """
    n_neg = neg.shape[-1]
    p = torch.exp(pos / t)
    e = torch.exp(neg / t)
    p_term = p if extra is None else torch.exp(extra / t).mean(-1)
    ng = (-tau_plus * n_neg * p_term + e.sum(dim=-1)) / (1 - tau_plus)
    ng = torch.clamp(ng, min=n_neg * math.exp(s_min))
    return (-torch.log(p / (p + ng))).mean()


def direct_hcl(
    pos: Tensor,
    neg: Tensor,
    tau_plus: float,
    t: float,
    s_min: float,
    gamma: float,
    extra: Tensor | None = None,
) -> Tensor:
    """BCL-reference HCL: ``imp = (beta * neg.log()).exp()``, sum(imp * neg) / mean(imp)."""
    n_neg = neg.shape[-1]
    p = torch.exp(pos / t)
    e = torch.exp(neg / t)
    imp = (gamma * e.log()).exp()
    reweight = (imp * e).sum(dim=-1) / imp.mean(dim=-1)
    p_term = p if extra is None else torch.exp(extra / t).mean(-1)
    ng = (-tau_plus * n_neg * p_term + reweight) / (1 - tau_plus)
    ng = torch.clamp(ng, min=n_neg * math.exp(s_min))
    return (-torch.log(p / (p + ng))).mean()


def direct_dpl(pos: Tensor, neg: Tensor, extra: Tensor, tau_plus: float) -> Tensor:
    """DPL reference ``criterion`` branch (scores already temperature-scaled)."""
    pos_scores = torch.cat([pos.unsqueeze(-1), extra], dim=-1)
    neg_scores = neg
    pu_prob = torch.sigmoid(pos_scores[:, 0:1] - neg_scores)
    pp_prob = torch.sigmoid(pos_scores[:, 0:1] - pos_scores[:, 1:])
    pn_prob = pu_prob.mean(dim=-1) - (tau_plus * pp_prob).mean(dim=-1)
    pn_prob = torch.clamp(pn_prob, min=1e-2)
    return -torch.log(pn_prob).mean()


def direct_bpr_first(pos: Tensor, neg: Tensor) -> Tensor:
    """DPL reference BPR: only the first unlabeled item."""
    return -torch.log(torch.sigmoid(pos - neg[:, 0])).mean()


# ---------------------------------------------------------------- IFND, H-SCL, PCL (spec 5)


def ifnd_elimination_ref(pos: Tensor, neg: Tensor, mask: Tensor) -> Tensor:
    """-log(e^{s+} / (e^{s+} + sum_{j unmasked} e^{s_j})), 0 when every j is masked, row by row."""
    rows = []
    for b in range(pos.shape[0]):
        kept = [math.exp(float(s)) for s, m in zip(neg[b], mask[b], strict=True) if not m]
        if not kept:
            rows.append(0.0)
            continue
        p = math.exp(float(pos[b]))
        rows.append(-math.log(p / (p + sum(kept))))
    return torch.tensor(rows, dtype=torch.float64).mean()


def ifnd_attraction_ref(pos: Tensor, neg: Tensor, mask: Tensor) -> Tensor:
    """Mean over P = {i} + masked j of -log(e^{s_p} / (e^{s+} + sum_j e^{s_j})), row by row."""
    rows = []
    for b in range(pos.shape[0]):
        denom = math.exp(float(pos[b])) + sum(math.exp(float(s)) for s in neg[b])
        members = [float(pos[b])] + [float(s) for s, m in zip(neg[b], mask[b], strict=True) if m]
        rows.append(sum(-math.log(math.exp(s) / denom) for s in members) / len(members))
    return torch.tensor(rows, dtype=torch.float64).mean()


def hscl_ref(pos: Tensor, neg: Tensor, q: Tensor, gamma: float) -> Tensor:
    """-log(e^{s+} / (e^{s+} + N sum q w e^s / sum q w)), w = e^{gamma s}; 0 if every q_j = 0."""
    n = neg.shape[1]
    rows = []
    for b in range(pos.shape[0]):
        w = [float(qj) * math.exp(gamma * float(s)) for s, qj in zip(neg[b], q[b], strict=True)]
        if sum(w) == 0.0:
            rows.append(0.0)
            continue
        ng = n * sum(wj * math.exp(float(s)) for wj, s in zip(w, neg[b], strict=True)) / sum(w)
        p = math.exp(float(pos[b]))
        rows.append(-math.log(p / (p + ng)))
    return torch.tensor(rows, dtype=torch.float64).mean()


def log_vmf_normaliser_exact(kappa: float, d: int) -> float:
    """log C_d(kappa) with scipy's exponentially scaled Bessel function."""
    from scipy.special import ive

    nu = d / 2.0 - 1.0
    log_iv = math.log(ive(nu, kappa)) + kappa
    return nu * math.log(kappa) - (d / 2.0) * math.log(2.0 * math.pi) - log_iv
