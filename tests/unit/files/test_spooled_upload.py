"""Receiving a body that waitress spooled to a file: the fast way (both ends, kernel copy,
hash and scan in a second thread) gives what reading in order gives, or hands over to it."""
from __future__ import annotations

import errno
import io
import os
import random
import tempfile

import pytest
import xxhash

from vidjil_pyramid.files import multipart, storage, uploads

BOUNDARY = "xYzBoundary42"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
DELIMITER = f"\r\n--{BOUNDARY}".encode()


def part(name: str, data: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"


def closing() -> bytes:
    return f"--{BOUNDARY}--\r\n".encode()


def browser_body(data: bytes, sample_id: bytes = b"7", filename: str = "r.fastq") -> bytes:
    return part("file", data, filename) + part("id", sample_id) + part("file_number", b"1") \
        + part("pre_process", b"0") + closing()


def policy_in(directory, max_bytes: int = 50 << 20) -> uploads.UploadPolicy:
    return uploads.UploadPolicy(directory=directory, max_bytes=max_bytes, accepted_types=("fa", "fastq"))


class Spool:
    """The body as waitress hands a large one over: a regular file, positioned at its start;
    anonymous (as waitress's are: its pages may then be given back) or named."""

    def __init__(self, directory, raw: bytes, keep: int | None = None, anonymous: bool = False):
        if anonymous:
            self.handle = tempfile.TemporaryFile(dir=directory)
        else:
            self.handle = open(directory / f"spool-{random.random()}", "w+b")
        self.handle.write(raw if keep is None else raw[:keep])
        self.handle.seek(0)

    def __enter__(self):
        return self.handle

    def __exit__(self, *exc):
        self.handle.close()


def outcome(received_or_refusal, directory):
    """What an upload amounts to, comparable between the two ways of reading it."""
    if isinstance(received_or_refusal, uploads.UploadRefused):
        assert not list(directory.iterdir()), "a refused upload left a file behind"
        return ("refused", received_or_refusal.message)
    received = received_or_refusal
    name = uploads.store_received(received, policy_in(directory))
    assert sorted(p.name for p in directory.iterdir()) == [name], "a temporary file was left behind"
    data = (directory / name).read_bytes()
    assert received.incoming.checksum == "xxh3_128:" + xxhash.xxh3_128(data).hexdigest()
    assert received.incoming.size == len(data)
    return ("stored", received.filename, received.fields, data)


def receive(stream, raw_length, directory, check=None, max_bytes=50 << 20):
    directory.mkdir(parents=True, exist_ok=True)
    try:
        return uploads.receive(stream, CONTENT_TYPE, raw_length, policy_in(directory, max_bytes), check)
    except uploads.UploadRefused as refusal:
        return refusal


def both_ways(raw: bytes, tmp_path, keep: int | None = None, max_bytes=50 << 20, anonymous: bool = False):
    """(in order from memory, from a spool file) outcomes of the same body."""
    in_order, spooled = tmp_path / f"in-order-{random.random()}", tmp_path / f"spooled-{random.random()}"
    in_order.mkdir()
    spooled.mkdir()
    stream = io.BytesIO(raw if keep is None else raw[:keep])
    first = outcome(receive(stream, len(raw), in_order, max_bytes=max_bytes), in_order)
    with Spool(tmp_path, raw, keep, anonymous) as handle:
        second = outcome(receive(handle, len(raw), spooled, max_bytes=max_bytes), spooled)
    return first, second


@pytest.fixture
def fast_path_calls(monkeypatch):
    """Layouts found by the fast way (None when it handed over before copying)."""
    found = []
    real = uploads.locate_file_part

    def recording(*args, **kwargs):
        layout = real(*args, **kwargs)
        found.append(layout)
        return layout

    monkeypatch.setattr(uploads, "locate_file_part", recording)
    return found


def test_spooled_body_is_copied_by_the_kernel_without_reading_it_in_order(tmp_path, monkeypatch, fast_path_calls):
    data = os.urandom(6 << 20) + b"--" + BOUNDARY.encode() + b"\r\n"  # boundary text, but no CRLF before it
    raw = browser_body(data)
    moved = []  # what the kernel took from the spool (into a pipe, on to the upload)
    real_splice = os.splice
    def recording(*args, **kwargs):
        count = real_splice(*args, **kwargs)
        if "offset_src" in kwargs:
            moved.append(count)
        return count

    monkeypatch.setattr(os, "splice", recording)
    monkeypatch.setattr(uploads, "MultipartReader", None)  # reading in order would fail
    directory = tmp_path / "uploads"
    with Spool(tmp_path, raw) as handle:
        received = uploads.receive(handle, CONTENT_TYPE, len(raw), policy_in(directory))
        assert handle.tell() == 0  # read with pread: the stream itself was not consumed
    assert fast_path_calls[0] is not None
    assert received.fields == {"id": "7", "file_number": "1", "pre_process": "0"}
    assert sum(moved) == len(data) and received.incoming.copied_by_kernel == len(data)
    assert outcome(received, directory) == ("stored", "r.fastq", received.fields, data)


def test_target_is_checked_before_any_byte_is_written_w1(tmp_path, monkeypatch):
    """W1: anyone could have the server store a file for any sample. With the file sent first
    (the browser's order), reading in order writes it all before the id comes; the fast way
    refuses before creating the temporary file."""
    created = []
    real_incoming = storage.IncomingFile
    monkeypatch.setattr(storage, "IncomingFile", lambda *a, **k: created.append(1) or real_incoming(*a, **k))
    seen = []

    def not_yours(fields):
        seen.append(dict(fields))
        if "id" in fields:
            raise uploads.UploadRefused("you need admin permission to edit files")

    raw = browser_body(os.urandom(2 << 20))
    directory = tmp_path / "uploads"
    with Spool(tmp_path, raw) as handle:
        refusal = receive(handle, len(raw), directory, check=not_yours)
    assert isinstance(refusal, uploads.UploadRefused) and "admin permission" in refusal.message
    assert seen == [{"id": "7", "file_number": "1", "pre_process": "0"}]
    assert created == [] and list(directory.iterdir()) == []


@pytest.mark.parametrize("anonymous", [False, True], ids=["named-spool", "anonymous-spool"])
def test_hidden_part_after_the_file_is_read_in_order_from_its_delimiter(tmp_path, monkeypatch, fast_path_calls,
                                                                         anonymous):
    """A last part larger than the tail window makes the body look simple from its ends; the
    reader of the data finds the file's real end, the copy is cut back there, and the parts
    after it are read in order: the result is the one reading in order from the start gives,
    even when the spool's pages already copied have been given back."""
    monkeypatch.setattr(multipart, "TAIL_WINDOW", 4096)
    monkeypatch.setattr(storage, "_RELEASE_ALIGNMENT", 4096)
    monkeypatch.setattr(storage._CheckingReader, "RELEASE_STEP", 4096)
    monkeypatch.setattr(storage.IncomingFile, "KERNEL_COPY_PIECE", 8192)
    data = os.urandom(100_000)
    raw = part("file", data, "r.fa") + part("extra", b"E" * 50_000, "junk.bin") + part("id", b"3") + closing()
    in_order, spooled = both_ways(raw, tmp_path, anonymous=anonymous)
    assert fast_path_calls[0] is not None and fast_path_calls[0].size > len(data)  # taken, then corrected
    assert spooled == in_order == ("stored", "r.fa", {"id": "3"}, data)


@pytest.mark.parametrize("hidden", ["second file", "too many parts", "field too large", "bad boundary line"])
def test_what_follows_a_hidden_delimiter_is_judged_as_in_order(tmp_path, monkeypatch, hidden):
    monkeypatch.setattr(multipart, "TAIL_WINDOW", 4096)
    data = os.urandom(20_000)
    after = {
        "second file": part("file", b"B" * 10_000, "s.fa"),
        "too many parts": b"".join(part(f"f{i}", b"v" * 100) for i in range(multipart.MAX_PARTS)),
        "field too large": part("note", b"n" * (multipart.MAX_FIELD_BYTES + 1)),
        "bad boundary line": b"--" + BOUNDARY.encode() + b"junk\r\n" + b"j" * 10_000 + b"\r\n",
    }[hidden]
    raw = part("id", b"3") + part("file", data, "r.fa") + after + part("extra", b"E" * 10_000, "x.bin") + closing()
    in_order, spooled = both_ways(raw, tmp_path, anonymous=True)
    assert spooled == in_order and spooled[0] == "refused"


@pytest.mark.parametrize("keep", [100, 5000, -200, -3])
def test_spool_shorter_than_announced_is_an_interrupted_upload(tmp_path, keep):
    raw = browser_body(os.urandom(20_000))
    in_order, spooled = both_ways(raw, tmp_path, keep=keep if keep > 0 else len(raw) + keep)
    assert spooled == in_order and spooled[0] == "refused" and "interrupted" in spooled[1]


def test_too_large_file_is_refused_as_in_order(tmp_path, fast_path_calls):
    raw = browser_body(b"A" * 5000)
    in_order, spooled = both_ways(raw, tmp_path, max_bytes=4999)
    assert spooled == in_order and spooled[0] == "refused" and "too large" in spooled[1]
    assert fast_path_calls[0].size == 5000  # found, then left to the streaming reader's limit


@pytest.mark.parametrize("failing", ["preadv", "splice"])
def test_read_error_leaves_nothing(tmp_path, monkeypatch, failing):
    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, failing, broken)
    raw = browser_body(os.urandom(300_000))
    directory = tmp_path / "uploads"
    with Spool(tmp_path, raw) as handle:
        refusal = receive(handle, len(raw), directory)
    assert refusal.message == "System error during processing of uploaded file."
    assert list(directory.iterdir()) == []


def test_full_storage_during_the_kernel_copy_leaves_nothing(tmp_path, monkeypatch):
    real_splice = os.splice
    calls = []

    def filling_up(*args, **kwargs):
        if "offset_src" not in kwargs:  # from the pipe into the upload
            calls.append(1)
            if len(calls) > 1:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_splice(*args, **kwargs)

    monkeypatch.setattr(os, "splice", filling_up)
    monkeypatch.setattr(storage.IncomingFile, "KERNEL_COPY_PIECE", 64 * 1024)
    monkeypatch.setattr(storage._Pipe, "WANTED_SIZE", 64 * 1024)
    raw = browser_body(os.urandom(300_000))
    directory = tmp_path / "uploads"
    with Spool(tmp_path, raw) as handle:
        refusal = receive(handle, len(raw), directory)
    assert "no storage space left" in refusal.message and list(directory.iterdir()) == []


def test_waitress_spools_large_bodies_as_the_fast_way_expects(tmp_path, fast_path_calls):
    """The body stream waitress gives the application for a body over `inbuf_overflow`."""
    from waitress.adjustments import Adjustments
    from waitress.parser import HTTPRequestParser

    data = os.urandom(1 << 20)
    raw = browser_body(data)
    request = HTTPRequestParser(Adjustments(inbuf_overflow=256 * 1024))
    message = (f"POST /vidjil/file/upload HTTP/1.1\r\nHost: x\r\nContent-Type: {CONTENT_TYPE}\r\n"
               f"Content-Length: {len(raw)}\r\n\r\n").encode() + raw
    for start in range(0, len(message), 65536):  # as waitress's channel feeds its parser
        received_now = message[start:start + 65536]
        while received_now:
            received_now = received_now[request.received(received_now):]
    assert request.completed
    stream = request.get_body_stream()
    try:
        directory = tmp_path / "uploads"
        received = uploads.receive(stream, CONTENT_TYPE, len(raw), policy_in(directory))
    finally:
        request.close()
    assert fast_path_calls and fast_path_calls[0] is not None
    assert outcome(received, directory)[3] == data


def random_body(rng: random.Random) -> bytes:
    """A body of fields and files, sometimes simple, often not: boundary text inside data with
    and without its CRLF, real delimiters inside file data, several or misnamed file parts,
    epilogues, missing CRLF before the closing delimiter."""
    pieces = [b"\r\n", b"--", BOUNDARY.encode(), DELIMITER[:-1], b"--" + BOUNDARY.encode(), b"-", b"\r"]

    def data(size: int) -> bytes:
        out = b"".join(rng.choice(pieces) if rng.random() < 0.2 else rng.randbytes(rng.randint(0, 300))
                       for _ in range(size))
        if rng.random() < 0.1:  # a real delimiter hidden inside the data
            cut = rng.randint(0, len(out))
            out = out[:cut] + DELIMITER + b"\r\n" + out[cut:]
        return out

    parts = [part(f"f{i}", str(rng.randint(0, 99)).encode()) for i in range(rng.randint(0, 2))]
    if rng.random() < 0.1:
        parts.append(part("id", b"x" * rng.randint(100, 3000)))
    if rng.random() < 0.9:
        parts.append(part("file", data(rng.randint(0, 60)), "r.fa"))
    for i in range(rng.randint(0, 3)):
        roll = rng.random()
        if roll < 0.1:
            parts.append(part("file", data(5), "again.fa"))
        elif roll < 0.2:
            parts.append(part("extra", data(rng.randint(0, 40)), "x.bin"))
        else:
            parts.append(part(rng.choice(["id", "file_number", "pre_process", "other"]),
                              str(rng.randint(0, 999)).encode()))
    raw = b"".join(parts) + closing()
    roll = rng.random()
    if roll < 0.05:
        raw += b"an epilogue"
    elif roll < 0.1:
        raw = raw[:-2]  # no CRLF after the closing delimiter
    elif roll < 0.15:
        raw = raw.replace(b"\r\n--" + BOUNDARY.encode() + b"--", b"\n--" + BOUNDARY.encode() + b"--")
    return raw


def test_random_bodies_give_the_same_outcome_both_ways(tmp_path, monkeypatch, fast_path_calls):
    """Seeded fuzzing with windows, blocks and copy pieces small enough for every edge to matter."""
    monkeypatch.setattr(multipart, "HEAD_WINDOW", 700)
    monkeypatch.setattr(multipart, "TAIL_WINDOW", 500)
    monkeypatch.setattr(storage.IncomingFile, "READ_BLOCK", 97)
    monkeypatch.setattr(storage.IncomingFile, "KERNEL_COPY_PIECE", 1000)
    monkeypatch.setattr(storage, "_RELEASE_ALIGNMENT", 1)  # anonymous spools give back every piece
    monkeypatch.setattr(storage._CheckingReader, "RELEASE_STEP", 1)
    rng = random.Random(20261129)
    for _ in range(250):
        raw = random_body(rng)
        in_order, spooled = both_ways(raw, tmp_path, anonymous=rng.random() < 0.5)
        assert spooled == in_order, raw
    taken = [layout for layout in fast_path_calls if layout is not None]
    assert len(taken) > 50 and len(fast_path_calls) - len(taken) > 50  # both ways were exercised
