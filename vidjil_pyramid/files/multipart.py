"""A streaming `multipart/form-data` reader, and a shortcut for bodies already on disk.

Uploads can weigh many gigabytes, so the body is never held in memory: parts
are read one after the other, and the data of a file part is handed out in
chunks as it arrives. A body that ends before its closing boundary (a client
that went away, a proxy that cut it) is an error, never a shorter file.

When the whole body is already in a file, `locate_file_part` finds a file part
and the small fields around it by reading only both ends of the body, relying
on the rule that a delimiter never occurs inside a part's data; whoever then
reads the file's data checks that rule.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterator

DEFAULT_CHUNK_SIZE = 1 << 20  # 1 MiB: few Python round trips per gigabyte
MAX_HEADER_BYTES = 16 * 1024
MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 64

_BOUNDARY = re.compile(r"""boundary=(?:"([^"]{1,200})"|([^\s;,"]{1,200}))""", re.IGNORECASE)
_PARAM = re.compile(r""";\s*([\w*.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)""")
# Browsers (HTML spec) and urllib3 percent-encode these three in file names.
_HTML_FILENAME_ESCAPES = (("%22", '"'), ("%0D", "\r"), ("%0A", "\n"), ("%0d", "\r"), ("%0a", "\n"))


class MultipartError(ValueError):
    """The body is not a well-formed multipart/form-data message."""


class IncompleteBody(MultipartError):
    """The body ended, or the connection failed, before the closing boundary."""


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a multipart/form-data content type, or MultipartError."""
    if not content_type or not content_type.lower().startswith("multipart/form-data"):
        raise MultipartError("a multipart/form-data body is expected")
    match = _BOUNDARY.search(content_type)
    if not match:
        raise MultipartError("the multipart body has no boundary")
    return (match.group(1) or match.group(2)).encode("latin-1")


def _decode_header(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _unquote(value: str) -> str:
    """A header parameter without its quotes. Only `\\"` is unescaped: browsers send other
    backslashes as they are (old ones even whole Windows paths)."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"')
    return value


def parse_disposition(value: str) -> dict[str, str]:
    """Parameters of a Content-Disposition header (`name`, `filename`...), decoded."""
    params: dict[str, str] = {}
    for key, raw in _PARAM.findall(value):
        key = key.lower()
        if key == "filename*":
            # RFC 5987: charset'language'percent-encoded
            from urllib.parse import unquote

            charset, _, rest = _unquote(raw).partition("'")
            _, _, encoded = rest.partition("'")
            try:
                params["filename"] = unquote(encoded, encoding=charset or "utf-8", errors="strict")
            except (LookupError, UnicodeDecodeError):
                params["filename"] = unquote(encoded, encoding="latin-1")
            params["_filename_star"] = "1"
            continue
        if key == "filename" and "_filename_star" in params:
            continue  # the extended form wins
        text = _unquote(raw)
        if key == "filename":
            for escaped, plain in _HTML_FILENAME_ESCAPES:
                text = text.replace(escaped, plain)
        params[key] = text
    params.pop("_filename_star", None)
    return params


@dataclass
class Part:
    """One part of the body. Read its data (`chunks()` or `read_small()`) before the next part."""

    headers: dict[str, str]
    name: str
    filename: str | None
    _reader: "MultipartReader" = field(repr=False)
    data_offset: int = 0  # where the part's data starts, counted from where the reader started

    @property
    def is_file(self) -> bool:
        return self.filename is not None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def chunks(self) -> Iterator[memoryview]:
        """The part's data, in chunks (memoryviews over immutable bytes)."""
        return (view for _offset, view in self._reader._part_data())

    def spans(self) -> Iterator[tuple[int, memoryview]]:
        """The part's data as `(offset in the body, chunk)`: where each chunk lies in the stream,
        for callers that copy it from the stream's file rather than from memory."""
        return self._reader._part_data()

    def read_small(self, limit: int = MAX_FIELD_BYTES) -> bytes:
        """The whole data of a small (non-file) field; MultipartError beyond `limit` bytes."""
        out = bytearray()
        for chunk in self.chunks():
            out += chunk
            if len(out) > limit:
                raise MultipartError(f"the field {self.name!r} is too large")
        return bytes(out)

    def text(self, limit: int = MAX_FIELD_BYTES) -> str:
        return _decode_header(self.read_small(limit))


class MultipartReader:
    """Reads the parts of a multipart body from a file-like object, in order.

    `length` is the announced body length (Content-Length) when known: never
    read past it, and a body shorter than announced is incomplete. File data
    is handed out as memoryviews over the chunks read, so that a gigabyte
    costs no more copies than needed.
    """

    def __init__(self, stream: BinaryIO, boundary: bytes, length: int | None = None,
                 chunk_size: int = DEFAULT_CHUNK_SIZE, parts_before: int = 0):
        if not boundary or len(boundary) > 200:
            raise MultipartError("invalid multipart boundary")
        self._stream = stream
        self._remaining = length
        self._chunk_size = max(int(chunk_size), 4096)
        self._delimiter = delimiter(boundary)
        self._parts_before = parts_before  # when reading resumes at a delimiter in the middle of a body
        # The first boundary has no CRLF before it: pretend it had one.
        self._buffer = b"\r\n"
        self._eof = False
        self._state = "preamble"  # preamble -> (headers -> data -> boundary)* -> done
        self.bytes_read = 0

    # -------------------------------------------------------------- raw input

    def _read_chunk(self) -> bytes:
        """The next chunk of the body (b"" at its end); IncompleteBody if it ends too early."""
        if self._eof:
            return b""
        size = self._chunk_size
        if self._remaining is not None:
            if self._remaining <= 0:
                self._eof = True
                return b""
            size = min(size, self._remaining)
        try:
            chunk = self._stream.read(size)
        except Exception as exc:  # a dropped connection surfaces as any I/O error
            raise IncompleteBody(f"the upload was interrupted ({exc.__class__.__name__})") from exc
        if not chunk:
            self._eof = True
            if self._remaining:
                raise IncompleteBody(f"the upload was interrupted ({self._remaining} bytes missing)")
            return b""
        self.bytes_read += len(chunk)
        if self._remaining is not None:
            self._remaining -= len(chunk)
        return bytes(chunk)

    def _fill(self) -> bool:
        """Append the next chunk of the body to the buffer; False at the end of the body."""
        chunk = self._read_chunk()
        if not chunk:
            return False
        self._buffer = self._buffer + chunk if self._buffer else chunk
        return True

    def _need(self, count: int) -> None:
        while len(self._buffer) < count:
            if not self._fill():
                raise IncompleteBody("the upload was interrupted (the body ends in the middle of a part)")

    def _drop(self, count: int) -> None:
        self._buffer = self._buffer[count:]

    # -------------------------------------------------------------- structure

    def _skip_preamble(self) -> None:
        keep = len(self._delimiter) - 1
        while True:
            index = self._buffer.find(self._delimiter)
            if index >= 0:
                self._drop(index + len(self._delimiter))
                return
            if len(self._buffer) > keep:
                self._drop(len(self._buffer) - keep)
            if not self._fill():
                raise MultipartError("no multipart boundary found in the body")

    def _after_delimiter(self) -> bool:
        """Past a delimiter: True if a part follows, False at the closing delimiter."""
        self._need(2)
        if self._buffer.startswith(b"--"):
            self._state = "done"
            return False
        while True:  # optional transport padding, then CRLF
            self._need(2)
            if self._buffer.startswith(b"\r\n"):
                self._drop(2)
                return True
            if self._buffer[:1] in (b" ", b"\t"):
                self._drop(1)
                continue
            raise MultipartError("malformed multipart boundary line")

    def _read_headers(self) -> dict[str, str]:
        self._need(2)
        if self._buffer.startswith(b"\r\n"):  # a part without any header
            self._drop(2)
            return {}
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self._buffer) > MAX_HEADER_BYTES:
                raise MultipartError("multipart part headers are too large")
            if not self._fill():
                raise IncompleteBody("the upload was interrupted (in the headers of a part)")
        if end > MAX_HEADER_BYTES:
            raise MultipartError("multipart part headers are too large")
        raw = self._buffer[:end]
        self._drop(end + 4)
        headers: dict[str, str] = {}
        for line in raw.split(b"\r\n"):
            if not line.strip():
                continue
            name, sep, value = line.partition(b":")
            if not sep:
                raise MultipartError("malformed multipart part header")
            headers[_decode_header(name).strip().lower()] = _decode_header(value).strip()
        return headers

    def parts(self) -> Iterator[Part]:
        """Each part in turn; unread data of a part is skipped when the next is asked for."""
        if self._state != "preamble":
            raise RuntimeError("parts() can only be iterated once")
        self._skip_preamble()
        count = self._parts_before
        while self._after_delimiter():
            count += 1
            if count > MAX_PARTS:
                raise MultipartError("too many parts in the multipart body")
            headers = self._read_headers()
            disposition = parse_disposition(headers.get("content-disposition", ""))
            if "name" not in disposition:
                raise MultipartError("a multipart part has no name")
            self._state = "data"
            yield Part(headers=headers, name=disposition["name"], filename=disposition.get("filename"),
                       _reader=self, data_offset=self.bytes_read - len(self._buffer))
            if self._state == "data":
                for _ in self._part_data():
                    pass
        if self._state != "done":
            raise IncompleteBody("the upload was interrupted (no closing boundary)")

    def _part_data(self) -> Iterator[tuple[int, memoryview]]:
        """Data of the current part up to the next delimiter, as `(offset, chunk)`, as it arrives.

        Chunks are searched where they are read, never glued to the previous one:
        only the few bytes where a delimiter could straddle two chunks are. An
        offset counts from where the reader started in the stream.
        """
        if self._state != "data":
            return
        delimiter = self._delimiter
        keep = len(delimiter) - 1  # a delimiter may straddle two chunks
        # what is already buffered (after the part's headers) ends where reading stopped
        buffer = self._buffer
        start = self.bytes_read - len(buffer)
        index = buffer.find(delimiter)
        if index >= 0:
            if index:
                yield start, memoryview(buffer)[:index]
            self._finish_part(buffer, index)
            return
        tail = buffer
        if len(tail) > keep:
            yield start, memoryview(tail)[:len(tail) - keep]
            tail = tail[len(tail) - keep:]
        while True:
            chunk = self._read_chunk()
            if not chunk:
                raise IncompleteBody("the upload was interrupted (no closing boundary)")
            chunk_start = self.bytes_read - len(chunk)
            tail_start = chunk_start - len(tail)
            joint = tail + chunk[:keep]
            index = joint.find(delimiter)
            if index < 0:
                index = chunk.find(delimiter)
                if index >= 0:
                    index += len(tail)
            if index >= 0:  # the part ends at `index` of tail + chunk
                if index <= len(tail):
                    if index:
                        yield tail_start, memoryview(tail)[:index]
                else:
                    if tail:
                        yield tail_start, memoryview(tail)
                    yield chunk_start, memoryview(chunk)[:index - len(tail)]
                self._finish_part(chunk, index - len(tail))
                return
            if len(chunk) >= keep:  # all but the last `keep` bytes are data for sure
                if tail:
                    yield tail_start, memoryview(tail)
                if len(chunk) > keep:
                    yield chunk_start, memoryview(chunk)[:len(chunk) - keep]
                tail = chunk[len(chunk) - keep:]
            else:  # a short read: the undecided bytes span the tail and the chunk
                joint = tail + chunk
                if len(joint) > keep:
                    yield tail_start, memoryview(joint)[:len(joint) - keep]
                tail = joint[-keep:]

    def _finish_part(self, data: bytes, index: int) -> None:
        """The delimiter starts at `index` of `data` (possibly negative: it began in the previous bytes)."""
        self._buffer = data[index + len(self._delimiter):]
        self._state = "boundary"


# ------------------------------------------------------------------ bodies already on disk

# How much of each end of a body is read to find the small fields around its file part.
HEAD_WINDOW = 256 * 1024
TAIL_WINDOW = 256 * 1024

ReadAt = Callable[[int, int], bytes]


def delimiter(boundary: bytes) -> bytes:
    """What ends a part's data: CRLF, two dashes and the boundary."""
    return b"\r\n--" + boundary


@dataclass(frozen=True)
class FilePartLayout:
    """Where the one file part of a body lies, and the small fields around it.

    Found from the two ends of a body already whole on disk, without reading the
    file's data. It holds only if that data contains no delimiter, as the format
    requires: whoever reads the data must check it (and if a delimiter is there, the
    file ends at it and what follows is read in order, see `MultipartReader`).
    """

    filename: str
    data_start: int
    data_end: int
    fields_before: tuple[tuple[str, str], ...]
    fields_after: tuple[tuple[str, str], ...]

    @property
    def size(self) -> int:
        return self.data_end - self.data_start

    @property
    def fields(self) -> tuple[tuple[str, str], ...]:
        return self.fields_before + self.fields_after


def locate_file_part(read_at: ReadAt, length: int, boundary: bytes, file_field: str) -> FilePartLayout | None:
    """The layout of a body made of small fields, one file part named `file_field`, small
    fields, and the closing delimiter at its very end (optionally followed by CRLF).

    `read_at(offset, size)` returns bytes of the body. None for any other body (other
    file parts, a large field, an epilogue, a body cut short, anything malformed): the
    streaming reader then reads it in order, and is the one that accepts or refuses it.
    """
    if not boundary or len(boundary) > 200 or b"\r" in boundary or b"\n" in boundary:
        return None  # a boundary with CR or LF could overlap itself; let the streaming reader judge it
    head = read_at(0, min(length, HEAD_WINDOW))
    try:
        leading, file_part = _fields_then_file(head, boundary, file_field)
    except MultipartError:  # including a head too short to hold them: not the simple layout
        return None
    if file_part is None:
        return None
    window_start = max(file_part.data_offset, length - TAIL_WINDOW)
    tail = read_at(window_start, length - window_start)
    if len(tail) != length - window_start:
        return None
    part_end = delimiter(boundary)
    closing = part_end + b"--"
    if tail.endswith(closing + b"\r\n"):
        closing_at = len(tail) - len(closing) - 2
    elif tail.endswith(closing):
        closing_at = len(tail) - len(closing)
    else:
        return None
    data_end = tail.find(part_end)  # the first delimiter after the file's data ends it
    if tail.find(closing, data_end) != closing_at:
        return None  # a closing delimiter before the last one: something follows it
    try:
        trailing = _fields_only(tail[data_end + 2:], boundary)
    except MultipartError:
        return None
    if trailing is None or len(leading) + 1 + len(trailing) > MAX_PARTS:
        return None
    return FilePartLayout(filename=file_part.filename or "", data_start=file_part.data_offset,
                          data_end=window_start + data_end, fields_before=tuple(leading),
                          fields_after=tuple(trailing))


def _fields_then_file(head: bytes, boundary: bytes, file_field: str) -> tuple[list[tuple[str, str]], Part | None]:
    """The fields before the first file part, and that part if it is `file_field`."""
    reader = MultipartReader(io.BytesIO(head), boundary, length=len(head))
    fields: list[tuple[str, str]] = []
    for part in reader.parts():
        if part.is_file:
            return fields, (part if part.name == file_field else None)
        fields.append((part.name, part.text()))
    return fields, None


def _fields_only(rest: bytes, boundary: bytes) -> list[tuple[str, str]] | None:
    """The fields of `rest` (from a `--boundary` line to the closing one); None if a file is among them."""
    reader = MultipartReader(io.BytesIO(rest), boundary, length=len(rest))
    fields: list[tuple[str, str]] = []
    for part in reader.parts():
        if part.is_file:
            return None
        fields.append((part.name, part.text()))
    return fields
