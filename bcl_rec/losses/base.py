"""The common loss interface, its input validation, and the loss registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import torch
from torch import Tensor, nn

from ._checks import check_positive

__all__ = ["LOSSES", "LossOutput", "NonFiniteScoresError", "RecLoss", "get_loss_class", "register"]


class NonFiniteScoresError(ValueError):
    """Scores given to a loss hold NaN or +-inf (in training: the weights have diverged)."""


@dataclass
class LossOutput:
    """Result of a loss call.

    ``loss`` is the scalar batch loss (mean over rows). ``stats`` holds small detached scalar
    tensors for logging (e.g. ``mean_weight``, ``floored_fraction``); they are never turned into
    Python numbers inside ``forward`` so that no device synchronisation is forced.
    """

    loss: Tensor
    stats: dict[str, Tensor] = field(default_factory=dict)


class RecLoss(nn.Module):
    """Base class of every recommender loss on (anchor, positive, N unlabeled items) rows.

    Subclasses implement :meth:`compute`; :meth:`forward` validates the inputs first (shapes,
    floating dtype, NaN/inf), which costs one ``isfinite(...).all()`` per tensor.

    Scores are raw model scores. Each loss divides them by its ``temperature`` before use
    (a no-op at the default 1.0); rank-based weights (BCL) are computed on the raw scores.

    Shape:
        - pos: :math:`(B,)` score of the observed positive of each row
        - neg: :math:`(B, N)` scores of N items sampled uniformly from the user's unlabeled items
        - extra: :math:`(B, M)` scores of M extra observed positives of the same user, or ``None``
        - ref: :math:`(B, K)` scores for the catalogue ECDF, or ``None``; entries that are not
          unlabeled items must be ``+inf`` and are never counted
        - items: ``(pos_items (B,), neg_items (B, N))`` item ids, given when ``needs_items``
        - vectors: ``(user (B, d), pos (B, d), neg (B, N, d))`` embeddings the scores came from,
          given when ``needs_vectors``
        - output: :class:`LossOutput` with a scalar ``loss``

    Losses that need more than scores say so with ``needs_items`` / ``needs_vectors`` (class or
    instance attributes) and override :meth:`compute_with`; losses with per-epoch state (e.g. a
    re-clustering) set ``needs_epoch_hook`` and override :meth:`on_epoch_start`, which the trainer
    calls before every epoch. A loss's own parameters (``self.parameters()``) are optimised by the
    trainer together with the model's.
    """

    name: ClassVar[str] = ""
    needs_extras: ClassVar[bool] = False
    needs_items: ClassVar[bool] = False
    needs_vectors: ClassVar[bool] = False
    needs_epoch_hook: ClassVar[bool] = False

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        self.temperature = check_positive(temperature, "temperature")
        self.uses_reference: bool = False

    def scale(self, scores: Tensor) -> Tensor:
        """Divide by the temperature (identity when it is 1)."""
        return scores if self.temperature == 1.0 else scores / self.temperature

    def forward(
        self,
        pos: Tensor,
        neg: Tensor,
        extra: Tensor | None = None,
        ref: Tensor | None = None,
        *,
        items: tuple[Tensor, Tensor] | None = None,
        vectors: tuple[Tensor, Tensor, Tensor] | None = None,
    ) -> LossOutput:
        extra = validate_inputs(pos, neg, extra, ref)
        if self.uses_reference and ref is None:
            raise ValueError(f"{self.name}: ref is required when the ECDF source is 'catalogue'")
        if self.needs_extras and extra is None:
            raise ValueError(
                f"{self.name}: extra positives are required (extra with shape [B, M], M >= 1)"
            )
        ref = ref if self.uses_reference else None
        if not (self.needs_items or self.needs_vectors):
            return self.compute(pos, neg, extra, ref)
        if self.needs_items:
            _check_items(items, neg)
        if self.needs_vectors:
            _check_vectors(vectors, neg)
        return self.compute_with(pos, neg, extra, ref, items, vectors)

    def compute_with(
        self,
        pos: Tensor,
        neg: Tensor,
        extra: Tensor | None,
        ref: Tensor | None,
        items: tuple[Tensor, Tensor] | None,
        vectors: tuple[Tensor, Tensor, Tensor] | None,
    ) -> LossOutput:
        """Loss for losses that need item ids or embeddings (checked against ``neg``'s shape)."""
        return self.compute(pos, neg, extra, ref)

    def on_epoch_start(self, epoch: int, model: nn.Module, generator: torch.Generator) -> None:
        """Called by the trainer before epoch ``epoch`` (1-based) with the model being trained
        and the run's generator; a no-op unless the loss keeps per-epoch state."""

    def compute(
        self, pos: Tensor, neg: Tensor, extra: Tensor | None, ref: Tensor | None
    ) -> LossOutput:
        """Loss on validated inputs; ``extra`` is ``None`` or has M >= 1 columns."""
        raise NotImplementedError


def _check_finite(x: Tensor, name: str) -> None:
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        raise NonFiniteScoresError(f"{name} contains NaN or +-inf scores")


def _check_items(items: object, neg: Tensor) -> None:
    b, n = neg.shape
    ok = (
        isinstance(items, tuple)
        and len(items) == 2
        and all(isinstance(t, Tensor) and not t.is_floating_point() for t in items)
        and items[0].shape == (b,)
        and items[1].shape == (b, n)
    )
    if not ok:
        raise ValueError(
            f"items must be (pos_items [B], neg_items [B, N]) integer tensors with B = {b}, "
            f"N = {n}; this loss needs the rows' item ids"
        )


def _check_vectors(vectors: object, neg: Tensor) -> None:
    b, n = neg.shape
    ok = (
        isinstance(vectors, tuple)
        and len(vectors) == 3
        and all(isinstance(t, Tensor) and t.is_floating_point() for t in vectors)
        and vectors[0].dim() == 2
        and vectors[0].shape[0] == b
        and vectors[1].shape == vectors[0].shape
        and vectors[2].shape == (b, n, vectors[0].shape[1])
    )
    if not ok:
        raise ValueError(
            f"vectors must be (user [B, d], pos [B, d], neg [B, N, d]) float tensors with "
            f"B = {b}, N = {n}; this loss needs the rows' embeddings"
        )
    for t, what in zip(vectors, ("user", "pos", "neg"), strict=True):
        _check_finite(t, f"vectors ({what})")


def validate_inputs(
    pos: Tensor, neg: Tensor, extra: Tensor | None, ref: Tensor | None
) -> Tensor | None:
    """Check shapes, dtypes and finiteness; return ``extra`` (``None`` when it has 0 columns)."""
    if not isinstance(pos, Tensor) or pos.dim() != 1:
        raise ValueError(f"pos must be a tensor of shape [B], got {_shape(pos)}")
    b = pos.shape[0]
    if b < 1:
        raise ValueError("pos must hold at least one row (B >= 1)")
    if not isinstance(neg, Tensor) or neg.dim() != 2 or neg.shape[0] != b:
        raise ValueError(f"neg must be a tensor of shape [B, N] with B = {b}, got {_shape(neg)}")
    if neg.shape[1] < 1:
        raise ValueError("neg must hold N >= 1 unlabeled scores per row (N = 0 given)")
    _check_finite(pos, "pos")
    _check_finite(neg, "neg")
    if neg.dtype != pos.dtype:
        raise ValueError(f"neg dtype {neg.dtype} differs from pos dtype {pos.dtype}")
    if extra is not None:
        if not isinstance(extra, Tensor) or extra.dim() != 2 or extra.shape[0] != b:
            raise ValueError(
                f"extra must be None or a tensor of shape [B, M] with B = {b}, got {_shape(extra)}"
            )
        if extra.shape[1] == 0:
            extra = None
        else:
            _check_finite(extra, "extra")
            if extra.dtype != pos.dtype:
                raise ValueError(f"extra dtype {extra.dtype} differs from pos dtype {pos.dtype}")
    if ref is not None:
        if not isinstance(ref, Tensor) or ref.dim() != 2 or ref.shape[0] != b or ref.shape[1] < 1:
            raise ValueError(
                f"ref must be None or a tensor of shape [B, K] with B = {b} and K >= 1, "
                f"got {_shape(ref)}"
            )
        if not ref.is_floating_point():
            raise ValueError(f"ref must be a floating-point tensor, got dtype {ref.dtype}")
    return extra


def _shape(x: object) -> str:
    return str(tuple(x.shape)) if isinstance(x, Tensor) else type(x).__name__


LOSSES: dict[str, type[RecLoss]] = {}

#: ``name -> kwargs(cfg)``: how a loss registered with ``register(name, kwargs=...)`` reads the
#: ``loss:`` section (a :class:`~bcl_rec.losses.config.LossConfig`) into constructor kwargs.
CONFIG_MAPPINGS: dict[str, Callable[[Any], dict[str, Any]]] = {}

_L = TypeVar("_L", bound=type[RecLoss])


def register(
    name: str, kwargs: Callable[[Any], dict[str, Any]] | None = None
) -> Callable[[_L], _L]:
    """Class decorator adding a loss to :data:`LOSSES` under ``name`` (sets ``cls.name``).

    ``name`` becomes a valid ``loss.name`` in configs. ``kwargs`` maps the validated ``loss:``
    section to the constructor's keyword arguments (e.g. ``lambda c: {"temperature":
    c.temperature}``); without it the loss is built with its defaults. Raises ``ValueError`` if
    ``name`` is already taken, so two losses can never shadow each other.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"loss name must be a non-empty string, got {name!r}")

    def decorator(cls: _L) -> _L:
        if name in LOSSES:
            raise ValueError(
                f"loss name {name!r} is already registered (by {LOSSES[name].__qualname__})"
            )
        cls.name = name
        LOSSES[name] = cls
        if kwargs is not None:
            CONFIG_MAPPINGS[name] = kwargs
        return cls

    return decorator


def get_loss_class(name: str) -> type[RecLoss]:
    """The registered class for ``name``; the error lists the valid names."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(
            f"unknown loss {name!r}; valid names: {', '.join(sorted(LOSSES))}"
        ) from None
