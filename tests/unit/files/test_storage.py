"""Stored names, atomic reception of files, and the download names handed out."""
from __future__ import annotations

import errno
import os

import pytest
import xxhash

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
    assert incoming.checksum == "xxh3_128:" + xxhash.xxh3_128(data).hexdigest()
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


# --- copy_from: the kernel copies, a helper thread hashes and looks for the end marker -----------

MARKER = b"\r\n--endOfTheData42"


def source_file(tmp_path, data: bytes):
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "spool"
    path.write_bytes(data)
    return os.open(path, os.O_RDWR)


def copy_in(tmp_path, data: bytes, offset: int = 0, size: int | None = None, **options):
    """(incoming, appended count, stored bytes) of a copy of `data[offset:offset + size]`."""
    fd = source_file(tmp_path, data)
    try:
        with storage.IncomingFile(tmp_path / "uploads") as incoming:
            appended = incoming.copy_from(fd, offset, len(data) - offset if size is None else size, **options)
            path = incoming.store("final.fa")
    finally:
        os.close(fd)
    return incoming, appended, path.read_bytes()


def test_copy_from_copies_a_range_and_hashes_it(tmp_path, monkeypatch):
    monkeypatch.setattr(storage.IncomingFile, "READ_BLOCK", 64 * 1024)
    monkeypatch.setattr(storage.IncomingFile, "KERNEL_COPY_PIECE", 300_000)
    data = os.urandom(1_000_000)
    incoming, appended, stored = copy_in(tmp_path, b"HEAD" + data + b"TAIL", 4, len(data), end_marker=MARKER)
    assert stored == data and appended == incoming.size == len(data)
    assert incoming.copied_by_kernel == len(data)
    assert incoming.checksum == "xxh3_128:" + xxhash.xxh3_128(data).hexdigest()


@pytest.mark.parametrize("search", ["memmem", "bytearray.find"])
@pytest.mark.parametrize("block", [64, 97, 4096])
def test_copy_from_ends_the_data_at_the_marker_wherever_blocks_cut_it(tmp_path, monkeypatch, block, search):
    """The reader's blocks overlap by the marker's length less one: a marker across two
    blocks is found, and the data before it is hashed exactly once."""
    if search == "bytearray.find":
        monkeypatch.setattr(storage, "_memmem", lambda: None)
    monkeypatch.setattr(storage.IncomingFile, "READ_BLOCK", block)
    monkeypatch.setattr(storage.IncomingFile, "KERNEL_COPY_PIECE", 1000)
    for position in (0, 1, 40, 63, 64, 65, 100, 2047, 2048, 3000):
        data = os.urandom(position)
        near_misses = MARKER[:-1] + b"x" + MARKER[1:] + b"\n--endOfTheData42"
        source = data + MARKER + near_misses + os.urandom(5000)
        incoming, appended, stored = copy_in(tmp_path / str(position), source, end_marker=MARKER)
        assert appended == incoming.size == position and stored == data
        assert incoming.checksum == "xxh3_128:" + xxhash.xxh3_128(data).hexdigest()


def test_copy_from_without_the_marker_takes_everything_near_misses_included(tmp_path, monkeypatch):
    monkeypatch.setattr(storage.IncomingFile, "READ_BLOCK", 50)
    data = (b"--endOfTheData42" + b"\n--endOfTheData42" + MARKER[:-1] + b"\r\n-endOfTheData42") * 40
    incoming, appended, stored = copy_in(tmp_path, data, end_marker=MARKER)
    assert stored == data and appended == len(data)


def test_copy_from_cuts_back_a_copy_that_went_past_the_marker(tmp_path, monkeypatch):
    """The copy runs ahead of the reader: when the marker turns up behind it, the file is cut."""
    import threading

    monkeypatch.setattr(storage.IncomingFile, "READ_BLOCK", 4096)
    copied_all = threading.Event()
    real_preadv = os.preadv

    def late_reader(*args):
        copied_all.wait(5)
        return real_preadv(*args)

    real_splice = os.splice

    def copy_then_release(*args, **kwargs):
        result = real_splice(*args, **kwargs)
        if "offset_src" not in kwargs:  # into the upload
            copied_all.set()
        return result

    monkeypatch.setattr(os, "preadv", late_reader)
    monkeypatch.setattr(os, "splice", copy_then_release)
    data = os.urandom(10_000)
    incoming, appended, stored = copy_in(tmp_path, data + MARKER + os.urandom(50_000), end_marker=MARKER)
    assert appended == incoming.size == len(data) and stored == data
    assert incoming.copied_by_kernel == len(data)


def test_copy_from_gives_back_the_pages_of_an_anonymous_spool(tmp_path, monkeypatch):
    import tempfile
    import time

    monkeypatch.setattr(storage.IncomingFile, "KERNEL_COPY_PIECE", 1 << 20)
    monkeypatch.setattr(storage._CheckingReader, "RELEASE_STEP", 1 << 20)
    monkeypatch.setattr(storage._Pipe, "WANTED_SIZE", 1 << 20)
    real_splice = os.splice
    monkeypatch.setattr(os, "splice", lambda *a, **k: time.sleep(0.05) or real_splice(*a, **k))  # a slow disk
    data = os.urandom(5 << 20)
    with tempfile.TemporaryFile(dir=tmp_path) as spool:
        spool.write(b"H" * 100 + data + b"T" * 100)
        spool.flush()
        fd = spool.fileno()
        assert storage.is_private_file(fd)
        with storage.IncomingFile(tmp_path / "uploads") as incoming:
            incoming.copy_from(fd, 100, len(data), end_marker=MARKER, release_source=True)
            path = incoming.store("final.fa")
        assert path.read_bytes() == data
        assert os.fstat(fd).st_blocks * 512 <= 3 << 20  # most of the spool is given back
        assert os.pread(fd, 100, 0) == b"H" * 100  # before the data, nothing was touched
        assert os.pread(fd, 100, 100 + len(data)) == b"T" * 100  # nor after it


def test_named_files_are_not_private(tmp_path):
    fd = source_file(tmp_path, b"x")
    try:
        assert not storage.is_private_file(fd)
    finally:
        os.close(fd)


@pytest.mark.parametrize("kernel", ["no splice", "no kernel copy"])
def test_copy_from_falls_back_where_the_kernel_cannot_copy(tmp_path, monkeypatch, kernel):
    """splice, else copy_file_range, else through memory: the same bytes and checksum."""
    def unsupported(*args, **kwargs):
        raise OSError(errno.EINVAL, "Invalid argument")

    def cross_device(*args):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "splice", unsupported)
    copies = []
    real_copy = os.copy_file_range
    monkeypatch.setattr(os, "copy_file_range", lambda *a: copies.append(a[2]) or real_copy(*a))
    if kernel == "no kernel copy":
        monkeypatch.setattr(os, "copy_file_range", cross_device)
    data = os.urandom(3 << 20)
    incoming, appended, stored = copy_in(tmp_path, data + MARKER, size=len(data), end_marker=MARKER)
    assert stored == data and appended == len(data)
    assert incoming.copied_by_kernel == (len(data) if kernel == "no splice" else 0)
    assert sum(copies) == (len(data) if kernel == "no splice" else 0)
    assert incoming.checksum == "xxh3_128:" + xxhash.xxh3_128(data).hexdigest()


def test_copy_from_refuses_more_than_the_limit_before_copying(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "splice", lambda *a, **k: pytest.fail("nothing should be copied"))
    fd = source_file(tmp_path, b"x" * 100)
    incoming = storage.IncomingFile(tmp_path / "uploads", max_bytes=99)
    try:
        with pytest.raises(storage.FileTooLarge):
            incoming.copy_from(fd, 0, 100)
    finally:
        os.close(fd)
        incoming.discard()
    assert list((tmp_path / "uploads").iterdir()) == []


@pytest.mark.parametrize("failure", ["short source", "read error", "full storage"])
def test_copy_from_failures_are_raised_and_leave_nothing(tmp_path, monkeypatch, failure):
    size = 200
    if failure == "read error":
        def broken(*args):
            raise OSError(errno.EIO, "Input/output error")
        monkeypatch.setattr(os, "preadv", broken)
    elif failure == "full storage":
        real_splice = os.splice

        def full(*args, **kwargs):
            if "offset_src" in kwargs:
                return real_splice(*args, **kwargs)
            raise OSError(errno.ENOSPC, "No space left on device")
        monkeypatch.setattr(os, "splice", full)
        size = 100
    fd = source_file(tmp_path, b"x" * 100)
    incoming = storage.IncomingFile(tmp_path / "uploads")
    try:
        with pytest.raises(storage.StorageFull if failure == "full storage" else OSError):
            incoming.copy_from(fd, 0, size, end_marker=MARKER)
    finally:
        os.close(fd)
        incoming.discard()
    assert list((tmp_path / "uploads").iterdir()) == []


def test_a_splice_failing_after_writing_is_an_error_not_a_second_copy(tmp_path, monkeypatch):
    real_splice = os.splice
    written = []

    def failing_midway(*args, **kwargs):
        if "offset_src" not in kwargs and written:
            raise OSError(errno.EINVAL, "Invalid argument")
        count = real_splice(*args, **kwargs)
        if "offset_src" not in kwargs:
            written.append(count)
        return count

    monkeypatch.setattr(os, "splice", failing_midway)
    fd = source_file(tmp_path, os.urandom(3 << 20))
    incoming = storage.IncomingFile(tmp_path / "uploads")
    try:
        with pytest.raises(OSError):
            incoming.copy_from(fd, 0, 3 << 20)
    finally:
        os.close(fd)
        incoming.discard()
    assert written and list((tmp_path / "uploads").iterdir()) == []


def test_a_pipe_smaller_than_wanted_still_copies_everything(tmp_path, monkeypatch):
    monkeypatch.setattr(storage._Pipe, "WANTED_SIZE", 1 << 40)  # over any fs.pipe-max-size
    data = os.urandom(1 << 20) + b"x" * 1234
    incoming, appended, stored = copy_in(tmp_path, b"H" * 77 + data, offset=77)
    assert stored == data and incoming.copied_by_kernel == len(data)


def test_marker_search_agrees_with_find():
    import random

    rng = random.Random(7)
    for _ in range(300):
        buffer = bytearray(rng.choice([b"\r\n--endOf", b"x", MARKER, b"\0", MARKER[:5]]) * rng.randint(0, 30)
                           + rng.randbytes(rng.randint(0, 100)))
        count = rng.randint(0, len(buffer))
        assert storage._marker_search(buffer, MARKER)(count) == buffer.find(MARKER, 0, count)
