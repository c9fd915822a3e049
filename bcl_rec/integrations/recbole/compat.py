"""The fixes RecBole 1.2.1 needs on numpy >= 2 and pandas >= 3, each at the narrowest point.

Nothing here touches numpy, pandas or torch themselves: the fixes replace names *inside* RecBole's
own modules (their module-level ``np``/``pd`` bindings) or one RecBole method. ``torch.load``
is not patched at all; see :mod:`bcl_rec.integrations.recbole.checkpoint`. :data:`PATCHES`
lists every change with the error it fixes; :func:`apply_patches` is idempotent.
"""

from __future__ import annotations

import importlib
import types
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: numpy names RecBole 1.2.1 still uses that numpy removed (1.24 / 2.0), with RecBole's meaning.
NUMPY_ALIASES: dict[str, Any] = {
    "float": np.float64,
    "int": np.int_,
    "bool": np.bool_,
    "complex": np.complex128,
    "object": np.object_,
    "str": np.str_,
    "long": np.int_,
    "unicode": np.str_,
}

#: RecBole modules whose code uses a removed numpy alias (``np.float`` mostly, ``np.str``).
NUMPY_ALIAS_MODULES = (
    "recbole.data.interaction",
    "recbole.data.dataset.dataset",
    "recbole.evaluator.metrics",
    "recbole.trainer.hyper_tuning",
)

_DONE = "_bcl_rec_patched"


@dataclass(frozen=True)
class Patch:
    """One change to RecBole, the error it fixes, and why it is needed."""

    target: str
    fixes: str
    why: str


PATCHES = (
    Patch(
        "recbole.config.configurator.Config.compatibility_settings -> no-op",
        "AttributeError: `np.float_` was removed in the NumPy 2.0 release",
        "RecBole's shim assigns np.float = np.float_ (and np.complex_, np.unicode_) on the "
        "global numpy module at every Config(); under numpy 2 it crashes, and it would mutate "
        "numpy for every other library in the process.",
    ),
    Patch(
        "np in " + ", ".join(NUMPY_ALIAS_MODULES) + " -> numpy namespace + removed aliases",
        "AttributeError: module 'numpy' has no attribute 'float'",
        "These modules use np.float / np.str (removed in numpy 1.24). Each gets a private copy of "
        "numpy's namespace with the aliases RecBole's shim meant (np.float = float64, ...); "
        "the real numpy module is left unchanged.",
    ),
    Patch(
        "recbole.data.dataset.dataset.Dataset._fill_nan -> column assignment",
        "ChainedAssignmentError warning, and missing values left as NaN",
        "RecBole fills NaN with feat[field].fillna(..., inplace=True); under pandas 3 "
        "(copy-on-write) that updates a temporary copy, so nothing is filled.",
    ),
    Patch(
        "recbole.data.dataset.dataset.Dataset._remap -> Series.map(len) for token_seq lengths",
        "ValueError: Length of values (1) does not match length of index (N)",
        "RecBole splits remapped token_seq ids at np.cumsum(feat[field].agg(len)); pandas 3's "
        "Series.agg passes the whole Series to len (one number) instead of each row.",
    ),
    Patch(
        "pd.read_csv in recbole.data.dataset.dataset -> fills empty *_seq fields with ''",
        "AttributeError: 'float' object has no attribute 'split' (empty token_seq/float_seq field)",
        "Same pandas 3 cause in Dataset._load_feat: df[field].fillna(value='', inplace=True) "
        "no longer fills empty sequence fields before they are split.",
    ),
)


def numpy_with_aliases() -> types.ModuleType:
    """A module with numpy's namespace plus the removed aliases numpy no longer defines."""
    module = types.ModuleType("numpy", doc="numpy with the aliases RecBole 1.2.1 uses")
    module.__dict__.update(np.__dict__)  # includes numpy's module __getattr__ (lazy names)
    for name, value in NUMPY_ALIASES.items():
        if name not in np.__dict__:
            setattr(module, name, value)
    return module


def fill_nan(self: Any) -> None:
    """RecBole's ``Dataset._fill_nan`` without chained in-place assignment (same semantics)."""
    from recbole.utils import FeatureType

    for feat_name in self.feat_name_list:
        feat = getattr(self, feat_name)
        for field in feat:
            ftype = self.field2type[field]
            if ftype == FeatureType.TOKEN:
                feat[field] = feat[field].fillna(value=0)
            elif ftype == FeatureType.FLOAT:
                feat[field] = feat[field].fillna(value=feat[field].mean())
            else:
                dtype = np.int64 if ftype == FeatureType.TOKEN_SEQ else np.float64
                feat[field] = feat[field].apply(
                    lambda x, dtype=dtype: np.array([], dtype=dtype) if isinstance(x, float) else x
                )


def remap(self: Any, remap_list: list) -> None:
    """RecBole's ``Dataset._remap`` with per-row sequence lengths that pandas 3 computes right."""
    from recbole.utils import FeatureType

    if len(remap_list) == 0:
        return
    tokens, split_point = self._concat_remaped_tokens(remap_list)
    new_ids_list, mp = pd.factorize(tokens)
    new_ids_list = np.split(new_ids_list + 1, split_point)
    mp = np.array(["[PAD]"] + list(mp))
    token_id = {t: i for i, t in enumerate(mp)}
    for (feat, field, ftype), new_ids in zip(remap_list, new_ids_list, strict=True):
        if field not in self.field2id_token:
            self.field2id_token[field] = mp
            self.field2token_id[field] = token_id
        if ftype == FeatureType.TOKEN:
            feat[field] = new_ids
        elif ftype == FeatureType.TOKEN_SEQ:
            split_point = np.cumsum(feat[field].map(len).to_numpy())[:-1]
            feat[field] = np.split(new_ids, split_point)


def read_csv_filling_seq(*args: Any, **kwargs: Any) -> pd.DataFrame:
    """``pd.read_csv`` that fills missing ``*_seq`` columns with ``''`` as RecBole expects."""
    frame = pd.read_csv(*args, **kwargs)
    for column in frame.columns:
        if isinstance(column, str) and column.endswith("_seq"):
            frame[column] = frame[column].fillna(value="")
    return frame


def pandas_reading_seq() -> types.ModuleType:
    """A module with pandas' namespace whose ``read_csv`` is :func:`read_csv_filling_seq`."""
    module = types.ModuleType("pandas", doc="pandas whose read_csv fills empty *_seq fields")
    module.__dict__.update(pd.__dict__)
    module.read_csv = read_csv_filling_seq
    return module


def apply_patches() -> None:
    """Apply every entry of :data:`PATCHES` once."""
    from recbole.config.configurator import Config
    from recbole.data.dataset import dataset as dataset_module

    if getattr(Config, _DONE, False):
        return
    Config.compatibility_settings = _no_compatibility_settings
    aliased = numpy_with_aliases()
    for name in NUMPY_ALIAS_MODULES:
        importlib.import_module(name).np = aliased
    dataset_module.Dataset._fill_nan = fill_nan
    dataset_module.Dataset._remap = remap
    dataset_module.pd = pandas_reading_seq()
    setattr(Config, _DONE, True)


def _no_compatibility_settings(self: Any) -> None:
    """Replaces RecBole's global numpy aliasing (see :data:`PATCHES`)."""
