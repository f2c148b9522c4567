"""Stored names, atomic reception of files, and the download names handed out."""
from __future__ import annotations

import errno
import hashlib
import os

import pytest

from vidjil_pyramid.files import storage
from vidjil_pyramid.files.downloads import StoredFile, content_disposition, safe_download_name


def test_stored_name_follows_web2py_scheme():
    name = storage.stored_name("sequence_file", "data_file", "LIL-L3-0.fastq.gz", key="99a1cde4ae44777d")
    assert name == "sequence_file.data_file.99a1cde4ae44777d.4c494c2d4c332d302e66617374712e677a.gz"
    assert storage.original_name(name) == "LIL-L3-0.fastq.gz"
    assert storage.stored_name("results_file", "data_file", "000001.vidjil", key="k" * 16).endswith(".txt")


def test_network_stored_name_drops_the_last_extension_from_the_hex_part():
    name = storage.network_stored_name("Demo-X5.fastq", key="0123456789abcdef")
    assert name == "sequence_file.data_file.0123456789abcdef." + b"Demo-X5".hex() + ".fastq"
    assert storage.is_valid_stored_name(name)


@pytest.mark.parametrize("bad", ["", ".", "..", "../x", "a/b", "a\\b", ".hidden", "x\x00y", "x" * 401])
def test_resolve_refuses_anything_but_a_bare_name(tmp_path, bad):
    with pytest.raises(storage.StorageError):
        storage.resolve(tmp_path, bad)


def test_incoming_file_counts_hashes_and_renames_only_when_complete(tmp_path):
    data = os.urandom(300_000)
    with storage.IncomingFile(tmp_path) as incoming:
        for start in range(0, len(data), 65536):
            incoming.write(memoryview(data)[start:start + 65536])
        assert incoming.temporary_path.parent == tmp_path
        assert not any(p.name == "final.fa" for p in tmp_path.iterdir())
        path = incoming.store("final.fa")
    assert path.read_bytes() == data
    assert incoming.size == len(data)
    assert incoming.sha256 == hashlib.sha256(data).hexdigest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final.fa"]


def test_incoming_file_is_removed_on_error(tmp_path):
    with pytest.raises(RuntimeError):
        with storage.IncomingFile(tmp_path) as incoming:
            incoming.write(b"partial")
            raise RuntimeError("connection lost")
    assert list(tmp_path.iterdir()) == []


def test_incoming_file_refuses_more_than_the_limit(tmp_path):
    incoming = storage.IncomingFile(tmp_path, max_bytes=10)
    incoming.write(b"12345")
    with pytest.raises(storage.FileTooLarge):
        incoming.write(b"123456")
    incoming.discard()
    assert list(tmp_path.iterdir()) == []


def test_incoming_file_reports_a_full_disk(tmp_path):
    incoming = storage.IncomingFile(tmp_path)
    real = incoming._file

    class FullDisk:
        closed = False

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self):
            real.close()
            self.closed = True

    incoming._file = FullDisk()
    with pytest.raises(storage.StorageFull):
        incoming.write(b"x" * 1000)
    incoming.discard()
    assert list(tmp_path.iterdir()) == []


def test_incoming_file_never_replaces_an_existing_file(tmp_path):
    (tmp_path / "taken.fa").write_bytes(b"old")
    incoming = storage.IncomingFile(tmp_path)
    incoming.write(b"new")
    with pytest.raises(storage.StorageError):
        incoming.store("taken.fa")
    incoming.discard()
    assert (tmp_path / "taken.fa").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["taken.fa"]


def test_remove_stored_removes_a_link_not_its_target(tmp_path):
    target = tmp_path / "source.fa"
    target.write_text(">r\nACGT\n")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "link.fa").symlink_to(target)
    assert storage.remove_stored(uploads, "link.fa")
    assert target.exists()
    assert not storage.remove_stored(uploads, "link.fa")
    assert not storage.remove_stored(uploads, "../source.fa")
    assert target.exists()


def test_fits_file_system(tmp_path):
    assert storage.fits_file_system(tmp_path, "a" * 200)
    assert not storage.fits_file_system(tmp_path, "a" * 300)


def stored(name="sequence_file.data_file.0123456789abcdef.6162.fa", display=None):
    return StoredFile(name, "upload", (1,), display)


def test_download_name_prefers_the_requested_name_then_the_original():
    assert safe_download_name("result-3-7.txt", stored()) == "result-3-7.txt"
    assert safe_download_name(None, stored()) == "ab"
    assert safe_download_name("", stored(display="reads R1.fastq.gz")) == "reads R1.fastq.gz"


@pytest.mark.parametrize("requested", ['../../etc/passwd', 'a"b;c.fa', "x\r\nSet-Cookie: a=b", "..", "/"])
def test_download_name_has_no_path_quote_or_header_break(requested):
    name = safe_download_name(requested, stored())
    header = content_disposition(name)
    assert "/" not in name and '"' not in name and "\r" not in header and "\n" not in header
    assert header.startswith("attachment; ")
    assert header.count('"') == 2


def test_content_disposition_keeps_non_ascii_names():
    header = content_disposition("échantillon <1>.fa")
    assert 'filename="echantillon _1_.fa"' in header
    assert "filename*=UTF-8''%C3%A9chantillon%20%3C1%3E.fa" in header
