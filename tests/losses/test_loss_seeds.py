"""IFND, H-SCL and the probabilistic contrastive loss (spec 5, properties 13 and 14).

Brute-force references in float64, gradchecks, finiteness at extreme scores, k-means and the
acceptance schedule, parameter validation.
"""

from __future__ import annotations

import math

import pytest
import torch
from loss_refs import (
    hscl_ref,
    ifnd_attraction_ref,
    ifnd_elimination_ref,
    log_vmf_normaliser_exact,
)
from torch.autograd import gradcheck

from bcl_rec.losses import (
    FalseNegativeDetector,
    HCLLoss,
    HSCLLoss,
    IFNDLoss,
    LossConfig,
    PCLLoss,
    SampledSoftmaxLoss,
    bcl_weights,
    build_loss,
    spherical_kmeans,
)
from bcl_rec.losses.hscl import hscl_rows
from bcl_rec.losses.ifnd import acceptance_rate, attraction_rows, elimination_rows
from bcl_rec.losses.pcl import log_bessel_iv, log_vmf_normaliser

F64 = torch.float64
F32 = torch.float32


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _rows(b: int = 4, n: int = 6, seed: int = 0, dtype=F64):
    g = _gen(seed)
    return torch.randn(b, generator=g, dtype=dtype), torch.randn(b, n, generator=g, dtype=dtype)


def _ssm(pos, neg):
    return SampledSoftmaxLoss()(pos, neg).loss


class _Fixed(FalseNegativeDetector):
    """A detector returning a given mask (to test the losses on chosen masks)."""

    def __init__(self, mask):
        super().__init__()
        self.fixed = mask

    def mask(self, neg, items):
        return self.fixed


def _ifnd(mode: str, mask) -> IFNDLoss:
    loss = IFNDLoss(mode=mode, source="posterior")  # no item ids needed
    loss.detector = _Fixed(mask)
    return loss


# ---------------------------------------------------------------- IFND (property 13)


@pytest.mark.parametrize("mode", ["elimination", "attraction"])
def test_no_detection_is_sampled_softmax(mode) -> None:
    pos, neg = _rows()
    mask = torch.zeros_like(neg, dtype=torch.bool)
    assert torch.allclose(_ifnd(mode, mask)(pos, neg).loss, _ssm(pos, neg), rtol=1e-14, atol=0)
    # a detector before its first epoch, or during the warm-up, detects nothing
    plain = IFNDLoss(mode=mode)
    plain.on_epoch_start(1, model=None, generator=_gen(0))  # warm-up: no clustering, no model
    assert plain.detector.rate == 0.0
    out = plain(pos, neg, items=(torch.zeros(4, dtype=torch.long), torch.ones(4, 6).long()))
    assert torch.allclose(out.loss, _ssm(pos, neg), rtol=1e-14, atol=0)


def test_elimination_of_every_item_is_zero_without_nan() -> None:
    pos, neg = _rows()
    pos.requires_grad_(True)
    neg.requires_grad_(True)
    loss = _ifnd("elimination", torch.ones(4, 6, dtype=torch.bool))(pos, neg).loss
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(pos.grad, torch.zeros_like(pos))
    assert torch.equal(neg.grad, torch.zeros_like(neg))


def test_attraction_with_one_detection_is_the_mean_of_two_softmax_terms() -> None:
    pos, neg = _rows(b=1, n=5)
    mask = torch.zeros(1, 5, dtype=torch.bool)
    mask[0, 2] = True
    got = _ifnd("attraction", mask)(pos, neg).loss
    # the second term: the detected item as the positive, the real positive among the candidates
    swapped = neg.clone()
    swapped[0, 2] = pos[0]
    expected = 0.5 * (_ssm(pos, neg) + _ssm(neg[:, 2], swapped))
    assert torch.allclose(got, expected, rtol=1e-13, atol=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ifnd_matches_brute_force(seed) -> None:
    pos, neg = _rows(b=5, n=7, seed=seed)
    mask = torch.rand(5, 7, generator=_gen(seed + 10)) < 0.4
    mask[0] = True  # one row entirely masked
    mask[1] = False  # one row with nothing masked
    elim = _ifnd("elimination", mask)(pos, neg).loss
    attr = _ifnd("attraction", mask)(pos, neg).loss
    assert torch.allclose(elim, ifnd_elimination_ref(pos, neg, mask), rtol=1e-12, atol=1e-14)
    assert torch.allclose(attr, ifnd_attraction_ref(pos, neg, mask), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("rows_fn", [elimination_rows, attraction_rows])
def test_ifnd_gradcheck(rows_fn) -> None:
    pos, neg = _rows(b=3, n=5, seed=4)
    mask = torch.rand(3, 5, generator=_gen(5)) < 0.5
    mask[0] = True
    pos.requires_grad_(True)
    neg.requires_grad_(True)
    assert gradcheck(lambda p, n: rows_fn(p, n, mask), (pos, neg))


def test_ifnd_loss_gradcheck_with_temperature() -> None:
    pos, neg = _rows(b=3, n=5, seed=6)
    mask = torch.rand(3, 5, generator=_gen(7)) < 0.5
    for mode in ("elimination", "attraction"):
        loss = _ifnd(mode, mask)
        loss.temperature = 0.3
        p, n = pos.clone().requires_grad_(True), neg.clone().requires_grad_(True)
        assert gradcheck(lambda a, b, f=loss: f(a, b).loss, (p, n))


# ---------------------------------------------------------------- k-means and the schedule


def _blobs(seed: int = 0, per: int = 20, dim: int = 8):
    """Three tight, well-separated direction clusters."""
    g = _gen(seed)
    centres = torch.eye(dim, dtype=F32)[:3] * 5.0
    x = torch.cat([c + 0.1 * torch.randn(per, dim, generator=g) for c in centres])
    return x, torch.arange(3).repeat_interleave(per)


def test_kmeans_is_deterministic_under_a_seed_and_finds_clear_clusters() -> None:
    x, truth = _blobs()
    a = spherical_kmeans(x, 3, _gen(11))
    b = spherical_kmeans(x, 3, _gen(11))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    labels, conf = a
    # same partition as the truth (up to the names of the clusters)
    for c in range(3):
        assert labels[truth == c].unique().numel() == 1
    assert labels.unique().numel() == 3
    # confidence is the cosine to the centroid: the normalised mean of the cluster's rows
    xn = torch.nn.functional.normalize(x, dim=1)
    for c in labels.unique():
        mu = torch.nn.functional.normalize(xn[labels == c].mean(0), dim=0)
        assert torch.allclose(conf[labels == c], xn[labels == c] @ mu, atol=1e-6)


def test_kmeans_rejects_more_clusters_than_rows() -> None:
    with pytest.raises(ValueError, match="k-means needs 1 <= k <= number of rows"):
        spherical_kmeans(torch.randn(4, 3), 5, _gen(0))


def test_acceptance_schedule_endpoints() -> None:
    assert acceptance_rate(0, 10, 60) == 0.0
    assert acceptance_rate(10, 10, 60) == 0.0
    assert acceptance_rate(35, 10, 60) == 0.5
    assert acceptance_rate(60, 10, 60) == 1.0
    assert acceptance_rate(200, 10, 60) == 1.0
    with pytest.raises(ValueError, match="end > warmup"):
        acceptance_rate(1, 5, 5)


class _Embeddings(torch.nn.Module):
    def __init__(self, items):
        super().__init__()
        self.items = items
        self.calls = 0

    def embeddings(self):
        self.calls += 1
        return torch.zeros(1, self.items.shape[1]), self.items


def _mask_by_loops(det, pos_items, neg_items):
    b, n = neg_items.shape
    out = torch.zeros(b, n, dtype=torch.bool)
    for r in range(b):
        i = int(pos_items[r])
        for c in range(n):
            j = int(neg_items[r, c])
            for lvl in range(len(det.clusters)):
                lab, acc = det.labels[lvl], det.accepted[lvl]
                if lab[i] == lab[j] and acc[i] and acc[j]:
                    out[r, c] = True
    return out


def test_detector_masks_follow_clusters_and_acceptance() -> None:
    x, _ = _blobs(per=10)
    model = _Embeddings(x)
    det = FalseNegativeDetector(clusters=(3, 6), every=2, warmup=1, end=3)
    g = _gen(3)
    pos_items = torch.randint(0, 30, (8,), generator=g)
    neg_items = torch.randint(0, 30, (8, 5), generator=g)
    det.on_epoch_start(1, model, _gen(0))  # warm-up: nothing clustered
    assert model.calls == 0 and not det.mask(torch.zeros(8, 5), (pos_items, neg_items)).any()
    det.on_epoch_start(2, model, _gen(0))  # r = 0.5: clustered, half the items accepted
    assert model.calls == 1 and det.rate == 0.5
    assert det.accepted.sum(1).tolist() == [15, 15]
    # the accepted items are the most confident ones of their level
    for lvl in range(2):
        acc, conf = det.accepted[lvl], det.confidence[lvl]
        assert conf[acc].min() >= conf[~acc].max()
    mask = det.mask(torch.zeros(8, 5), (pos_items, neg_items))
    assert torch.equal(mask, _mask_by_loops(det, pos_items, neg_items))
    det.on_epoch_start(3, model, _gen(0))  # every = 2: no re-clustering, all accepted
    assert model.calls == 1 and bool(det.accepted.all())
    assert torch.equal(
        det.mask(torch.zeros(8, 5), (pos_items, neg_items)),
        _mask_by_loops(det, pos_items, neg_items),
    )
    det.on_epoch_start(4, model, _gen(0))
    assert model.calls == 2


def test_kmeans_detector_needs_the_item_ids() -> None:
    x, _ = _blobs(per=10)
    loss = IFNDLoss(clusters=(3,), warmup=0, end=1)
    assert loss.needs_items and loss.needs_epoch_hook
    loss.on_epoch_start(1, _Embeddings(x), _gen(0))
    pos, neg = _rows(b=2, n=3)
    with pytest.raises(ValueError, match=r"items must be \(pos_items \[B\], neg_items \[B, N\]\)"):
        loss(pos, neg)


def test_posterior_detector_threshold_schedule() -> None:
    det = FalseNegativeDetector(source="posterior", threshold=0.2, warmup=0, end=4, alpha=0.9)
    assert not det.needs_items
    neg = torch.randn(6, 20, generator=_gen(1), dtype=F64)
    det.on_epoch_start(0, None, _gen(0))
    assert det.theta == 1.0 and not det.mask(neg, None).any()
    det.on_epoch_start(2, None, _gen(0))
    assert det.theta == pytest.approx(0.6)
    det.on_epoch_start(4, None, _gen(0))
    assert det.theta == pytest.approx(0.2)
    pi_fn = 1.0 - bcl_weights(neg, 0.9, 1.0, 0.05, "max")[1]
    got = det.mask(neg, None)
    assert torch.equal(got, pi_fn > 0.2)
    assert got.any() and not got.all()  # the top-ranked items of each row only
    top = neg.argmax(dim=1)
    assert bool(got[torch.arange(6), top].all())


# ---------------------------------------------------------------- H-SCL (property 14)


def test_hscl_with_q_one_and_gamma_zero_is_sampled_softmax() -> None:
    pos, neg = _rows()
    got = HSCLLoss(gamma=0.0)(pos, neg).loss
    assert torch.allclose(got, _ssm(pos, neg), rtol=1e-14, atol=0)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("detach", [True, False])
def test_hscl_with_q_one_is_hcl_without_prior_or_floor(gamma, detach) -> None:
    pos, neg = _rows(seed=3)
    grads = []
    values = []
    for loss in (
        HSCLLoss(gamma=gamma, detach_weights=detach, temperature=0.5),
        HCLLoss(tau_plus=0.0, hcl_beta=gamma, detach_weights=detach, temperature=0.5),
    ):
        p, n = pos.clone().requires_grad_(True), neg.clone().requires_grad_(True)
        out = loss(p, n).loss
        out.backward()
        values.append(out)
        grads.append((p.grad, n.grad))
    assert torch.allclose(values[0], values[1], rtol=1e-13, atol=0)
    for a, b in zip(grads[0], grads[1], strict=True):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("gamma", [0.0, 1.0, 3.0])
def test_hscl_matches_brute_force(gamma) -> None:
    pos, neg = _rows(b=5, n=7, seed=8)
    q = torch.rand(5, 7, generator=_gen(9), dtype=F64)
    q[q < 0.3] = 0.0  # dropped terms
    q[0] = 0.0  # a row with no known negative: loss 0
    q[1] = (q[1] > 0).to(F64)  # binary row
    got = hscl_rows(pos, neg, q, gamma, True).mean()
    assert torch.allclose(got, hscl_ref(pos, neg, q, gamma), rtol=1e-12, atol=1e-14)


def test_hscl_without_known_negatives_is_zero_without_nan() -> None:
    pos, neg = _rows(b=2, n=3)
    pos.requires_grad_(True)
    neg.requires_grad_(True)
    out = hscl_rows(pos, neg, torch.zeros(2, 3, dtype=F64), 1.0, False).mean()
    out.backward()
    assert out.item() == 0.0
    assert torch.equal(pos.grad, torch.zeros_like(pos))
    assert torch.equal(neg.grad, torch.zeros_like(neg))


def test_hscl_gradcheck() -> None:
    pos, neg = _rows(b=3, n=5, seed=12)
    q = torch.rand(3, 5, generator=_gen(13), dtype=F64)
    q[0, :2] = 0.0
    q[2] = 0.0
    pos.requires_grad_(True)
    neg.requires_grad_(True)
    assert gradcheck(lambda p, n: hscl_rows(p, n, q, 1.5, False).mean(), (pos, neg))
    # detached tilt: the gradient of fixed importance weights q_j e^{g s_j} (gamma folded into q)
    fixed = q * torch.exp(1.5 * neg.detach())
    assert gradcheck(lambda p, n: hscl_rows(p, n, fixed, 0.0, True).mean(), (pos, neg))
    hscl_rows(pos, neg, q, 1.5, True).mean().backward()
    got = (pos.grad.clone(), neg.grad.clone())
    pos.grad, neg.grad = None, None
    hscl_rows(pos, neg, fixed, 0.0, False).mean().backward()
    assert torch.allclose(got[0], pos.grad, rtol=1e-12, atol=1e-15)
    assert torch.allclose(got[1], neg.grad, rtol=1e-12, atol=1e-15)


def test_hscl_posterior_weights_are_bcl_pi_tn() -> None:
    pos, neg = _rows(b=4, n=10, seed=2)
    loss = HSCLLoss(gamma=1.0, q_source="posterior", alpha=0.8, tau_plus=0.1, ecdf="mid")
    q = bcl_weights(neg, 0.8, 1.0, 0.1, "mid")[1]
    assert torch.equal(loss.weights(neg, None), q)
    assert torch.allclose(loss(pos, neg).loss, hscl_ref(pos, neg, q, 1.0), rtol=1e-12, atol=0)


def test_hscl_ifnd_weights_are_the_complement_of_the_masks() -> None:
    pos, neg = _rows(b=3, n=4, seed=5)
    mask = torch.rand(3, 4, generator=_gen(6)) < 0.5
    loss = HSCLLoss(gamma=0.5, q_source="ifnd", detector={"source": "kmeans"})
    assert loss.needs_items and loss.needs_epoch_hook
    loss.detector = _Fixed(mask)
    items = (torch.zeros(3, dtype=torch.long), torch.zeros(3, 4, dtype=torch.long))
    got = loss(pos, neg, items=items).loss
    assert torch.allclose(got, hscl_ref(pos, neg, (~mask).to(F64), 0.5), rtol=1e-12, atol=0)


# ---------------------------------------------------------------- PCL


@pytest.mark.parametrize("d", [16, 32, 64, 128])
def test_log_bessel_expansion_against_scipy(d) -> None:
    ive = pytest.importorskip("scipy.special").ive
    nu = d / 2.0 - 1.0
    x = torch.logspace(-2, 3, 60, dtype=F64)
    exact = torch.tensor([math.log(ive(nu, float(v))) + float(v) for v in x], dtype=F64)
    err = (log_bessel_iv(nu, x) - exact).abs()
    # the first neglected term of the expansion is u_1(t)/nu with |u_1| <= 1/12
    assert float(err.max()) <= 1.0 / (12.0 * nu) + 1e-9
    assert float((err / exact.abs().clamp(min=1.0)).max()) < 0.012
    kappa = torch.tensor([0.5, 3.0, 20.0, 200.0], dtype=F64)
    norm = log_vmf_normaliser(kappa**2, d)
    exact_c = torch.tensor([log_vmf_normaliser_exact(float(k), d) for k in kappa], dtype=F64)
    assert float((norm - exact_c).abs().max()) <= 1.0 / (12.0 * nu) + 1e-9


def _vectors(b=3, n=4, d=16, seed=0, scale=1.0, dtype=F64):
    g = _gen(seed)
    shapes = ((b, d), (b, d), (b, n, d))
    return tuple(scale * torch.randn(*shape, generator=g, dtype=dtype) for shape in shapes)


def _scores(vectors):
    u, p, n = vectors
    return (u * p).sum(-1), (u.unsqueeze(1) * n).sum(-1)


def _cos(a, b):
    return float(a @ b) / (float(a.norm()) * float(b.norm()))


def test_pcl_form_a_matches_brute_force() -> None:
    vec = _vectors(d=8)
    loss = PCLLoss(dim=8, form="A", kappa="learned", kappa_min=1.0, kappa_max=4.0, lam=0.01)
    loss = loss.double()
    with torch.no_grad():
        loss.user_head.copy_(torch.linspace(-0.5, 0.5, 9, dtype=F64))
    got = loss(*_scores(vec), vectors=vec).loss
    u, p, n = vec
    w, b = loss.user_head[:-1].detach(), float(loss.user_head[-1].detach())
    rows = []
    for r in range(3):
        kappa = min(4.0, max(1.0, 1.0 + math.log1p(math.exp(float(u[r] @ w) + b))))
        cands = [p[r]] + [n[r, j] for j in range(4)]
        z = [math.exp(kappa * _cos(u[r], c)) for c in cands]
        rows.append(-math.log(z[0] / sum(z)) + 0.01 * kappa**2)
    assert got.item() == pytest.approx(sum(rows) / 3, rel=1e-12)


def test_pcl_form_a_with_a_constant_concentration_is_softmax_on_scaled_cosines() -> None:
    u, p, n = _vectors(d=8, seed=1)
    u = 3.0 * torch.nn.functional.normalize(u, dim=1)  # kappa_u = ||e_u|| = 3 for every user
    loss = PCLLoss(dim=8, form="A", kappa="norm", kappa_min=1.0, kappa_max=10.0, lam=0.0)
    assert list(loss.parameters()) == []
    got = loss(*_scores((u, p, n)), vectors=(u, p, n)).loss
    mu = torch.nn.functional.normalize
    pos_s = 3.0 * (mu(u, dim=1) * mu(p, dim=1)).sum(-1)
    neg_s = 3.0 * (mu(u, dim=1).unsqueeze(1) * mu(n, dim=2)).sum(-1)
    assert torch.allclose(got, _ssm(pos_s, neg_s), rtol=1e-13, atol=0)


def test_pcl_form_b_matches_brute_force() -> None:
    d = 16
    vec = _vectors(d=d, seed=2, scale=2.0)
    loss = PCLLoss(dim=d, form="B", kappa="norm", kappa_min=0.5, kappa_max=30.0, lam=0.001)
    got = loss(*_scores(vec), vectors=vec).loss
    nu = d / 2 - 1

    def log_c(k):  # log C_d with the same asymptotic Bessel, written out directly
        eta = math.sqrt(nu * nu + k * k)
        log_i = eta + nu * math.log(k / (nu + eta)) - 0.5 * math.log(2 * math.pi)
        log_i -= 0.5 * math.log(eta)
        return nu * math.log(k) - (d / 2) * math.log(2 * math.pi) - log_i

    u, p, n = vec
    rows = []
    for r in range(3):
        ku = min(30.0, max(0.5, float(u[r].norm())))
        cands = [p[r]] + [n[r, j] for j in range(4)]
        logits, ks = [], []
        for c in cands:
            kx = min(30.0, max(0.5, float(c.norm())))
            joint = (ku * u[r] / u[r].norm() + kx * c / c.norm()).norm()
            logits.append(log_c(kx) - log_c(float(joint)))
            ks.append(kx)
        z = [math.exp(v) for v in logits]
        penalty = 0.001 * (ku**2 + sum(k * k for k in ks) / len(ks))
        rows.append(-math.log(z[0] / sum(z)) + penalty)
    assert got.item() == pytest.approx(sum(rows) / 3, rel=1e-10)
    # and close to the same logits with scipy's exact Bessel function
    pytest.importorskip("scipy")
    exact_rows = []
    for r in range(3):
        ku = float(u[r].norm())
        cands = [p[r]] + [n[r, j] for j in range(4)]
        lg = []
        for c in cands:
            kx = float(c.norm())
            joint = float((ku * u[r] / u[r].norm() + kx * c / c.norm()).norm())
            lg.append(log_vmf_normaliser_exact(kx, d) - log_vmf_normaliser_exact(joint, d))
        exact_rows.append(-math.log(math.exp(lg[0]) / sum(math.exp(v) for v in lg)))
    assert abs(sum(rows) / 3 - sum(exact_rows) / 3 - float(loss(*_scores(vec), vectors=vec).stats[
        "penalty"])) < 4.0 / (12.0 * nu)


@pytest.mark.parametrize("form", ["A", "B"])
@pytest.mark.parametrize("kappa", ["learned", "norm"])
def test_pcl_gradcheck(form, kappa) -> None:
    vec = [v.requires_grad_(True) for v in _vectors(d=16, seed=4, scale=2.0)]
    loss = PCLLoss(dim=16, form=form, kappa=kappa, kappa_min=0.5, kappa_max=40.0, lam=0.01)
    loss = loss.double()
    with torch.no_grad():
        for prm in loss.parameters():
            prm.copy_(0.1 * torch.randn(prm.shape, generator=_gen(5), dtype=F64))
    params = list(loss.parameters())

    def f(*args):
        u, p, n = args[:3]
        return loss(*_scores((u, p, n)), vectors=(u, p, n)).loss

    assert gradcheck(f, (*vec, *params))


def test_pcl_needs_embeddings_and_dimension() -> None:
    with pytest.raises(ValueError, match="needs the model's embedding dimension"):
        build_loss(LossConfig(name="pcl"))
    loss = build_loss(LossConfig(name="pcl", pcl_form="B"), embedding_dim=16)
    assert loss.needs_vectors and [p.shape for p in loss.parameters()] == [(17,), (17,)]
    pos, neg = _rows(b=2, n=3)
    with pytest.raises(ValueError, match=r"vectors must be \(user \[B, d\], pos \[B, d\]"):
        loss(pos, neg)


# ---------------------------------------------------------------- numerics at extreme scores


def _extreme_rows():
    pos = torch.tensor([80.0, -80.0, 80.0, -80.0], dtype=F32)
    neg = torch.tensor(
        [[-80.0, -80.0, 80.0], [80.0, 80.0, -80.0], [80.0, 80.0, 80.0], [-80.0, -80.0, -80.0]],
        dtype=F32,
    )
    return pos, neg


@pytest.mark.parametrize(
    "make",
    [
        lambda m: _ifnd("elimination", m),
        lambda m: _ifnd("attraction", m),
        lambda m: HSCLLoss(gamma=2.0, detach_weights=False),
        lambda m: HSCLLoss(gamma=2.0, q_source="posterior"),
    ],
    ids=["elimination", "attraction", "hscl", "hscl-posterior"],
)
def test_finite_at_extreme_scores(make) -> None:
    pos, neg = _extreme_rows()
    mask = torch.tensor([[0, 1, 0], [1, 0, 0], [1, 1, 1], [0, 0, 0]], dtype=torch.bool)
    pos.requires_grad_(True)
    neg.requires_grad_(True)
    out = make(mask)(pos, neg).loss
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(pos.grad).all() and torch.isfinite(neg.grad).all()


@pytest.mark.parametrize("form", ["A", "B"])
def test_pcl_finite_at_extreme_embeddings(form) -> None:
    vec = [v.requires_grad_(True) for v in _vectors(d=16, seed=6, scale=1e4, dtype=F32)]
    loss = PCLLoss(dim=16, form=form, kappa="norm")
    out = loss(*(s.detach() / 1e6 for s in _scores(vec)), vectors=tuple(vec)).loss
    out.backward()
    assert torch.isfinite(out) and all(torch.isfinite(v.grad).all() for v in vec)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"ifnd_mode": "drop"}, "loss.ifnd_mode"),
        ({"ifnd_source": "labels"}, "loss.ifnd_source"),
        ({"ifnd_clusters": [1, 10]}, "loss.ifnd_clusters"),
        ({"ifnd_clusters": []}, "loss.ifnd_clusters"),
        ({"ifnd_every": 0}, "loss.ifnd_every"),
        ({"ifnd_warmup": -1}, "loss.ifnd_warmup"),
        ({"ifnd_warmup": 20, "ifnd_end": 20}, "loss.ifnd_end"),
        ({"ifnd_threshold": 1.0}, "loss.ifnd_threshold"),
        ({"ifnd_threshold": 0.0}, "loss.ifnd_threshold"),
        ({"pcl_form": "C"}, "loss.pcl_form"),
        ({"pcl_kappa": "fixed"}, "loss.pcl_kappa"),
        ({"pcl_kappa_min": 0.0}, "loss.pcl_kappa_min"),
        ({"pcl_kappa_min": 5.0, "pcl_kappa_max": 5.0}, "loss.pcl_kappa_max"),
        ({"pcl_lambda": -1.0}, "loss.pcl_lambda"),
        ({"hscl_gamma": -0.1}, "loss.hscl_gamma"),
        ({"hscl_q": "ratings"}, "loss.hscl_q"),
        ({"name": "hscl", "hscl_q": "posterior", "alpha": "auto"}, "loss.alpha"),
        ({"name": "ifnd", "ifnd_source": "posterior", "alpha": "auto"}, "loss.alpha"),
    ],
)
def test_config_errors_name_the_key(overrides, key) -> None:
    with pytest.raises(ValueError, match=rf"^{key} "):
        LossConfig(**overrides)


def test_detach_weights_default_depends_on_the_loss() -> None:
    assert LossConfig(name="hscl").detach_weights is True
    assert LossConfig(name="hcl").detach_weights is False
    assert LossConfig(name="hscl", detach_weights=False).detach_weights is False
    assert build_loss(LossConfig(name="hscl")).detach_weights is True
    cfg = LossConfig(name="ifnd", ifnd_clusters=[8, 4])
    assert cfg.ifnd_clusters == (8, 4) and LossConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("factory", "param"),
    [
        (lambda: IFNDLoss(mode="x"), "mode"),
        (lambda: IFNDLoss(clusters=(1,)), "clusters"),
        (lambda: IFNDLoss(threshold=1.5), "threshold"),
        (lambda: IFNDLoss(source="posterior", alpha=0.4), "alpha"),
        (lambda: HSCLLoss(gamma=-1.0), "gamma"),
        (lambda: HSCLLoss(q_source="x"), "q_source"),
        (lambda: PCLLoss(dim=0), "dim"),
        (lambda: PCLLoss(dim=2, form="B"), "dim"),
        (lambda: PCLLoss(dim=8, kappa_min=3.0, kappa_max=2.0), "kappa_max"),
        (lambda: PCLLoss(dim=8, lam=-1.0), "lam"),
    ],
)
def test_constructors_reject_bad_parameters(factory, param) -> None:
    with pytest.raises(ValueError, match=rf"^{param} "):
        factory()
