"""From a data config to a :class:`Split`: find the files, read, filter, split, and cache.

:func:`load_split` is what training calls: it resolves ``data.name`` (registered name or path),
looks for the prepared split in the cache, and only on a miss reads and splits the data and
stores the result (see :mod:`bcl_rec.data.cache`).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bcl_rec.data.cache import cache_file, load_cached_split, save_split
from bcl_rec.data.config import DataConfig
from bcl_rec.data.filters import apply_filters, filter_min_rating
from bcl_rec.data.interactions import Interactions
from bcl_rec.data.presplit import PresplitReport, assemble_presplit, presplit_summary
from bcl_rec.data.rawlog import RawLog
from bcl_rec.data.readers import read_file, read_titles
from bcl_rec.data.registry import cache_dir
from bcl_rec.data.source import Source, resolve_source
from bcl_rec.data.split import Split, split_log


@dataclass
class Prepared:
    """A split with where it came from: the resolved source, the cache entry, the timings."""

    split: Split
    source: Source
    cache_path: Path | None
    from_cache: bool
    seconds: float
    meta: dict[str, Any] = field(default_factory=dict)


def as_config(data: DataConfig | str, **overrides: Any) -> DataConfig:
    """A :class:`DataConfig` from a config, or from a name or path plus keyword options."""
    if isinstance(data, DataConfig):
        return dataclasses.replace(data, **overrides) if overrides else data
    return DataConfig(name=str(data), **overrides)


def read_source(source: Source) -> Interactions:
    """Read a resolved source into one filtered log (pre-split parts are concatenated)."""
    config = source.config
    logs = [read_file(path, source.format, config) for path in source.files.values()]
    raw = _concat([log.frame for log in logs])
    n_read = len(raw)
    raw = filter_min_rating(raw, config.min_rating, logs[0].path)
    titles = read_titles(source.titles, source.format)
    log = Interactions.from_raw(raw, source=source.label, titles=titles)
    log = dataclasses.replace(log, meta={"rows_read": n_read,
                                         "removed_by_min_rating": n_read - len(raw)})
    return apply_filters(log, None, config.user_core or 0, config.item_core or 0)


def read_dataset(
    data: DataConfig | str,
    data_dir: str | Path | None = None,
    min_rating: float | None = None,
) -> Interactions:
    """Read a registered dataset (by name) or a dataset file or folder (by path), filtered.

    Filters are those of the config (minimum rating, one row per pair, k-core); for pre-split
    data the parts are read as one log.
    """
    config = as_config(data) if min_rating is None else as_config(data, min_rating=min_rating)
    return read_source(resolve_source(config, data_dir))


def build_split(source: Source) -> tuple[Split, dict[str, Any]]:
    """Read, filter and split ``source`` (no cache); returns the split and notes about it."""
    config = source.config
    notes: dict[str, Any] = {}
    if config.split == "presplit":
        parts = {part: read_file(path, source.format, config)
                 for part, path in source.files.items()}
        split, report = assemble_presplit(
            parts,
            min_rating=config.min_rating,
            policy=config.presplit_policy,
            order=config.order,
            seed=config.seed,
            valid_ratio=config.valid_ratio,
            titles=read_titles(source.titles, source.format),
            source=source.label,
        )
        notes["presplit"] = dataclasses.asdict(report)
        return split, notes
    log = read_source(source)
    notes["filters"] = dict(log.meta)
    assert config.ratios is not None
    split = split_log(log, config.split, seed=config.seed, order=config.order,
                      ratios=tuple(config.ratios))  # type: ignore[arg-type]
    return split, notes


def prepare_split(
    data: DataConfig | str,
    data_dir: str | Path | None = None,
    cache_root: str | Path | None = None,
    force: bool = False,
) -> Prepared:
    """Resolve, then load the split from the cache or build and cache it.

    What the pre-split checks dropped or kept as misses is printed to stderr, one line per
    held-out part, on every load (from the cache too: it changes what the metrics mean).
    """
    start = time.perf_counter()
    source = resolve_source(as_config(data), data_dir)
    path = None
    if source.config.cache:
        path = cache_file(source, Path(cache_root) if cache_root is not None else cache_dir())
        cached = None if force else load_cached_split(path)
        if cached is not None:
            split, meta = cached
            _print_notes(meta)
            return Prepared(split, source, path, True, time.perf_counter() - start, meta)
    split, notes = build_split(source)
    meta = describe(source, split, notes)
    if path is not None:
        save_split(split, path, meta)
    _print_notes(meta)
    return Prepared(split, source, path, False, time.perf_counter() - start, meta)


def _print_notes(meta: dict[str, Any]) -> None:
    for line in presplit_summary(meta.get("presplit", {})):
        print(line, file=sys.stderr)


def load_split(
    data: DataConfig | str,
    data_dir: str | Path | None = None,
    cache_root: str | Path | None = None,
    **options: Any,
) -> Split:
    """Read and split a dataset as a run config's ``data`` section asks, via the cache.

    ``data`` is the :class:`DataConfig`, or a registered name or path with ``options`` naming
    config keys (``load_split("ml-100k", min_rating=4, split="ratio")``).
    """
    return prepare_split(as_config(data, **options), data_dir, cache_root).split


def describe(source: Source, split: Split, notes: dict[str, Any]) -> dict[str, Any]:
    """The JSON record kept next to a cached split: source, options, sizes, filter notes."""
    return {
        "label": source.label,
        "format": source.format,
        "files": {role: str(path) for role, path in source.files.items()},
        "titles": None if source.titles is None else str(source.titles),
        "config": _jsonable(dataclasses.asdict(source.config)),
        "users": split.n_users,
        "items": split.n_items,
        "train": int(split.train.nnz),
        "valid": int(split.valid.nnz),
        "test": int(split.test.nnz),
        **_jsonable(notes),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if len(frames) == 1:
        return frames[0]
    common = [c for c in frames[0].columns if all(c in f.columns for f in frames)]
    kinds = {f["user"].dtype.kind in "iu" and f["item"].dtype.kind in "iu" for f in frames}
    parts = [f[common] for f in frames]
    if len(kinds) > 1:
        parts = [p.astype({"user": str, "item": str}) for p in parts]
    return pd.concat(parts, ignore_index=True)


__all__ = [
    "PresplitReport",
    "Prepared",
    "RawLog",
    "as_config",
    "build_split",
    "load_split",
    "prepare_split",
    "read_dataset",
    "read_source",
]
