"""The streaming multipart reader: parts in order, data in chunks, truncation detected."""
from __future__ import annotations

import io

import pytest

from vidjil_pyramid.files.multipart import (
    IncompleteBody, MultipartError, MultipartReader, boundary_of, parse_disposition,
)

BOUNDARY = b"----vidjilBoundary7MA4YWxkTrZu0gW"


def body(*parts: tuple[str, str | None, bytes], boundary: bytes = BOUNDARY, preamble: bytes = b"") -> bytes:
    out = bytearray(preamble)
    for name, filename, data in parts:
        out += b"--" + boundary + b"\r\n"
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"Content-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + data + b"\r\n"
    out += b"--" + boundary + b"--\r\n"
    return bytes(out)


def read_all(raw: bytes, chunk_size: int = 4096, length: int | None = None, stream=None):
    reader = MultipartReader(stream or io.BytesIO(raw), BOUNDARY, length=length, chunk_size=chunk_size)
    found = []
    for part in reader.parts():
        data = b"".join(bytes(c) for c in part.chunks())
        found.append((part.name, part.filename, data))
    return found


def test_fields_and_file_in_order():
    raw = body(("id", None, b"12"), ("file", "reads.fa", b">r1\nACGT\n"), ("file_number", None, b"1"))
    assert read_all(raw) == [("id", None, b"12"), ("file", "reads.fa", b">r1\nACGT\n"), ("file_number", None, b"1")]


@pytest.mark.parametrize("chunk_size", [4096, 4097, 5000, 65536])
def test_data_containing_near_boundaries_survives_any_chunking(chunk_size):
    # data full of CRLFs, dashes and a prefix of the delimiter, straddling chunk edges
    tricky = (b"\r\n--" + BOUNDARY[:-1] + b"x") * 300 + b"\r\n-" * 1000 + bytes(range(256)) * 50
    raw = body(("file", "a.fa", tricky), ("id", None, b"3"))
    assert read_all(raw, chunk_size=chunk_size) == [("file", "a.fa", tricky), ("id", None, b"3")]


def test_large_file_comes_in_bounded_chunks():
    data = bytes(range(256)) * 40000  # ~10 MB
    raw = body(("file", "big.fastq", data))
    reader = MultipartReader(io.BytesIO(raw), BOUNDARY, length=len(raw), chunk_size=1 << 20)
    sizes = []
    for part in reader.parts():
        sizes = [len(c) for c in part.chunks()]
    assert sum(sizes) == len(data)
    assert max(sizes) <= (1 << 20) + len(BOUNDARY) + 4


def test_preamble_and_empty_field():
    raw = body(("pre_process", None, b""), ("id", None, b"7"), preamble=b"ignored preamble\r\n")
    assert read_all(raw) == [("pre_process", None, b""), ("id", None, b"7")]


def test_unread_parts_are_skipped():
    raw = body(("file", "a.fa", b"x" * 10000), ("id", None, b"9"))
    reader = MultipartReader(io.BytesIO(raw), BOUNDARY, chunk_size=4096)
    names = [part.name for part in reader.parts()]
    assert names == ["file", "id"]


@pytest.mark.parametrize("cut", [60, 150, -30, -5, -3])
def test_truncated_body_is_incomplete(cut):
    raw = body(("id", None, b"1"), ("file", "a.fa", b"A" * 100))
    with pytest.raises(IncompleteBody):
        read_all(raw[:cut] if cut > 0 else raw[:len(raw) + cut])


def test_body_cut_before_any_boundary_is_refused():
    raw = body(("id", None, b"1"))
    with pytest.raises(MultipartError):
        read_all(raw[:10])


def test_body_shorter_than_announced_is_incomplete():
    raw = body(("file", "a.fa", b"A" * 1000))
    with pytest.raises(IncompleteBody):
        read_all(raw[:500], length=len(raw))


def test_reading_error_is_incomplete():
    class Dropping(io.RawIOBase):
        def __init__(self):
            self.sent = 0

        def read(self, size=-1):
            if self.sent > 0:
                raise ConnectionResetError("peer went away")
            self.sent += 1
            return body(("file", "a.fa", b"A" * 10000))[:5000]

    with pytest.raises(IncompleteBody):
        read_all(b"", stream=Dropping())


def test_never_reads_past_the_announced_length():
    raw = body(("id", None, b"1"))
    stream = io.BytesIO(raw + b"NEXT REQUEST")
    reader = MultipartReader(stream, BOUNDARY, length=len(raw))
    assert [p.name for p in reader.parts()] == ["id"]
    assert stream.read() == b"NEXT REQUEST"


def test_not_multipart_and_missing_boundary():
    with pytest.raises(MultipartError):
        boundary_of("application/x-www-form-urlencoded")
    with pytest.raises(MultipartError):
        boundary_of("multipart/form-data")
    assert boundary_of('multipart/form-data; boundary="abc def"') == b"abc def"
    assert boundary_of("multipart/form-data; charset=utf-8; boundary=xyz") == b"xyz"


def test_garbage_without_boundary():
    with pytest.raises(MultipartError):
        read_all(b"just some text that is not multipart at all" * 10)


def test_field_too_large():
    raw = body(("id", None, b"1" * 100000))
    reader = MultipartReader(io.BytesIO(raw), BOUNDARY)
    with pytest.raises(MultipartError):
        for part in reader.parts():
            part.read_small()


def test_file_names_as_typed_w24():
    """Quotes (sent as %22 by browsers), non-ASCII and markup come back as typed (W24)."""
    assert parse_disposition('form-data; name="file"; filename="a%22b <script>é.fa"') == \
        {"name": "file", "filename": 'a"b <script>é.fa'}
    assert parse_disposition(r'form-data; name="file"; filename="a\"b.fa"')["filename"] == 'a"b.fa'
    assert parse_disposition("form-data; name=\"file\"; filename=\"x.fa\"; filename*=UTF-8''%C3%A9t%C3%A9.fa") \
        ["filename"] == "été.fa"
    raw = body(("file", "Ünïcode <b>.fa", b"ACGT"))
    assert read_all(raw)[0][1] == "Ünïcode <b>.fa"


class Trickle(io.RawIOBase):
    """A stream that hands out at most `step` bytes per read, whatever is asked."""

    def __init__(self, data: bytes, step: int):
        self.data, self.step, self.position = data, step, 0

    def readable(self):
        return True

    def read(self, size=-1):
        chunk = self.data[self.position:self.position + min(self.step, size if size > 0 else self.step)]
        self.position += len(chunk)
        return chunk


@pytest.mark.parametrize("step", [1, 2, 7, 43, 44, 45, 100, 4099])
def test_short_reads_never_split_a_delimiter_into_the_data(step):
    tricky = (b"\r\n--" + BOUNDARY[:-3]) * 20 + b"payload\r\n-" * 30
    raw = body(("file", "a.fa", tricky), ("id", None, b"12"), ("file", "b.fa", b"x" * 50))
    assert read_all(b"", stream=Trickle(raw, step)) == [("file", "a.fa", tricky), ("id", None, b"12"),
                                                        ("file", "b.fa", b"x" * 50)]
    assert read_all(b"", stream=Trickle(raw, step), length=len(raw))[1] == ("id", None, b"12")


def test_random_bodies_and_read_sizes():
    """Seeded fuzzing: binary data full of delimiter fragments, any read size."""
    import random

    rng = random.Random(20241129)
    pieces = [b"\r\n", b"--", BOUNDARY[:5], BOUNDARY[:-1], b"\r\n--" + BOUNDARY[:-1], b"-", b"\r"]
    for _ in range(200):
        parts = []
        for n in range(rng.randint(1, 4)):
            data = b"".join(rng.choice(pieces) if rng.random() < 0.3 else rng.randbytes(rng.randint(0, 60))
                            for _ in range(rng.randint(0, 40)))
            while b"\r\n--" + BOUNDARY in data:  # a real delimiter cannot be data
                data = data.replace(b"\r\n--" + BOUNDARY, b"")
            parts.append((f"f{n}", "x.fa" if rng.random() < 0.5 else None, data))
        raw = body(*parts)
        step = rng.choice([1, 3, 17, 44, 45, 46, 200, 5000])
        chunk = rng.choice([4096, 4100, 8192])
        reader = MultipartReader(Trickle(raw, step), BOUNDARY, length=rng.choice([None, len(raw)]), chunk_size=chunk)
        found = []
        for part in reader.parts():
            spans = list(part.spans())
            for offset, view in spans:  # each chunk is where the reader says it is in the body
                assert raw[offset:offset + len(view)] == bytes(view)
            assert all(a[0] + len(a[1]) == b[0] for a, b in zip(spans, spans[1:]))  # contiguous
            found.append((part.name, part.filename, b"".join(bytes(v) for _o, v in spans)))
        assert found == parts
