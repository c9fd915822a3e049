"""Where RecBole reads ml-100k from, offline.

RecBole 1.2.1 always reads ``ml-100k`` from the copy in its wheel
(``recbole/dataset_example/ml-100k``), whatever ``data_path`` says. When that copy is missing, or
a GroupLens ``ml-100k`` folder is named explicitly (``data_dir``), RecBole's atomic file is built
from GroupLens' ``u.data``: the same bytes behind RecBole's header line. The file is written to a
temporary name and renamed, in bcl-rec's cache, so ``--dataset ml-100k`` never needs the network.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bcl_rec.data.download import verify
from bcl_rec.data.registry import cache_dir, dataset_info, locate

ML100K = "ml-100k"
ML100K_HEADER = b"user_id:token\titem_id:token\trating:float\ttimestamp:float\n"


def packaged_ml100k() -> Path | None:
    """RecBole's bundled ml-100k folder, if this install has it."""
    import recbole

    folder = Path(recbole.__file__).parent / "dataset_example" / ML100K
    return folder if (folder / f"{ML100K}.inter").is_file() else None


def build_ml100k(grouplens: Path, root: Path) -> Path:
    """``root/ml-100k/ml-100k.inter`` from a GroupLens folder (checksum-verified ``u.data``)."""
    source = grouplens / "u.data"
    verify(source, {"sha256": dataset_info(ML100K).files["u.data"]})
    folder = root / ML100K
    target = folder / f"{ML100K}.inter"
    if target.is_file() and target.stat().st_size == source.stat().st_size + len(ML100K_HEADER):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("wb", dir=folder, prefix=".inter-", delete=False) as out:
        out.write(ML100K_HEADER)
        with open(source, "rb") as src:
            shutil.copyfileobj(src, out)
    os.replace(out.name, target)
    return folder


def ml100k_folder(data_dir: str | Path | None = None) -> Path:
    """The folder holding ``ml-100k.inter``: built from ``data_dir`` when given, else RecBole's
    bundled copy, else built from a GroupLens folder bcl-rec can locate ($BCL_REC_DATA, cache)."""
    if data_dir is None:
        bundled = packaged_ml100k()
        if bundled is not None:
            return bundled
    grouplens = locate(dataset_info(ML100K), data_dir)
    return build_ml100k(grouplens, cache_dir() / "recbole")


def set_data_path(config: Any, data_dir: str | Path | None = None) -> None:
    """Point a RecBole ``Config`` for ``ml-100k`` at :func:`ml100k_folder` (others untouched)."""
    if config["dataset"] != ML100K:
        return
    config["data_path"] = str(ml100k_folder(data_dir))
