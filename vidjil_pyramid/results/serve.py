"""Serving a stored `.vidjil` document with some top-level values replaced, in bounded memory.

A fused file can weigh tens of megabytes, nearly all of it in its `clones` array,
and `get_data` only changes small top-level values (`samples`, the names...).
So the file is read once to find where each top-level value starts and ends:
values are skipped one array element or object member at a time, so memory
holds a read buffer and the largest single element, never the document. Only
the values to rewrite are parsed; the answer is then streamed from the same
open file, the untouched values copied byte for byte.

The scan reads the bytes as latin-1: one character per byte, so positions are
file offsets, and multi-byte UTF-8 characters (all bytes >= 0x80) can never be
mistaken for JSON punctuation. Values that are really parsed are decoded from
their original bytes as UTF-8.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Mapping

CHUNK_SIZE = 1 << 20
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER_START = frozenset("-0123456789")
_NUMBER_END = re.compile(r"[^-+.eE0-9]")


class DocumentError(ValueError):
    """The stored file is not a JSON object we can serve."""


@dataclass(frozen=True)
class TopLevelValue:
    """Where the value of one top-level key lies in the file: bytes [start, end)."""

    key: str
    start: int
    end: int


class _Scanner:
    """Walks a JSON document in a file, decoding at most one element at a time."""

    def __init__(self, handle: BinaryIO, chunk_size: int = CHUNK_SIZE):
        self.handle = handle
        self.chunk_size = chunk_size
        self.buffer = ""
        self.base = 0  # file offset of buffer[0]
        self.pos = 0
        self.eof = False
        self.decoder = json.JSONDecoder()

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def _read_more(self, at_least: int) -> bool:
        """Append at least `at_least` bytes (less at the end of the file); False at EOF."""
        if self.eof:
            return False
        data = self.handle.read(max(at_least, self.chunk_size))
        if not data:
            self.eof = True
            return False
        if self.pos:
            self.buffer = self.buffer[self.pos:]
            self.base += self.pos
            self.pos = 0
        self.buffer += data.decode("latin-1")
        return True

    def skip_whitespace(self) -> None:
        while True:
            self.pos = _WHITESPACE.match(self.buffer, self.pos).end()
            if self.pos < len(self.buffer) or not self._read_more(self.chunk_size):
                return

    def next_char(self) -> str:
        self.skip_whitespace()
        if self.pos >= len(self.buffer):
            raise DocumentError("unexpected end of the file")
        return self.buffer[self.pos]

    def expect(self, allowed: str) -> str:
        char = self.next_char()
        if char not in allowed:
            raise DocumentError(f"expected one of {allowed!r} at byte {self.offset}, found {char!r}")
        self.pos += 1
        return char

    def decode(self) -> Any:
        """Decode the next value whole, reading more until it is complete."""
        self.skip_whitespace()
        if self.pos < len(self.buffer) and self.buffer[self.pos] in _NUMBER_START:
            # A number cut by the buffer still parses ("12" of "123", "-1" of "-1.5e3"):
            # make sure what ends it is in the buffer.
            while _NUMBER_END.search(self.buffer, self.pos) is None and self._read_more(self.chunk_size):
                pass
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as exc:
                # Incomplete or invalid: only more data can tell; double the window each time.
                if self._read_more(len(self.buffer) - self.pos):
                    continue
                raise DocumentError(f"invalid JSON at byte {self.base + exc.pos}: {exc.msg}") from None
            self.pos = end
            return value

    def skip_value(self) -> None:
        """Step over the next value, decoding only one of its elements at a time."""
        opening = self.next_char()
        if opening == "[":
            self.pos += 1
            if self.next_char() == "]":
                self.pos += 1
                return
            while True:
                self.decode()
                if self.expect(",]") == "]":
                    return
        elif opening == "{":
            self.pos += 1
            if self.next_char() == "}":
                self.pos += 1
                return
            while True:
                self._member_key()
                self.decode()
                if self.expect(",}") == "}":
                    return
        else:
            self.decode()

    def _member_key(self) -> str:
        if self.next_char() != '"':
            raise DocumentError(f"expected a key at byte {self.offset}")
        key = self.decode()
        self.expect(":")
        return key

    def top_level(self) -> list[TopLevelValue]:
        """The key and byte span of every member of the top-level object, in file order."""
        self.expect("{")
        found: list[TopLevelValue] = []
        if self.next_char() == "}":
            self.pos += 1
        else:
            while True:
                key = self._member_key()
                self.skip_whitespace()
                start = self.offset
                self.skip_value()
                found.append(TopLevelValue(_utf8_key(key), start, self.offset))
                if self.expect(",}") == "}":
                    break
        self.skip_whitespace()
        if self.pos < len(self.buffer):
            raise DocumentError(f"unexpected data after the document at byte {self.offset}")
        return found


def _utf8_key(latin1_key: str) -> str:
    """Keys were decoded from latin-1 during the scan; recover their UTF-8 text."""
    try:
        return latin1_key.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return latin1_key


def scan_top_level(handle: BinaryIO, chunk_size: int = CHUNK_SIZE) -> list[TopLevelValue]:
    handle.seek(0)
    return _Scanner(handle, chunk_size).top_level()


def read_span(handle: BinaryIO, span: TopLevelValue) -> bytes:
    handle.seek(span.start)
    return handle.read(span.end - span.start)


def dumps(value: Any) -> bytes:
    """Compact ASCII JSON, as the original server wrote its answers."""
    return json.dumps(value, separators=(",", ":")).encode("ascii")


class ServedDocument:
    """The answer body: literal pieces and spans of the open file, streamed in chunks.

    It is a WSGI app_iter: iterating yields the bytes; `close()` closes the file.
    """

    def __init__(self, handle: BinaryIO, parts: list[bytes | TopLevelValue], chunk_size: int = CHUNK_SIZE):
        self.handle = handle
        self.parts = parts
        self.chunk_size = chunk_size
        self.length = sum(len(p) if isinstance(p, bytes) else p.end - p.start for p in parts)

    def __iter__(self) -> Iterator[bytes]:
        for part in self.parts:
            if isinstance(part, bytes):
                yield part
                continue
            self.handle.seek(part.start)
            remaining = part.end - part.start
            while remaining > 0:
                data = self.handle.read(min(self.chunk_size, remaining))
                if not data:
                    raise DocumentError("the stored file became shorter while it was being served")
                remaining -= len(data)
                yield data

    def close(self) -> None:
        self.handle.close()

    def read_all(self) -> bytes:
        """The whole body (tests and small documents only)."""
        return b"".join(self)


Rewriter = Callable[[Mapping[str, Any]], Mapping[str, Any]]


def serve_rewritten(path: str | Path, parse_keys: Iterable[str], rewrite: Rewriter,
                    chunk_size: int = CHUNK_SIZE) -> ServedDocument:
    """Open a stored JSON object and prepare it with some top-level values replaced.

    `rewrite` receives the parsed values of `parse_keys` (those present in the
    file) and returns the top-level values to write: a key already in the file
    is replaced where it stands (once, even if the file repeats it), a new key
    is added at the end. Every other value is copied from the file unchanged.
    The whole file is checked before anything is answered, so a broken file
    gives an error, never a truncated answer.
    """
    handle = open(path, "rb")
    try:
        spans = scan_top_level(handle, chunk_size)
        wanted = set(parse_keys)
        parsed: dict[str, Any] = {}
        for span in spans:
            if span.key in wanted:
                try:
                    parsed[span.key] = json.loads(read_span(handle, span))
                except (ValueError, UnicodeDecodeError) as exc:
                    raise DocumentError(f"invalid value for {span.key!r}: {exc}") from None
        replacements = dict(rewrite(parsed))
        parts: list[bytes | TopLevelValue] = [b"{"]
        written: set[str] = set()
        for span in spans:
            if span.key in written:
                continue
            if len(parts) > 1:
                parts.append(b",")
            parts.append(dumps(span.key) + b":")
            if span.key in replacements:
                parts.append(dumps(replacements[span.key]))
                written.add(span.key)
            else:
                parts.append(span)
        present = {span.key for span in spans}
        for key, value in replacements.items():
            if key not in present:
                if len(parts) > 1:
                    parts.append(b",")
                parts.append(dumps(key) + b":" + dumps(value))
        parts.append(b"}")
        return ServedDocument(handle, parts, chunk_size)
    except BaseException:
        handle.close()
        raise
