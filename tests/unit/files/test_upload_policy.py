"""Upload policy, receiving a body into the uploads directory, and the retry hook."""
from __future__ import annotations

import io

import pytest
from webob import Request

from vidjil_pyramid.files import uploads
from vidjil_pyramid.files.views import retry_attempts

BOUNDARY = "xYzBoundary"


def body(*parts):
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


@pytest.fixture
def policy(tmp_path):
    return uploads.UploadPolicy(directory=tmp_path, max_bytes=1000, accepted_types=("fa", "fastq", "gz"))


def receive(policy, raw, check=None, length=None):
    return uploads.receive(io.BytesIO(raw), f"multipart/form-data; boundary={BOUNDARY}",
                           len(raw) if length is None else length, policy, check)


def test_types(policy):
    assert policy.accepts("x.FA") and policy.accepts("r1.fastq.gz") and not policy.accepts("x.exe")
    assert uploads.UploadPolicy.from_settings({"vidjil.upload_dir": "/u"}).accepts("s.clntab")


def test_received_file_stays_temporary_until_stored(policy, tmp_path):
    received = receive(policy, body(("id", None, b"4"), ("file", "C:\\Users\\me\\r.fa", b">r\nAC\n")))
    assert received.fields == {"id": "4"} and received.filename == "r.fa"
    assert [p.name.startswith(".incoming-") for p in tmp_path.iterdir()] == [True]
    name = uploads.store_received(received, policy)
    assert [p.name for p in tmp_path.iterdir()] == [name]
    assert (tmp_path / name).read_bytes() == b">r\nAC\n"


def test_check_sees_the_fields_sent_before_the_file(policy, tmp_path):
    seen = []

    def check(fields):
        seen.append(dict(fields))
        raise uploads.UploadRefused("not yours")

    with pytest.raises(uploads.UploadRefused, match="not yours"):
        receive(policy, body(("id", None, b"4"), ("file", "r.fa", b"ACGT")), check)
    assert seen == [{"id": "4"}] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("raw,length,message", [
    (body(("file", "r.fa", b"A" * 1001)), None, "too large"),
    (body(("file", "r.fa", b"A" * 10)), 10_000_000, "too large"),
    (body(("file", "r.fa", b"A" * 500))[:300], None, "interrupted"),
    (body(("file", "r.exe", b"A")), None, "not accepted"),
    (body(("file", "r.fa", b"")), None, "empty"),
    (body(("id", None, b"1")), None, "no data file"),
    (body(("file", "r.fa", b"A"), ("file", "s.fa", b"B")), None, "only one file"),
])
def test_refusals_leave_no_file(policy, tmp_path, raw, length, message):
    with pytest.raises(uploads.UploadRefused, match=message):
        receive(policy, raw, length=length)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path,length,expected", [
    ("/vidjil/file/upload", 10, 1),
    ("/vidjil//file/upload.html", 10, 1),
    ("/vidjil/default/save_analysis", 100 << 20, 1),
    ("/vidjil/sample_set/all", 10, None),
])
def test_uploads_and_big_bodies_are_never_replayed(path, length, expected):
    request = Request.blank(path, method="POST", environ={"CONTENT_LENGTH": str(length)})
    assert retry_attempts(request) == expected


def spooled(raw: bytes, tmp_path):
    """The body as waitress hands big ones over: a regular temporary file."""
    handle = open(tmp_path / "spool", "w+b")
    handle.write(raw)
    handle.seek(0)
    return handle


def test_kernel_copy_from_a_spooled_body(tmp_path, monkeypatch):
    import os

    import xxhash

    data = os.urandom(3 << 20) + b"\r\n--" + BOUNDARY.encode()[:-1] + os.urandom(1000)
    raw = body(("file", "r.fastq", data), ("id", None, b"5"))
    uploads_dir = tmp_path / "uploads"
    policy = uploads.UploadPolicy(directory=uploads_dir, max_bytes=10 << 20, accepted_types=("fastq",))
    copies = []
    real = os.splice
    monkeypatch.setattr(os, "splice", lambda *a, **k: copies.append(a) or real(*a, **k))
    with spooled(raw, tmp_path) as handle:
        received = uploads.receive(handle, f"multipart/form-data; boundary={BOUNDARY}", len(raw), policy)
    name = uploads.store_received(received, policy)
    assert copies, "the kernel copy was not used"
    assert (uploads_dir / name).read_bytes() == data
    assert received.incoming.checksum == "xxh3_128:" + xxhash.xxh3_128(data).hexdigest()
    assert received.fields == {"id": "5"}


@pytest.mark.parametrize("failure", ["EXDEV", "ENOSPC"])
def test_kernel_copy_falls_back_or_reports_a_full_disk(tmp_path, monkeypatch, failure):
    import errno
    import os

    data = b"ACGT" * 50000
    raw = body(("file", "r.fastq", data))
    uploads_dir = tmp_path / "uploads"
    policy = uploads.UploadPolicy(directory=uploads_dir, max_bytes=10 << 20, accepted_types=("fastq",))

    def refuse(*args, **kwargs):
        raise OSError(getattr(errno, failure), failure)

    def unsupported(*args, **kwargs):
        raise OSError(errno.EINVAL, "EINVAL")

    monkeypatch.setattr(os, "copy_file_range", refuse)
    monkeypatch.setattr(os, "splice", unsupported if failure == "EXDEV" else refuse)
    with spooled(raw, tmp_path) as handle:
        if failure == "EXDEV":  # another file system: the bytes are written from memory
            received = uploads.receive(handle, f"multipart/form-data; boundary={BOUNDARY}", len(raw), policy)
            assert (uploads_dir / uploads.store_received(received, policy)).read_bytes() == data
        else:
            with pytest.raises(uploads.UploadRefused, match="no storage space left"):
                uploads.receive(handle, f"multipart/form-data; boundary={BOUNDARY}", len(raw), policy)
            assert list(uploads_dir.iterdir()) == []
