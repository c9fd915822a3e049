"""Which config changes a resumed run accepts: only those that cannot change what was trained.

``train.epochs`` and ``train.patience`` may change (train longer, stop sooner or later), and so
may ``train.progress``, ``train.checkpoint_every`` and ``train.tensorboard`` (display, checkpoint
frequency and logging only);
any other difference would make the resumed run a different run, and is refused.
"""

from __future__ import annotations

from typing import Any

from bcl_rec.run_folder import RunFolderError

MAY_CHANGE = frozenset(
    {"train.epochs", "train.patience", "train.progress", "train.checkpoint_every",
     "train.tensorboard"}
)


def flatten(config: dict[str, Any]) -> dict[str, Any]:
    """``{"train": {"lr": 0.1}}`` -> ``{"train.lr": 0.1}`` (one level of sections)."""
    flat: dict[str, Any] = {}
    for section, values in config.items():
        if isinstance(values, dict):
            flat.update({f"{section}.{key}": value for key, value in values.items()})
        else:
            flat[section] = values
    return flat


def changed_keys(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The ``section.key`` names whose values differ (or exist on one side only), sorted."""
    old, new = flatten(before), flatten(after)
    return sorted(k for k in old.keys() | new.keys() if old.get(k, ...) != new.get(k, ...))


def check_resume_config(run: str, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The accepted changed keys; raises :class:`RunFolderError` listing any refused ones."""
    changed = changed_keys(before, after)
    refused = [k for k in changed if k not in MAY_CHANGE]
    if refused:
        old, new = flatten(before), flatten(after)
        diffs = ", ".join(f"{k} ({old.get(k)!r} -> {new.get(k)!r})" for k in refused)
        raise RunFolderError(
            f"cannot resume {run} with a changed config: {diffs}; only "
            f"{', '.join(sorted(MAY_CHANGE))} may change (start a new run for the others)"
        )
    return changed
