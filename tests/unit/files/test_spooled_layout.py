"""Finding the file part of a body from its two ends, and the scan that proves it."""
from __future__ import annotations

import pytest

from vidjil_pyramid.files import multipart
from vidjil_pyramid.files.multipart import locate_file_part

BOUNDARY = b"----vidjilBoundary7MA4YWxkTrZu0gW"
DELIMITER = b"\r\n--" + BOUNDARY


def part(name: str, data: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
    return b"--" + BOUNDARY + f"\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"


def closing(end: bytes = b"\r\n") -> bytes:
    return b"--" + BOUNDARY + b"--" + end


def locate(raw: bytes, file_field: str = "file"):
    return locate_file_part(lambda offset, size: raw[offset:offset + size], len(raw), BOUNDARY, file_field)


def file_data(raw: bytes, layout) -> bytes:
    return raw[layout.data_start:layout.data_end]


READS = b"@r1\nACGT\n+\nIIII\n" * 1000


@pytest.mark.parametrize("before,after", [
    ([], [("id", b"12"), ("file_number", b"1"), ("pre_process", b"0")]),  # the browser's FormData
    ([("pre_process", b"0"), ("id", b"12"), ("file_number", b"1")], []),  # the API client (requests)
    ([("id", b"12")], [("file_number", b"2"), ("id", b"99")]),
])
def test_fields_on_either_side_of_the_file(before, after):
    raw = b"".join(part(n, v) for n, v in before) + part("file", READS, "r.fastq") \
        + b"".join(part(n, v) for n, v in after) + closing()
    layout = locate(raw)
    assert layout is not None and layout.filename == "r.fastq"
    assert file_data(raw, layout) == READS and layout.size == len(READS)
    assert layout.fields_before == tuple((n, v.decode()) for n, v in before)
    assert layout.fields_after == tuple((n, v.decode()) for n, v in after)


def test_closing_without_final_crlf_and_empty_file():
    raw = part("file", b"", "r.fa") + part("id", b"3") + closing(b"")
    layout = locate(raw)
    assert layout.size == 0 and layout.fields == (("id", "3"),) and layout.fields_before == ()


def test_large_file_needs_only_both_ends():
    data = b"A" * (3 * multipart.TAIL_WINDOW)
    raw = part("file", data, "big.fa") + part("id", b"5") + closing()
    reads = []
    layout = locate_file_part(lambda o, s: reads.append((o, s)) or raw[o:o + s], len(raw), BOUNDARY, "file")
    assert file_data(raw, layout) == data
    assert sum(size for _, size in reads) <= multipart.HEAD_WINDOW + multipart.TAIL_WINDOW


@pytest.mark.parametrize("case", [
    "no file part", "other file field first", "second file part after", "other file part after",
    "epilogue", "truncated", "no closing", "closing then more parts", "field too large before",
    "field larger than the head", "too many parts", "malformed header before", "bad boundary line after",
    "delimiter without crlf before closing",
])
def test_anything_but_the_simple_layout_is_left_to_the_streaming_reader(case):
    file_part = part("file", READS, "r.fa")
    raw = {
        "no file part": part("id", b"1") + closing(),
        "other file field first": part("other", b"x", "o.fa") + file_part + closing(),
        "second file part after": file_part + part("file", b"B", "s.fa") + closing(),
        "other file part after": file_part + part("extra", b"B", "x.bin") + part("id", b"1") + closing(),
        "epilogue": file_part + part("id", b"1") + closing() + b"trailing words\r\n",
        "truncated": (file_part + part("id", b"1") + closing())[:-30],
        "no closing": file_part + part("id", b"1"),
        "closing then more parts": file_part + closing() + part("id", b"1") + closing(),
        "field too large before": part("id", b"1" * (multipart.MAX_FIELD_BYTES + 1)) + file_part + closing(),
        "field larger than the head": b"".join(part(f"f{i}", b"i" * (multipart.HEAD_WINDOW // 4)) for i in range(5))
        + file_part + closing(),
        "too many parts": file_part + b"".join(part(f"f{i}", b"v") for i in range(multipart.MAX_PARTS)) + closing(),
        "malformed header before": b"--" + BOUNDARY + b"\r\nno colon here\r\n\r\nx\r\n" + file_part + closing(),
        "bad boundary line after": file_part + b"--" + BOUNDARY + b"junk\r\n\r\n" + closing(),
        "delimiter without crlf before closing": part("file", READS, "r.fa")[:-2] + closing(),
    }[case]
    assert locate(raw) is None


def test_boundary_with_line_breaks_is_not_taken():
    boundary = b"a\r\nb"
    raw = b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="r.fa"\r\n\r\nACGT\r\n--' \
        + boundary + b"--\r\n"
    assert locate_file_part(lambda o, s: raw[o:o + s], len(raw), boundary, "file") is None


def test_a_large_part_after_the_file_looks_simple_from_the_ends():
    """Seen from its end, a body whose last part is larger than the tail window looks simple:
    the supposed file data then holds a delimiter, which whoever reads it must look for."""
    big_other = part("extra", b"x" * (2 * multipart.TAIL_WINDOW), "x.bin")
    raw = part("file", READS, "r.fa") + big_other + closing()
    layout = locate(raw)
    assert layout is not None and file_data(raw, layout).find(DELIMITER) == len(READS)
