"""Verified downloads into the cache: checksum before use, nothing half-written ever left behind.

Everything is fetched into a temporary folder inside the cache; only when every checksum matches
is the dataset folder renamed into place. A checksum mismatch, a truncated transfer or a corrupt
archive raises :class:`DataError` and the temporary folder is removed with everything in it.
"""

from __future__ import annotations

import hashlib
import http.client
import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from bcl_rec.data.errors import DataError

if TYPE_CHECKING:  # the registry imports this module when a dataset must be fetched
    from bcl_rec.data.registry import DatasetInfo

Fetch = Callable[[str, Path], None]


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
        if not expected:
            continue
        actual = file_digest(path, algorithm)
        if actual != expected.lower():
            raise DataError(
                f"{algorithm} checksum mismatch: expected {expected}, got {actual} "
                "(corrupt or changed download; nothing was kept)",
                path,
            )


def download_dataset(
    info: DatasetInfo, cache: Path, allow_unverified: bool = False, fetch: Fetch | None = None
) -> Path:
    """Download, verify (and unpack) ``info`` into ``cache / info.folder``, atomically.

    Refuses a dataset with no known checksum unless ``allow_unverified``.
    """
    if info.url is None and not info.urls:
        raise DataError(f"dataset {info.name!r} has no download URL")
    if not info.verified and not allow_unverified:
        raise DataError(
            f"dataset {info.name!r} has no published checksum to verify a download against "
            f"({info.checksum_note or 'none recorded'}); download it from {info.homepage} "
            "yourself, or allow an unverified download (--allow-unverified)"
        )
    fetch = fetch or _fetch
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / info.folder
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
        tmp_path = Path(tmp)
        folder = (
            _download_archive(info, tmp_path, fetch)
            if info.url is not None
            else _download_files(info, tmp_path, fetch)
        )
        for name, sha in info.files.items():
            member = folder / name
            if not member.is_file():
                raise DataError(f"download has no file {name!r}", folder)
            verify(member, {"sha256": sha})
        if target.exists():
            shutil.rmtree(target)
        folder.rename(target)
    return target


def _download_archive(info: DatasetInfo, tmp: Path, fetch: Fetch) -> Path:
    assert info.url is not None
    archive = tmp / (Path(info.url.split("?")[0]).name or "download.zip")
    fetch(info.url, archive)
    verify(archive, {"md5": info.md5, "sha256": info.sha256})
    unpacked = tmp / "unpacked"
    try:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(unpacked)
    except (zipfile.BadZipFile, EOFError) as err:
        raise DataError(f"corrupt or truncated archive ({err})", archive) from None
    folder = unpacked / info.folder
    if not folder.is_dir():
        raise DataError(f"archive has no folder {info.folder!r}", archive)
    return folder


def _download_files(info: DatasetInfo, tmp: Path, fetch: Fetch) -> Path:
    folder = tmp / "files" / info.folder
    folder.mkdir(parents=True)
    for name, url in info.urls.items():
        fetch(url, folder / name)
        verify(folder / name, {"sha256": info.files.get(name)})
    return folder


def _fetch(url: str, dest: Path) -> None:
    """Stream ``url`` to ``dest``; a transfer shorter than announced is a :class:`DataError`."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - registry URLs
            total = int(response.headers.get("Content-Length") or 0) or None
            with open(dest, "wb") as out, tqdm(
                total=total, unit="B", unit_scale=True, desc=f"download {dest.name}",
                disable=None,
            ) as bar:
                for chunk in iter(lambda: response.read(1 << 16), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
    except http.client.IncompleteRead as err:
        raise DataError(f"truncated download from {url} ({len(err.partial)} bytes received)",
                        dest) from None
    size = dest.stat().st_size
    if total is not None and size != total:
        raise DataError(f"truncated download from {url} ({size} of {total} bytes)", dest)
