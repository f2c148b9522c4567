"""Stored file names in the web2py scheme, so imported and new files look alike.

`<table>.<field>.<16 hex>.<hex of the original base name>.<ext>`, cut to 400
characters; the extension is 1-5 word characters at the end of the original
name, else `txt`. Decoding also accepts the URL-safe base64 names of newer
pydal releases.
"""
from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import os
import queue
import re
import shutil
import tempfile
import threading
import uuid
from pathlib import Path

MAX_LENGTH = 400
_EXTENSION = re.compile(r"\.(\w{1,5})$")
_STORED = re.compile(r"^(?P<table>[\w-]+)\.(?P<field>[\w-]+)\.(?P<key>[\w-]+)(\.(?P<name>[\w=-]+))?\.\w+$")
_UNSAFE_DOWNLOAD_CHARS = re.compile(r"['\"\s;]+")


class StorageError(ValueError):
    """A stored name or path that must not be used."""


def stored_name(table: str, field: str, original_name: str, key: str | None = None) -> str:
    base = os.path.basename((original_name or "").replace("\\", "/"))
    match = _EXTENSION.search(base)
    extension = match.group(1).lower() if match else "txt"
    key = key or uuid.uuid4().hex[-16:]
    stem = f"{table}.{field}.{key}.{base.encode('utf-8').hex()}"
    return stem[: MAX_LENGTH - 1 - len(extension)] + "." + extension


def original_name(stored: str) -> str:
    """The name a download should carry, as web2py recovered it."""
    match = _STORED.match(stored or "")
    if not match or not match.group("name"):
        return stored
    encoded = match.group("name")
    try:
        decoded = bytes.fromhex(encoded).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        try:
            decoded = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return stored
    return _UNSAFE_DOWNLOAD_CHARS.sub("_", decoded) or stored


def table_of(stored: str) -> str | None:
    match = _STORED.match(stored or "")
    return f"{match.group('table')}.{match.group('field')}" if match else None


def is_valid_stored_name(stored: str) -> bool:
    """A bare file name we could have produced: no path, no parent reference."""
    return bool(stored) and "/" not in stored and "\\" not in stored and stored not in (".", "..") \
        and not stored.startswith(".") and len(stored) <= MAX_LENGTH and "\x00" not in stored


def resolve(directory: str | Path, stored: str) -> Path:
    """The path of a stored file, refusing anything that escapes its directory."""
    if not is_valid_stored_name(stored):
        raise StorageError(f"invalid stored file name: {stored!r}")
    root = Path(directory).resolve()
    path = root / stored
    if path.parent.resolve() != root:
        raise StorageError(f"invalid stored file name: {stored!r}")
    return path


def store_copy(source: str | Path, directory: str | Path, table: str, field: str,
               original: str | None = None) -> tuple[str, int]:
    """Copy a file in under a new stored name; (stored name, size). Atomic: temp name then rename."""
    source = Path(source)
    name = stored_name(table, field, original or source.name)
    target = resolve(directory, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name("." + target.name + ".part")
    try:
        shutil.copyfile(source, partial)
        os.replace(partial, target)
    finally:
        if partial.exists():
            partial.unlink()
    return name, target.stat().st_size


# --- names of server-side (network) files and limits of the file system -----------------------

def network_stored_name(original: str, key: str | None = None) -> str:
    """Stored name of a linked server-side file, as web2py built them.

    Unlike uploads, the hex part encodes the name *without* its last extension
    and the extension is kept whatever its length.
    """
    base = os.path.basename((original or "").replace("\\", "/"))
    stem, dot, extension = base.rpartition(".")
    if not dot or not stem or not re.fullmatch(r"\w+", extension):
        return stored_name("sequence_file", "data_file", base, key)
    key = key or uuid.uuid4().hex[-16:]
    prefix = f"sequence_file.data_file.{key}.{stem.encode('utf-8').hex()}"
    return prefix[: MAX_LENGTH - 1 - len(extension)] + "." + extension


def fits_file_system(directory: str | Path, stored: str) -> bool:
    """Whether the file system of `directory` accepts a file of that name (NAME_MAX)."""
    try:
        limit = os.pathconf(str(directory), "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    return len(stored.encode("utf-8")) <= limit


def remove_stored(directory: str | Path, stored: str | None) -> bool:
    """Delete a stored file (a symlink is removed, never its target); False if absent."""
    if not stored:
        return False
    try:
        path = resolve(directory, stored)
    except StorageError:
        return False
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


# --- receiving a file --------------------------------------------------------------------------

class StorageFull(OSError):
    """The destination file system has no room left for the file."""


class FileTooLarge(ValueError):
    """The file is larger than the configured limit."""


class IncomingFile:
    """A file received in chunks under a temporary name in its final directory.

    Bytes are counted and hashed (SHA-256) as they are written; the hashing
    runs in a helper thread, in parallel with the writing, so that a large
    upload costs about one pass over its bytes. `store()` gives the file its
    stored name only once it is complete; anything else (`discard()`, an
    exception inside the `with` block) removes it, so a failed transfer never
    leaves a partial file behind. Chunks handed to `write()` must not change
    afterwards (bytes, or memoryviews over bytes).
    """

    _QUEUED_CHUNKS = 8  # at most this many chunks wait for the hasher (8 MiB with 1 MiB chunks)

    def __init__(self, directory: str | Path, max_bytes: int | None = None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.size = 0
        self.copied_by_kernel = 0  # bytes copied with copy_file_range rather than written
        self._hash = hashlib.sha256()
        self._digest: str | None = None
        self._chunks: queue.Queue = queue.Queue(maxsize=self._QUEUED_CHUNKS)
        self._hasher = threading.Thread(target=self._hash_chunks, name="upload-sha256", daemon=True)
        self._hasher.start()
        fd, name = tempfile.mkstemp(dir=self.directory, prefix=".incoming-", suffix=".part")
        self.temporary_path = Path(name)
        self._file = os.fdopen(fd, "wb", buffering=0)
        self.path: Path | None = None

    def _hash_chunks(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            self._hash.update(chunk)

    def _stop_hashing(self) -> None:
        if self._hasher.is_alive():
            self._chunks.put(None)
            self._hasher.join()

    def write(self, data, source: tuple[int, int] | None = None) -> None:
        """Append `data`. With `source = (fd, offset)`, the same bytes are also at that offset
        of that regular file: they are then copied by the kernel (copy_file_range), as `cp`
        does, instead of being written from memory; `data` is still what gets hashed."""
        size = len(data)
        if self.max_bytes is not None and self.size + size > self.max_bytes:
            raise FileTooLarge(f"the file is larger than the limit of {self.max_bytes} bytes")
        self._chunks.put(data)
        try:
            if source is None or not self._copy_range(source[0], source[1], size):
                view = memoryview(data)
                while view:
                    written = self._file.write(view)
                    view = view[written:]
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFull(exc.errno, "no space left on the storage") from exc
            raise
        self.size += size

    _can_copy_ranges = hasattr(os, "copy_file_range")

    def _copy_range(self, fd: int, offset: int, size: int) -> bool:
        """Copy `size` bytes at `offset` of `fd` to the end of the file; False when the
        kernel cannot (other file system, old kernel): the caller writes them instead."""
        if not self._can_copy_ranges:
            return False
        done = 0
        try:
            while done < size:
                copied = os.copy_file_range(fd, self._file.fileno(), size - done, offset + done)
                if copied == 0:
                    raise OSError(errno.EIO, "the source file is shorter than announced")
                done += copied
                self.copied_by_kernel += copied
        except OSError as exc:
            if done == 0 and exc.errno in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP,
                                           errno.EBADF, errno.EPERM):
                self._can_copy_ranges = False
                return False
            raise
        return True

    @property
    def sha256(self) -> str:
        """The hex SHA-256 of everything written (ends the writing)."""
        if self._digest is None:
            self._stop_hashing()
            self._digest = self._hash.hexdigest()
        return self._digest

    def store(self, stored: str) -> Path:
        """Rename the complete file to its stored name (never replacing an existing file)."""
        target = resolve(self.directory, stored)
        self._file.close()
        self._stop_hashing()
        if target.exists() or target.is_symlink():
            raise StorageError(f"a stored file named {stored!r} already exists")
        os.replace(self.temporary_path, target)
        self.path = target
        return target

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._stop_hashing()
        if self.path is None:
            try:
                self.temporary_path.unlink()
            except FileNotFoundError:
                pass

    def __enter__(self) -> "IncomingFile":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or self.path is None:
            self.discard()
