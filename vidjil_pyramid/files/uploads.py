"""Receiving a sequence file from `file/upload`, from the request body to its final place.

The file part goes into a temporary file of the uploads directory, counted and
hashed (XXH3-128), and gets its stored name only when complete. Nothing is kept
in memory, and a refused, cut, oversized or unstorable upload leaves no file
behind. The fields (`id`, `file_number`, `pre_process`) may come before or after
the file part: the browser sends the file first, the API client last.

Two ways, one result:
- a large body, which waitress has already spooled whole to a file of the data
  volume, is read from its two ends to find the fields and where the file's data
  lies; every field is checked before anything is written; the kernel then copies
  the data while a second thread hashes it and makes sure no delimiter hides in
  it (if one does, the file ends there and the rest is read in order, as the
  format says); the spool gives back its pages as they are copied;
- any other body (a small one, which waitress keeps in memory, or an unusual
  layout) is read in order, in 1 MiB chunks, by the streaming reader; the target
  is then checked as soon as its id is known, and again at the end.
"""
from __future__ import annotations

import io
import logging
import os
import stat
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Mapping

from ..settings import as_list
from . import storage
from .multipart import IncompleteBody, MultipartError, MultipartReader, boundary_of, locate_file_part
from .multipart import delimiter as multipart_delimiter

log = logging.getLogger(__name__)

# What may be uploaded as a sample: reads (possibly compressed), BAM, and the
# already-analysed formats the `none` configs take (.vidjil, MiXCR .clntab, AIRR .tsv).
DEFAULT_UPLOAD_TYPES = "fa fasta fna fq fastq gz bz2 xz zst bam clntab vidjil tsv airr"
# Multipart framing and the small fields around the file.
BODY_OVERHEAD_BYTES = 1 << 20
FILE_FIELD = "file"


class UploadRefused(Exception):
    """An upload that cannot be accepted; the message is meant for the user."""

    def __init__(self, message: str, *, log_detail: str | None = None):
        super().__init__(message)
        self.message = message
        self.log_detail = log_detail


@dataclass(frozen=True)
class UploadPolicy:
    directory: Path
    max_bytes: int
    accepted_types: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "UploadPolicy":
        types = as_list(settings.get("vidjil.upload_types") or DEFAULT_UPLOAD_TYPES)
        return cls(
            directory=Path(settings["vidjil.upload_dir"]),
            max_bytes=int(settings.get("vidjil.max_upload_bytes") or 20_000_000_000),
            accepted_types=tuple(t.lower().lstrip(".") for t in types if t.strip(".")),
        )

    def accepts(self, filename: str) -> bool:
        lowered = filename.lower()
        return any(lowered.endswith("." + t) for t in self.accepted_types)

    def describe_types(self) -> str:
        return ", ".join("." + t for t in self.accepted_types)


def upload_filename(raw: str | None) -> str:
    """The base name of a client-side file name (some clients send a whole path)."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in name if ch >= " " and ch != "\x7f").strip()


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def check_announced_length(content_length: int | None, policy: UploadPolicy) -> None:
    """Refuse before reading anything when the body cannot fit the limit."""
    if content_length is not None and content_length > policy.max_bytes + BODY_OVERHEAD_BYTES:
        raise UploadRefused(f"the file is too large: the limit is {human_size(policy.max_bytes)}")


@dataclass
class ReceivedUpload:
    """The fields of an upload and its file, still under a temporary name."""

    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    incoming: storage.IncomingFile | None = None

    def discard(self) -> None:
        if self.incoming is not None:
            self.incoming.discard()


FieldCheck = Callable[[dict[str, str]], None]


def receive(stream: BinaryIO, content_type: str | None, content_length: int | None,
            policy: UploadPolicy, check_fields: FieldCheck | None = None) -> ReceivedUpload:
    """Read the whole multipart body; the file part goes to a temporary file.

    `check_fields(fields)` is called with the fields known before the file part is
    stored, so that a refused target is refused before its data is written; it
    raises UploadRefused. On any failure the temporary file is gone.

    A body already whole in a regular file (waitress spools large bodies) is read
    from its two ends when it has the simple layout (`_receive_spooled`); any other
    is read in order by the streaming reader. Both give the same result.
    """
    check_announced_length(content_length, policy)
    try:
        boundary = boundary_of(content_type)
    except MultipartError as exc:
        raise UploadRefused(str(exc)) from None
    source = _source_file(stream)
    if source is not None and content_length is not None:
        received = _receive_spooled(stream, source, boundary, content_length, policy, check_fields)
        if received is not None:
            return received
    return _receive_streamed(stream, boundary, content_length, source, policy, check_fields)


def _receive_spooled(stream: BinaryIO, source: tuple[int, int], boundary: bytes, length: int,
                     policy: UploadPolicy, check_fields: FieldCheck | None) -> ReceivedUpload | None:
    """The file part of a body whole on disk, without a pass over it to find its boundary.

    The fields are read from both ends of the body (`locate_file_part`) and checked
    before any byte is written. The kernel then copies the file's data while a second
    thread reads it once to hash it and to make sure no delimiter hides inside; if one
    does, the file ends there, as the format says, and the rest of the body is read in
    order. An anonymous spool file (waitress's) gives back its pages as they are
    copied. None, with nothing written, when the body is not that simple layout.
    """
    fd, start = source
    if os.fstat(fd).st_size < start + length:
        return None  # shorter than announced: the streaming reader says so

    def read_at(offset: int, size: int) -> bytes:
        return _read_exactly(fd, start + offset, size)

    layout = locate_file_part(read_at, length, boundary, FILE_FIELD)
    if layout is None or layout.size > policy.max_bytes:
        return None  # the streaming reader refuses a file too large as it always did
    received = ReceivedUpload(filename=upload_filename(layout.filename))
    for name, value in layout.fields:
        received.fields.setdefault(name, value)
    with _failures_refused(received, policy):
        _check_file_name(received.filename, policy)
        if check_fields is not None:
            check_fields(received.fields)
        received.incoming = storage.IncomingFile(policy.directory, max_bytes=policy.max_bytes)
        copied = received.incoming.copy_from(fd, start + layout.data_start, layout.size,
                                             end_marker=multipart_delimiter(boundary),
                                             release_source=storage.is_private_file(fd))
        if copied < layout.size:
            # A delimiter inside what looked like the file's data: the file ends there and
            # the parts after it are read in order, as the streaming reader would have.
            log.info("upload body with a delimiter inside its file part's data, at byte %s",
                     layout.data_start + copied)
            received.fields = dict(layout.fields_before)
            resume_at = layout.data_start + copied
            stream.seek(start + resume_at)
            _read_parts(MultipartReader(stream, boundary, length=length - resume_at,
                                        parts_before=len(layout.fields_before) + 1),
                        received, (fd, start + resume_at), policy, check_fields)
    return _complete(received)


def _receive_streamed(stream: BinaryIO, boundary: bytes, content_length: int | None,
                      source: tuple[int, int] | None, policy: UploadPolicy,
                      check_fields: FieldCheck | None) -> ReceivedUpload:
    """Read the body in order, part after part; file data is written as it arrives
    (copied by the kernel from `source`, the body's regular file, when there is one)."""
    received = ReceivedUpload()
    with _failures_refused(received, policy):
        _read_parts(MultipartReader(stream, boundary, length=content_length), received, source, policy,
                    check_fields)
    return _complete(received)


def _read_parts(reader: MultipartReader, received: ReceivedUpload, source: tuple[int, int] | None,
                policy: UploadPolicy, check_fields: FieldCheck | None) -> None:
    """Fields into `received.fields` (the first value of a name wins), the `file` part into
    a temporary file; `source` is where the reader's stream starts in a regular file, if it does."""
    for part in reader.parts():
        if not part.is_file:
            received.fields.setdefault(part.name, part.text())
            continue
        if part.name != FILE_FIELD:
            continue  # any other file part is skipped unread
        if received.incoming is not None:
            raise UploadRefused("only one file can be sent per upload")
        received.filename = upload_filename(part.filename)
        _check_file_name(received.filename, policy)
        if check_fields is not None:
            check_fields(received.fields)
        received.incoming = storage.IncomingFile(policy.directory, max_bytes=policy.max_bytes)
        for offset, chunk in part.spans():
            received.incoming.write(chunk, (source[0], source[1] + offset) if source else None)


@contextmanager
def _failures_refused(received: ReceivedUpload, policy: UploadPolicy) -> Iterator[None]:
    """Any failure removes the temporary file; those users can act on become UploadRefused."""
    try:
        yield
    except UploadRefused:
        received.discard()
        raise
    except IncompleteBody as exc:
        received.discard()
        raise UploadRefused("the upload was interrupted before the end of the file; nothing was stored, "
                            "please send the file again", log_detail=str(exc)) from None
    except MultipartError as exc:
        received.discard()
        raise UploadRefused(f"malformed upload: {exc}") from None
    except storage.FileTooLarge:
        received.discard()
        raise UploadRefused(f"the file is too large: the limit is {human_size(policy.max_bytes)}") from None
    except storage.StorageFull:
        received.discard()
        raise UploadRefused("the server has no storage space left for this file; nothing was stored. "
                            "Please tell the server administrators") from None
    except OSError as exc:
        received.discard()
        log.error("upload could not be written in %s: %s", policy.directory, exc)
        raise UploadRefused("System error during processing of uploaded file.", log_detail=str(exc)) from None
    except BaseException:
        received.discard()
        raise


def _complete(received: ReceivedUpload) -> ReceivedUpload:
    if received.incoming is None:
        raise UploadRefused("no data file")
    if received.incoming.size == 0:
        received.discard()
        raise UploadRefused("the file is empty")
    return received


def _read_exactly(fd: int, offset: int, size: int) -> bytes:
    """`size` bytes at `offset` of `fd`, fewer only at the end of the file."""
    pieces = []
    while size > 0:
        piece = os.pread(fd, size, offset)
        if not piece:
            break
        pieces.append(piece)
        offset += len(piece)
        size -= len(piece)
    return b"".join(pieces)


def _source_file(stream: BinaryIO) -> tuple[int, int] | None:
    """(descriptor, start offset) when the body is a regular file, as waitress spools big
    bodies: the file's bytes can then be copied by the kernel. None for any other stream."""
    try:
        fd = stream.fileno()
        start = stream.tell()
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
    return fd, start


def _check_file_name(filename: str, policy: UploadPolicy) -> None:
    if not filename:
        raise UploadRefused("the file has no name")
    if not policy.accepts(filename):
        raise UploadRefused(f"this type of file is not accepted (accepted: {policy.describe_types()})")
    probe = storage.stored_name("sequence_file", "data_file", filename)
    if not storage.fits_file_system(policy.directory, probe):
        raise UploadRefused("Your filename is too long, please shorten it.")


def store_received(received: ReceivedUpload, policy: UploadPolicy) -> str:
    """Give the received file its stored name (web2py scheme); returns that name."""
    assert received.incoming is not None and received.filename
    # Second files of a pair were stored through `data_file` in web2py too.
    name = storage.stored_name("sequence_file", "data_file", received.filename)
    try:
        received.incoming.store(name)
    except OSError as exc:
        received.discard()
        log.error("upload could not be renamed to %s: %s", name, exc)
        raise UploadRefused("System error during processing of uploaded file.") from None
    return name


def remove_quietly(path: Path | None) -> None:
    if path is None:
        return
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)
