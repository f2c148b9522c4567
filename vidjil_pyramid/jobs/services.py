"""Jobs: scheduling analyses, pre-processes and re-fuses, stopping them, reading their state.

The job row (`scheduler_task`, with web2py's statuses and argument layout) is the
source of truth; publishing its id is deferred to the publisher, which sends it
only after the caller's transaction commits. Nothing here knows HTTP; permission
checks belong to the callers.

Argument layouts (kept from web2py so imported and new rows read alike):
analysis `[sequence_file_id, config_id, results_file_id, grep_reads]` with the
config's program as function name; `pre_process` `[pre_process_id, sequence_file_id]`;
`refuse` `[[[sequence_file_id, config_id, results_file_id, sample_set_id, false], ...]]`.

A run waiting for its sample's pre-process is *parked*: status STOPPED with
`enabled` true (web2py's convention); a job stopped by a user has `enabled` false.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import Session

from ..admin.models import Config
from ..files.models import PreProcess, SampleSetMembership, SequenceFile
from ..results.models import ResultsFile
from ..sample_sets.models import Generic, Patient, Run, SampleSet
from .broker import ANALYSIS, FUSE, PRE_PROCESS
from .dispatch import JobPublisher
from .models import (
    ASSIGNED, COMPLETED, FAILED, QUEUED, RUNNING, STOPPED, TERMINAL_STATUSES, SchedulerRun, SchedulerTask,
    SchedulerWorker,
)

PROGRAMS = ("vidjil", "mixcr", "igrec", "none")
PRE_PROCESS_FUNCTION = "pre_process"
REFUSE_FUNCTION = "refuse"
QUEUE_OF_FUNCTION = {**{program: ANALYSIS for program in PROGRAMS},
                     PRE_PROCESS_FUNCTION: PRE_PROCESS, REFUSE_FUNCTION: FUSE}
ACTIVE_STATUSES = (QUEUED, ASSIGNED, RUNNING)
PRE_PROCESS_DONE = ("COMPLETED", "DONE")
PRE_PROCESS_WAIT, PRE_PROCESS_RUN, PRE_PROCESS_FAILED = "WAIT", "RUN", "FAILED"
APPLICATION_NAME = "vidjil/default"
_NUCLEOTIDES = re.compile(r"^[acgtnACGTN]{1,10000}$")
DEFAULT_MIN_FREE_PERCENT = 1.0


class JobError(ValueError):
    """A job that cannot be scheduled or changed; the message is meant for the user."""


class DuplicateJob(JobError):
    """The same work is already queued or running."""


def now() -> dt.datetime:
    """Job times are local and to the second, as web2py wrote them."""
    return dt.datetime.now().replace(microsecond=0)


# --- arguments ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class AnalysisArgs:
    sequence_file_id: int
    config_id: int
    results_file_id: int
    grep_reads: str | None


def _load_args(task: SchedulerTask) -> list:
    try:
        args = json.loads(task.args or "[]")
    except ValueError:
        raise ValueError(f"task {task.id}: arguments are not JSON") from None
    if not isinstance(args, list):
        raise ValueError(f"task {task.id}: arguments are not a list")
    return args


def _positive(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit() or int(value) <= 0:
        raise ValueError(f"invalid {what}: {value!r}")
    return int(value)


def analysis_args(task: SchedulerTask) -> AnalysisArgs:
    """The arguments of an analysis job; ValueError if the row is malformed."""
    args = _load_args(task)
    if len(args) < 3:
        raise ValueError(f"task {task.id}: expected [sequence_file, config, results_file, grep_reads]")
    grep = args[3] if len(args) > 3 else None
    if grep is not None and (not isinstance(grep, str) or not _NUCLEOTIDES.match(grep)):
        raise ValueError(f"task {task.id}: grep_reads is not a nucleotide sequence")
    return AnalysisArgs(_positive(args[0], "sequence file id"), _positive(args[1], "config id"),
                        _positive(args[2], "results file id"), grep)


def pre_process_args(task: SchedulerTask) -> tuple[int, int]:
    """(pre_process_id, sequence_file_id) of a pre-process job."""
    args = _load_args(task)
    if len(args) < 2:
        raise ValueError(f"task {task.id}: expected [pre_process, sequence_file]")
    return _positive(args[0], "pre-process id"), _positive(args[1], "sequence file id")


def refuse_pairs(task: SchedulerTask) -> list[tuple[int, int]]:
    """The (sample_set_id, config_id) pairs a re-fuse job must fuse, in order, without repeats."""
    args = _load_args(task)
    entries = args[0] if args and isinstance(args[0], list) else []
    pairs: list[tuple[int, int]] = []
    for entry in entries:
        if not isinstance(entry, list) or len(entry) < 4:
            raise ValueError(f"task {task.id}: malformed re-fuse entry {entry!r}")
        pair = (_positive(entry[3], "sample set id"), _positive(entry[1], "config id"))
        if pair not in pairs:
            pairs.append(pair)
    if not pairs:
        raise ValueError(f"task {task.id}: nothing to fuse")
    return pairs


def is_parked(task: SchedulerTask) -> bool:
    """Waiting for its sample's pre-process (not stopped by a user)."""
    return task.status == STOPPED and task.enabled is not False


def _parked_condition():
    return (SchedulerTask.status == STOPPED) & or_(SchedulerTask.enabled.is_(None), SchedulerTask.enabled.is_(True))


def pre_process_pending(flag: str | None) -> bool:
    return bool(flag) and flag not in PRE_PROCESS_DONE and flag != PRE_PROCESS_FAILED


# --- scheduling --------------------------------------------------------------------------------

def _get(db: Session, model, record_id: Any, what: str):
    try:
        key = _positive(record_id, f"{what} id")
    except ValueError:
        raise JobError(f"invalid {what} id") from None
    row = db.get(model, key)
    if row is None:
        raise JobError(f"no {what} with id {key}")
    return row


def _new_task(publisher: JobPublisher, function: str, args: list, status: str = QUEUED) -> SchedulerTask:
    created = now()
    return SchedulerTask(
        application_name=APPLICATION_NAME, task_name=function, group_name="main", status=status,
        function_name=function, args=json.dumps(args), vars="{}", enabled=True, start_time=created,
        next_run_time=publisher.first_dispatch_deadline(), repeats=1, retry_failed=0,
        timeout=publisher.time_limit, times_run=0, times_failed=0, assigned_worker_name="",
    )


def active_analysis_task_id(db: Session, sequence_file_id: int, config_id: int) -> int | None:
    """A visible analysis of this sample with this config that is queued, running or parked."""
    return db.scalar(
        select(SchedulerTask.id)
        .join(ResultsFile, ResultsFile.scheduler_task_id == SchedulerTask.id)
        .where(ResultsFile.sequence_file_id == sequence_file_id, ResultsFile.config_id == config_id,
               ResultsFile.hidden.is_(False),
               or_(SchedulerTask.status.in_(ACTIVE_STATUSES), _parked_condition()))
        .limit(1)
    )


def runnable_config(db: Session, config_id: Any) -> Config:
    """The config, if its program is one this server runs."""
    config = _get(db, Config, config_id, "config")
    if (config.program or "") not in PROGRAMS:
        raise JobError(f"the config '{config.name}' uses the program '{config.program}', "
                       "which this server does not run")
    return config


def schedule_analysis(db: Session, publisher: JobPublisher, sequence_file_id: Any, config_id: Any,
                      grep_reads: str | None = None) -> SchedulerTask:
    """Create the result row and its job; the job is published after the transaction commits.

    With `grep_reads` (a clone's window) the run extracts that clone's reads and its
    result is hidden. Without it, a second run of the same sample and config while one is
    queued or running is refused (DuplicateJob). A sample whose pre-process is pending
    gets a parked job, released when the pre-process ends.
    """
    sequence_file = _get(db, SequenceFile, sequence_file_id, "sequence file")
    config = runnable_config(db, config_id)
    if grep_reads is not None:
        if not _NUCLEOTIDES.match(grep_reads):
            raise JobError("grep_reads must be a nucleotide sequence (A, C, G, T, N)")
    elif active_analysis_task_id(db, sequence_file.id, config.id) is not None:
        raise DuplicateJob("task already registered")
    flag = sequence_file.pre_process_flag
    if flag == PRE_PROCESS_FAILED:
        raise JobError(f"the pre-process of sample {sequence_file.id} failed: restart it first")
    waiting = pre_process_pending(flag)
    if not waiting and not sequence_file.data_file:
        raise JobError(f"sample {sequence_file.id} has no data file")

    result = ResultsFile(sequence_file_id=sequence_file.id, config_id=config.id, run_date=now(),
                         hidden=grep_reads is not None)
    db.add(result)
    db.flush()
    task = _new_task(publisher, config.program, [sequence_file.id, config.id, result.id, grep_reads],
                     status=STOPPED if waiting else QUEUED)
    db.add(task)
    db.flush()
    result.scheduler_task_id = task.id
    db.flush()
    if not waiting:
        publisher.enqueue(ANALYSIS, task.id)
    return task


@dataclass
class BatchOutcome:
    scheduled: list[SchedulerTask]
    skipped: dict[int, str]  # sequence_file_id -> why


def schedule_set_analyses(db: Session, publisher: JobPublisher, sample_set_id: int,
                          sequence_file_ids: Iterable[int], config_id: Any) -> BatchOutcome:
    """Run a config on the given samples that belong to the set; the others are ignored."""
    config = runnable_config(db, config_id)
    wanted = {int(i) for i in sequence_file_ids}
    members = db.scalars(
        select(SampleSetMembership.sequence_file_id).distinct()
        .where(SampleSetMembership.sample_set_id == sample_set_id,
               SampleSetMembership.sequence_file_id.in_(wanted))
        .order_by(SampleSetMembership.sequence_file_id)
    ).all() if wanted else []
    outcome = BatchOutcome([], {})
    for sequence_file_id in members:
        try:  # every refusal happens before anything is written
            outcome.scheduled.append(schedule_analysis(db, publisher, sequence_file_id, config.id))
        except JobError as exc:
            outcome.skipped[sequence_file_id] = str(exc)
    return outcome


def sample_belongs_to_set(db: Session, sequence_file_id: Any, sample_set_id: Any) -> bool:
    try:
        file_id, set_id = _positive(sequence_file_id, "id"), _positive(sample_set_id, "id")
    except ValueError:
        return False
    return db.scalar(select(SampleSetMembership.id).where(
        SampleSetMembership.sequence_file_id == file_id, SampleSetMembership.sample_set_id == set_id).limit(1)
    ) is not None


def schedule_pre_process(db: Session, publisher: JobPublisher, sequence_file_id: Any,
                         pre_process_id: Any) -> SchedulerTask:
    """Queue the pre-process of a sample (e.g. merging paired reads); stops a previous one."""
    sequence_file = _get(db, SequenceFile, sequence_file_id, "sequence file")
    pre_process = _get(db, PreProcess, pre_process_id, "pre-process")
    if not sequence_file.data_file:
        raise JobError(f"sample {sequence_file.id} has no data file")
    if pre_process.needs_two_files and not sequence_file.data_file2:
        raise JobError(f"the pre-process '{pre_process.name}' needs two files")
    previous = sequence_file.pre_process_scheduler_task_id
    if previous:
        _stop_if_active(db, previous)
    task = _new_task(publisher, PRE_PROCESS_FUNCTION, [pre_process.id, sequence_file.id])
    db.add(task)
    db.flush()
    sequence_file.pre_process_id = pre_process.id
    sequence_file.pre_process_flag = PRE_PROCESS_WAIT
    sequence_file.pre_process_scheduler_task_id = task.id
    db.flush()
    publisher.enqueue(PRE_PROCESS, task.id)
    return task


def restart_pre_process(db: Session, publisher: JobPublisher, sequence_file_id: Any) -> SchedulerTask:
    """"Try again" on a sample whose pre-process failed or was stopped."""
    sequence_file = _get(db, SequenceFile, sequence_file_id, "sequence file")
    if not sequence_file.pre_process_id:
        raise JobError(f"sample {sequence_file.id} has no pre-process")
    previous = sequence_file.pre_process_scheduler_task_id
    if previous and job_status(db, previous) in ACTIVE_STATUSES:
        raise DuplicateJob("task already registered")
    return schedule_pre_process(db, publisher, sequence_file.id, sequence_file.pre_process_id)


def schedule_refuse(db: Session, publisher: JobPublisher, sample_set_ids: Iterable[int],
                    config_ids: Iterable[int]) -> SchedulerTask | None:
    """Re-fuse sets after results were deleted: one job for every (set, config) that still has results."""
    entries = []
    config_ids = [int(c) for c in config_ids]
    for sample_set_id in [int(s) for s in sample_set_ids]:
        for config_id in config_ids:
            row = db.execute(
                select(ResultsFile.sequence_file_id, ResultsFile.id)
                .join(SampleSetMembership, SampleSetMembership.sequence_file_id == ResultsFile.sequence_file_id)
                .where(SampleSetMembership.sample_set_id == sample_set_id, ResultsFile.config_id == config_id,
                       ResultsFile.hidden.is_(False))
                .order_by(ResultsFile.id.desc()).limit(1)
            ).first()
            if row is not None:
                entries.append([row.sequence_file_id, config_id, row.id, sample_set_id, False])
    if not entries:
        return None
    task = _new_task(publisher, REFUSE_FUNCTION, [entries])
    db.add(task)
    db.flush()
    publisher.enqueue(FUSE, task.id)
    return task


# --- changing jobs -----------------------------------------------------------------------------

def record_run(db: Session, task_id: int, status: str, reason: str, worker_name: str = "") -> SchedulerRun:
    """An attempt row telling why a job ended without running (shown on the result's info page)."""
    moment = now()
    run = SchedulerRun(task_id=task_id, status=status, start_time=moment, stop_time=moment,
                       run_output=reason, traceback=reason, worker_name=worker_name)
    db.add(run)
    return run


def fail_task(db: Session, task_id: int, reason: str, *, from_statuses: Sequence[str] | None = None,
              status: str = FAILED) -> bool:
    """End a job with a reason, if it is still in one of `from_statuses` (default: not finished)."""
    condition = (SchedulerTask.status.in_(from_statuses) if from_statuses
                 else or_(SchedulerTask.status.is_(None), SchedulerTask.status.not_in(TERMINAL_STATUSES),
                          _parked_condition()))
    changed = db.execute(
        update(SchedulerTask).where(SchedulerTask.id == task_id, condition)
        .values(status=status, stop_time=now(), times_failed=func.coalesce(SchedulerTask.times_failed, 0) + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed:
        record_run(db, task_id, status, reason)
    return bool(changed)


def _stop_if_active(db: Session, task_id: int) -> bool:
    changed = db.execute(
        update(SchedulerTask)
        .where(SchedulerTask.id == task_id, or_(SchedulerTask.status.in_(ACTIVE_STATUSES), _parked_condition()))
        .values(status=STOPPED, enabled=False, stop_time=now())
        .execution_options(synchronize_session=False)
    ).rowcount
    return bool(changed)


def stop_job(db: Session, task_id: Any) -> str:
    """Stop a queued, parked or running job; a running one is killed by its consumer.

    Returns the new status (STOPPED). A stopped pre-process marks its sample's
    pre-process as failed and fails the runs that were waiting for it.
    """
    task = _get(db, SchedulerTask, task_id, "process")
    if task.status in TERMINAL_STATUSES and not is_parked(task):
        raise JobError(f"process {task.id} is already finished ({task.status})")
    if not _stop_if_active(db, task.id):
        raise JobError(f"process {task.id} changed meanwhile; reload and try again")
    db.refresh(task)
    if task.function_name == PRE_PROCESS_FUNCTION:
        try:
            _, sequence_file_id = pre_process_args(task)
        except ValueError:
            return STOPPED
        sequence_file = db.get(SequenceFile, sequence_file_id)
        if sequence_file is not None and sequence_file.pre_process_scheduler_task_id == task.id:
            sequence_file.pre_process_flag = PRE_PROCESS_FAILED
            fail_parked_analyses(db, sequence_file_id, "its pre-process was stopped")
    return STOPPED


def _parked_analyses(db: Session, sequence_file_id: int) -> Select:
    return (select(SchedulerTask.id)
            .join(ResultsFile, ResultsFile.scheduler_task_id == SchedulerTask.id)
            .where(ResultsFile.sequence_file_id == sequence_file_id, _parked_condition()))


def release_parked_analyses(db: Session, publisher: JobPublisher, sequence_file_id: int) -> list[int]:
    """The pre-process is done: queue the runs that waited for it (published after commit)."""
    ids = list(db.scalars(_parked_analyses(db, sequence_file_id)))
    released = []
    for task_id in ids:
        changed = db.execute(
            update(SchedulerTask).where(SchedulerTask.id == task_id, _parked_condition())
            .values(status=QUEUED, next_run_time=publisher.first_dispatch_deadline())
            .execution_options(synchronize_session=False)
        ).rowcount
        if changed:
            publisher.enqueue(ANALYSIS, task_id)
            released.append(task_id)
    return released


def fail_parked_analyses(db: Session, sequence_file_id: int, reason: str) -> list[int]:
    ids = list(db.scalars(_parked_analyses(db, sequence_file_id)))
    return [task_id for task_id in ids if fail_task(db, task_id, reason, from_statuses=(STOPPED,))]


# --- reading jobs ------------------------------------------------------------------------------

def job_status(db: Session, scheduler_task_id: Any) -> str:
    """The status of a job, or "" if there is no such job."""
    try:
        key = _positive(scheduler_task_id, "id")
    except ValueError:
        return ""
    return db.scalar(select(SchedulerTask.status).where(SchedulerTask.id == key)) or ""


def statuses_for_tasks(db: Session, task_ids: Iterable[Any]) -> dict[int, str]:
    """Statuses of many jobs in one query (ids without a job are absent)."""
    ids = {int(i) for i in task_ids if i is not None and str(i).isdigit()}
    if not ids:
        return {}
    return {task_id: status or "" for task_id, status in
            db.execute(select(SchedulerTask.id, SchedulerTask.status).where(SchedulerTask.id.in_(ids)))}


def results_file_of_task(db: Session, task_id: int) -> ResultsFile | None:
    return db.scalars(select(ResultsFile).where(ResultsFile.scheduler_task_id == task_id)
                      .order_by(ResultsFile.id).limit(1)).first()


def latest_run(db: Session, task_id: int) -> SchedulerRun | None:
    return db.scalars(select(SchedulerRun).where(SchedulerRun.task_id == task_id)
                      .order_by(SchedulerRun.id.desc()).limit(1)).first()


def sets_of_sample(db: Session, sequence_file_id: int) -> list[int]:
    return list(db.scalars(
        select(SampleSetMembership.sample_set_id).distinct()
        .where(SampleSetMembership.sequence_file_id == sequence_file_id,
               SampleSetMembership.sample_set_id.is_not(None))
        .order_by(SampleSetMembership.sample_set_id)))


def sample_set_ids_of_task(db: Session, task: SchedulerTask) -> list[int]:
    """The sets whose rights decide who may see or stop this job."""
    if task.function_name == REFUSE_FUNCTION:
        try:
            return sorted({set_id for set_id, _ in refuse_pairs(task)})
        except ValueError:
            return []
    if task.function_name == PRE_PROCESS_FUNCTION:
        try:
            return sets_of_sample(db, pre_process_args(task)[1])
        except ValueError:
            return []
    result = results_file_of_task(db, task.id)
    if result is None or result.sequence_file_id is None:
        return []
    return sets_of_sample(db, result.sequence_file_id)


def queue_statistics(db: Session) -> dict[str, Any]:
    """The job table's side of the queue's health: counts, oldest QUEUED job, workers."""
    moment = dt.datetime.now()
    counts = dict(db.execute(
        select(SchedulerTask.status, func.count(SchedulerTask.id))
        .where(SchedulerTask.status.in_(ACTIVE_STATUSES)).group_by(SchedulerTask.status)).all())
    parked = db.scalar(select(func.count(SchedulerTask.id)).where(_parked_condition())) or 0
    oldest = db.execute(select(SchedulerTask.id, SchedulerTask.start_time)
                        .where(SchedulerTask.status == QUEUED)
                        .order_by(SchedulerTask.start_time, SchedulerTask.id).limit(1)).first()
    heartbeats = [beat for beat in db.scalars(select(SchedulerWorker.last_heartbeat)) if beat is not None]
    return {
        "jobs": {"queued": counts.get(QUEUED, 0), "assigned": counts.get(ASSIGNED, 0),
                 "running": counts.get(RUNNING, 0), "waiting_for_pre_process": parked},
        "oldest_queued": None if oldest is None else {
            "task_id": oldest.id,
            "age_seconds": round((moment - oldest.start_time).total_seconds(), 1) if oldest.start_time else None},
        "workers": {"registered": len(heartbeats),
                    "last_heartbeat_age_seconds": round(min((moment - b).total_seconds() for b in heartbeats), 1)
                    if heartbeats else None},
    }


def ensure_free_space(settings: dict) -> None:
    """Refuse new work when the results or working volume is nearly full (the original's check was broken)."""
    try:
        minimum = float(settings.get("vidjil.min_free_percent") or DEFAULT_MIN_FREE_PERCENT)
    except ValueError:
        minimum = DEFAULT_MIN_FREE_PERCENT
    for key in ("vidjil.results_dir", "vidjil.tmp_dir"):
        path = Path(settings[key])
        path.mkdir(parents=True, exist_ok=True)
        usage = shutil.disk_usage(path)
        if usage.total and usage.free * 100.0 / usage.total < minimum:
            raise JobError("the server is short of disk space: no new process can start for now")


# --- the processes page ------------------------------------------------------------------------

@dataclass(frozen=True)
class JobRow:
    task_id: int
    status: str
    start_time: dt.datetime | None
    sample_set_id: int
    sample_type: str
    first_name: str | None
    last_name: str | None
    set_name: str | None
    filename: str | None
    info: str | None
    config_id: int | None
    config_name: str | None


def _search_terms(search: str) -> tuple[list[str], list[str]]:
    words, tags = [], []
    for token in (search or "").split():
        (tags if token.startswith("#") and len(token) > 1 else words).append(token)
    return words, tags


def recent_jobs(db: Session, visible_set_ids: Select, since: dt.datetime, search: str = "",
                limit: int = 1000) -> list[JobRow]:
    """Analyses started since `since` on samples of the given sets, newest first.

    `search`: words that must all appear in the file name, its info or the set's
    name; `#tags` that must appear in the sample's info.
    """
    set_name = func.coalesce(Run.name, Generic.name, Patient.last_name)
    query = (
        select(SchedulerTask.id, SchedulerTask.status, SchedulerTask.start_time, SampleSet.id.label("set_id"),
               SampleSet.sample_type, Patient.first_name, Patient.last_name, func.coalesce(Run.name, Generic.name),
               SequenceFile.filename, SequenceFile.info, Config.id.label("config_id"), Config.name)
        .select_from(SchedulerTask)
        .join(ResultsFile, ResultsFile.scheduler_task_id == SchedulerTask.id)
        .join(SequenceFile, SequenceFile.id == ResultsFile.sequence_file_id)
        .join(SampleSetMembership, SampleSetMembership.sequence_file_id == SequenceFile.id)
        .join(SampleSet, SampleSet.id == SampleSetMembership.sample_set_id)
        .outerjoin(Patient, Patient.sample_set_id == SampleSet.id)
        .outerjoin(Run, Run.sample_set_id == SampleSet.id)
        .outerjoin(Generic, Generic.sample_set_id == SampleSet.id)
        .outerjoin(Config, Config.id == ResultsFile.config_id)
        .where(SampleSet.id.in_(visible_set_ids), SchedulerTask.start_time > since)
    )
    words, tags = _search_terms(search)
    for word in words:
        needle = word.lower()
        query = query.where(or_(*(func.lower(func.coalesce(column, "")).contains(needle, autoescape=True)
                                  for column in (SequenceFile.filename, SequenceFile.info, set_name,
                                                 Patient.first_name))))
    for tag in tags:
        query = query.where(func.lower(func.coalesce(SequenceFile.info, "")).contains(tag.lower(), autoescape=True))
    query = query.order_by(SchedulerTask.start_time.desc(), SchedulerTask.id.desc(), SampleSet.id).limit(limit)
    return [JobRow(*row) for row in db.execute(query)]
