"""Stored file names in the web2py scheme, so imported and new files look alike.

`<table>.<field>.<16 hex>.<hex of the original base name>.<ext>`, cut to 400
characters; the extension is 1-5 word characters at the end of the original
name, else `txt`. Decoding also accepts the URL-safe base64 names of newer
pydal releases.
"""
from __future__ import annotations

import base64
import binascii
import os
import re
import shutil
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
