"""The ``data`` section of a run config: which data to read, how to filter it and how to split it.

Keys left at ``None`` or ``"auto"`` take the registry entry's ``defaults`` (for a registered
dataset), then the built-in default; so a config that only names a dataset gets the split its
registry entry recommends, and any key written in the config wins.
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from bcl_rec.errors import ConfigError, build_section, check_types
from bcl_rec.errors import check as _check

FORMATS = (
    "auto",
    "movielens-100k",
    "movielens-dat",
    "movielens-csv",
    "lightgcn",
    "yelp",
    "jsonl",
    "delimited",
    "parquet",
    "recbole",
)
SPLITS = ("auto", "leave-one-out", "ratio", "presplit")
ORDERS = ("auto", "time", "random")
PRESPLIT_POLICIES = ("error", "drop", "miss")
DEFAULT_RATIOS = (0.8, 0.1, 0.1)


def _known_encoding(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class DataConfig:
    """Which data to read and how to filter and split it.

    ``name`` is a registered dataset (``ml-100k``), or a path to a dataset folder in a known
    layout (a MovieLens release, a LightGCN ``train.txt``/``test.txt`` folder, RecBole atomic
    files, the Yelp Open Dataset) or to one interaction file (csv/tsv/txt, Parquet, JSON lines,
    ``.inter``).

    Reading: ``format`` picks the reader (``auto`` recognises it); ``user_col``, ``item_col``,
    ``rating_col``, ``time_col`` name the columns (header names, JSON keys, or 0-based field
    positions for files without a header); ``sep`` (any non-empty string; ``\\t`` written as two
    characters is a tab), ``header``, ``encoding`` and ``time_format``
    (a ``strftime`` pattern for text dates; ISO 8601 is read without one) describe delimited files.

    Filtering, in this order: ``min_rating`` keeps ratings ``>=`` it; repeated (user, item) pairs
    are reduced to their latest row; ``user_core``/``item_core`` apply an iterative k-core until
    every user has at least ``user_core`` and every item at least ``item_core`` interactions.

    Splitting: ``split`` is ``leave-one-out`` (per user the latest item is test, the one before
    validation), ``ratio`` (per user, ``ratios`` of train/validation/test), or ``presplit``
    (``train_file``/``valid_file``/``test_file``, paths relative to the dataset folder; without a
    validation file, ``valid_ratio`` of each user's training items, at least one for users with
    two or more, are held out for validation; ``null`` or ``0``: exactly one). ``order`` is
    ``time`` or ``random`` (seeded by ``seed``); ``auto`` means by time when the data has
    timestamps. ``presplit_policy`` says what to do with held-out rows whose user or item is not
    in train, or that repeat a training pair: ``error``, ``drop``, or ``miss`` (held-out items not
    in train stay as misses that are never ranked, as the LightGCN and DPL protocols count them;
    the other rows are dropped).

    ``cache`` keeps the processed split in the per-user cache, keyed by a hash of the input files
    and of these options, so the next run loads it in a fraction of the time.
    """

    name: str = "ml-100k"
    format: str = "auto"
    user_col: str | int | None = None
    item_col: str | int | None = None
    rating_col: str | int | None = None
    time_col: str | int | None = None
    sep: str | None = None
    header: bool | None = None
    encoding: str = "utf-8"
    time_format: str | None = None
    min_rating: float | None = None
    user_core: int | None = None
    item_core: int | None = None
    split: str = "auto"
    ratios: tuple[float, ...] | None = None
    order: str = "auto"
    train_file: str | None = None
    valid_file: str | None = None
    test_file: str | None = None
    presplit_policy: str = "error"
    valid_ratio: float | None = None
    seed: int = 0
    cache: bool = True

    def __post_init__(self) -> None:
        check_types(self, "data")
        _check(isinstance(self.name, str) and self.name != "", "data.name",
               "must be a name or a path")
        _check(self.format in FORMATS, "data.format", f"must be one of {', '.join(FORMATS)}")
        for key in ("user_col", "item_col", "rating_col", "time_col"):
            value = getattr(self, key)
            _check(
                value is None or (isinstance(value, str) and value != "") or (
                    _is_int(value) and value >= 0
                ),
                f"data.{key}",
                f"must be a column name or a 0-based field position, got {value!r}",
            )
        _check(
            self.sep is None or (isinstance(self.sep, str) and self.sep != ""),
            "data.sep",
            f"must be a non-empty string (a space, a tab, ',', '::' ...), got {self.sep!r}",
        )
        if self.sep is not None and "\\t" in self.sep:  # `\t` typed as two characters: a tab
            object.__setattr__(self, "sep", self.sep.replace("\\t", "\t"))
        _check(self.header in (None, True, False), "data.header", "must be true or false")
        _check(_known_encoding(self.encoding), "data.encoding",
               f"unknown text encoding {self.encoding!r} (e.g. utf-8, latin-1)")
        if self.min_rating is not None:
            _check(
                isinstance(self.min_rating, (int, float)) and not isinstance(self.min_rating, bool)
                and math.isfinite(self.min_rating),
                "data.min_rating",
                f"must be a number, got {self.min_rating!r}",
            )
        for key in ("user_core", "item_core"):
            value = getattr(self, key)
            _check(
                value is None or (_is_int(value) and value >= 0),
                f"data.{key}",
                f"must be an integer >= 0, got {value!r}",
            )
        _check(self.split in SPLITS, "data.split", f"unknown split {self.split!r}; valid: "
               + ", ".join(SPLITS))
        _check(self.order in ORDERS, "data.order", f"must be one of {', '.join(ORDERS)}")
        if self.ratios is not None:
            ratios = self.ratios
            _check(
                isinstance(ratios, (list, tuple)) and len(ratios) == 3 and all(
                    isinstance(r, (int, float)) and not isinstance(r, bool) and r >= 0
                    for r in ratios
                ),
                "data.ratios",
                f"must be three non-negative numbers (train, valid, test), got {ratios!r}",
            )
            _check(
                abs(sum(ratios) - 1.0) < 1e-6 and ratios[0] > 0 and ratios[2] > 0,
                "data.ratios",
                f"must sum to 1 with train and test > 0, got {list(ratios)}",
            )
            object.__setattr__(self, "ratios", tuple(float(r) for r in ratios))
        for key in ("train_file", "valid_file", "test_file"):
            value = getattr(self, key)
            _check(value is None or isinstance(value, str), f"data.{key}", "must be a path")
        _check(
            self.presplit_policy in PRESPLIT_POLICIES,
            "data.presplit_policy",
            f"must be one of {', '.join(PRESPLIT_POLICIES)}",
        )
        if self.valid_ratio is not None:
            _check(
                isinstance(self.valid_ratio, (int, float)) and not isinstance(
                    self.valid_ratio, bool) and 0 <= self.valid_ratio < 1,
                "data.valid_ratio",
                f"must be a number in [0, 1) (or null for one item per user), got "
                f"{self.valid_ratio!r}",
            )
            object.__setattr__(self, "valid_ratio", float(self.valid_ratio))
        _check(
            0 <= self.seed < 2**63,
            "data.seed",
            f"must be an integer in [0, 2**63), got {self.seed}",
        )
        _check(isinstance(self.cache, bool), "data.cache", "must be true or false")

    def with_defaults(self, defaults: Mapping[str, Any]) -> DataConfig:
        """This config with ``defaults`` filled in where a key is still ``None`` or ``"auto"``."""
        unknown = sorted(set(defaults) - {f.name for f in fields(self)})
        if unknown:
            raise ConfigError(f"registry defaults: unknown key data.{unknown[0]}")
        fill = {
            key: value
            for key, value in defaults.items()
            if getattr(self, key) is None or getattr(self, key) == "auto"
        }
        return replace(self, **fill) if fill else self


def data_config_from_mapping(values: Mapping[str, Any] | None) -> DataConfig:
    """Build a :class:`DataConfig` from a config's ``data:`` mapping, rejecting unknown keys."""
    return build_section("data", DataConfig, values)
