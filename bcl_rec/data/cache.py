"""The prepared-split cache: one ``.npz`` per (input files, options), written atomically.

The key is the SHA-256 of the cache format version, the bcl-rec version, the reader, every input
file's absolute path, size and modification time, and every data option that changes the result
(filters, split, seed...). Editing a file, or any option, gives a new key; a stale entry is simply
never read again. A file is written under a temporary name in the same folder and renamed into
place, so a crash or a full disk never leaves a half-written entry that could be loaded.

Contents (no pickles): the CSR ``indptr``/``indices`` of train, valid and test, the shape, the
raw user/item ids (int64, or UTF-8 text joined by NUL with offsets) and optional titles, the
per-user counts of held-out items kept as misses (``valid_missing``/``test_missing``, only when
some are nonzero; absent means zeros), plus a JSON ``meta`` record describing the source.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from bcl_rec import __version__
from bcl_rec.data.source import Source
from bcl_rec.data.split import Split

CACHE_FORMAT = 1
_PARTS = ("train", "valid", "test")
_MISSING = ("valid_missing", "test_missing")
#: Options that do not change the prepared split (where it comes from is in the file list).
_NOT_IN_KEY = ("name", "cache")


def cache_key(source: Source) -> str:
    """Hex SHA-256 identifying the split ``source`` produces (see the module docstring)."""
    files = dict(source.files)
    if source.titles is not None:
        files["titles"] = source.titles
    stamp = {}
    for role, path in sorted(files.items()):
        stat = Path(path).stat()
        stamp[role] = [str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns]
    options = {
        k: v for k, v in dataclasses.asdict(source.config).items() if k not in _NOT_IN_KEY
    }
    record = {
        "cache_format": CACHE_FORMAT,
        "bcl_rec": __version__,
        "reader": source.format,
        "files": stamp,
        "options": options,
    }
    blob = json.dumps(record, sort_keys=True, default=list).encode()
    return hashlib.sha256(blob).hexdigest()


def cache_file(source: Source, root: Path) -> Path:
    """Where the prepared split of ``source`` lives under the cache ``root``."""
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(source.label).name)
    return root / "splits" / f"{slug or 'data'}-{cache_key(source)[:24]}.npz"


def save_split(split: Split, path: Path, meta: dict[str, Any]) -> None:
    """Write ``split`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {
        "shape": np.array(split.train.shape, dtype=np.int64),
        "meta": np.frombuffer(
            json.dumps({**meta, "cache_format": CACHE_FORMAT}).encode(), dtype=np.uint8
        ),
    }
    for part in _PARTS:
        matrix = getattr(split, part)
        arrays[f"{part}_indptr"] = matrix.indptr
        arrays[f"{part}_indices"] = matrix.indices
    for name in _MISSING:
        if getattr(split, name).any():
            arrays[name] = getattr(split, name)
    _put_ids(arrays, "user_ids", split.user_ids)
    _put_ids(arrays, "item_ids", split.item_ids)
    if split.item_titles is not None:
        _put_ids(arrays, "item_titles", np.asarray(split.item_titles).astype(str))
    handle = tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    )
    try:
        with handle:
            np.savez(handle, **arrays)
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def load_cached_split(path: Path) -> tuple[Split, dict[str, Any]] | None:
    """The split stored at ``path`` and its meta record, or None when absent or unreadable.

    An unreadable entry (another cache format, a damaged file) is removed with a warning, so the
    caller rebuilds it.
    """
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(stored["meta"].tobytes().decode())
            if meta.get("cache_format") != CACHE_FORMAT:
                raise ValueError(f"cache format {meta.get('cache_format')}")
            shape = tuple(int(x) for x in stored["shape"])
            matrices = {
                part: _csr(stored[f"{part}_indptr"], stored[f"{part}_indices"], shape)
                for part in _PARTS
            }
            user_ids = _get_ids(stored, "user_ids")
            item_ids = _get_ids(stored, "item_ids")
            titles = _get_ids(stored, "item_titles") if "item_titles_offsets" in stored else None
            if titles is not None:
                titles = titles.astype(object)
            missing = {name: stored[name] for name in _MISSING if name in stored}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as err:
        warnings.warn(f"ignoring unreadable cache entry {path} ({err}); rebuilding it",
                      stacklevel=2)
        path.unlink(missing_ok=True)
        return None
    if len(user_ids) != shape[0] or len(item_ids) != shape[1] or any(
        v.shape != (shape[0],) for v in missing.values()
    ):
        path.unlink(missing_ok=True)
        return None
    split = Split(item_titles=titles, user_ids=user_ids, item_ids=item_ids, **matrices, **missing)
    return split, meta


def _csr(indptr: np.ndarray, indices: np.ndarray, shape: tuple[int, ...]) -> sp.csr_matrix:
    matrix = sp.csr_matrix(
        (np.ones(len(indices), dtype=np.float32), indices, indptr), shape=shape, copy=False
    )
    matrix.has_sorted_indices = True
    return matrix


def _put_ids(arrays: dict[str, np.ndarray], name: str, ids: np.ndarray) -> None:
    ids = np.asarray(ids)
    if ids.dtype.kind in "iu":
        arrays[name] = ids.astype(np.int64, copy=False)
        return
    encoded = [s.encode("utf-8") for s in ids.astype(str).tolist()]
    lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
    arrays[f"{name}_text"] = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    arrays[f"{name}_offsets"] = np.concatenate(([0], np.cumsum(lengths)))


def _get_ids(stored, name: str) -> np.ndarray:
    if name in stored:
        return stored[name]
    blob = stored[f"{name}_text"].tobytes()
    offsets = stored[f"{name}_offsets"].tolist()
    return np.array(
        [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:], strict=True)],
        dtype=object,
    ).astype(str)
