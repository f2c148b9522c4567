"""Stored file names in the web2py scheme, so imported and new files look alike.

`<table>.<field>.<16 hex>.<hex of the original base name>.<ext>`, cut to 400
characters; the extension is 1-5 word characters at the end of the original
name, else `txt`. Decoding also accepts the URL-safe base64 names of newer
pydal releases.
"""
from __future__ import annotations

import base64
import binascii
import ctypes
import errno
import fcntl
import functools
import os
import re
import shutil
import stat
import tempfile
import threading
import uuid
from pathlib import Path

import xxhash

MAX_LENGTH = 400
CHECKSUM_ALGORITHM = "xxh3_128"
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
    """A file received under a temporary name in its final directory.

    Bytes are counted and hashed as they come, whether written from memory
    (`write`) or copied from another file (`copy_from`). `store()` gives the file
    its stored name only once it is complete; anything else (`discard()`, an
    exception inside the `with` block) removes it, so a failed transfer never
    leaves a partial file behind.

    The checksum is XXH3-128, recorded with its algorithm's name
    (`xxh3_128:<32 hex>`, what `xxhsum -H2` prints): it runs at memory speed
    (~20 GB/s), where SHA-256 alone took longer than copying the file.
    """

    READ_BLOCK = 4 << 20  # the helper thread of `copy_from` reads this much at a time
    KERNEL_COPY_PIECE = 64 << 20  # `copy_from` notices a failed helper between pieces

    def __init__(self, directory: str | Path, max_bytes: int | None = None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.size = 0
        self.copied_by_kernel = 0  # bytes the kernel copied (splice, copy_file_range), not written from memory
        self._hash = xxhash.xxh3_128()
        fd, name = tempfile.mkstemp(dir=self.directory, prefix=".incoming-", suffix=".part")
        self.temporary_path = Path(name)
        self._file = os.fdopen(fd, "wb", buffering=0)
        self.path: Path | None = None

    def _reserve(self, size: int) -> None:
        if self.max_bytes is not None and self.size + size > self.max_bytes:
            raise FileTooLarge(f"the file is larger than the limit of {self.max_bytes} bytes")

    def write(self, data, source: tuple[int, int] | None = None) -> None:
        """Append `data`. With `source = (fd, offset)`, the same bytes are also at that offset
        of that regular file: they are then copied by the kernel (copy_file_range), as `cp`
        does, instead of being written from memory; `data` is still what gets hashed."""
        size = len(data)
        self._reserve(size)
        self._hash.update(data)
        try:
            if source is None or not self._copy_range(source[0], source[1], size):
                self._write_all(memoryview(data))
        except OSError as exc:
            _raise_if_full(exc)
            raise
        self.size += size

    def copy_from(self, fd: int, offset: int, size: int, *, end_marker: bytes | None = None,
                  release_source: bool = False) -> int:
        """Append the bytes found at `offset` of the regular file `fd`: `size` of them, or
        only those before the first `end_marker` among them. Returns how many were appended.

        The kernel copies them (splice through a pipe, see `_splice_range`) while a helper
        thread reads the same range once into a reused buffer, hashes it and looks for the marker: on
        two cores this costs about the longer of the two passes rather than their sum, and
        memory does not grow with the file. With `release_source`, the helper also punches
        the parts of the source already copied and read out of it (only for a file nobody
        else can read, such as an anonymous spool file): their pages then never have to be
        written back to the disk, which otherwise slows a large copy down several times.
        """
        self._reserve(size)
        reader = _CheckingReader(fd, offset, size, self._hash, end_marker, self.READ_BLOCK, release_source)
        pipe = _Pipe.open()
        copied = 0
        try:
            reader.start()
            while reader.error is None:
                length = reader.length  # known once the whole range is read
                goal = size if length is None else length
                if copied < goal:
                    piece = min(goal - copied, self.KERNEL_COPY_PIECE)
                    self._copy_piece(fd, offset + copied, piece, pipe)
                    copied += piece
                    reader.note_copied(copied)
                elif length is not None:
                    break
                else:
                    reader.wait_until_read()  # all is copied; the reader has yet to finish
        except OSError as exc:
            reader.abandon()
            _raise_if_full(exc)
            raise
        except BaseException:
            reader.abandon()
            raise
        finally:
            if pipe is not None:
                pipe.close()
        reader.finish()  # raises what stopped the reader, if anything did
        length = reader.length
        if copied > length:  # the marker came after the copy had gone past it: cut back
            self._file.truncate(self.size + length)
            self._file.seek(self.size + length)
            self.copied_by_kernel -= min(self.copied_by_kernel, copied - length)
        self.size += length
        return length

    def _write_all(self, view: memoryview) -> None:
        while view:
            written = self._file.write(view)
            view = view[written:]

    def _copy_piece(self, fd: int, offset: int, size: int, pipe: "_Pipe | None") -> None:
        """Copy by the kernel, through the pipe if there is one, else with copy_file_range,
        else through memory."""
        if pipe is not None and pipe.usable and self._splice_range(pipe, fd, offset, size):
            return
        if not self._copy_range(fd, offset, size):
            self._write_from(fd, offset, size)

    def _splice_range(self, pipe: "_Pipe", fd: int, offset: int, size: int) -> bool:
        """Copy `size` bytes at `offset` of `fd` to the end of the file through `pipe`: the
        kernel moves the source's pages into the pipe and copies them out a pipe-full (1 MiB)
        at a time. A multipart body puts the file's data at an offset that is not a multiple
        of the page size; copy_file_range then copies in small pieces and is about 1.5 times
        slower. False when the kernel cannot splice these files (nothing written then)."""
        written = 0
        try:
            while written < size:
                moved = os.splice(fd, pipe.write_end, min(pipe.size, size - written), offset_src=offset + written)
                if moved == 0:
                    raise OSError(errno.EIO, "the source file is shorter than announced")
                left = moved
                while left:
                    count = os.splice(pipe.read_end, self._file.fileno(), left)
                    if count == 0:
                        raise OSError(errno.EIO, "the pipe gave less than it was given")
                    left -= count
                    written += count
                    self.copied_by_kernel += count
        except OSError as exc:
            if written == 0 and exc.errno in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EBADF):
                pipe.usable = False  # what it may hold is dropped with it; the source is intact
                pipe.close()
                return False
            raise
        return True

    def _write_from(self, fd: int, offset: int, size: int) -> None:
        """Copy through memory, where the kernel cannot copy between these two files."""
        done = 0
        while done < size:
            block = os.pread(fd, min(size - done, 1 << 20), offset + done)
            if not block:
                raise OSError(errno.EIO, "the source file is shorter than announced")
            self._write_all(memoryview(block))
            done += len(block)

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
    def checksum(self) -> str:
        """`xxh3_128:<hex>` of everything received so far."""
        return f"{CHECKSUM_ALGORITHM}:{self._hash.hexdigest()}"

    def store(self, stored: str) -> Path:
        """Rename the complete file to its stored name (never replacing an existing file)."""
        target = resolve(self.directory, stored)
        self._file.close()
        if target.exists() or target.is_symlink():
            raise StorageError(f"a stored file named {stored!r} already exists")
        os.replace(self.temporary_path, target)
        self.path = target
        return target

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
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


def _raise_if_full(exc: OSError) -> None:
    """A full storage becomes StorageFull, which has its own message for users."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        raise StorageFull(exc.errno, "no space left on the storage") from exc


class _Pipe:
    """A pipe as large as the system lets us have it (1 MiB at most), for splice."""

    WANTED_SIZE = 1 << 20

    def __init__(self, read_end: int, write_end: int, size: int):
        self.read_end, self.write_end, self.size = read_end, write_end, size
        self.usable = True
        self._closed = False

    @classmethod
    def open(cls) -> "_Pipe | None":
        """None where splice is not available (the caller copies otherwise)."""
        if not hasattr(os, "splice") or not hasattr(fcntl, "F_SETPIPE_SZ"):
            return None
        read_end, write_end = os.pipe()
        try:
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, cls.WANTED_SIZE)
        except OSError:
            pass  # over fs.pipe-max-size: a smaller pipe is slower, still right
        return cls(read_end, write_end, fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self.read_end)
            os.close(self.write_end)


class _CheckingReader(threading.Thread):
    """The helper of `IncomingFile.copy_from`.

    Reads a range of a file once, in order, block by block into one buffer, hashes the
    data and stops where `end_marker` starts, if it occurs; then `length` is how many
    bytes of the range are data. With `release`, it also punches out of the file what
    both it and the copy (`note_copied`) have gone past, until the copy is over.
    An error is kept for `finish()`, which ends the thread.
    """

    RELEASE_STEP = 32 << 20  # punch at least this much at a time

    def __init__(self, fd: int, offset: int, size: int, digest, end_marker: bytes | None, block_size: int,
                 release: bool):
        super().__init__(name="upload-checksum", daemon=True)
        self._fd, self._offset, self._size = fd, offset, size
        self._digest, self._marker = digest, end_marker or b""
        self._block_size = max(block_size, 2 * len(self._marker) + 1)
        self._release = release
        self._progress = threading.Condition()
        self._copied = 0  # how far the copy has got (under `_progress`)
        self._over = False  # the copy is over or failed (under `_progress`)
        self._read_done = threading.Event()
        self.scanned = 0  # how far the data is read (hashed, checked)
        self.released = 0  # how much of the range is punched out
        self.length: int | None = None
        self.error: BaseException | None = None

    # --- the copying thread's side

    def note_copied(self, count: int) -> None:
        with self._progress:
            self._copied = count
            self._progress.notify()

    def wait_until_read(self) -> None:
        self._read_done.wait()

    def abandon(self) -> None:
        """Stop (the copy failed) and wait for the thread to end, if it was started."""
        self._end_copy()
        if self.ident is not None:
            self.join()

    def finish(self) -> None:
        self._end_copy()
        self.join()
        if self.error is not None:
            raise self.error

    def _end_copy(self) -> None:
        with self._progress:
            self._over = True
            self._progress.notify()

    # --- the helper thread

    def run(self) -> None:
        try:
            self.length = self._read()
        except BaseException as exc:  # handed to the thread that waits for this one
            self.error = exc
        finally:
            self._read_done.set()
        if self.error is None and self._release:
            self._release_until_the_copy_is_over()

    def _read(self) -> int | None:
        marker, size = self._marker, self._size
        overlap = max(len(marker) - 1, 0)  # a marker may straddle two blocks: blocks overlap by this
        buffer = bytearray(max(1, min(self._block_size, size)))
        view = memoryview(buffer)
        search = _marker_search(buffer, marker) if marker else None
        position = 0
        while position < size:
            if self._over:
                return None
            wanted = min(len(buffer), size - position)
            count = os.preadv(self._fd, [view[:wanted]], self._offset + position)
            if count < wanted:
                raise OSError(errno.EIO, "the source file is shorter than announced")
            usable = count if position + count == size else count - overlap
            found = search(count) if search else -1
            if 0 <= found < usable:
                self._digest.update(view[:found])
                self.scanned = position + found
                return self.scanned
            self._digest.update(view[:usable])
            position += usable
            self.scanned = position
            if self._release:
                self._release_behind(self._copied)
        return position

    def _release_until_the_copy_is_over(self) -> None:
        while self._release:
            with self._progress:
                while not self._over and self._copied - self.released < self.RELEASE_STEP:
                    self._progress.wait()
                if self._over:
                    return
                copied = self._copied
            self._release_behind(copied)

    def _release_behind(self, copied: int) -> None:
        """Punch out what both the copy and the reading have gone past (whole MiBs of the file)."""
        upto = min(copied, self.scanned)
        if upto - self.released < self.RELEASE_STEP and upto < self._size:
            return
        start = self._offset + self.released
        end = (self._offset + upto) // _RELEASE_ALIGNMENT * _RELEASE_ALIGNMENT
        if end <= start:
            return
        if punch_hole(self._fd, start, end - start):
            self.released = end - self._offset
        else:
            self._release = False  # not on this system or file system: the copy just goes on


# --- giving back the pages of a spool file already copied --------------------------------------

_RELEASE_ALIGNMENT = 1 << 20
_FALLOC_FL_KEEP_SIZE, _FALLOC_FL_PUNCH_HOLE = 0x01, 0x02


def punch_hole(fd: int, offset: int, length: int) -> bool:
    """Deallocate a range of a file (its pages, dirty or not, are dropped); False where the
    system or the file system cannot, or `fd` is not open for writing."""
    fallocate = _fallocate()
    if fallocate is None:
        return False
    return fallocate(fd, _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE, offset, length) == 0


def is_private_file(fd: int) -> bool:
    """Whether `fd` is a regular file without any name (an anonymous temporary file, as
    waitress's spool files are): nothing but its holder can ever read it."""
    try:
        status = os.fstat(fd)
    except OSError:
        return False
    return stat.S_ISREG(status.st_mode) and status.st_nlink == 0


# --- two C library functions (through ctypes, which lets other threads run during the call) -----

@functools.lru_cache(maxsize=None)
def _libc_function(names: tuple[str, ...], restype, argtypes: tuple):
    """The first of `names` in the C library, or None where there is none (not Linux...)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # the process's own symbols, the C library's among them
    except OSError:
        return None
    for name in names:
        function = getattr(libc, name, None)
        if function is not None:
            function.restype, function.argtypes = restype, list(argtypes)
            return function
    return None


def _fallocate():
    return _libc_function(("fallocate64", "fallocate"), ctypes.c_int,
                          (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64))


def _memmem():
    return _libc_function(("memmem",), ctypes.c_void_p,
                          (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t))


def _marker_search(buffer: bytearray, marker: bytes):
    """A function of `count` giving where `marker` first starts in `buffer[:count]`, or -1.

    It uses the C library's memmem: `bytearray.find` holds the interpreter lock for
    the whole search, and the copying thread, which needs the lock between two
    splices, lost 0.15 s per 2 GB waiting for it. `bytearray.find` where there is no memmem.
    """
    memmem = _memmem()
    if memmem is None:
        return lambda count: buffer.find(marker, 0, count)
    pinned = (ctypes.c_char * len(buffer)).from_buffer(buffer)  # the buffer cannot move while this lives
    base = ctypes.addressof(pinned)

    def search(count: int, _pinned=pinned) -> int:
        found = memmem(base, count, marker, len(marker))
        return -1 if found is None else found - base

    return search
