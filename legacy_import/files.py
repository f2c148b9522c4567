"""Bringing the old upload and result files into the new data directory.

Only files referenced by imported rows are brought, under their stored names
(fused files refer to sample files by stored name, so names never change).
A file is copied (default), hard-linked or moved, always written under a
temporary name and renamed when complete; a file already in place with the same
size is kept (re-runs and resumed imports do not copy twice).

Server-side ("network") samples are symlinks into the old FILE_SOURCE tree.
A symlink is recreated only if it points inside the old source tree given with
`--file-source` (re-pointed into the new `vidjil.file_source` when set) or
inside the new one: anything else could expose any server file through the
uploads (W20) and is refused and reported.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.engine import Connection

from vidjil_pyramid.files.storage import is_valid_stored_name
from vidjil_pyramid.models import metadata

from .tables import FILE_COLUMNS

COPY, LINK, MOVE = "copy", "link", "move"
MODES = (COPY, LINK, MOVE)
_CHUNK = 1 << 20
MAX_LISTED = 1000  # names listed in the report per kind of problem


@dataclass
class FileOptions:
    uploads: list[Path]
    results: list[Path]
    upload_dir: Path
    results_dir: Path
    mode: str = COPY
    dry_run: bool = False
    checksums: bool = True
    old_file_source: Path | None = None
    new_file_source: Path | None = None
    checksums_file: Path | None = None


@dataclass
class FileResult:
    requested: bool = True
    mode: str = COPY
    referenced: int = 0
    found: int = 0
    already_present: int = 0
    missing: int = 0
    symlinks: int = 0
    symlinks_dangling: int = 0
    refused: int = 0
    conflicts: int = 0
    invalid_names: int = 0
    bytes: int = 0
    checksums_file: str | None = None
    missing_names: list[str] = field(default_factory=list)
    refused_names: list[str] = field(default_factory=list)
    conflict_names: list[str] = field(default_factory=list)

    def note(self, names: list[str], name: str) -> None:
        if len(names) < MAX_LISTED:
            names.append(name)


def stored_names(connection: Connection, batch_size: int = 5000) -> Iterator[tuple[str, str]]:
    """(directory kind, stored name) of every file referenced by the imported rows, once each
    per batch (the same name referenced twice is handled idempotently anyway)."""
    for table_name, column_name, kind in FILE_COLUMNS:
        t = metadata.tables[table_name]
        col = t.c[column_name]
        last = 0
        while True:
            rows = connection.execute(
                select(t.c.id, col).where(t.c.id > last, col.is_not(None), col != "")
                .order_by(t.c.id).limit(batch_size)
            ).all()
            if not rows:
                break
            for _, name in rows:
                yield kind, name
            last = rows[-1][0]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_with_digest(source: Path, target: Path) -> str:
    partial = target.with_name("." + target.name + ".part")
    digest = hashlib.sha256()
    try:
        with open(source, "rb") as reader, open(partial, "wb") as writer:
            for chunk in iter(lambda: reader.read(_CHUNK), b""):
                digest.update(chunk)
                writer.write(chunk)
        shutil.copystat(source, partial)
        os.replace(partial, target)
    finally:
        if partial.exists():
            partial.unlink()
    return digest.hexdigest()


def _inside(path: str, root: Path) -> bool:
    root_text = os.path.normpath(str(root))
    return path == root_text or path.startswith(root_text.rstrip(os.sep) + os.sep)


class FileMover:
    def __init__(self, options: FileOptions):
        self.options = options
        self.result = FileResult(mode=options.mode)
        self._manifest = None

    def _find(self, name: str, directories: Iterable[Path]) -> Path | None:
        for directory in directories:
            candidate = directory / name
            if os.path.lexists(candidate):
                return candidate
        return None

    def _symlink_target(self, link: Path) -> str | None:
        """Where the recreated link must point, or None when it must not be recreated."""
        raw = os.readlink(link)
        pointed = os.path.normpath(os.path.join(os.path.dirname(str(link)), raw))
        old_root, new_root = self.options.old_file_source, self.options.new_file_source
        if old_root is not None and _inside(pointed, old_root):
            if new_root is not None:
                relative = os.path.relpath(pointed, os.path.normpath(str(old_root)))
                return os.path.join(os.path.normpath(str(new_root)), relative)
            return pointed
        if new_root is not None and _inside(pointed, new_root):
            return pointed
        return None

    def _record(self, path: Path, digest: str | None, size: int) -> None:
        self.result.found += 1
        self.result.bytes += size
        if digest and self._manifest is not None:
            self._manifest.write(f"{digest}  {path}\n")

    def _bring_symlink(self, source: Path, target: Path, name: str) -> None:
        pointed = self._symlink_target(source)
        if pointed is None:
            self.result.refused += 1
            self.result.note(self.result.refused_names, name)
            return
        self.result.symlinks += 1
        if not os.path.exists(pointed):
            self.result.symlinks_dangling += 1
        self.result.found += 1
        if self.options.dry_run:
            return
        if os.path.lexists(target):
            if os.path.islink(target) and os.readlink(target) == pointed:
                self.result.already_present += 1
                return
            self.result.conflicts += 1
            self.result.note(self.result.conflict_names, name)
            return
        os.symlink(pointed, target)
        if self.options.mode == MOVE:
            source.unlink()

    def _same_file(self, source: Path, target: Path, size: int) -> bool:
        """A file already in place (earlier run): same size, and same content when checksumming."""
        if not target.is_file() or target.is_symlink() or target.stat().st_size != size:
            return False
        if os.path.samefile(source, target) or not self.options.checksums:
            return True
        return sha256_of(source) == sha256_of(target)

    def _bring_regular(self, source: Path | None, target: Path, name: str) -> None:
        exists = os.path.lexists(target)
        if source is None:
            if exists and self.options.mode == MOVE and target.is_file():
                # moved by an earlier, interrupted run
                self.result.already_present += 1
                self._record(target, sha256_of(target) if self.options.checksums else None,
                             target.stat().st_size)
                return
            self.result.missing += 1
            self.result.note(self.result.missing_names, name)
            return
        size = source.stat().st_size
        if self.options.dry_run:
            self._record(source, None, size)
            return
        if exists:
            if self._same_file(source, target, size):
                self.result.already_present += 1
                self._record(target, sha256_of(target) if self.options.checksums else None, size)
                if self.options.mode == MOVE and not os.path.samefile(source, target):
                    source.unlink()
                return
            self.result.conflicts += 1
            self.result.note(self.result.conflict_names, name)
            return
        digest = None
        mode = self.options.mode
        if mode == LINK:
            try:
                os.link(source, target)
            except OSError as exc:
                raise FileImportError(f"cannot hard-link {source} into {target.parent} ({exc.strerror}): "
                                      "use --files copy when the directories are on different file systems") from None
        elif mode == MOVE:
            try:
                os.rename(source, target)
            except OSError:
                digest = _copy_with_digest(source, target)
                source.unlink()
        else:
            digest = _copy_with_digest(source, target)
        if digest is None and self.options.checksums:
            digest = sha256_of(target)
        self._record(target, digest, size)

    def bring(self, kind: str, name: str) -> None:
        self.result.referenced += 1
        if not is_valid_stored_name(name):
            self.result.invalid_names += 1
            self.result.note(self.result.refused_names, name)
            return
        directories = self.options.uploads if kind == "uploads" else self.options.results
        target_dir = self.options.upload_dir if kind == "uploads" else self.options.results_dir
        source = self._find(name, directories)
        target = target_dir / name
        if source is not None and source.is_symlink():
            self._bring_symlink(source, target, name)
        else:
            self._bring_regular(source, target, name)

    def run(self, names: Iterable[tuple[str, str]], progress=None) -> FileResult:
        options = self.options
        if not options.dry_run:
            options.upload_dir.mkdir(parents=True, exist_ok=True)
            options.results_dir.mkdir(parents=True, exist_ok=True)
            if options.checksums and options.checksums_file is not None:
                options.checksums_file.parent.mkdir(parents=True, exist_ok=True)
                self._manifest = open(options.checksums_file, "w", encoding="utf-8")
                self.result.checksums_file = str(options.checksums_file)
        try:
            for kind, name in names:
                self.bring(kind, name)
                if progress is not None:
                    progress.update(1)
        finally:
            if self._manifest is not None:
                self._manifest.close()
        return self.result


class FileImportError(RuntimeError):
    """Files cannot be brought as asked; the message says what to change."""
