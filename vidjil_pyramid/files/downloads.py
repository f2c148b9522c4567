"""Which stored file a download name designates, where it lives, who may read it,
and under which name it is handed out.

A stored name is served only when a row refers to it (a sample's read files or
pre-process output, a result, a fused result, a saved analysis): the sets that
row belongs to decide who may download it (W2).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..results.models import AnalysisFile, FusedFile, ResultsFile
from . import storage
from .models import SampleSetMembership, SequenceFile

UPLOADS, RESULTS = "upload", "results"
_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f"\\/;:*?<>|]+')


@dataclass(frozen=True)
class StoredFile:
    stored_name: str
    area: str  # UPLOADS or RESULTS
    sample_set_ids: tuple[int, ...]
    display_name: str | None = None  # the user-visible name when the row keeps one

    def path(self, settings: Mapping[str, Any]) -> Path:
        directory = settings["vidjil.upload_dir"] if self.area == UPLOADS else settings["vidjil.results_dir"]
        return storage.resolve(directory, self.stored_name)


def _sets_of_samples(db: Session, sequence_file_ids: list[int]) -> tuple[int, ...]:
    if not sequence_file_ids:
        return ()
    return tuple(dict.fromkeys(s for s in db.scalars(
        select(SampleSetMembership.sample_set_id).where(SampleSetMembership.sequence_file_id.in_(sequence_file_ids))
        .order_by(SampleSetMembership.id)) if s is not None))


def find_stored_file(db: Session, stored: str) -> StoredFile | None:
    """The row behind a stored name, or None when no row refers to it (or the name is unsafe)."""
    if not storage.is_valid_stored_name(stored):
        return None
    table = (storage.table_of(stored) or "").split(".")[0]
    if table == "sequence_file":
        for sample_id, data_file, data_file2, filename in db.execute(
            select(SequenceFile.id, SequenceFile.data_file, SequenceFile.data_file2, SequenceFile.filename)
            .where(or_(SequenceFile.data_file == stored, SequenceFile.data_file2 == stored))
        ):
            name = filename if data_file == stored else None
            return StoredFile(stored, UPLOADS, _sets_of_samples(db, [sample_id]), name or None)
        sample_ids = list(db.scalars(select(SequenceFile.id).where(SequenceFile.pre_process_file == stored)))
        if sample_ids:
            return StoredFile(stored, RESULTS, _sets_of_samples(db, sample_ids))
        return None
    if table == "results_file":
        sample_ids = [s for s in db.scalars(
            select(ResultsFile.sequence_file_id).where(ResultsFile.data_file == stored)) if s is not None]
        if not sample_ids:
            return None
        return StoredFile(stored, RESULTS, _sets_of_samples(db, sample_ids))
    models = {"fused_file": (FusedFile, FusedFile.fused_file), "analysis_file": (AnalysisFile, AnalysisFile.analysis_file)}
    if table in models:
        model, column = models[table]
        set_ids = [s for s in db.scalars(select(model.sample_set_id).where(column == stored)) if s is not None]
        if not set_ids:
            return None
        return StoredFile(stored, RESULTS, tuple(dict.fromkeys(set_ids)))
    return None


def safe_download_name(requested: str | None, stored: StoredFile) -> str:
    """The name offered to the browser: `filename=` if given, else the original one; no path,
    quote, separator or control character survives."""
    name = (requested or "").strip() or stored.display_name or storage.original_name(stored.stored_name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME_CHARS.sub("_", unicodedata.normalize("NFC", name)).strip(" .")
    return name[:200] or "download"


def content_disposition(name: str) -> str:
    """`attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = re.sub(r"[^A-Za-z0-9._ ()+,=@~-]", "_", ascii_name).strip() or "download"
    value = f'attachment; filename="{ascii_name}"'
    if ascii_name != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value
