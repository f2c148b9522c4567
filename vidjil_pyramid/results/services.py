"""Results of analyses: which result is current, which set a result belongs to, deleting
results, the job's output files, and the admin's list. Knows nothing of HTTP.

Stored files are only removed once the transaction that dropped their rows has
committed (`remove_files_once_committed`), and files written for rows that are
then rolled back are removed again (`discard_files_unless_committed`): a failed
request leaves neither a row without its file nor a file nobody refers to.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from sqlalchemy import delete, false, select
from sqlalchemy.orm import Session

from ..admin.models import Config
from ..auth.models import Permission
from ..files.models import SampleSetMembership, SequenceFile
from ..files.storage import StorageError, resolve
from ..jobs.models import SchedulerRun
from ..sample_sets.models import DETAIL_MODELS, Patient, Run, SampleSet
from .models import AnalysisFile, FusedFile, ResultsFile

log = logging.getLogger(__name__)

class ResultsError(ValueError):
    """A request about results that cannot be honoured; the message is for the user."""


# --- which set ---------------------------------------------------------------------------------

def resolve_sample_set_id(db: Session, sample_set_id: int | None = None, patient_id: int | None = None,
                          run_id: int | None = None) -> int | None:
    """The set named directly, or through its patient or run row (older browser links)."""
    if patient_id is not None:
        return db.scalar(select(Patient.sample_set_id).where(Patient.id == patient_id))
    if run_id is not None:
        return db.scalar(select(Run.sample_set_id).where(Run.id == run_id))
    return sample_set_id


@dataclass(frozen=True)
class SetDetail:
    """A set with its typed row (patient, run or generic)."""

    sample_set_id: int
    sample_type: str
    detail: Any | None

    @property
    def detail_id(self) -> int | None:
        return self.detail.id if self.detail is not None else None


def set_detail(db: Session, sample_set_id: int) -> SetDetail | None:
    sample_set = db.get(SampleSet, sample_set_id)
    if sample_set is None:
        return None
    model = DETAIL_MODELS.get(sample_set.sample_type or "")
    detail = None
    if model is not None:
        detail = db.scalars(
            select(model).where(model.sample_set_id == sample_set_id).order_by(model.id).limit(1)).first()
    return SetDetail(sample_set_id, sample_set.sample_type or "", detail)


def owner_group_id(db: Session, sample_set_id: int, sample_type: str | None = None,
                   detail_id: int | None = None) -> int | None:
    """The group owning a set: the first group given access to it (era C), else to its
    typed row (imported era-B data). Tags of the set are registered for this group."""
    group_id = db.scalar(
        select(Permission.group_id).where(Permission.name == "access", Permission.table_name == "sample_set",
                                          Permission.record_id == sample_set_id)
        .order_by(Permission.id).limit(1))
    if group_id is None and sample_type and detail_id is not None:
        group_id = db.scalar(
            select(Permission.group_id).where(Permission.name == "access", Permission.table_name == sample_type,
                                              Permission.record_id == detail_id)
            .order_by(Permission.id).limit(1))
    return group_id


# --- results and the sets they belong to ------------------------------------------------------

def sets_of_result(db: Session, results_file_id: int) -> list[int]:
    """Ids of the sets whose samples include the result's sample, in membership order."""
    rows = db.scalars(
        select(SampleSetMembership.sample_set_id)
        .join(ResultsFile, ResultsFile.sequence_file_id == SampleSetMembership.sequence_file_id)
        .join(SampleSet, SampleSet.id == SampleSetMembership.sample_set_id)
        .where(ResultsFile.id == results_file_id)
        .order_by(SampleSetMembership.id)
    ).all()
    return list(dict.fromkeys(rows))


def result_in_set(db: Session, results_file_id: int, sample_set_id: int) -> bool:
    """Does the result belong to a sample of this set? (W17: ids from a request are checked.)"""
    return db.scalar(
        select(ResultsFile.id)
        .join(SampleSetMembership, SampleSetMembership.sequence_file_id == ResultsFile.sequence_file_id)
        .where(ResultsFile.id == results_file_id, SampleSetMembership.sample_set_id == sample_set_id)
        .limit(1)
    ) is not None


def current_results(db: Session, sequence_file_ids: Iterable[int], config_id: int) -> dict[int, ResultsFile]:
    """The current result of each sample for a config: its newest visible (non-hidden) run.

    Hidden rows are read extractions, never shown nor fused. One query.
    """
    file_ids = sorted({int(i) for i in sequence_file_ids})
    if not file_ids:
        return {}
    rows = db.scalars(
        select(ResultsFile)
        .where(ResultsFile.sequence_file_id.in_(file_ids), ResultsFile.config_id == config_id,
               ResultsFile.hidden == false())
        .order_by(ResultsFile.sequence_file_id, ResultsFile.run_date.desc(), ResultsFile.id.desc())
    ).all()
    current: dict[int, ResultsFile] = {}
    for row in rows:
        current.setdefault(row.sequence_file_id, row)
    return current


@dataclass
class DeletedResults:
    """What a deletion removed, for the caller to re-fuse and to clean the disk after commit."""

    results_file_ids: list[int]
    config_ids: set[int]
    stored_names: list[str]


def delete_results_of_files(db: Session, sequence_file_ids: Iterable[int]) -> DeletedResults:
    """Delete every result of these samples (a sample deleted with its results, or re-uploaded).

    The rows go now; their files are the caller's to remove once committed
    (`remove_files_once_committed`), and the sets' fused files to re-fuse.
    """
    file_ids = sorted({int(i) for i in sequence_file_ids})
    if not file_ids:
        return DeletedResults([], set(), [])
    rows = db.execute(
        select(ResultsFile.id, ResultsFile.config_id, ResultsFile.data_file)
        .where(ResultsFile.sequence_file_id.in_(file_ids)).order_by(ResultsFile.id)
    ).all()
    if rows:
        db.execute(delete(ResultsFile).where(ResultsFile.id.in_([r.id for r in rows])))
        db.flush()
    return DeletedResults(
        results_file_ids=[r.id for r in rows],
        config_ids={r.config_id for r in rows if r.config_id is not None},
        stored_names=[r.data_file for r in rows if r.data_file],
    )


@dataclass
class ResultDeletion:
    """The outcome of deleting one result."""

    results_file_id: int
    config_id: int | None
    refused_set_ids: list[int]
    emptied_set_ids: list[int]
    stored_names: list[str]


def delete_result(db: Session, results_file_id: int,
                  schedule_refuse: Callable[[list[int], list[int]], Any]) -> ResultDeletion:
    """Delete a result, then bring the fused files of every set holding its sample up to date.

    A set that still has visible results for that config is re-fused
    (`schedule_refuse(set_ids, [config_id])`); a set that has none loses its
    fused files for that config. The original only looked at the set the
    request came from, leaving the sample in the fused files of its other sets.
    """
    result = db.get(ResultsFile, results_file_id)
    if result is None:
        raise ResultsError(f"result {results_file_id} does not exist")
    config_id = result.config_id
    set_ids = sets_of_result(db, results_file_id)
    stored = [result.data_file] if result.data_file else []
    db.delete(result)
    db.flush()

    refused: list[int] = []
    emptied: list[int] = []
    if config_id is not None:
        for set_id in set_ids:
            (refused if _visible_results_in_set(db, set_id, config_id) else emptied).append(set_id)
        if emptied:
            fused = db.execute(
                select(FusedFile.id, FusedFile.fused_file)
                .where(FusedFile.sample_set_id.in_(emptied), FusedFile.config_id == config_id)
            ).all()
            if fused:
                db.execute(delete(FusedFile).where(FusedFile.id.in_([f.id for f in fused])))
                stored.extend(f.fused_file for f in fused if f.fused_file)
        db.flush()
        if refused:
            schedule_refuse(refused, [config_id])
    return ResultDeletion(results_file_id, config_id, refused, emptied, stored)


def _visible_results_in_set(db: Session, sample_set_id: int, config_id: int) -> bool:
    return db.scalar(
        select(ResultsFile.id)
        .join(SampleSetMembership, SampleSetMembership.sequence_file_id == ResultsFile.sequence_file_id)
        .where(SampleSetMembership.sample_set_id == sample_set_id, ResultsFile.config_id == config_id,
               ResultsFile.hidden == false())
        .limit(1)
    ) is not None


def unreferenced_stored_names(db: Session, names: Iterable[str]) -> list[str]:
    """Those of `names` that no results, fused or analysis row refers to any more."""
    names = sorted(set(n for n in names if n))
    if not names:
        return []
    used = set(db.scalars(select(ResultsFile.data_file).where(ResultsFile.data_file.in_(names))))
    used |= set(db.scalars(select(FusedFile.fused_file).where(FusedFile.fused_file.in_(names))))
    used |= set(db.scalars(select(AnalysisFile.analysis_file).where(AnalysisFile.analysis_file.in_(names))))
    used |= set(db.scalars(select(SequenceFile.pre_process_file).where(SequenceFile.pre_process_file.in_(names))))
    return [n for n in names if n not in used]


# --- files and transactions --------------------------------------------------------------------

def _unlink_quietly(paths: Iterable[Path]) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            log.warning("could not remove %s", path, exc_info=True)


def remove_files_once_committed(txn, paths: Iterable[Path]) -> None:
    """Remove files when (and only if) the transaction that dropped their rows commits."""
    paths = list(paths)
    if not paths:
        return

    def after_commit(committed: bool) -> None:
        if committed:
            _unlink_quietly(paths)

    txn.addAfterCommitHook(after_commit)


def discard_files_unless_committed(txn, paths: Iterable[Path]) -> None:
    """Remove files written for rows of a transaction that ends up not committed."""
    paths = list(paths)

    def after_commit(committed: bool) -> None:
        if not committed:
            _unlink_quietly(paths)

    txn.addAfterCommitHook(after_commit)
    txn.addAfterAbortHook(lambda: _unlink_quietly(paths))


def stored_paths(directory: str | Path, names: Iterable[str]) -> list[Path]:
    """Paths of stored files in their directory (names that could lead elsewhere are left out)."""
    paths = []
    for name in names:
        try:
            paths.append(resolve(directory, name))
        except StorageError:
            log.warning("not a stored file name: %r", name)
    return paths


# --- the job's output directory (jobs.paths.analysis_dir) --------------------------------------

SIZE_PREFIXES = ("", "k", "M", "G", "T", "P")


def format_size(size: int) -> str:
    """Three significant digits with an SI prefix: `42 B`, `123 kB`, `1.00 MB`."""
    value = float(size)
    prefix = ""
    for prefix in SIZE_PREFIXES:
        if value < 1000 or prefix == SIZE_PREFIXES[-1]:
            break
        value /= 1000
    if not prefix or value >= 100:
        return f"{value:.0f} {prefix}B"
    if value >= 10:
        return f"{value:.1f} {prefix}B"
    return f"{value:.2f} {prefix}B"


@dataclass(frozen=True)
class OutputFile:
    filename: str
    size: int

    @property
    def size_text(self) -> str:
        return format_size(self.size)


def list_output_files(directory: Path) -> list[OutputFile]:
    """The regular files of an output directory (not its sub-directories), by name."""
    if not directory.is_dir():
        return []
    found = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                found.append(OutputFile(entry.name, entry.stat(follow_symlinks=False).st_size))
    return sorted(found, key=lambda f: f.filename)


def output_file_path(directory: Path, filename: str | None) -> Path:
    """A file directly inside the output directory, or ResultsError: no `..`, no `/`,
    no link or name leading elsewhere."""
    if not filename or ".." in filename or "/" in filename or "\\" in filename or "\x00" in filename:
        raise ResultsError("invalid file name")
    root = directory.resolve()
    path = directory / filename
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise ResultsError("File could not be read") from None
    if resolved.parent != root or not resolved.is_file() or path.is_symlink():
        raise ResultsError("File could not be read")
    return resolved


# --- one result and its job --------------------------------------------------------------------

@dataclass(frozen=True)
class ResultDetails:
    result: ResultsFile
    sequence_file: SequenceFile | None
    config: Config | None
    run: SchedulerRun | None


def result_details(db: Session, results_file_id: int) -> ResultDetails | None:
    """A result with its sample, config and the latest execution of its job."""
    result = db.get(ResultsFile, results_file_id)
    if result is None:
        return None
    run = None
    if result.scheduler_task_id is not None:
        run = db.scalars(select(SchedulerRun).where(SchedulerRun.task_id == result.scheduler_task_id)
                         .order_by(SchedulerRun.id.desc()).limit(1)).first()
    return ResultDetails(
        result=result,
        sequence_file=db.get(SequenceFile, result.sequence_file_id) if result.sequence_file_id else None,
        config=db.get(Config, result.config_id) if result.config_id else None,
        run=run,
    )


# --- the admin's list of patient results -------------------------------------------------------

@dataclass(frozen=True)
class ResultRow:
    results_file_id: int
    sequence_file_id: int
    sample_set_id: int
    filename: str
    config_id: int
    config_name: str
    patient_name: str
    producer: str
    run_date: dt.datetime | None
    status: str

    def search_text(self) -> list[str]:
        run_date = str(self.run_date) if self.run_date else ""
        return [s.lower() for s in (self.filename, self.config_name, self.patient_name, self.producer,
                                    run_date, self.status)]


SORT_KEYS: dict[str, Callable[[ResultRow], Any]] = {
    "filename": lambda r: r.filename.lower(),
    "name": lambda r: r.patient_name.lower(),
    "patient": lambda r: r.patient_name.lower(),
    "config": lambda r: r.config_name.lower(),
    "producer": lambda r: r.producer.lower(),
    "run_date": lambda r: (r.run_date is not None, r.run_date or dt.datetime.min),
    "status": lambda r: r.status,
}


def matches_filter(texts: list[str], filter_text: str | None) -> bool:
    """Every word must appear in one of the texts; a word starting with `-` must appear in none."""
    for word in (filter_text or "").lower().split():
        if word.startswith("-") and len(word) > 1:
            if any(word[1:] in text for text in texts):
                return False
        elif not any(word in text for text in texts):
            return False
    return True


def patient_result_rows(db: Session, statuses: Callable[[list[int]], dict[int, str]],
                        filter_text: str | None = None, sort: str | None = None,
                        reverse: bool = False) -> list[ResultRow]:
    """Every visible result of a patient's sample, newest run first, filtered and sorted.

    Administrators only: patient names are shown in full. `statuses` gives the job
    status of task ids (one query for all).
    """
    rows = db.execute(
        select(ResultsFile.id, ResultsFile.sequence_file_id, ResultsFile.run_date, ResultsFile.scheduler_task_id,
               SequenceFile.filename, SequenceFile.producer, Config.id.label("config_id"),
               Config.name.label("config_name"), Patient.first_name, Patient.last_name, Patient.sample_set_id)
        .join(SequenceFile, SequenceFile.id == ResultsFile.sequence_file_id)
        .join(SampleSetMembership, SampleSetMembership.sequence_file_id == SequenceFile.id)
        .join(Patient, Patient.sample_set_id == SampleSetMembership.sample_set_id)
        .join(Config, Config.id == ResultsFile.config_id)
        .where(ResultsFile.hidden == false())
        .order_by(ResultsFile.run_date.desc(), ResultsFile.id.desc())
    ).all()
    task_ids = sorted({r.scheduler_task_id for r in rows if r.scheduler_task_id is not None})
    status_of = statuses(task_ids) if task_ids else {}
    results = [
        ResultRow(
            results_file_id=r.id, sequence_file_id=r.sequence_file_id, sample_set_id=r.sample_set_id,
            filename=r.filename or "", config_id=r.config_id, config_name=r.config_name or "",
            patient_name=f"{r.last_name or ''} {r.first_name or ''}".strip(), producer=r.producer or "",
            run_date=r.run_date,
            status=status_of.get(r.scheduler_task_id, "") if r.scheduler_task_id is not None else "",
        )
        for r in rows
    ]
    results = [r for r in results if matches_filter(r.search_text(), filter_text)]
    if sort in SORT_KEYS:
        results.sort(key=SORT_KEYS[sort], reverse=reverse)
    return results
