"""Fusing the results of a set: after each analysis (inline) and in re-fuse jobs (`fuse` queue).

For one (set, config), the inputs are, per sample of the set, its newest visible result
*that has a file*, ordered by sample id. (Deliberate difference: the original took the
newest result even while it was still pending or had failed, and so dropped that sample
from the fused file until the re-run succeeded.) A sample's pre-process statistics
travel with its result as `result,pre_process`.

Fuses of the same (set, config) are serialised (a MariaDB named lock, a file lock
on SQLite), and each reads the results after taking the lock: when two analyses of a
set end together, the last fuse includes both.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from sqlalchemy import select, text

from vidjil_pyramid.admin.models import Config
from vidjil_pyramid.files.models import SampleSetMembership, SequenceFile
from vidjil_pyramid.files.storage import StorageError, resolve, store_copy
from vidjil_pyramid.jobs import paths, services
from vidjil_pyramid.jobs.models import COMPLETED, SchedulerTask
from vidjil_pyramid.results.models import FusedFile, ResultsFile
from vidjil_pyramid.sample_sets.models import Patient

from .jobs import Attempt, JobFailed, LostJob, PoisonJob, log_tail
from .programs import ProgramError, split_command

log = logging.getLogger(__name__)

LOCK_WAIT_SECONDS = 600


@dataclass
class FuseOutcome:
    sample_set_id: int
    config_id: int
    sequence_file_ids: list[int]
    fused_file: str | None  # stored name, None when there was nothing to fuse


def fuse_program(settings: dict) -> list[str]:
    """`vidjil.fuse_program` (e.g. `python3 /opt/vidjil/tools/fuse.py`), by default our `fuse_rpc`."""
    configured = str(settings.get("vidjil.fuse_program") or "").strip()
    return shlex.split(configured) if configured else [sys.executable, "-m", "fuse_rpc"]


@contextlib.contextmanager
def fuse_lock(attempt: Attempt, sample_set_id: int, config_id: int) -> Iterator[None]:
    """Only one fuse of a (set, config) at a time, across processes and machines."""
    name = f"vidjil_fuse_{sample_set_id}_{config_id}"
    engine = attempt.ctx.engine
    if engine.dialect.name in ("mysql", "mariadb"):
        with engine.connect() as connection:
            got = connection.execute(text("SELECT GET_LOCK(:name, :wait)"),
                                     {"name": name, "wait": LOCK_WAIT_SECONDS}).scalar()
            if got != 1:
                raise JobFailed(f"set {sample_set_id}: another fuse of this set did not end in time")
            try:
                yield
            finally:
                connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})
        return
    lock_dir = Path(attempt.ctx.settings["vidjil.tmp_dir"]) / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"{name}.lock", "a") as handle:
        waited = 0.0
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if waited >= LOCK_WAIT_SECONDS:
                    raise JobFailed(f"set {sample_set_id}: another fuse of this set did not end in time") from None
                attempt.check()
                time.sleep(0.1)
                waited += 0.1
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _inputs(attempt: Attempt, sample_set_id: int, config_id: int) -> tuple[list[int], list[str], str | None]:
    """(sample ids, fuse input arguments, fuse options) for a set, read now."""
    results_dir = attempt.ctx.settings["vidjil.results_dir"]
    with attempt.ctx.session() as db:
        config = db.get(Config, config_id)
        if config is None:
            raise JobFailed(f"config {config_id} no longer exists")
        rows = db.execute(
            select(ResultsFile.sequence_file_id, ResultsFile.data_file, SequenceFile.pre_process_file)
            .join(SequenceFile, SequenceFile.id == ResultsFile.sequence_file_id)
            .where(ResultsFile.config_id == config_id, ResultsFile.hidden.is_(False),
                   ResultsFile.data_file.is_not(None),
                   ResultsFile.sequence_file_id.in_(
                       select(SampleSetMembership.sequence_file_id)
                       .where(SampleSetMembership.sample_set_id == sample_set_id)))
            .order_by(ResultsFile.sequence_file_id, ResultsFile.run_date.desc(), ResultsFile.id.desc())
        ).all()
        options = config.fuse_command
    sample_ids, arguments = [], []
    for sequence_file_id, data_file, pre_process_file in rows:
        if sequence_file_id in sample_ids:
            continue
        try:
            result = resolve(results_dir, data_file)
        except StorageError:
            attempt.say(f"set {sample_set_id}: result {data_file!r} of sample {sequence_file_id} skipped")
            continue
        if not result.is_file():
            attempt.say(f"set {sample_set_id}: result file of sample {sequence_file_id} is missing, skipped")
            continue
        argument = str(result)
        if pre_process_file:
            try:
                statistics = resolve(results_dir, pre_process_file)
                if statistics.is_file():
                    argument += "," + str(statistics)
            except StorageError:
                pass
        sample_ids.append(sequence_file_id)
        arguments.append(argument)
    return sample_ids, arguments, options


def fuse_set(attempt: Attempt, sample_set_id: int, config_id: int, work_dir: Path, basename: str) -> FuseOutcome:
    """Fuse a set's results for a config and register the fused file (one row per set and config)."""
    settings = attempt.ctx.settings
    with fuse_lock(attempt, sample_set_id, config_id):
        attempt.check()
        sample_ids, inputs, options = _inputs(attempt, sample_set_id, config_id)
        if not inputs:
            attempt.say(f"set {sample_set_id}: no files to fuse")
            return FuseOutcome(sample_set_id, config_id, [], None)
        work_dir.mkdir(parents=True, exist_ok=True)
        output = work_dir / f"{basename}.fused"
        log_path = work_dir / f"{basename}.fuse.log"
        output.unlink(missing_ok=True)
        try:
            option_arguments = split_command(options)
        except ProgramError as exc:
            raise JobFailed(f"set {sample_set_id}: {exc}") from None
        argv = [*fuse_program(settings), "-o", str(output), *option_arguments, "--", *inputs]
        outcome = attempt.run(argv, log_path=log_path, cwd=work_dir, what="fuse")
        if outcome.exit_code != 0 or not output.is_file():
            raise JobFailed(f"fuse of set {sample_set_id} failed (exit code {outcome.exit_code}); "
                            f"log in {log_path}\n{log_tail(log_path)}")
        try:
            with open(output, "rb") as handle:
                json.load(handle)
        except ValueError:
            raise JobFailed(f"fuse of set {sample_set_id} wrote an invalid file; log in {log_path}") from None
        stored, _ = store_copy(output, settings["vidjil.results_dir"], "fused_file", "fused_file",
                               original=f"{basename}.fused")
        output.unlink(missing_ok=True)
        with attempt.ctx.session() as db:
            if not attempt.mine_now(db):
                _remove_quietly(settings, stored)
                raise LostJob()
            _register(db, sample_set_id, config_id, stored, sample_ids)
    attempt.say(f"set {sample_set_id}: fused {len(sample_ids)} sample(s)")
    return FuseOutcome(sample_set_id, config_id, sample_ids, stored)


def _register(db, sample_set_id: int, config_id: int, stored: str, sample_ids: list[int]) -> None:
    row = db.scalars(select(FusedFile).where(FusedFile.sample_set_id == sample_set_id,
                                             FusedFile.config_id == config_id)
                     .order_by(FusedFile.id).limit(1)).first()
    if row is None:
        row = FusedFile(sample_set_id=sample_set_id, config_id=config_id)
        db.add(row)
    row.fuse_date = services.now()
    row.fused_file = stored
    row.sequence_file_list = "".join(f"{i}_" for i in sample_ids)
    row.patient_id = db.scalar(select(Patient.id).where(Patient.sample_set_id == sample_set_id).limit(1))


def _remove_quietly(settings: dict, stored: str) -> None:
    try:
        resolve(settings["vidjil.results_dir"], stored).unlink(missing_ok=True)
    except (StorageError, OSError):
        pass


def execute(attempt: Attempt, task: SchedulerTask) -> None:
    """A re-fuse job (after results were deleted): fuse each (set, config) it names."""
    try:
        pairs = services.refuse_pairs(task)
    except ValueError as exc:
        raise PoisonJob(str(exc)) from None
    work_dir = paths.refuse_dir(attempt.ctx.settings, task.id)
    for sample_set_id, config_id in pairs:
        fuse_set(attempt, sample_set_id, config_id, work_dir, f"{sample_set_id}-{config_id}")
    attempt.finish(COMPLETED, run_result=json.dumps("SUCCESS"))
