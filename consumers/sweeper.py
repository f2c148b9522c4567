"""The sweeper: what makes a job survive a lost message or a dead worker.

Every `vidjil.sweep_interval` seconds it

1. requeues the RUNNING jobs of workers whose heartbeat is older than
   `vidjil.worker_dead_after` seconds (or that never registered), or fails them once
   they have been lost `vidjil.max_attempts` times, and forgets those workers;
2. queues the runs parked for a pre-process that has ended (in case that release was lost);
3. (re)publishes the QUEUED jobs whose `next_run_time` has passed: jobs whose publish
   failed (broker down at request time) become due after `vidjil.republish_after`
   seconds, the others only after `vidjil.unclaimed_republish_after` seconds (a
   message the broker lost, a process that died between commit and publish).
   Duplicates are harmless: a consumer only runs a job it manages to claim.

Run it as `vidjil-server sweeper` (one is enough; several are safe).
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from vidjil_pyramid.files.models import SequenceFile
from vidjil_pyramid.jobs import services
from vidjil_pyramid.jobs.broker import Broker
from vidjil_pyramid.jobs.dispatch import JobPublisher
from vidjil_pyramid.jobs.models import FAILED, QUEUED, RUNNING, SchedulerRun, SchedulerTask, SchedulerWorker
from vidjil_pyramid.results.models import ResultsFile

from .jobs import DEFAULT_MAX_ATTEMPTS
from .runtime import setting

log = logging.getLogger(__name__)

DEFAULT_SWEEP_INTERVAL = 10
DEFAULT_DEAD_AFTER = 60
BATCH = 500


@dataclass
class SweepReport:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    published: list[int] = field(default_factory=list)
    forgotten_workers: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any((self.requeued, self.failed, self.released, self.published, self.forgotten_workers))


class Sweeper:
    def __init__(self, settings: dict, engine, broker: Broker | None):
        self.settings, self.engine, self.broker = settings, engine, broker
        self.interval = setting(settings, "vidjil.sweep_interval", DEFAULT_SWEEP_INTERVAL)
        self.dead_after = setting(settings, "vidjil.worker_dead_after", DEFAULT_DEAD_AFTER)
        self.max_attempts = int(setting(settings, "vidjil.max_attempts", DEFAULT_MAX_ATTEMPTS))

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                report = self.sweep()
                if report:
                    log.info("sweep: %s", report)
            except Exception:
                log.exception("sweep failed; trying again in %s s", self.interval)
            stop.wait(self.interval)

    def sweep(self, republish_all_queued: bool = False) -> SweepReport:
        report = SweepReport()
        self._recover_lost_jobs(report)
        publisher = JobPublisher.from_settings(self.broker, self.settings, engine=self.engine,
                                               reschedule_confirmed=True)
        self._release_parked(publisher, report)
        self._publish_due(publisher, report, republish_all_queued)
        return report

    # 1. dead workers ------------------------------------------------------------------------

    def _recover_lost_jobs(self, report: SweepReport) -> None:
        limit = services.now() - dt.timedelta(seconds=self.dead_after)
        with Session(self.engine) as db, db.begin():
            workers = dict(db.execute(select(SchedulerWorker.worker_name, SchedulerWorker.last_heartbeat)).all())
            dead = {name for name, beat in workers.items() if beat is None or beat < limit}
            running = db.execute(select(SchedulerTask.id, SchedulerTask.assigned_worker_name, SchedulerTask.times_run,
                                        SchedulerTask.last_run_time)
                                 .where(SchedulerTask.status == RUNNING)).all()
            for task_id, worker, times_run, started in running:
                unknown = worker not in workers and (started is None or started < limit)
                if worker not in dead and not unknown:
                    continue
                self._recover(db, task_id, worker, times_run or 0, report)
            if dead:
                db.execute(delete(SchedulerWorker).where(SchedulerWorker.worker_name.in_(dead)))
                report.forgotten_workers.extend(sorted(dead))

    def _recover(self, db: Session, task_id: int, worker: str | None, times_run: int, report: SweepReport) -> None:
        held_by = SchedulerTask.assigned_worker_name == worker if worker is not None \
            else SchedulerTask.assigned_worker_name.is_(None)
        note = f"worker {worker} stopped responding"
        db.execute(update(SchedulerRun)
                   .where(SchedulerRun.task_id == task_id, SchedulerRun.status == RUNNING)
                   .values(status=FAILED, stop_time=services.now(), traceback=note, run_output=note)
                   .execution_options(synchronize_session=False))
        if times_run >= self.max_attempts:
            changed = db.execute(
                update(SchedulerTask).where(SchedulerTask.id == task_id, SchedulerTask.status == RUNNING, held_by)
                .values(status=FAILED, stop_time=services.now(),
                        times_failed=func.coalesce(SchedulerTask.times_failed, 0) + 1)
                .execution_options(synchronize_session=False)).rowcount
            if changed:
                services.record_run(db, task_id, FAILED, f"gave up: its workers stopped responding {times_run} times")
                report.failed.append(task_id)
            return
        changed = db.execute(
            update(SchedulerTask).where(SchedulerTask.id == task_id, SchedulerTask.status == RUNNING, held_by)
            .values(status=QUEUED, assigned_worker_name="", next_run_time=services.now())
            .execution_options(synchronize_session=False)).rowcount
        if changed:
            log.warning("task %s: %s; queued again", task_id, note)
            report.requeued.append(task_id)

    # 2. parked runs whose pre-process ended -------------------------------------------------

    def _release_parked(self, publisher: JobPublisher, report: SweepReport) -> None:
        with Session(self.engine) as db, db.begin():
            rows = db.execute(
                select(ResultsFile.sequence_file_id, SequenceFile.pre_process_flag).distinct()
                .join(SchedulerTask, SchedulerTask.id == ResultsFile.scheduler_task_id)
                .join(SequenceFile, SequenceFile.id == ResultsFile.sequence_file_id)
                .where(services._parked_condition(),
                       or_(SequenceFile.pre_process_flag.is_(None),
                           SequenceFile.pre_process_flag.in_(("", *services.PRE_PROCESS_DONE,
                                                              services.PRE_PROCESS_FAILED))))
                .limit(BATCH)).all()
            for sequence_file_id, flag in rows:
                if flag == services.PRE_PROCESS_FAILED:
                    report.failed += services.fail_parked_analyses(db, sequence_file_id, "its pre-process failed")
                else:
                    report.released += services.release_parked_analyses(db, publisher, sequence_file_id)
        publisher.flush()

    # 3. QUEUED jobs nobody took -----------------------------------------------------------

    def _publish_due(self, publisher: JobPublisher, report: SweepReport, everything: bool) -> None:
        if self.broker is None:
            return
        moment = services.now()
        with Session(self.engine) as db, db.begin():
            query = select(SchedulerTask.id, SchedulerTask.function_name).where(SchedulerTask.status == QUEUED)
            if not everything:
                query = query.where(or_(SchedulerTask.next_run_time.is_(None), SchedulerTask.next_run_time <= moment))
            rows = db.execute(query.order_by(SchedulerTask.start_time, SchedulerTask.id).limit(BATCH)).all()
            for task_id, function in rows:
                queue = services.QUEUE_OF_FUNCTION.get(function or "")
                if queue is None:
                    services.fail_task(db, task_id, f"job type '{function}' is not run by this server",
                                       from_statuses=(QUEUED,))
                    report.failed.append(task_id)
                    continue
                publisher.enqueue(queue, task_id)
        report.published += publisher.flush()
