"""Verified downloads into the cache: checksum before use, nothing half-written ever left behind."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from tqdm.auto import tqdm

from bcl_rec.data.errors import DataError
from bcl_rec.data.registry import DatasetInfo


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, info_digests: dict[str, str | None]) -> None:
    """Raise :class:`DataError` unless every given digest of ``path`` matches."""
    for algorithm, expected in info_digests.items():
        if expected and file_digest(path, algorithm) != expected.lower():
            raise DataError(f"{algorithm} checksum mismatch (expected {expected})", path)


def download_dataset(info: DatasetInfo, cache: Path) -> Path:
    """Download, verify and unpack ``info`` into ``cache / info.folder``, atomically.

    Everything happens in a temporary folder inside ``cache``; only a fully verified folder is
    renamed into place, so an interrupted or corrupt download leaves no trace.
    """
    if info.url is None:
        raise DataError(f"dataset {info.name!r} has no download URL")
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / info.folder
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
        tmp_path = Path(tmp)
        archive = tmp_path / Path(info.url).name
        _fetch(info.url, archive)
        verify(archive, {"md5": info.md5, "sha256": info.sha256})
        unpacked = tmp_path / "unpacked"
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(unpacked)
        folder = unpacked / info.folder
        if not folder.is_dir():
            raise DataError(f"archive has no folder {info.folder!r}", archive)
        for name, sha in info.files.items():
            verify(folder / name, {"sha256": sha})
        if target.exists():
            shutil.rmtree(target)
        folder.rename(target)
    return target


def _fetch(url: str, dest: Path) -> None:
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - registry URLs
        total = int(response.headers.get("Content-Length") or 0) or None
        with open(dest, "wb") as out, tqdm(
            total=total, unit="B", unit_scale=True, desc=f"download {dest.name}"
        ) as bar:
            for chunk in iter(lambda: response.read(1 << 16), b""):
                out.write(chunk)
                bar.update(len(chunk))
        if total is not None and dest.stat().st_size != total:
            raise DataError(f"truncated download ({dest.stat().st_size} of {total} bytes)", dest)
