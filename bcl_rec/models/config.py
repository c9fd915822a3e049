"""The ``model`` section of a run config."""

from __future__ import annotations

from dataclasses import dataclass

from bcl_rec.errors import check as _check
from bcl_rec.errors import check_types

MAX_LAYERS = 64  # LightGCN propagation steps; papers use 1-4


@dataclass(frozen=True)
class ModelConfig:
    """The backbone: ``mf`` or ``lightgcn`` (``layers``/``layer_weights`` apply to LightGCN).

    ``score`` is what training and evaluation rank by: ``dot`` (default) or ``cosine`` (the
    L2-normalised final embeddings; every loss then divides the cosine by ``loss.temperature``).
    """

    name: str = "mf"
    dim: int = 64
    init: str = "xavier"
    init_std: float = 0.1
    layers: int = 2
    layer_weights: tuple[float, ...] | None = None
    score: str = "dot"

    def __post_init__(self) -> None:
        check_types(self, "model")
        _check(self.name in ("mf", "lightgcn"), "model.name", f"unknown model {self.name!r}; "
               "valid names: mf, lightgcn")
        _check(
            0 <= self.layers <= MAX_LAYERS,
            "model.layers",
            f"must be in [0, {MAX_LAYERS}], got {self.layers}",
        )
        if self.layer_weights is not None:
            _check(
                len(self.layer_weights) == self.layers + 1,
                "model.layer_weights",
                f"needs layers + 1 = {self.layers + 1} values, got {len(self.layer_weights)}",
            )
            object.__setattr__(self, "layer_weights", tuple(float(w) for w in self.layer_weights))
        _check(self.dim >= 1, "model.dim", f"must be >= 1, got {self.dim}")
        _check(self.init in ("xavier", "normal"), "model.init", "must be 'xavier' or 'normal'")
        _check(self.score in ("dot", "cosine"), "model.score",
               f"must be 'dot' or 'cosine', got {self.score!r}")
        _check(self.init_std > 0, "model.init_std", f"must be > 0, got {self.init_std}")
