"""What every consumer does with a message, whatever the job and whatever the broker.

1. Decode the message (a job id); an unreadable one is dead-lettered.
2. Claim the job with a conditional UPDATE (`QUEUED`/`ASSIGNED` -> `RUNNING`, this worker's
   name): a redelivered message for a job that is running elsewhere, finished or
   stopped claims nothing and is simply acknowledged. A job that keeps coming back
   (its consumers died `vidjil.max_attempts` times) is failed instead.
3. Run it (`consumers.analysis`, `consumers.pre_process`, `consumers.fuse`), checking
   while the program runs that the job is still ours (a user may stop it; the sweeper
   may have given it to another worker) and that this worker is not shutting down.
4. Commit its terminal state (COMPLETED, FAILED, TIMEOUT, STOPPED) only if the job is
   still ours, and only then tell the broker (ack), so a consumer killed at any point
   loses nothing: the message comes back, or the sweeper republishes the job.
"""
from __future__ import annotations

import contextlib
import enum
import logging
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from vidjil_pyramid.jobs import services
from vidjil_pyramid.jobs.broker import InvalidMessage, decode_message, job_time_limit
from vidjil_pyramid.jobs.dispatch import JobPublisher
from vidjil_pyramid.jobs.models import (
    ASSIGNED, COMPLETED, FAILED, QUEUED, RUNNING, STOPPED, TIMEOUT, SchedulerRun, SchedulerTask,
)

from .process import Deadline, ProcessOutcome, run_program

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 3
STATUS_POLL_SECONDS = 1.0
DB_RETRIES = 12  # with vidjil.retry_delay (5 s): a minute
OUTPUT_TAIL = 2000


class Outcome(enum.Enum):
    """What the broker should do with the message once the job's state is committed."""

    ACK = "ack"                  # handled (done, failed, or not ours to run)
    DEAD_LETTER = "dead_letter"  # poison: never deliver it again
    RETRY = "retry"              # this worker is stopping; the job went back to QUEUED


class JobFailed(Exception):
    """The job ends now with this status and reason."""

    def __init__(self, reason: str, status: str = FAILED, on_failure: Callable[[Session], None] | None = None):
        super().__init__(reason)
        self.reason, self.status, self.on_failure = reason, status, on_failure


class PoisonJob(JobFailed):
    """The job can never run (malformed row): failed, and its message dead-lettered."""


class LostJob(Exception):
    """The job is no longer ours (stopped by a user, or handed to another worker)."""


class Interrupted(Exception):
    """This worker is shutting down in the middle of the job."""


@dataclass
class WorkerContext:
    """Everything a job needs from its worker."""

    settings: dict
    engine: object
    worker_name: str
    broker: object | None = None
    shutdown: threading.Event = field(default_factory=threading.Event)
    on_claim: Callable[[int], None] | None = None  # benchmarks and tests observe claims

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction, committed at the end of the block."""
        with Session(self.engine, expire_on_commit=False) as db, db.begin():
            yield db

    def publisher(self) -> JobPublisher:
        return JobPublisher.from_settings(self.broker, self.settings, engine=self.engine)

    @property
    def max_attempts(self) -> int:
        try:
            return int(self.settings.get("vidjil.max_attempts") or DEFAULT_MAX_ATTEMPTS)
        except ValueError:
            return DEFAULT_MAX_ATTEMPTS


class Attempt:
    """One execution of a claimed job by this worker: its programs, its output, its end."""

    def __init__(self, ctx: WorkerContext, task: SchedulerTask, run_id: int):
        self.ctx = ctx
        self.task_id = task.id
        self.run_id = run_id
        self.time_limit = int(task.timeout or job_time_limit(ctx.settings))
        self.deadline = Deadline(self.time_limit)
        self.lines: list[str] = []
        self._checked_at = 0.0
        self._mine = True

    def say(self, line: str) -> None:
        """A line of the job's output (`scheduler_run.run_output`, shown on the result's info page)."""
        self.lines.append(line)
        log.info("task %s: %s", self.task_id, line)

    def still_mine(self) -> bool:
        """Is the job still RUNNING on this worker? (checked at most once a second)"""
        moment = time.monotonic()
        if self._mine and moment - self._checked_at >= STATUS_POLL_SECONDS:
            self._checked_at = moment
            try:
                with self.ctx.session() as db:
                    row = db.execute(select(SchedulerTask.status, SchedulerTask.assigned_worker_name)
                                     .where(SchedulerTask.id == self.task_id)).first()
            except DBAPIError as exc:  # a database restart must not kill a two-hour analysis
                log.warning("task %s: cannot check its status (%s); still running it", self.task_id, exc)
                return True
            self._mine = row is not None and row.status == RUNNING and row.assigned_worker_name == self.ctx.worker_name
        return self._mine

    def should_stop(self) -> bool:
        return self.ctx.shutdown.is_set() or not self.still_mine()

    def check(self) -> None:
        """Between steps: stop here if the job was taken away, timed out, or the worker stops."""
        if self.ctx.shutdown.is_set():
            raise Interrupted()
        if not self.still_mine():
            raise LostJob()
        if self.deadline.expired():
            raise JobFailed(f"time limit reached ({self.time_limit} s)", TIMEOUT)

    def run(self, argv: list[str], *, log_path: Path, cwd: Path, stdout_path: Path | None = None,
            what: str = "program") -> ProcessOutcome:
        """Run one program of the job; raise unless it ran to its end (whatever its exit code)."""
        self.check()
        self.say("$ " + " ".join(argv))
        outcome = run_program(argv, log_path=log_path, cwd=cwd, deadline=self.deadline,
                              should_stop=self.should_stop, stdout_path=stdout_path)
        if outcome.timed_out:
            raise JobFailed(f"{what} killed: time limit reached; log in {log_path}", TIMEOUT)
        if outcome.stopped:
            if self.ctx.shutdown.is_set():
                raise Interrupted()
            raise LostJob()
        if outcome.exit_code is None:
            raise JobFailed(f"{what} could not be started: {argv[0]}; log in {log_path}\n{log_tail(log_path)}")
        return outcome

    def mine_now(self, db: Session) -> bool:
        """Inside a transaction: touch the job if it is still ours (locks the row until commit)."""
        return bool(db.execute(
            update(SchedulerTask)
            .where(SchedulerTask.id == self.task_id, SchedulerTask.status == RUNNING,
                   SchedulerTask.assigned_worker_name == self.ctx.worker_name)
            .values(last_run_time=services.now())
            .execution_options(synchronize_session=False)
        ).rowcount)

    def finish(self, status: str, *, run_result: str | None = None, error: str | None = None,
               extra: Callable[[Session], None] | None = None, publisher: JobPublisher | None = None) -> bool:
        """Commit the job's end (and `extra` changes) if it is still ours; then publish follow-ups.

        The database may be restarting: the end of a long job is worth waiting for it a little.
        """
        changed = self._retrying(lambda: self._commit_end(status, run_result, error, extra))
        if not changed:
            self.close_run(STOPPED, "the job was stopped or handed to another worker")
            if publisher is not None:
                publisher.discard()
            return False
        if publisher is not None:
            publisher.flush()
        return True

    def _commit_end(self, status: str, run_result: str | None, error: str | None,
                    extra: Callable[[Session], None] | None) -> bool:
        with Session(self.ctx.engine, expire_on_commit=False) as db, db.begin():
            changed = db.execute(
                update(SchedulerTask)
                .where(SchedulerTask.id == self.task_id, SchedulerTask.status == RUNNING,
                       SchedulerTask.assigned_worker_name == self.ctx.worker_name)
                .values(status=status, stop_time=services.now(),
                        times_failed=func.coalesce(SchedulerTask.times_failed, 0) + (status != COMPLETED))
                .execution_options(synchronize_session=False)
            ).rowcount
            if changed:
                if extra is not None:
                    extra(db)
                self._close_run(db, status, run_result, error)
            return bool(changed)

    def _retrying(self, action: Callable[[], bool]) -> bool:
        delay = float(self.ctx.settings.get("vidjil.retry_delay") or 5)
        for attempt in range(DB_RETRIES):
            try:
                return action()
            except (OperationalError, InterfaceError) as exc:  # connection trouble, not a bad statement
                if attempt == DB_RETRIES - 1 or self.ctx.shutdown.is_set():
                    raise
                log.warning("task %s: database unavailable (%s); trying again", self.task_id, exc.__class__.__name__)
                time.sleep(delay)
        return False

    def _close_run(self, db: Session, status: str, run_result: str | None, error: str | None) -> None:
        run = db.get(SchedulerRun, self.run_id)
        if run is not None:
            run.status = status
            run.stop_time = services.now()
            run.run_result = run_result
            run.run_output = "\n".join(self.lines + ([error] if error else []))
            run.traceback = error

    def close_run(self, status: str, note: str) -> None:
        """Record the end of this attempt only (the job itself is someone else's now)."""
        self.say(note)
        with self.ctx.session() as db:
            self._close_run(db, status, None, note)

    def requeue(self, note: str) -> bool:
        """Give the job back (worker shutting down): QUEUED again, due for publication now."""
        self.say(note)
        with self.ctx.session() as db:
            changed = db.execute(
                update(SchedulerTask)
                .where(SchedulerTask.id == self.task_id, SchedulerTask.status == RUNNING,
                       SchedulerTask.assigned_worker_name == self.ctx.worker_name)
                .values(status=QUEUED, assigned_worker_name="", next_run_time=services.now(),
                        times_run=func.coalesce(SchedulerTask.times_run, 1) - 1)
                .execution_options(synchronize_session=False)
            ).rowcount
            self._close_run(db, STOPPED, None, note)
        return bool(changed)


Executor = Callable[[Attempt, SchedulerTask], None]


def _executor_for(function: str | None) -> tuple[str, Executor] | None:
    from . import analysis, fuse, pre_process

    queue = services.QUEUE_OF_FUNCTION.get(function or "")
    if queue is None:
        return None
    if function == services.PRE_PROCESS_FUNCTION:
        return queue, pre_process.execute
    if function == services.REFUSE_FUNCTION:
        return queue, fuse.execute
    return queue, analysis.execute


class JobConsumer:
    """Handles the messages of one queue (`analysis`, `pre_process` or `fuse`)."""

    def __init__(self, kind: str, ctx: WorkerContext):
        self.kind = kind
        self.ctx = ctx

    def handle(self, body: bytes) -> Outcome:
        try:
            message = decode_message(body, self.kind)
        except InvalidMessage as exc:
            log.error("poison message on %s: %s", self.kind, exc)
            return Outcome.DEAD_LETTER
        try:
            return self._handle(message.task_id)
        except Exception:
            # a database outage or a bug outside any job: leave the message to the broker
            log.exception("task %s: unexpected error; the message will be delivered again", message.task_id)
            return Outcome.RETRY

    def _handle(self, task_id: int) -> Outcome:
        with self.ctx.session() as db:
            task = db.get(SchedulerTask, task_id)
            if task is None:
                log.error("poison message: no task %s", task_id)
                return Outcome.DEAD_LETTER
            found = _executor_for(task.function_name)
            if found is None or found[0] != self.kind:
                reason = f"job type '{task.function_name}' cannot run on the {self.kind} queue"
                services.fail_task(db, task_id, reason)
                log.error("poison message: task %s: %s", task_id, reason)
                return Outcome.DEAD_LETTER
            stale_own = task.status == RUNNING and task.assigned_worker_name == self.ctx.worker_name
            if task.status not in (QUEUED, ASSIGNED) and not stale_own:
                log.info("task %s is %s: message dropped", task_id, task.status)
                return Outcome.ACK
            if (task.times_run or 0) >= self.ctx.max_attempts:
                reason = f"gave up after {task.times_run} attempts (their workers stopped responding)"
                services.fail_task(db, task_id, reason,
                                   from_statuses=(QUEUED, ASSIGNED, RUNNING) if stale_own else (QUEUED, ASSIGNED))
                log.error("task %s: %s", task_id, reason)
                return Outcome.DEAD_LETTER
        attempt = self._claim(task_id)
        if attempt is None:
            log.info("task %s was claimed by another worker: message dropped", task_id)
            return Outcome.ACK
        if self.ctx.on_claim is not None:
            self.ctx.on_claim(task_id)
        return self._execute(attempt, found[1])

    def _claim(self, task_id: int) -> Attempt | None:
        moment = services.now()
        with self.ctx.session() as db:
            # our own RUNNING job: an earlier attempt of this very process could not record its end
            mine = (SchedulerTask.status == RUNNING) & (SchedulerTask.assigned_worker_name == self.ctx.worker_name)
            db.execute(update(SchedulerRun)
                       .where(SchedulerRun.task_id == task_id, SchedulerRun.status == RUNNING,
                              SchedulerRun.worker_name == self.ctx.worker_name)
                       .values(status=FAILED, stop_time=moment, traceback="interrupted: the database was unavailable")
                       .execution_options(synchronize_session=False))
            claimed = db.execute(
                update(SchedulerTask)
                .where(SchedulerTask.id == task_id, or_(SchedulerTask.status.in_((QUEUED, ASSIGNED)), mine))
                .values(status=RUNNING, assigned_worker_name=self.ctx.worker_name, last_run_time=moment,
                        times_run=func.coalesce(SchedulerTask.times_run, 0) + 1)
                .execution_options(synchronize_session=False)
            ).rowcount
            if not claimed:
                return None
            run = SchedulerRun(task_id=task_id, status=RUNNING, start_time=moment, worker_name=self.ctx.worker_name)
            db.add(run)
            db.flush()
            task = db.get(SchedulerTask, task_id)
            db.refresh(task)
            return Attempt(self.ctx, task, run.id)

    def _execute(self, attempt: Attempt, executor: Executor) -> Outcome:
        with self.ctx.session() as db:
            task = db.get(SchedulerTask, attempt.task_id)
        try:
            executor(attempt, task)
            return Outcome.ACK
        except PoisonJob as exc:
            attempt.finish(FAILED, error=exc.reason, extra=exc.on_failure)
            return Outcome.DEAD_LETTER
        except JobFailed as exc:
            attempt.finish(exc.status, error=exc.reason, extra=exc.on_failure)
            return Outcome.ACK
        except LostJob:
            attempt.close_run(STOPPED, "stopped: the job was stopped or handed to another worker")
            return Outcome.ACK
        except Interrupted:
            attempt.requeue("interrupted: the worker is shutting down; the job is queued again")
            return Outcome.RETRY
        except Exception as exc:
            log.exception("task %s failed", attempt.task_id)
            details = traceback.format_exc()[-OUTPUT_TAIL:]
            attempt.finish(FAILED, error=f"{exc.__class__.__name__}: {exc}\n{details}")
            return Outcome.ACK


def log_tail(path: Path, size: int = OUTPUT_TAIL) -> str:
    """The end of a program's log, for the job's failure reason."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - size))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
