"""An analysis job: run the config's program on a sample, store the result, fuse the sample's sets.

Outputs and logs go to the result's working folder (`<tmp_dir>/out-000042/`), the
result to `vidjil.results_dir` under a web2py stored name. The result is registered
before the fuses, so a fuse failure leaves a usable result (and a FAILED job, as in
the original). A re-run after a crash starts again from an empty folder and
overwrites the same result row: the job completes once.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from sqlalchemy import select

from vidjil_pyramid.admin.models import Config
from vidjil_pyramid.files.models import SequenceFile
from vidjil_pyramid.files.storage import StorageError, resolve, store_copy
from vidjil_pyramid.jobs import paths, services
from vidjil_pyramid.jobs.models import COMPLETED, STOPPED, SchedulerTask
from vidjil_pyramid.results.models import ResultsFile

from .fuse import fuse_set
from .jobs import Attempt, JobFailed, LostJob, PoisonJob, log_tail
from .programs import AnalysisInput, ProgramError, build_invocation

_SEGMENTED = re.compile(r"==> segmented (\d+) reads \((\d*\.\d+|\d+)%\)")
_WINDOWS = re.compile(r"==> found (\d+) .*-windows in .* segments .* inside (\d+) sequences")
EXTRA_MIN_PERCENT = 5


def summary_from_log(log_path: Path) -> str:
    """`1400 reads, 1386 segmented (99%), 14 windows` from a vidjil-algo log (empty if absent)."""
    segmented = windows = reads = ratio = None
    try:
        with open(log_path, errors="replace") as handle:
            for line in handle:
                match = _SEGMENTED.search(line)
                if match:
                    segmented, ratio = int(match.group(1)), match.group(2)
                    continue
                match = _WINDOWS.search(line)
                if match:
                    windows, reads = int(match.group(1)), int(match.group(2))
                    break
    except OSError:
        return ""
    parts = []
    if reads is not None:
        parts.append(f"{reads} reads")
    if segmented is not None:
        parts.append(f"{segmented} segmented ({ratio}%)")
    if windows is not None:
        parts.append(f"{windows} windows")
    return ", ".join(parts)


def add_locus_distribution(path: Path, min_percent: float = EXTRA_MIN_PERCENT) -> None:
    """`reads.distribution[<locus>] = [clones holding at least min_percent of that locus' reads]`.

    What the original's `compute_extra` added to every vidjil-algo result (once here).
    """
    data = json.loads(path.read_text())
    reads = data.get("reads") if isinstance(data.get("reads"), dict) else None
    germlines = reads.get("germline") if reads else None
    if not isinstance(germlines, dict):
        return
    distribution = {locus: [0] for locus in germlines}
    minimum = {locus: (counts[0] if counts else 0) * min_percent / 100.0 for locus, counts in germlines.items()
               if isinstance(counts, list)}
    for clone in data.get("clones") or []:
        locus = clone.get("germline")
        counts = clone.get("reads") or [0]
        if locus in minimum and counts and counts[0] >= minimum[locus]:
            distribution[locus][0] += 1
    reads["distribution"] = {**(reads.get("distribution") or {}), **distribution}
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(data))
    partial.replace(path)


def _check_result(path: Path, json_expected: bool, log_path: Path) -> None:
    if not path.is_file():
        raise JobFailed(f"no result file ({path.name}); log in {log_path}\n{log_tail(log_path)}")
    if json_expected:
        try:
            with open(path, "rb") as handle:
                data = json.load(handle)
        except ValueError:
            raise JobFailed(f"the result {path.name} is not valid JSON; log in {log_path}") from None
        if not isinstance(data, dict) or "vidjil_json_version" not in data:
            raise JobFailed(f"the result {path.name} is not a .vidjil file; log in {log_path}")


def execute(attempt: Attempt, task: SchedulerTask) -> None:
    settings = attempt.ctx.settings
    try:
        args = services.analysis_args(task)
    except ValueError as exc:
        raise PoisonJob(str(exc)) from None
    program = task.function_name

    with attempt.ctx.session() as db:
        # the sample row is locked so that a pre-process ending now cannot miss this run
        sample = db.scalars(select(SequenceFile).where(SequenceFile.id == args.sequence_file_id)
                            .with_for_update()).first()
        config = db.get(Config, args.config_id)
        result = db.get(ResultsFile, args.results_file_id)
        if result is None:
            raise JobFailed("its result was deleted", STOPPED)
        if sample is None or config is None:
            raise JobFailed(f"its {'sample' if sample is None else 'config'} no longer exists")
        if sample.pre_process_flag == services.PRE_PROCESS_FAILED:
            raise JobFailed("the pre-process of this sample failed")
        if services.pre_process_pending(sample.pre_process_flag):
            _park(attempt, db)
            return
        data_file, filename, command = sample.data_file, sample.filename or "", config.command

    if not data_file:
        raise JobFailed("the sample has no data file")
    try:
        sequence_path = resolve(settings["vidjil.upload_dir"], data_file)
    except StorageError as exc:
        raise JobFailed(str(exc)) from None
    if not sequence_path.is_file():
        raise JobFailed(f"the sample's file {data_file} is missing on the server")

    out_dir = paths.analysis_dir(settings, args.results_file_id)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    basename = paths.output_basename(args.results_file_id)
    try:
        invocation = build_invocation(program, AnalysisInput(
            sequence_path=sequence_path, data_file=data_file, filename=filename, out_dir=out_dir,
            basename=basename, command=command or "", grep_reads=args.grep_reads, settings=settings))
    except ProgramError as exc:
        raise JobFailed(str(exc)) from None

    attempt.say(f"=== {program} on sample {args.sequence_file_id} (result {args.results_file_id}) ===")
    invocation.log_path.touch()
    for index, argv in enumerate(invocation.steps):
        outcome = attempt.run(argv, log_path=invocation.log_path, cwd=out_dir, what=program)
        if outcome.exit_code != 0:
            raise JobFailed(f"{program} exited with code {outcome.exit_code}; log in {invocation.log_path}\n"
                            f"{log_tail(invocation.log_path)}")
        for leftover in invocation.remove_after.get(index, []):
            leftover.unlink(missing_ok=True)
    attempt.say(f"Output log in {invocation.log_path}")
    _check_result(invocation.result_path, invocation.is_vidjil_json, invocation.log_path)
    if invocation.finish is not None:
        invocation.finish(invocation.result_path, invocation.steps)
    if program == "vidjil" and not args.grep_reads:
        add_locus_distribution(invocation.result_path)
        summary = summary_from_log(invocation.log_path)
        if summary:
            attempt.say(f"vidjil-algo finished - {summary}")

    attempt.check()
    stored, _ = store_copy(invocation.result_path, settings["vidjil.results_dir"], "results_file", "data_file",
                           original=invocation.stored_as)
    if invocation.copy_from is None:
        invocation.result_path.unlink(missing_ok=True)
    with attempt.ctx.session() as db:
        mine = attempt.mine_now(db)
        row = db.get(ResultsFile, args.results_file_id) if mine else None
        if row is not None:
            row.data_file = stored
            row.run_date = services.now()
    if row is None:
        resolve(settings["vidjil.results_dir"], stored).unlink(missing_ok=True)
        if not mine:
            raise LostJob()
        raise JobFailed("its result was deleted", STOPPED)
    attempt.say(f"result stored as {stored}")

    if not args.grep_reads:
        with attempt.ctx.session() as db:
            set_ids = services.sets_of_sample(db, args.sequence_file_id)
        for sample_set_id in set_ids:
            fuse_set(attempt, sample_set_id, args.config_id, out_dir, f"{basename}-{sample_set_id}")
    attempt.finish(COMPLETED, run_result=json.dumps("SUCCESS"))


def _park(attempt: Attempt, db) -> None:
    """The sample's pre-process is not done: wait for it (it queues this run when it ends)."""
    from sqlalchemy import func, update

    from vidjil_pyramid.jobs.models import RUNNING, SchedulerRun

    changed = db.execute(
        update(SchedulerTask)
        .where(SchedulerTask.id == attempt.task_id, SchedulerTask.status == RUNNING,
               SchedulerTask.assigned_worker_name == attempt.ctx.worker_name)
        .values(status=STOPPED, enabled=True, assigned_worker_name="",
                times_run=func.coalesce(SchedulerTask.times_run, 1) - 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        raise LostJob()
    run = db.get(SchedulerRun, attempt.run_id)
    if run is not None:
        db.delete(run)
    attempt.say("parked until the sample's pre-process ends")
