"""What `get_data` serves: the newest fused file of a (set, config), with the database's
view of the set and of each sample written over the file's own.

The fused file's clones are never loaded (see `serve`); only `samples` and
`distributions` are parsed and rewritten. Knows nothing of HTTP.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import Session

from ..admin.models import Config
from ..auth.models import UserLog
from ..files.models import SampleSetMembership, SequenceFile
from ..files.storage import StorageError, resolve
from ..sample_sets.models import GENERIC, PATIENT, RUN, Patient, SampleSet
from .models import FusedFile, ResultsFile
from .serve import DocumentError, ServedDocument, serve_rewritten
from .services import ResultsError, owner_group_id, set_detail

DELETED_SAMPLE_INFO = ("this file has been deleted from the database, "
                       "info relative to this sample are no longer available")
DELETED_SAMPLE_NAME = "deleted"
# The only top-level values get_data parses (to rewrite them); the others are copied as stored.
PARSED_KEYS = ("samples", "distributions")
ID_KEY_OF_TYPE = {PATIENT: "patient_id", RUN: "run_id", GENERIC: "generic_id"}


class FusedFileNotFound(ResultsError):
    """No fused file (row or file on disk) for this set and config."""


@dataclass(frozen=True)
class SampleRecord:
    """A sample of the set with its current result for the config: what a fused sample is matched to."""

    sequence_file_id: int
    results_file_id: int
    sequence_data_file: str | None
    result_data_file: str | None
    filename: str | None
    info: str | None
    sampling_date: dt.date | None


def sample_records(db: Session, sample_set_id: int, config_id: int) -> list[SampleRecord]:
    """The set's samples with their newest visible result for the config, by sample id."""
    rows = db.execute(
        select(SequenceFile.id, SequenceFile.data_file, SequenceFile.filename, SequenceFile.info,
               SequenceFile.sampling_date, ResultsFile.id.label("results_file_id"),
               ResultsFile.data_file.label("result_data_file"))
        .join(SampleSetMembership, SampleSetMembership.sequence_file_id == SequenceFile.id)
        .join(ResultsFile, ResultsFile.sequence_file_id == SequenceFile.id)
        .where(SampleSetMembership.sample_set_id == sample_set_id, ResultsFile.config_id == config_id,
               ResultsFile.hidden == false())
        .order_by(SequenceFile.id, ResultsFile.run_date.desc(), ResultsFile.id.desc())
    ).all()
    records: dict[int, SampleRecord] = {}
    for row in rows:
        records.setdefault(row.id, SampleRecord(
            sequence_file_id=row.id, results_file_id=row.results_file_id, sequence_data_file=row.data_file,
            result_data_file=row.result_data_file, filename=row.filename, info=row.info,
            sampling_date=row.sampling_date,
        ))
    return list(records.values())


def base_name(original_name: str) -> str:
    """The last path component: fuse records the input paths it was given."""
    return str(original_name).split("/")[-1]


def _stem(name: str | None) -> str | None:
    return os.path.splitext(name)[0] if name else None


def match_sample(name: str, records: Iterable[SampleRecord]) -> SampleRecord | None:
    """The sample a fused sample came from, found by its (base) original name.

    In order: the sample's stored file name (analyses of uploaded reads); the
    result's stored file name (AIRR/clntab imports, whose result is the input);
    the sample's file name without extension (imported `.vidjil` files).
    """
    records = list(records)
    for record in records:
        if record.sequence_data_file == name:
            return record
    for record in records:
        if record.result_data_file == name:
            return record
    stem = _stem(name)
    for record in records:
        if _stem(record.filename) == stem:
            return record
    return None


# Per-sample arrays get_data writes (all rebuilt from the database).
SAMPLE_FIELDS = ("info", "timestamp", "sequence_file_id", "results_file_id", "config_id", "names", "db_key",
                 "id", "patient_id", "sample_name", "run_id", "commandline")


def rewrite_samples(samples: Mapping[str, Any], distributions: Mapping[str, Any] | None,
                    records: list[SampleRecord], config_param: str, command: str | None,
                    patient_ids: Mapping[int, int]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """`samples` (and `distributions.repertoires`) as the browser expects them from the server.

    Every per-sample array has one entry per original name: unlike the original,
    unmatched (deleted) samples also get `patient_id` -1 and empty `sample_name`
    and `run_id`, so that the arrays stay aligned with the samples.
    """
    samples = dict(samples)
    names = samples.get("original_names")
    if not isinstance(names, list):
        raise DocumentError("the fused file has no samples.original_names list")
    repertoires = None
    if isinstance(distributions, Mapping) and isinstance(distributions.get("repertoires"), Mapping):
        distributions = dict(distributions)
        repertoires = dict(distributions["repertoires"])
        distributions["repertoires"] = repertoires
    columns: dict[str, list[Any]] = {field: [] for field in SAMPLE_FIELDS}
    trimmed_names = []
    for original in names:
        name = base_name(original)
        trimmed_names.append(name)
        if repertoires is not None and original in repertoires and original != name:
            repertoires[name] = repertoires.pop(original)
        record = match_sample(name, records)
        columns["config_id"].append(config_param)
        columns["db_key"].append("")
        columns["commandline"].append(command)
        if record is None:
            columns["info"].append(DELETED_SAMPLE_INFO)
            columns["timestamp"].append("None")
            columns["names"].append(DELETED_SAMPLE_NAME)
            for field in ("sequence_file_id", "results_file_id", "id", "sample_name", "run_id"):
                columns[field].append("")
            columns["patient_id"].append(-1)
            continue
        columns["info"].append(record.info)
        columns["timestamp"].append(str(record.sampling_date))
        columns["names"].append((record.filename or "").split(".")[0])
        columns["results_file_id"].append(record.results_file_id)
        for field in ("sequence_file_id", "id", "sample_name", "run_id"):
            columns[field].append(record.sequence_file_id)
        columns["patient_id"].append(patient_ids.get(record.sequence_file_id, -1))
    samples["original_names"] = trimmed_names
    samples.update(columns)
    return samples, (distributions if repertoires is not None else None)


def patient_ids_of_files(db: Session, sequence_file_ids: Iterable[int]) -> dict[int, int]:
    """For each sample, the patient row of a patient set holding it (the last one), in one query."""
    file_ids = sorted(set(sequence_file_ids))
    if not file_ids:
        return {}
    rows = db.execute(
        select(SampleSetMembership.sequence_file_id, Patient.id)
        .join(SampleSet, SampleSet.id == SampleSetMembership.sample_set_id)
        .join(Patient, Patient.sample_set_id == SampleSet.id)
        .where(SampleSetMembership.sequence_file_id.in_(file_ids), SampleSet.sample_type == PATIENT)
        .order_by(SampleSetMembership.id, Patient.id)
    ).all()
    return {file_id: patient_id for file_id, patient_id in rows}


def set_logs(db: Session, sample_set_id: int, sample_type: str, detail_id: int | None) -> list[dict[str, str]]:
    """Audit lines recorded about the set or its typed row (legacy data only)."""
    conditions = [and_(UserLog.table_name == "sample_set", UserLog.record_id == sample_set_id)]
    if detail_id is not None:
        conditions.append(and_(UserLog.table_name == sample_type, UserLog.record_id == detail_id))
    rows = db.execute(select(UserLog.msg, UserLog.created).where(or_(*conditions))
                      .order_by(UserLog.created, UserLog.id)).all()
    return [{"message": msg, "created": str(created)} for msg, created in rows]


def latest_fused_file(db: Session, sample_set_id: int, config_id: int) -> FusedFile | None:
    return db.scalars(
        select(FusedFile).where(FusedFile.sample_set_id == sample_set_id, FusedFile.config_id == config_id,
                                FusedFile.fused_file.is_not(None))
        .order_by(FusedFile.fuse_date.desc(), FusedFile.id.desc()).limit(1)
    ).first()


def set_fields(db: Session, permissions, sample_set_id: int, config_name: str) -> dict[str, Any]:
    """The set's top-level fields: names (patients anonymised for this user), info, ids, owner, logs."""
    found = set_detail(db, sample_set_id)
    if found is None:
        raise FusedFileNotFound("file not found")
    fields: dict[str, Any] = {}
    detail = found.detail
    if detail is not None and found.sample_type in ID_KEY_OF_TYPE:
        if found.sample_type == PATIENT:
            name = permissions.display_name_patient(sample_set_id, detail.first_name, detail.last_name)
        else:
            name = detail.name or ""
        fields.update({
            "dataFileName": f"{name} ({config_name})",
            "info": detail.info,
            ID_KEY_OF_TYPE[found.sample_type]: detail.id,
            "sample_name": name,
            "group_id": owner_group_id(db, sample_set_id, found.sample_type, detail.id),
        })
    fields["logs"] = set_logs(db, sample_set_id, found.sample_type, found.detail_id)
    fields["sample_set_id"] = sample_set_id
    fields["config_name"] = config_name
    return fields


def fused_document(db: Session, permissions, results_dir: str | Path, sample_set_id: int,
                   config_id: int, config_param: str) -> ServedDocument:
    """The answer of get_data, ready to stream. The caller has checked the right to view the set.

    `config_param` is the config id as the request gave it: the browser gets it
    back, as a string, in `samples.config_id`.
    """
    row = latest_fused_file(db, sample_set_id, config_id)
    if row is None:
        raise FusedFileNotFound("file not found")
    try:
        path = resolve(results_dir, row.fused_file)
    except StorageError:
        raise FusedFileNotFound("file not found") from None
    if not path.is_file():
        raise FusedFileNotFound("file not found")
    config = db.get(Config, config_id)
    config_name = (config.name if config else None) or ""
    command = config.command if config else None
    fields = set_fields(db, permissions, sample_set_id, config_name)
    records = sample_records(db, sample_set_id, config_id)
    patient_ids = patient_ids_of_files(db, [r.sequence_file_id for r in records])

    def rewrite(parsed: Mapping[str, Any]) -> dict[str, Any]:
        samples = parsed.get("samples")
        if not isinstance(samples, dict):
            raise DocumentError("the fused file has no samples object")
        new_samples, distributions = rewrite_samples(samples, parsed.get("distributions"), records,
                                                     config_param, command, patient_ids)
        replaced = {**fields, "samples": new_samples}
        if distributions is not None:
            replaced["distributions"] = distributions
        return replaced

    try:
        return serve_rewritten(path, PARSED_KEYS, rewrite)
    except FileNotFoundError:
        raise FusedFileNotFound("file not found") from None
    except DocumentError as exc:
        raise ResultsError(f"the fused file cannot be read ({exc})") from None
