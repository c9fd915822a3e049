"""Spherical k-means on L2-normalised embeddings, vectorised in torch (IFND's pseudo-labels)."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["KMEANS_ITERS", "spherical_kmeans"]

KMEANS_ITERS = 10


@torch.no_grad()
def spherical_kmeans(
    x: Tensor, k: int, generator: torch.Generator, iters: int = KMEANS_ITERS
) -> tuple[Tensor, Tensor]:
    """Cluster the rows of ``x`` by cosine similarity: ``(labels, confidence)``.

    The rows are L2-normalised; the ``k`` initial centroids are rows drawn by k-means++ seeding
    (each next one with probability proportional to the squared cosine distance ``1 - cos`` to the
    nearest chosen one) from ``generator`` (on its own device, so a seed fixes the result); then
    ``iters`` Lloyd steps assign every row to its most similar centroid and move each centroid to
    the normalised mean of its rows (an empty cluster keeps its centroid). ``confidence`` is the
    cosine between a row and its final centroid (IFND's confidence).

    Shape:
        - x: :math:`(I, d)`
        - output: labels :math:`(I,)` int64 in ``[0, k)``, confidence :math:`(I,)` in ``x``'s dtype
    """
    n = x.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k-means needs 1 <= k <= number of rows ({n}), got k = {k}")
    x = torch.nn.functional.normalize(x.detach(), dim=1)
    centroids = x[_plus_plus(x, k, generator)]
    labels = (x @ centroids.T).argmax(dim=1)
    for _ in range(iters):
        sums = torch.zeros_like(centroids).index_add_(0, labels, x)
        counts = torch.bincount(labels, minlength=k)
        centroids = torch.where(
            (counts > 0).unsqueeze(1), torch.nn.functional.normalize(sums, dim=1), centroids
        )
        labels = (x @ centroids.T).argmax(dim=1)
    confidence = (x * centroids[labels]).sum(dim=1)
    return labels, confidence


def _plus_plus(x: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """k-means++ seeding on unit rows: ``k`` row indices (a loop over k, vectorised over rows)."""
    dev = generator.device
    first = torch.randint(x.shape[0], (1,), generator=generator, device=dev).to(x.device)
    chosen = [first]
    nearest = 1.0 - x @ x[first[0]]
    for _ in range(1, k):
        weight = torch.clamp(nearest, min=0.0) ** 2
        if not bool(weight.sum() > 0):  # every row sits on a chosen centroid: draw uniformly
            weight = torch.ones_like(weight)
        nxt = torch.multinomial(weight.to(dev, torch.float64), 1, generator=generator)
        nxt = nxt.to(x.device)
        chosen.append(nxt)
        nearest = torch.minimum(nearest, 1.0 - x @ x[nxt[0]])
    return torch.cat(chosen)
