"""Publishing job messages only once the job rows are committed.

Services call `publisher.enqueue(kind, task_id)` while their transaction is open;
nothing reaches the broker until that transaction commits (a rolled-back request
never starts a job, and a consumer never receives an id it cannot read yet).

`scheduler_task.next_run_time` says when the sweeper should (re)publish a QUEUED job
that nobody claimed: a new job gets `now + vidjil.unclaimed_republish_after` (a
safety net for a message lost by the broker, or a process that died between its
commit and its publish); a publish the broker refused brings it forward to
`now + vidjil.republish_after`, so a job requested while the broker is down runs
soon after the broker is back. The normal path costs no extra write.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Iterable

from sqlalchemy import update

from .broker import DEFAULT_TIME_LIMIT, Broker, BrokerUnavailable
from .models import QUEUED, SchedulerTask

log = logging.getLogger(__name__)

DEFAULT_REPUBLISH_AFTER = 30            # a job whose publish failed
DEFAULT_UNCLAIMED_REPUBLISH_AFTER = 900  # a published job still unclaimed (duplicates are harmless)


def publisher_options(settings: dict) -> dict:
    """The publisher's timing settings (`vidjil.job_time_limit`, `vidjil.republish_after`...)."""
    def number(key: str, default: int) -> int:
        try:
            return int(settings.get(key) or default)
        except (TypeError, ValueError):
            return default

    return {"time_limit": number("vidjil.job_time_limit", DEFAULT_TIME_LIMIT),
            "republish_after": number("vidjil.republish_after", DEFAULT_REPUBLISH_AFTER),
            "unclaimed_republish_after": number("vidjil.unclaimed_republish_after",
                                                DEFAULT_UNCLAIMED_REPUBLISH_AFTER)}


class JobPublisher:
    """Collects the jobs of a transaction; `flush()` publishes them (after the commit).

    `engine` lets it record, in its own short transaction, when the sweeper should
    take over; `reschedule_confirmed` (the sweeper's publisher) also pushes back the
    deadline of the jobs it published, so that it does not publish them at every sweep.
    """

    def __init__(self, broker: Broker | None, *, engine=None, time_limit: int = DEFAULT_TIME_LIMIT,
                 republish_after: int = DEFAULT_REPUBLISH_AFTER,
                 unclaimed_republish_after: int = DEFAULT_UNCLAIMED_REPUBLISH_AFTER,
                 reschedule_confirmed: bool = False):
        self.broker = broker
        self.engine = engine
        self.time_limit = time_limit
        self.republish_after = republish_after
        self.unclaimed_republish_after = unclaimed_republish_after
        self.reschedule_confirmed = reschedule_confirmed
        self.pending: list[tuple[str, int]] = []

    @classmethod
    def from_settings(cls, broker: Broker | None, settings: dict, engine=None, **options) -> "JobPublisher":
        return cls(broker, engine=engine, **{**publisher_options(settings), **options})

    def first_dispatch_deadline(self) -> dt.datetime:
        """`next_run_time` of a job about to be published: the sweeper's safety net."""
        return dt.datetime.now() + dt.timedelta(seconds=self.unclaimed_republish_after)

    def enqueue(self, kind: str, task_id: int) -> None:
        self.pending.append((kind, int(task_id)))

    def discard(self) -> None:
        self.pending.clear()

    def flush(self) -> list[int]:
        """Publish what was enqueued; returns the ids the broker confirmed."""
        pending, self.pending = self.pending, []
        confirmed: list[int] = []
        refused: list[int] = []
        if self.broker is None:
            return confirmed
        for kind, task_id in pending:
            try:
                self.broker.publish(kind, task_id)
                confirmed.append(task_id)
            except BrokerUnavailable as exc:
                log.warning("job %s stays QUEUED for the sweeper: %s", task_id, exc)
                refused.append(task_id)
        if refused:
            self._set_deadline(refused, self.republish_after)
        if confirmed and self.reschedule_confirmed:
            self._set_deadline(confirmed, self.unclaimed_republish_after)
        return confirmed

    def _set_deadline(self, task_ids: Iterable[int], seconds: int) -> None:
        if self.engine is None:
            return
        until = dt.datetime.now() + dt.timedelta(seconds=seconds)
        try:
            with self.engine.begin() as connection:
                connection.execute(update(SchedulerTask)
                                   .where(SchedulerTask.id.in_(list(task_ids)), SchedulerTask.status == QUEUED)
                                   .values(next_run_time=until))
        except Exception:  # the jobs are safe anyway: the sweeper takes over at their first deadline
            log.exception("could not reschedule the publication of jobs %s", list(task_ids))


class AfterCommitPublisher(JobPublisher):
    """The publisher of a web request: flushes when the request's transaction commits."""

    def __init__(self, broker: Broker | None, transaction_manager, **options):
        super().__init__(broker, **options)
        self.transaction_manager = transaction_manager
        self._hooked = None

    def enqueue(self, kind: str, task_id: int) -> None:
        super().enqueue(kind, task_id)
        current = self.transaction_manager.get()
        if self._hooked is not current:
            current.addAfterCommitHook(self._after_commit)
            if hasattr(current, "addAfterAbortHook"):
                current.addAfterAbortHook(self._after_abort)
            self._hooked = current

    def _after_commit(self, committed: bool) -> None:
        self._hooked = None
        if committed:
            self.flush()
        else:
            self.discard()

    def _after_abort(self) -> None:
        self._hooked = None
        self.discard()
