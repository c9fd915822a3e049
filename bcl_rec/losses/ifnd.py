"""IFND: incremental false-negative detection (Chen et al., ICLR 2022), recommender form.

Detected false negatives ``m_uj`` of a row (u, i) come from one of two sources:

- ``kmeans``: every ``every`` epochs (under no_grad) the L2-normalised item embeddings are
  clustered by spherical k-means at L levels with ``K_l`` clusters; an item is *accepted* at a
  level when its cosine to its centroid is in the top ``r(e)`` fraction of that level, and
  ``m_uj = 1`` iff some level has ``c_l(j) = c_l(i)`` with both i and j accepted;
- ``posterior``: ``m_uj = 1[pi_FN(j) > theta(e)]`` with BCL's posterior (spec 1.4); no clustering.

The acceptance rate follows ``r(e) = clip((e - e_0) / (E - e_0), 0, 1)`` (no detection during the
warm-up ``e <= e_0``, everything accepted from epoch E). The posterior threshold follows the same
schedule as ``theta(e) = 1 - r(e) (1 - theta)``: 1 (nothing detected, as pi_FN <= 1) during the
warm-up, falling linearly to the configured ``theta`` at epoch E.

The losses: elimination drops detected items from the softmax denominator; attraction treats them
as extra positives (spec 5.1).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._checks import check_choice, check_positive
from ._numerics import softplus, weighted_logsumexp
from .base import LossOutput, RecLoss, register
from .bcl_weights import bcl_weights
from .kmeans import spherical_kmeans

__all__ = [
    "FalseNegativeDetector",
    "IFNDLoss",
    "acceptance_rate",
    "attraction_rows",
    "elimination_rows",
]

IFND_MODES = ("elimination", "attraction")
IFND_SOURCES = ("kmeans", "posterior")


def acceptance_rate(epoch: int, warmup: int, end: int) -> float:
    """``r(e) = clip((e - warmup) / (end - warmup), 0, 1)``; needs ``end > warmup``."""
    if end <= warmup:
        raise ValueError(f"the acceptance schedule needs end > warmup, got {end} <= {warmup}")
    return min(1.0, max(0.0, (epoch - warmup) / (end - warmup)))


def elimination_rows(sp: Tensor, sn: Tensor, mask: Tensor) -> Tensor:
    """``softplus(LSE_{j: m_j = 0} s_j - s_+)`` per row; 0 (zero gradient) if every j is masked.

    Shape: sp :math:`(B,)`, sn and mask :math:`(B, N)` (bool), output :math:`(B,)`.
    """
    keep = (~mask).to(sn.dtype)
    return softplus(weighted_logsumexp(sn, keep) - sp)


def attraction_rows(sp: Tensor, sn: Tensor, mask: Tensor) -> Tensor:
    """``(1/|P|) sum_{p in P} (LSE(s_+, s_1..s_N) - s_p)``, ``P = {i} + {j: m_j = 1}``, per row.

    Shape: sp :math:`(B,)`, sn and mask :math:`(B, N)` (bool), output :math:`(B,)`.
    """
    lse_n = torch.logsumexp(sn, dim=-1)
    lse = torch.logaddexp(sp, lse_n)
    m = mask.to(sn.dtype)
    attracted = (m * (lse.unsqueeze(-1) - sn)).sum(-1)
    return (softplus(lse_n - sp) + attracted) / (1.0 + m.sum(-1))


class FalseNegativeDetector:
    """The masks ``m_uj`` of IFND from k-means pseudo-labels or from BCL's posterior.

    Call :meth:`on_epoch_start` before every epoch (it sets the schedule and, for ``kmeans``,
    re-clusters the model's item embeddings every ``every`` epochs, drawing the initial centroids
    from the given generator); before the first call nothing is detected.

    Args:
        source: ``"kmeans"`` or ``"posterior"``.
        clusters: ``K_l`` of each k-means level (each >= 2).
        every: re-cluster every this many epochs (>= 1).
        warmup, end: the schedule's ``e_0`` and ``E`` (``end > warmup >= 0``).
        threshold: final posterior threshold theta in (0, 1).
        alpha, tau_plus, ecdf: BCL posterior parameters (``posterior`` only).
    """

    def __init__(
        self,
        source: str = "kmeans",
        clusters: tuple[int, ...] = (100, 30),
        every: int = 1,
        warmup: int = 10,
        end: int = 100,
        threshold: float = 0.2,
        alpha: float = 0.9,
        tau_plus: float = 0.05,
        ecdf: str = "max",
    ) -> None:
        self.source = check_choice(source, "source", IFND_SOURCES)
        self.clusters = tuple(int(k) for k in clusters)
        if not self.clusters or any(k < 2 for k in self.clusters):
            raise ValueError(
                f"clusters must be a non-empty list of integers >= 2, got {clusters!r}"
            )
        if every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every!r}")
        self.every = int(every)
        acceptance_rate(0, warmup, end)  # validates end > warmup
        self.warmup, self.end = int(warmup), int(end)
        self.threshold = check_positive(threshold, "threshold")
        if self.threshold >= 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
        self.alpha, self.tau_plus, self.ecdf = alpha, tau_plus, ecdf
        bcl_weights(torch.zeros(1, 1), alpha, 1.0, tau_plus, ecdf)  # validates the parameters
        self.rate = 0.0
        self.labels: Tensor | None = None  # [L, I] cluster of each item at each level
        self.confidence: Tensor | None = None  # [L, I] cosine to its centroid
        self.accepted: Tensor | None = None  # [L, I] bool
        self._clustered_at: int | None = None

    @property
    def needs_items(self) -> bool:
        return self.source == "kmeans"

    @property
    def theta(self) -> float:
        """The current posterior threshold ``1 - r (1 - theta)``."""
        return 1.0 - self.rate * (1.0 - self.threshold)

    def on_epoch_start(self, epoch: int, model: nn.Module, generator: torch.Generator) -> None:
        self.rate = acceptance_rate(epoch, self.warmup, self.end)
        if self.source != "kmeans" or self.rate == 0.0:
            return
        if self._clustered_at is None or epoch - self._clustered_at >= self.every:
            with torch.no_grad():
                _, item_emb = model.embeddings()
            self.cluster(item_emb, generator)
            self._clustered_at = epoch
        self.accept()

    def cluster(self, item_emb: Tensor, generator: torch.Generator) -> None:
        """k-means of the item embeddings at every level (under no_grad)."""
        runs = [spherical_kmeans(item_emb.detach(), k, generator) for k in self.clusters]
        self.labels = torch.stack([lab for lab, _ in runs])
        self.confidence = torch.stack([conf for _, conf in runs])
        self.accept()

    def accept(self) -> None:
        """Accept the top ``rate`` fraction of items by confidence at every level."""
        if self.confidence is None:
            return
        n_items = self.confidence.shape[1]
        count = int(self.rate * n_items)
        order = torch.argsort(self.confidence, dim=1, descending=True, stable=True)
        accepted = torch.zeros_like(self.confidence, dtype=torch.bool)
        accepted.scatter_(1, order[:, :count], True)
        self.accepted = accepted

    @torch.no_grad()
    def mask(self, neg: Tensor, items: tuple[Tensor, Tensor] | None) -> Tensor:
        """Bool ``[B, N]`` of detected false negatives among the raw unlabeled scores ``neg``."""
        if self.source == "posterior":
            if self.rate == 0.0:
                return torch.zeros_like(neg, dtype=torch.bool)
            _, pi_tn = bcl_weights(neg, self.alpha, 1.0, self.tau_plus, self.ecdf)
            return (1.0 - pi_tn) > self.theta
        if self.labels is None or self.accepted is None or self.rate == 0.0:
            return torch.zeros_like(neg, dtype=torch.bool)
        if items is None:
            raise ValueError("the k-means false-negative masks need the rows' item ids")
        pos_items, neg_items = items
        lab_i = self.labels[:, pos_items].unsqueeze(-1)  # [L, B, 1]
        acc_i = self.accepted[:, pos_items].unsqueeze(-1)
        same = (lab_i == self.labels[:, neg_items]) & acc_i & self.accepted[:, neg_items]
        return same.any(dim=0)

    def describe(self) -> str:
        if self.source == "posterior":
            return (
                f"source='posterior', threshold={self.threshold}, alpha={self.alpha}, "
                f"tau_plus={self.tau_plus}, warmup={self.warmup}, end={self.end}"
            )
        return (
            f"source='kmeans', clusters={list(self.clusters)}, every={self.every}, "
            f"warmup={self.warmup}, end={self.end}"
        )


@register("ifnd")
class IFNDLoss(RecLoss):
    """IFND in the contrastive form: elimination or attraction of detected false negatives.

    ``elimination``: ``l = softplus(LSE_{j: m_uj = 0} s_j - s_+)`` (0 if every j is masked);
    ``attraction``: ``l = (1/|P|) sum_{p in P} (LSE(s_+, s_1..s_N) - s_p)``,
    ``P = {i} + {j: m_uj = 1}``. With no detection both equal sampled softmax. The masks come from
    a :class:`FalseNegativeDetector` (see the module docstring for the schedule); the trainer
    calls :meth:`on_epoch_start` before every epoch and passes the rows' item ids (``kmeans``).

    Args:
        mode: ``"elimination"`` or ``"attraction"``.
        temperature: scores are divided by it (> 0); masks use the raw scores.
        **detector: :class:`FalseNegativeDetector` arguments.

    Shape:
        - pos: :math:`(B,)`; neg: :math:`(B, N)`; items: ids, required for ``source="kmeans"``
        - output: scalar ``loss``; stats ``fn_fraction`` (share of masked j), ``acceptance`` (r(e))
    """

    needs_epoch_hook = True

    def __init__(self, mode: str = "elimination", temperature: float = 1.0, **detector) -> None:
        super().__init__(temperature=temperature)
        self.mode = check_choice(mode, "mode", IFND_MODES)
        self.detector = FalseNegativeDetector(**detector)
        self.needs_items = self.detector.needs_items  # type: ignore[misc]

    def on_epoch_start(self, epoch: int, model: nn.Module, generator: torch.Generator) -> None:
        self.detector.on_epoch_start(epoch, model, generator)

    def compute(
        self, pos: Tensor, neg: Tensor, extra: Tensor | None, ref: Tensor | None
    ) -> LossOutput:
        return self.compute_with(pos, neg, extra, ref, None, None)

    def compute_with(self, pos, neg, extra, ref, items, vectors) -> LossOutput:
        mask = self.detector.mask(neg, items)
        sp, sn = self.scale(pos), self.scale(neg)
        rows = (elimination_rows if self.mode == "elimination" else attraction_rows)(sp, sn, mask)
        stats = {
            "fn_fraction": mask.to(rows.dtype).mean().detach(),
            "acceptance": torch.full((), self.detector.rate, dtype=rows.dtype, device=rows.device),
        }
        return LossOutput(rows.mean(), stats)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, {self.detector.describe()}, temperature={self.temperature}"
