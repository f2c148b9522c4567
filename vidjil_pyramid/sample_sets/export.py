"""`sample_set/result_files`: the result files of some sets as one zip, with a metadata.json.

The archive is produced while it is sent: each result file is read in chunks
and compressed into the response, so neither memory nor a temporary file grows
with the size of the export. Everything from the database is read before the
first byte goes out; only files are read afterwards.
"""
from __future__ import annotations

import datetime as dt
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.permissions import Permissions
from ..files.models import SampleSetMembership, SequenceFile
from ..files.storage import StorageError, resolve
from ..results.models import ResultsFile
from .listing import permitted_among
from .models import DETAIL_MODELS, PATIENT, SampleSet
from .display import set_name

READ_CHUNK = 1024 * 1024
ZIP64_THRESHOLD = 2**31 - 1


@dataclass(frozen=True)
class ArchivedFile:
    arcname: str
    path: Path


@dataclass
class ExportPlan:
    filename: str
    files: list[ArchivedFile] = field(default_factory=list)
    metadata: list[dict[str, Any]] = field(default_factory=list)


def export_filename(sample_set_ids: Sequence[int], today: dt.date | None = None) -> str:
    return "export_%s_%s.zip" % ("-".join(str(i) for i in sample_set_ids), (today or dt.date.today()).isoformat())


def plan_export(db: Session, perms: Permissions, results_dir: str | Path, sample_set_ids: Sequence[int],
                config_id: int | None) -> ExportPlan:
    """The visible (non-hidden) results of the sets' samples, for one config or all (`None`).

    The caller has checked that every set is readable; patient names follow the
    viewer's anonymisation rule. Results whose file is gone are listed in the
    metadata with `"missing": true` instead of failing the whole export.
    """
    plan = ExportPlan(export_filename(sample_set_ids))
    statement = (
        select(SampleSetMembership.sample_set_id, ResultsFile, SequenceFile)
        .join(SequenceFile, SequenceFile.id == SampleSetMembership.sequence_file_id)
        .join(ResultsFile, ResultsFile.sequence_file_id == SequenceFile.id)
        .where(SampleSetMembership.sample_set_id.in_(sample_set_ids), ResultsFile.data_file.is_not(None),
               ResultsFile.hidden.is_(False))
        .order_by(SampleSetMembership.sample_set_id, SequenceFile.id, ResultsFile.id)
    )
    if config_id is not None:
        statement = statement.where(ResultsFile.config_id == config_id)
    else:
        statement = statement.where(ResultsFile.config_id.is_not(None))
    rows = db.execute(statement).all()
    descriptions = _set_descriptions(db, perms, sample_set_ids)
    archived: set[str] = set()
    for set_id, result, sequence_file in rows:
        name, info = descriptions.get(set_id, ("", ""))
        entry = {"id": set_id, "name": name, "file": result.data_file, "set_info": info,
                 "sample_info": sequence_file.info, "sequence_file": sequence_file.filename}
        try:
            path = resolve(results_dir, result.data_file)
        except StorageError:
            path = None
        if path is None or not path.is_file():
            entry["missing"] = True
        elif result.data_file not in archived:
            archived.add(result.data_file)
            plan.files.append(ArchivedFile(result.data_file, path))
        plan.metadata.append(entry)
    return plan


def _set_descriptions(db: Session, perms: Permissions, sample_set_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    types = dict(db.execute(select(SampleSet.id, SampleSet.sample_type).where(SampleSet.id.in_(sample_set_ids))).all())
    identity_ids = permitted_among(db, perms, [i for i, t in types.items() if t == PATIENT], "anon")
    found: dict[int, tuple[str, str]] = {}
    for sample_type, model in DETAIL_MODELS.items():
        ids = [i for i, t in types.items() if t == sample_type]
        if ids:
            for detail in db.scalars(select(model).where(model.sample_set_id.in_(ids)).order_by(model.id)):
                found.setdefault(detail.sample_set_id, (set_name(sample_type, detail, detail.sample_set_id in identity_ids),
                                                        detail.info or ""))
    return found


class _Spool:
    """A write-only sink the zip writer fills and the response drains."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def stream_zip(plan: ExportPlan) -> Iterator[bytes]:
    """The archive's bytes, produced chunk by chunk."""
    spool = _Spool()
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in plan.files:
            size = item.path.stat().st_size
            with item.path.open("rb") as source, \
                    archive.open(item.arcname, "w", force_zip64=size > ZIP64_THRESHOLD) as target:
                while chunk := source.read(READ_CHUNK):
                    target.write(chunk)
                    data = spool.drain()
                    if data:
                        yield data
            data = spool.drain()
            if data:
                yield data
        archive.writestr("metadata.json", json.dumps(plan.metadata, default=str))
    yield spool.drain()
