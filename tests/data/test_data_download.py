"""Verified downloads: a checksum mismatch or a truncated transfer is an error, nothing is kept."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from data_helpers import files_under

from bcl_rec.data.download import download_dataset
from bcl_rec.data.errors import DataError
from bcl_rec.data.registry import DatasetInfo, locate

U_DATA = b"1\t10\t5\t100\n1\t11\t4\t101\n2\t10\t3\t102\n"


def zip_bytes(folder="tiny", members=None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in (members or {"u.data": U_DATA}).items():
            zf.writestr(f"{folder}/{name}", data)
    return buffer.getvalue()


def info_for(url, **kwargs) -> DatasetInfo:
    base = {"name": "tiny", "folder": "tiny", "format": "movielens-100k", "url": url,
            "files": {"u.data": hashlib.sha256(U_DATA).hexdigest()}}
    return DatasetInfo(**{**base, **kwargs})


def test_file_url_download_is_verified_and_unpacked(tmp_path):
    archive = tmp_path / "tiny.zip"
    archive.write_bytes(zip_bytes())
    info = info_for(archive.as_uri(), md5=hashlib.md5(archive.read_bytes()).hexdigest())
    cache = tmp_path / "cache"
    folder = download_dataset(info, cache)
    assert folder == cache / "tiny" and (folder / "u.data").read_bytes() == U_DATA
    assert files_under(cache) == [folder / "u.data"]


def test_archive_checksum_mismatch_leaves_nothing(tmp_path):
    archive = tmp_path / "tiny.zip"
    archive.write_bytes(zip_bytes())
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="md5 checksum mismatch"):
        download_dataset(info_for(archive.as_uri(), md5="0" * 32), cache)
    assert files_under(cache) == []


def test_member_checksum_mismatch_leaves_nothing(tmp_path):
    archive = tmp_path / "tiny.zip"
    archive.write_bytes(zip_bytes(members={"u.data": U_DATA + b"3\t1\t1\t1\n"}))
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="sha256 checksum mismatch"):
        download_dataset(info_for(archive.as_uri()), cache)
    assert files_under(cache) == []


def test_truncated_archive_leaves_nothing(tmp_path):
    archive = tmp_path / "tiny.zip"
    archive.write_bytes(zip_bytes()[:40])
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="corrupt or truncated archive"):
        download_dataset(info_for(archive.as_uri()), cache)
    assert files_under(cache) == []


class ShortResponse(io.BytesIO):
    """A response announcing more bytes than it delivers."""

    headers = {"Content-Length": "1000"}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_truncated_transfer_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr("urllib.request.urlopen",
                        lambda url, timeout=None: ShortResponse(zip_bytes()))
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="truncated download"):
        download_dataset(info_for("https://example.org/tiny.zip"), cache)
    assert files_under(cache) == []


def test_plain_file_downloads(tmp_path):
    source = tmp_path / "test.txt"
    source.write_bytes(b"0 1 2\n1 2\n")
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    info = DatasetInfo(name="lg", folder="lg", format="lightgcn", urls={"test.txt":
                       source.as_uri()}, files={"test.txt": sha})
    cache = tmp_path / "cache"
    assert (download_dataset(info, cache) / "test.txt").read_bytes() == source.read_bytes()
    bad = DatasetInfo(name="lg2", folder="lg2", format="lightgcn",
                      urls={"test.txt": source.as_uri()}, files={"test.txt": "f" * 64})
    with pytest.raises(DataError, match="checksum mismatch"):
        download_dataset(bad, cache)
    assert not (cache / "lg2").exists()


def test_unverified_needs_consent(tmp_path):
    source = tmp_path / "train.txt"
    source.write_bytes(b"0 1\n")
    info = DatasetInfo(name="u", folder="u", format="lightgcn",
                       urls={"train.txt": source.as_uri()}, files={"train.txt": None})
    with pytest.raises(DataError, match="no published checksum"):
        download_dataset(info, tmp_path / "cache")
    assert files_under(tmp_path / "cache") == []
    folder = download_dataset(info, tmp_path / "cache", allow_unverified=True)
    assert (folder / "train.txt").is_file()


def test_locate_downloads_into_the_cache(tmp_path, monkeypatch, private_cache):
    monkeypatch.delenv("BCL_REC_DATA", raising=False)
    archive = tmp_path / "tiny.zip"
    archive.write_bytes(zip_bytes())
    folder = locate(info_for(archive.as_uri()))
    assert folder == private_cache / "tiny"
    assert locate(info_for("https://unreachable.invalid/x.zip")) == folder  # found, no fetch
