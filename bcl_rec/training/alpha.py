"""BCL's alpha over training: constant, a linear schedule, or adaptive from the validation AUC."""

from __future__ import annotations

import numpy as np

from bcl_rec.losses import LossConfig, RecLoss, alpha_from_auc
from bcl_rec.losses.alpha import is_adaptive


class AlphaController:
    """Sets the loss's alpha at each epoch start (``linear``) or after validation (``auto``).

    - ``loss.alpha: auto``: alpha starts at 0.5 and, after every validation pass, becomes
      ``alpha_from_auc(valid AUC, tau_plus, loss.alpha_from_auc, loss.alpha_max)``. The AUC is
      the evaluator's per-user (macro) AUC of the held-out item against every unlabeled item, so
      it costs nothing extra.
    - ``loss.alpha_schedule: linear``: alpha steps every ``alpha_every`` epochs through
      ``alpha_steps`` evenly spaced values from 0.5 to ``loss.alpha``.
    - otherwise alpha stays at ``loss.alpha``.
    Losses without an alpha (everything but BCL and BCL-weighted BSL/PSL) are left alone.
    """

    def __init__(self, loss_fn: RecLoss, cfg: LossConfig) -> None:
        self.loss_fn = loss_fn
        self.cfg = cfg
        # BCL, and BSL/PSL with weights: bcl (their alpha is None without weights)
        self.active = hasattr(loss_fn, "set_alpha") and getattr(loss_fn, "alpha", None) is not None
        self.auto = self.active and is_adaptive(cfg.alpha)
        self.schedule = None
        if self.active and not self.auto and cfg.alpha_schedule == "linear":
            steps = np.linspace(0.5, float(cfg.alpha), cfg.alpha_steps)
            self.schedule = steps if cfg.alpha_steps > 1 else np.array([float(cfg.alpha)])

    @property
    def alpha(self) -> float | None:
        return float(self.loss_fn.alpha) if self.active else None

    def state_dict(self) -> dict[str, float | None]:
        """The controller's only state, the current alpha (the schedule follows the epoch)."""
        return {"alpha": self.alpha}

    def load_state_dict(self, state: dict[str, float | None]) -> None:
        if self.active and state["alpha"] is not None:
            self.loss_fn.set_alpha(float(state["alpha"]))

    def epoch_start(self, epoch: int) -> None:
        """Apply the schedule for ``epoch`` (1-based)."""
        if self.schedule is not None:
            step = min((epoch - 1) // self.cfg.alpha_every, len(self.schedule) - 1)
            self.loss_fn.set_alpha(float(self.schedule[step]))

    def after_validation(self, valid: dict[str, float]) -> None:
        """Re-estimate alpha from the validation AUC (``alpha: auto`` only)."""
        if self.auto:
            self.loss_fn.set_alpha(
                alpha_from_auc(
                    valid["auc"], self.cfg.tau_plus, self.cfg.alpha_from_auc, self.cfg.alpha_max
                )
            )
