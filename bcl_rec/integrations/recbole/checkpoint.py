"""RecBole checkpoints that ``torch.load(weights_only=True)`` can read, and their loader.

RecBole's ``Trainer._save_checkpoint`` pickles the whole ``Config`` object with pickle protocol 4.
torch >= 2.6 loads with ``weights_only=True`` by default, whose unpickler neither knows protocol 4
opcodes ("Unsupported operand 149", the FRAME opcode) nor may call ``Config``: its constructor
``eval``\\ s string settings, so allowlisting it would allow code execution from a crafted file.

bcl-rec's trainer therefore writes the same checkpoint dictionary (same keys, a ``Config`` under
``"config"``) with protocol 2 and the ``Config`` reduced to :func:`restore_config` of its plain
attributes. Loading needs only that function and RecBole's enum classes on the allowlist, both
side-effect free, and stays ``weights_only=True`` for every file. A checkpoint written by RecBole's
own ``Trainer`` is refused unless the caller passes ``trusted=True``.
"""

from __future__ import annotations

import enum
import os
import pickle
import types
from pathlib import Path
from typing import Any

import numpy as np
import torch
from recbole.config import Config
from recbole.utils import enum_type

#: ``Config`` attributes not saved: a yaml loader class and the model class (kept by name).
_DROPPED = ("yaml_loader", "model_class")


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be loaded safely."""


def restore_config(state: dict[str, Any]) -> Config:
    """A RecBole ``Config`` from its saved attributes, without running ``Config.__init__``."""
    config = Config.__new__(Config)
    config.__dict__.update(state)
    config.__dict__.setdefault("model_class", None)
    return config


def config_state(config: Config) -> dict[str, Any]:
    """The attributes of ``config`` that a checkpoint keeps."""
    return {k: v for k, v in vars(config).items() if k not in _DROPPED}


class _Pickler(pickle.Pickler):
    """Reduces every ``Config`` to :func:`restore_config`, numpy scalars to Python numbers and
    enum members to ``EnumClass(value)`` (some Python 3.11 releases pickle a member as
    ``getattr(EnumClass, name)``, which the ``weights_only`` unpickler refuses)."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, Config):
            return restore_config, (config_state(obj),)
        if isinstance(obj, enum.Enum):
            return type(obj), (obj.value,)
        if isinstance(obj, np.generic):
            value = obj.item()
            return type(value), (value,)
        return NotImplemented


_PICKLE_MODULE = types.ModuleType("bcl_rec_recbole_pickle")
_PICKLE_MODULE.Pickler = _Pickler  # type: ignore[attr-defined]


def safe_globals() -> list[Any]:
    """What a bcl-rec RecBole checkpoint needs beyond torch's own allowlist."""
    enums = [
        value
        for value in vars(enum_type).values()
        if isinstance(value, type) and issubclass(value, enum.Enum) and value is not enum.Enum
    ]
    return [restore_config, bool, int, float, str, *enums]


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``state`` for :func:`load_checkpoint` (temp file + rename: never half-written)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp, pickle_module=_PICKLE_MODULE, pickle_protocol=2)
    os.replace(tmp, path)


def load_checkpoint(
    path: str | os.PathLike[str],
    map_location: Any = None,
    *,
    trusted: bool = False,
) -> dict[str, Any]:
    """Load a RecBole checkpoint with ``weights_only=True`` and the small allowlist above.

    Args:
        path: the ``.pth`` file.
        map_location: as for ``torch.load``.
        trusted: a file that fails the safe load (e.g. one written by RecBole's own ``Trainer``)
            is then loaded with ``weights_only=False``. That runs arbitrary code from a malicious
            file: pass it only for files you created yourself.
    """
    try:
        with torch.serialization.safe_globals(safe_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if not trusted:
            raise CheckpointError(
                f"{path}: not a checkpoint written by bcl-rec's RecBole trainer, and it cannot be "
                f"loaded with torch.load(weights_only=True) ({_first_line(err)}). Files written "
                "by RecBole's own Trainer pickle the whole Config; load one only if you trust it, "
                "with load_checkpoint(path, trusted=True)."
            ) from None
    return torch.load(path, map_location=map_location, weights_only=False)


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
