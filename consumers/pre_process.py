"""A pre-process job: turn a sample's uploads (usually two paired-end files) into its reads.

Works in `<tmp_dir>/pre/out-<sample>/`; the result replaces the sample's data file
(stored in `vidjil.upload_dir`, the second file released), optional statistics
(`pre_process.vidjil`) are kept as `pre_process_file`, and the runs that waited for
the pre-process are queued. On failure the sample's flag becomes FAILED ("try again")
and the waiting runs fail with it.
"""
from __future__ import annotations

import json
import shutil

from sqlalchemy import select

from vidjil_pyramid.files.models import PreProcess, SequenceFile
from vidjil_pyramid.files.storage import StorageError, original_name, resolve, store_copy
from vidjil_pyramid.jobs import paths, services
from vidjil_pyramid.jobs.models import COMPLETED, STOPPED, SchedulerTask

from .jobs import Attempt, JobFailed, PoisonJob, log_tail
from .programs import ProgramError
from .programs import pre_process as templates

STATISTICS_NAME = "pre_process.vidjil"


def _mark_failed(sequence_file_id: int, task_id: int, reason: str):
    def apply(db) -> None:
        sample = db.scalars(select(SequenceFile).where(SequenceFile.id == sequence_file_id)
                            .with_for_update()).first()
        if sample is not None and sample.pre_process_scheduler_task_id == task_id:
            sample.pre_process_flag = services.PRE_PROCESS_FAILED
            services.fail_parked_analyses(db, sequence_file_id, f"its pre-process failed: {reason}")
    return apply


def execute(attempt: Attempt, task: SchedulerTask) -> None:
    try:
        pre_process_id, sequence_file_id = services.pre_process_args(task)
    except ValueError as exc:
        raise PoisonJob(str(exc)) from None
    try:
        _run(attempt, task, pre_process_id, sequence_file_id)
    except JobFailed as exc:
        if exc.on_failure is None and exc.status != STOPPED:
            exc.on_failure = _mark_failed(sequence_file_id, task.id, exc.reason.splitlines()[0])
        raise


def _run(attempt: Attempt, task: SchedulerTask, pre_process_id: int, sequence_file_id: int) -> None:
    settings = attempt.ctx.settings
    with attempt.ctx.session() as db:
        sample = db.get(SequenceFile, sequence_file_id)
        recipe = db.get(PreProcess, pre_process_id)
        if sample is None:
            raise JobFailed("its sample no longer exists")
        if sample.pre_process_scheduler_task_id not in (None, task.id):
            raise JobFailed("a newer pre-process of this sample replaced it", STOPPED)
        if recipe is None:
            raise JobFailed(f"pre-process {pre_process_id} no longer exists")
        sample.pre_process_flag = services.PRE_PROCESS_RUN
        data_file, data_file2, command = sample.data_file, sample.data_file2, recipe.command

    upload_dir = settings["vidjil.upload_dir"]
    try:
        first = resolve(upload_dir, data_file) if data_file else None
        second = resolve(upload_dir, data_file2) if data_file2 else None
    except StorageError as exc:
        raise JobFailed(str(exc)) from None
    if first is None or not first.is_file() or (second is not None and not second.is_file()):
        raise JobFailed("the sample's files are missing on the server")

    work_dir = paths.pre_process_dir(settings, sequence_file_id)
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    name = templates.merged_name(original_name(data_file), original_name(data_file2) if data_file2 else None)
    result = work_dir / name
    try:
        invocation = templates.build(command, first, second, result, settings)
    except ProgramError as exc:
        raise JobFailed(str(exc)) from None
    log_path = work_dir / f"{name}.pre.log"
    attempt.say(f"=== pre-process {pre_process_id} on sample {sequence_file_id} ===")
    outcome = attempt.run(invocation.argv, log_path=log_path, cwd=work_dir, stdout_path=invocation.stdout_path,
                          what="pre-process")
    attempt.say(f"Output log in {log_path}")
    if outcome.exit_code != 0:
        raise JobFailed(f"the pre-process exited with code {outcome.exit_code}; log in {log_path}\n"
                        f"{log_tail(log_path)}")
    if not result.is_file() or result.stat().st_size == 0:
        raise JobFailed(f"the pre-process produced no {name}; log in {log_path}\n{log_tail(log_path)}")

    attempt.check()
    stored, size = store_copy(result, upload_dir, "sequence_file", "data_file", original=name)
    statistics = None
    statistics_path = work_dir / STATISTICS_NAME
    if statistics_path.is_file():
        statistics, _ = store_copy(statistics_path, settings["vidjil.results_dir"], "sequence_file",
                                   "pre_process_file", original=STATISTICS_NAME)
    result.unlink(missing_ok=True)

    publisher = attempt.ctx.publisher()
    released: list[int] = []

    def swap(db) -> None:
        sample = db.scalars(select(SequenceFile).where(SequenceFile.id == sequence_file_id)
                            .with_for_update()).first()
        if sample is None:
            return
        sample.data_file, sample.size_file = stored, size
        sample.data_file2, sample.size_file2 = None, 0
        if statistics:
            sample.pre_process_file = statistics
        sample.pre_process_flag = COMPLETED
        released.extend(services.release_parked_analyses(db, publisher, sequence_file_id))

    if not attempt.finish(COMPLETED, run_result=json.dumps("SUCCESS"), extra=swap, publisher=publisher):
        for name_in_dir, directory in ((stored, upload_dir), (statistics, settings["vidjil.results_dir"])):
            if name_in_dir:
                resolve(directory, name_in_dir).unlink(missing_ok=True)
        return
    if released:
        attempt.say(f"queued the runs that waited: {released}")
