"""Readers for the inputs fuse accepts.

* ``.vidjil`` JSON (plain or gzip, detected from the content): read as a stream.
  The header (every top-level key but ``clones``) is kept, while clones are handed
  one by one to a sink, so that a file of 200,000 clones never has to be held as
  Python objects.  The byte offset of each clone is reported too, so that a clone
  needed later can be parsed again without re-reading the whole file.
* AIRR ``.tsv`` (also gzip) and ARReST ``.clntab`` tables: converted into the same
  document shape as the original tool built (ranks computed from read counts).
* ``result,pre_process`` pairs: the second file's ``pre_process`` and
  ``reads.merged`` are grafted onto the first one.
"""
from __future__ import annotations

import codecs
import datetime
import io
import json
import os
import re
import zlib
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterable, Protocol, Sequence

from .errors import FuseInputError

GZIP_MAGIC = b"\x1f\x8b"
VIDJIL_JSON_VERSION = "2016b"
VIDJIL_JSON_VERSION_REQUIRED = "2014.10"
FUSE_PRODUCER = "vidjil fuse"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

_READ_CHUNK = 1 << 20
_CUT_MARGIN = 16  # a parse error this close to the end of the window may just be a cut value
_WS = re.compile(r"[ \t\n\r]*").match
_SEPARATOR = re.compile(r"[ \t\n\r]*,[ \t\n\r]*").match  # between two array elements
_scan_once = json.JSONDecoder().scan_once


def now_text() -> str:
    """Wall-clock time as the original wrote it (local time, second precision)."""
    return datetime.datetime.now().strftime(TIME_FORMAT)


def mtime_text(path: str) -> str:
    """Modification time of ``path`` in local time: the per-sample ``timestamp``."""
    return datetime.datetime.fromtimestamp(os.path.getmtime(path)).strftime(TIME_FORMAT)


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class InputSpec:
    """One input argument: a result path, optionally paired with a pre-process file."""

    path: str
    pre_process: str | None = None

    @classmethod
    def parse(cls, argument: str) -> "InputSpec":
        """Split ``result[,pre_process]`` the way the server writes it (extra parts ignored)."""
        parts = argument.split(",")
        if len(parts) > 1:
            if not parts[0] or not parts[1]:
                raise FuseInputError(f"{argument!r}: expected 'result,pre_process' with two file names")
            return cls(parts[0], parts[1])
        return cls(parts[0])

    @property
    def kind(self) -> str:
        """Format chosen from the file name, like the original (content is not sniffed)."""
        name = os.path.basename(self.path)
        if ".clntab" in name:
            return "clntab"
        if ".tsv" in name or ".AIRR" in name or ".airr" in name:
            return "airr"
        return "vidjil"


def open_binary(path: str) -> BinaryIO:
    """Open ``path`` for reading, transparently decompressing gzip content."""
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise FuseInputError(f"{path}: cannot open: {exc.strerror or exc}") from None
    try:
        magic = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    except OSError as exc:
        raw.close()
        raise FuseInputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if magic == GZIP_MAGIC:
        import gzip  # only for compressed inputs

        return gzip.GzipFile(fileobj=raw, mode="rb")  # closes nothing itself: see _closing
    return raw


class _closing:
    """Close a possibly gzip-wrapped file and its underlying raw file."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream

    def __enter__(self) -> BinaryIO:
        return self.stream

    def __exit__(self, *exc: object) -> None:
        inner = getattr(self.stream, "fileobj", None)
        self.stream.close()
        if inner is not None:
            inner.close()


_READ_ERRORS = (OSError, EOFError, zlib.error)


# --------------------------------------------------------------------------- JSON stream


class CloneSink(Protocol):
    """Receives the elements of the top-level ``clones`` array while it is parsed."""

    def begin(self) -> None: ...

    def add(self, clone: Any, index: int, offset: int) -> None: ...


class _JsonStream:
    """A growing text window over a byte stream, parsed with the stdlib C scanner.

    Values are parsed with ``json``'s own scanner (so numbers, escapes and error
    cases behave exactly like ``json.load``); the buffer is refilled, doubling its
    read size, whenever a value is cut by the end of the window.
    """

    def __init__(self, raw: BinaryIO, name: str, chunk_size: int = _READ_CHUNK, base_offset: int = 0):
        self.raw = raw
        self.name = name
        self.chunk_size = chunk_size
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.base_bytes = base_offset  # offset, in decoded-stream bytes, of buf[0]
        self.lines_before = 0  # newlines before buf[0], for error messages
        self.column_before = 0  # characters of buf[0]'s line that precede it
        self.mark_char = 0  # byte/char pair used to convert positions in non-ASCII buffers
        self.mark_byte = 0

    # -- buffer management
    def fill(self) -> bool:
        """Read more text; return False when nothing more can come."""
        if self.eof:
            return False
        if self.pos:
            self.base_bytes += self._bytes_upto(self.pos)
            newlines = self.buf.count("\n", 0, self.pos)
            if newlines:
                self.lines_before += newlines
                self.column_before = self.pos - self.buf.rfind("\n", 0, self.pos) - 1
            else:
                self.column_before += self.pos
            self.buf = self.buf[self.pos:]
            self.pos = 0
        self.mark_char = self.mark_byte = 0
        try:
            data = self.raw.read(max(self.chunk_size, len(self.buf)))
            if data:
                text = self.decoder.decode(data)
            else:
                text = self.decoder.decode(b"", True)
                self.eof = True
        except UnicodeDecodeError as exc:
            raise FuseInputError(f"{self.name}: not UTF-8 text ({exc.reason}); is it a .vidjil file?") from None
        except _READ_ERRORS as exc:
            raise FuseInputError(f"{self.name}: cannot read: {exc}") from None
        self.buf += text
        return bool(text) or not self.eof

    def _bytes_upto(self, index: int) -> int:
        """Number of UTF-8 bytes in buf[:index] (index never goes backwards between fills)."""
        if self.buf.isascii():
            return index
        self.mark_byte += len(self.buf[self.mark_char:index].encode("utf-8"))
        self.mark_char = index
        return self.mark_byte

    def byte_offset(self, index: int) -> int:
        return self.base_bytes + self._bytes_upto(index)

    # -- lexing helpers
    def skip_ws(self) -> None:
        while True:
            end = _WS(self.buf, self.pos).end()
            self.pos = end
            if end < len(self.buf) or not self.fill():
                return

    def peek(self) -> str:
        self.skip_ws()
        return self.buf[self.pos] if self.pos < len(self.buf) else ""

    def error(self, message: str, index: int | None = None) -> FuseInputError:
        index = self.pos if index is None else index
        newlines = self.buf.count("\n", 0, index)
        line = self.lines_before + newlines + 1
        column = index - self.buf.rfind("\n", 0, index) if newlines else self.column_before + index + 1
        return FuseInputError(f"{self.name}: invalid JSON at line {line} column {column}: {message}; "
                              "is it a .vidjil file?")

    def value(self) -> Any:
        """Parse the JSON value starting at the current position."""
        while True:
            self.skip_ws()
            buf = self.buf
            try:
                obj, end = _scan_once(buf, self.pos)
            except StopIteration as stop:  # also raised for a literal cut inside an object ("tr")
                if stop.value >= len(buf) - _CUT_MARGIN and not self.eof:
                    self.fill()  # then parse again: positions move when the window is refilled
                    continue
                raise self.error("expecting a value", stop.value) from None
            except json.JSONDecodeError as exc:
                if not self.eof and (exc.pos >= len(buf) - _CUT_MARGIN or exc.msg.startswith("Unterminated string")):
                    self.fill()
                    continue
                raise self.error(exc.msg, exc.pos) from None
            if end >= len(buf) and not self.eof:
                self.fill()  # a number may have been cut by the end of the window
                continue
            self.pos = end
            return obj

    # -- document walking
    def document(self, sink: CloneSink | None) -> dict:
        """Parse a top-level object; stream its ``clones`` array into ``sink``."""
        header: dict = {}
        if not self.buf and not self.fill():
            raise FuseInputError(f"{self.name}: empty file; is it a .vidjil file?")
        if self.peek() != "{":
            if self.pos < len(self.buf):
                raise FuseInputError(f"{self.name}: the JSON top level is not an object; is it a .vidjil file?")
            raise self.error("expecting a value")
        self.pos += 1
        if self.peek() == "}":
            self.pos += 1
        else:
            while True:
                if self.peek() != '"':
                    raise self.error("expecting a property name enclosed in double quotes")
                key = self.value()
                if self.peek() != ":":
                    raise self.error("expecting ':' delimiter")
                self.pos += 1
                if key == "clones" and sink is not None:
                    sink.begin()  # a repeated key wins, as with json.load
                    if self.peek() == "[":
                        header[key] = STREAMED
                        self._array(sink)
                    else:
                        header[key] = self.value()
                else:
                    header[key] = self.value()
                delimiter = self.peek()
                self.pos += 1
                if delimiter == "}":
                    break
                if delimiter != ",":
                    raise self.error("expecting ',' delimiter", self.pos - 1)
        if self.peek():
            raise self.error("extra data after the top-level object")
        return header

    def _array(self, sink: CloneSink) -> None:
        """Stream the elements of an array to ``sink``.

        The loop first tries a fast path (element and the following comma both
        inside the window) and falls back to the careful helpers otherwise.
        """
        self.pos += 1  # '['
        if self.peek() == "]":
            self.pos += 1
            return
        index = 0
        add = sink.add
        scan = _scan_once
        separator = _SEPARATOR
        while True:
            # fast path, on local copies of the window state
            buf, pos, base = self.buf, self.pos, self.base_bytes
            size, ascii_only = len(buf), buf.isascii()
            while True:
                try:
                    obj, end = scan(buf, pos)
                except (StopIteration, json.JSONDecodeError):
                    break
                found = separator(buf, end)
                if found is None:
                    break
                following = found.end()
                if following >= size:
                    break
                add(obj, index, base + pos if ascii_only else self.byte_offset(pos))
                index += 1
                pos = following
            self.pos = pos
            # slow path: refills, end of the array, errors
            self.skip_ws()
            offset = self.byte_offset(self.pos)
            add(self.value(), index, offset)
            index += 1
            delimiter = self.peek()
            self.pos += 1
            if delimiter == ",":
                self.skip_ws()
                continue
            if delimiter == "]":
                return
            raise self.error("expecting ',' delimiter", self.pos - 1)


class _Streamed:
    """Marker stored in a header at the position of a streamed ``clones`` array."""

    def __repr__(self) -> str:
        return "<streamed clones>"


STREAMED = _Streamed()


def stream_vidjil(path: str, sink: CloneSink, chunk_size: int = _READ_CHUNK) -> dict:
    """Read a .vidjil file, handing each clone to ``sink``; return the other top-level keys.

    The returned header keeps the key order of the file; the ``clones`` key holds
    ``STREAMED`` when the clones went to the sink.
    """
    with _closing(open_binary(path)) as raw:
        return _JsonStream(raw, path, chunk_size).document(sink)


def read_json(path: str) -> Any:
    """Parse a whole (possibly gzipped) JSON file: for small files such as pre-process results."""
    with _closing(open_binary(path)) as raw:
        stream = _JsonStream(raw, path)
        value = stream.value() if (stream.buf or stream.fill()) else None
        if stream.peek():
            raise stream.error("extra data after the JSON value")
        return value


def read_values_at(path: str, offsets: Sequence[int]) -> list[Any]:
    """Parse again the JSON values that start at the given byte offsets (ascending order)."""
    values = []
    with _closing(open_binary(path)) as raw:
        for offset in offsets:
            try:
                raw.seek(offset)
            except _READ_ERRORS as exc:
                raise FuseInputError(f"{path}: cannot read again: {exc}") from None
            values.append(_JsonStream(raw, path, 1 << 16, offset).value())
    return values


# --------------------------------------------------------------------------- checks


def check_version(doc: dict, path: str) -> None:
    """Refuse files older than the oldest format fuse understands (string comparison)."""
    version = doc.get("vidjil_json_version")
    if isinstance(version, list) and version:
        version = version[0]  # AIRR-born documents store ["2016b"]
    if not isinstance(version, str) or version < VIDJIL_JSON_VERSION_REQUIRED:
        raise FuseInputError(f"{path}: missing or too old 'vidjil_json_version' ({version!r}); "
                             "regenerate it with a newer Vidjil")


# --------------------------------------------------------------------------- pre-process


def read_pre_process(path: str) -> tuple[Any, Any]:
    """Return ``(pre_process, reads.merged)`` from a pre-process result file."""
    doc = read_json(path)
    try:
        return doc["pre_process"], doc["reads"]["merged"]
    except (KeyError, TypeError):
        raise FuseInputError(f"{path}: not a pre-process file (needs 'pre_process' and 'reads.merged')") from None


# --------------------------------------------------------------------------- AIRR


_AIRR_RENAMES = (  # MiXCR column names -> AIRR names
    ("bestVHit", "v_call"), ("bestDHit", "d_call"), ("bestJHit", "j_call"),
    ("cloneId", "sequence_id"), ("targetSequences", "sequence"),
    ("cloneCount", "duplicate_count"), ("chains", "locus"),
)

_AIRR_FIELDS = (  # AIRR column -> where the value goes in the clone
    ("locus", ("germline",)),
    ("v_call", ("seg", "5", "name")),
    ("d_call", ("seg", "4", "name")),
    ("j_call", ("seg", "3", "name")),
    ("v_alignment_start", ("seg", "5", "start")),
    ("v_alignment_end", ("seg", "5", "stop")),
    ("d_alignment_start", ("seg", "4", "start")),
    ("d_alignment_end", ("seg", "4", "stop")),
    ("j_alignment_start", ("seg", "3", "start")),
    ("j_alignment_end", ("seg", "3", "stop")),
    ("junction_aa", ("seg", "junction", "aa")),
    ("productive", ("seg", "junction", "productive")),
    ("cdr1_start", ("seg", "cdr1", "start")),
    ("cdr1_end", ("seg", "cdr1", "stop")),
    ("cdr3_start", ("seg", "cdr3", "start")),
    ("cdr3_end", ("seg", "cdr3", "stop")),
    ("5prime_trimmed_n_nb", ("seg", "5", "delLeft")),
    ("3prime_trimmed_n_nb", ("seg", "3", "delLeft")),
    ("warnings", ("warn",)),
)

_AIRR_INT_FIELDS = frozenset({
    "cdr3_start", "cdr3_end", "v_alignment_start", "v_alignment_end",
    "d_alignment_start", "d_alignment_end", "j_alignment_start", "j_alignment_end",
})
_AIRR_GENE_FIELDS = frozenset({"v_call", "d_call", "j_call"})
_AIRR_GENE_NOISE = ("Homsap ", "Homsap_", " F", " (F)", " [ORF]")


def _airr_value(field: str, raw: str) -> Any:
    """Normalise one AIRR cell the way Vidjil stores it."""
    if field in _AIRR_GENE_FIELDS:
        if "," in raw:
            raw = raw.split(", or")[0]  # IMGT lists alternatives as "A, or B"
        for noise in _AIRR_GENE_NOISE:
            raw = raw.replace(noise, "")
        return raw
    if field == "warnings":
        return [{"code": raw, "level": "warn"}]
    if field == "productive":
        return {"T": True, "true": True, "F": False, "false": False}.get(raw, raw)
    if field in _AIRR_INT_FIELDS:
        return int(raw)
    return raw


def _text_rows(path: str) -> Iterable[dict]:
    import csv  # only for AIRR tables

    raw = open_binary(path)
    with _closing(raw):
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        try:
            yield from csv.DictReader(text, dialect="excel-tab")
        except UnicodeDecodeError as exc:
            raise FuseInputError(f"{path}: not UTF-8 text ({exc.reason})") from None
        except (csv.Error, *_READ_ERRORS) as exc:
            raise FuseInputError(f"{path}: cannot read the table: {exc}") from None


def _diversity_na() -> dict:
    return {"index_H_entropy": ["na"], "index_E_equitability": ["na"], "index_Ds_diversity": ["na"]}


def read_airr(path: str) -> dict:
    """Build a one-sample document from an AIRR rearrangement table.

    Clones are ranked by decreasing read count (stable), which is also their order
    in the returned ``clones`` list.
    """
    clones: list[dict] = []
    germline_reads: dict[str, list[int]] = {}
    used_ids: set[str] = set()
    total = 0
    for line, row in enumerate(_text_rows(path), start=2):
        for old, new in _AIRR_RENAMES:
            if old in row:
                row[new] = row.pop(old)
        sequence_id = row.get("sequence_id")
        if sequence_id is None:
            raise FuseInputError(f"{path}: line {line}: no 'sequence_id' column (is it an AIRR table?)")
        if "Total queries" in sequence_id:  # IgBlast summary lines at the end
            break
        sequence = row.get("sequence")
        if sequence is None:
            raise FuseInputError(f"{path}: line {line}: no 'sequence' column (is it an AIRR table?)")
        clone_id, suffix = sequence_id, 1
        while clone_id in used_ids:
            clone_id = f"{sequence_id}_{suffix}"
            suffix += 1
        used_ids.add(clone_id)
        count = row.get("duplicate_count")
        try:
            reads = int(float(count)) if count not in (None, "") else 1
            clone: dict[str, Any] = {"id": clone_id, "top": 0, "reads": [reads],
                                     "seg": {"junction": {}, "cdr3": {}}, "sequence": sequence}
            for field, where in _AIRR_FIELDS:
                raw = row.get(field)
                if raw is None or raw == "":
                    continue
                node = clone
                for step in where[:-1]:
                    node = node.setdefault(step, {})
                node[where[-1]] = _airr_value(field, raw)
        except (ValueError, OverflowError, AttributeError, TypeError) as exc:
            raise FuseInputError(f"{path}: line {line}: bad value: {exc}") from None
        # V, D and J names that were given, joined like vidjil-algo's short names
        clone["name"] = " ".join(clone["seg"][key]["name"] for key, column in (("5", "v_call"), ("4", "d_call"), ("3", "j_call"))
                                 if row.get(column) not in (None, ""))
        if "germline" not in clone:
            clone["germline"] = "undetermined"
        germline_reads.setdefault(clone["germline"], [0])[0] += reads
        total += reads
        length = float(len(sequence))
        clone["_average_read_length"] = [length]
        clone["_coverage"] = [1.0]
        clone["_coverage_info"] = ["%.1f bp (100%% of %.1f bp)" % (length, length)]
        clones.append(clone)
    clones.sort(key=lambda c: c["reads"][0], reverse=True)  # stable
    for rank, clone in enumerate(clones, start=1):
        clone["top"] = rank
    return {
        "samples": {"number": 1, "original_names": [path], "producer": ["unknown (AIRR format)"],
                    "log": ["Created from an AIRR format. No other information available"]},
        "reads": {"total": [total], "segmented": [total], "germline": germline_reads, "distribution": {}},
        "clones": clones, "clusters": [], "germlines": {},
        "vidjil_json_version": [VIDJIL_JSON_VERSION], "producer": FUSE_PRODUCER, "timestamp": now_text(),
        "diversity": _diversity_na(),
    }


# --------------------------------------------------------------------------- clntab

_CLNTAB_USED = ("sequence.raw nt seq", "sequence.size", "sequence.V-GENE and allele",
                "sequence.D-GENE and allele", "sequence.J-GENE and allele", "sequence.JUNCTION.raw nt seq")


def read_clntab(path: str) -> dict:
    """Build a one-sample document from an ARReST ``.clntab`` table (plain text only)."""
    clones: list[dict] = []
    total = 0
    header: list[str] = []
    try:
        handle = open(path, encoding="utf-8")
    except OSError as exc:
        raise FuseInputError(f"{path}: cannot open: {exc.strerror or exc}") from None
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if "clonotype" in line:
                    header = line.replace("\n", "").split("\t")
                    continue
                cells = line.split("\t")  # the last cell keeps its end of line, as in the original
                if len(cells) > len(header):
                    raise FuseInputError(f"{path}: line {number}: more cells than header columns")
                row = dict(zip(header, cells))
                try:
                    sequence = row["sequence.raw nt seq"]
                    size = int(row["sequence.size"])
                    v_gene = row["sequence.V-GENE and allele"]
                    d_gene = row["sequence.D-GENE and allele"]
                    j_gene = row["sequence.J-GENE and allele"]
                    junction = row["sequence.JUNCTION.raw nt seq"]
                except KeyError as exc:
                    raise FuseInputError(f"{path}: line {number}: missing column {exc}") from None
                except ValueError as exc:
                    raise FuseInputError(f"{path}: line {number}: bad size: {exc}") from None
                total += size
                seg: dict[str, Any] = {"5": v_gene.split("=")[0]}
                if d_gene != "":
                    seg["4"] = d_gene.split("=")[0]
                seg["3"] = j_gene.split("=")[0]
                position = sequence.find(junction)
                if position >= 0:
                    seg["3start"], seg["5end"] = position + len(junction), position
                else:
                    seg["3start"], seg["5end"] = 0, len(sequence)
                seg.update({"3end": 0, "5start": 0, "4end": 0, "4start": 0, "cdr3": junction[3:-3]})
                clone = {"id": sequence, "top": 0, "reads": [size], "seg": seg, "germline": v_gene[:3],
                         "sequence": sequence, "name": row.get("clonotype")}
                for column, cell in row.items():
                    if column not in _CLNTAB_USED:
                        clone["_" + column] = [cell]
                clones.append(clone)
        except UnicodeDecodeError as exc:
            raise FuseInputError(f"{path}: not UTF-8 text ({exc.reason})") from None
    clones.sort(key=lambda c: c["reads"][0], reverse=True)
    for rank, clone in enumerate(clones, start=1):
        clone["top"] = rank
    return {
        "samples": {"number": 1, "original_names": [path], "producer": ["EC-NGS central pipeline"]},
        "reads": {"total": [total], "segmented": [total], "germline": {}, "distribution": {}},
        "clones": clones, "clusters": [], "germlines": {},
        "vidjil_json_version": [VIDJIL_JSON_VERSION], "producer": FUSE_PRODUCER, "timestamp": now_text(),
    }
