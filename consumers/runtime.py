"""Running consumers: on RabbitMQ (one process per consumer) or as threads of the web process.

RabbitMQ: prefetch 1, manual acks. The job runs in a worker thread while the main
thread keeps servicing the connection (`process_data_events`), so heartbeats
continue during a two-hour analysis; the worker thread settles the message through
`connection.add_callback_threadsafe`, after the job's state is committed. SIGTERM
(supervisor stopping the program) stops consuming, kills the running program and
puts its job back to QUEUED, then hands the message back.

Each consumer registers a `scheduler_worker` row and refreshes its `last_heartbeat`;
the sweeper requeues the RUNNING jobs of a worker whose heartbeat stopped.
"""
from __future__ import annotations

import functools
import logging
import os
import signal
import socket
import threading
import time
import uuid

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from vidjil_pyramid.jobs.broker import (
    DEFAULT_DELIVERY_LIMIT, KINDS, MemoryBroker, connection_parameters, declare_topology, job_time_limit,
)
from vidjil_pyramid.jobs.models import SchedulerWorker

from .jobs import JobConsumer, Outcome, WorkerContext

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT_SECONDS = 5
RETRY_DELAY_SECONDS = 5
RABBIT_HEARTBEAT_SECONDS = 30


def setting(settings: dict, key: str, default: float) -> float:
    try:
        return float(settings.get(key) or default)
    except (TypeError, ValueError):
        return default


def worker_name(kind: str) -> str:
    return f"{socket.gethostname()}#{os.getpid()}#{kind}#{uuid.uuid4().hex[:6]}"


class Heartbeat:
    """This worker's `scheduler_worker` row, refreshed every few seconds until `stop()`."""

    def __init__(self, engine, name: str, kind: str, interval: float = DEFAULT_HEARTBEAT_SECONDS):
        self.engine, self.name, self.kind, self.interval = engine, name, kind, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        from vidjil_pyramid.jobs.services import now

        moment = now()
        with Session(self.engine) as db, db.begin():
            changed = db.execute(update(SchedulerWorker).where(SchedulerWorker.worker_name == self.name)
                                 .values(last_heartbeat=moment, status="ACTIVE")).rowcount
            if not changed:
                db.add(SchedulerWorker(worker_name=self.name, first_heartbeat=moment, last_heartbeat=moment,
                                       status="ACTIVE", is_ticker=False, group_names=self.kind, worker_stats="{}"))

    def start(self) -> "Heartbeat":
        self.beat()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{self.kind}", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception as exc:  # the database may be restarting: try again next beat
                log.warning("heartbeat of %s failed: %s", self.name, exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)
        try:
            with Session(self.engine) as db, db.begin():
                db.execute(delete(SchedulerWorker).where(SchedulerWorker.worker_name == self.name))
        except Exception as exc:
            log.warning("could not unregister %s: %s", self.name, exc)


class RabbitConsumerRuntime:
    """One consumer process on one queue: `vidjil-server consumer <kind>`."""

    def __init__(self, ctx: WorkerContext, kind: str, url: str, prefix: str = ""):
        self.ctx, self.kind, self.url, self.prefix = ctx, kind, url, prefix
        self.consumer = JobConsumer(kind, ctx)
        self.time_limit = job_time_limit(ctx.settings)
        self.delivery_limit = int(setting(ctx.settings, "vidjil.delivery_limit", DEFAULT_DELIVERY_LIMIT))
        self.retry_delay = setting(ctx.settings, "vidjil.retry_delay", RETRY_DELAY_SECONDS)
        self._worker: threading.Thread | None = None
        self._connection = None

    def install_signal_handlers(self) -> None:
        def stop(signum, _frame):
            log.info("%s: signal %s, stopping", self.ctx.worker_name, signum)
            self.ctx.shutdown.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def run(self) -> None:
        heartbeat = Heartbeat(self.ctx.engine, self.ctx.worker_name, self.kind,
                              setting(self.ctx.settings, "vidjil.worker_heartbeat", DEFAULT_HEARTBEAT_SECONDS)).start()
        delay = 1.0
        try:
            while not self.ctx.shutdown.is_set():
                try:
                    self._consume()
                    delay = 1.0
                except Exception as exc:
                    log.warning("%s: broker connection lost (%s: %s); retrying in %.0f s",
                                self.ctx.worker_name, exc.__class__.__name__, exc, delay)
                    self._wait_for_worker()
                    self.ctx.shutdown.wait(delay)
                    delay = min(delay * 2, 30.0)
        finally:
            self._wait_for_worker()
            heartbeat.stop()

    def _wait_for_worker(self) -> None:
        if self._worker is not None:
            self._worker.join()
            self._worker = None

    def _consume(self) -> None:
        import pika

        connection = pika.BlockingConnection(connection_parameters(self.url, heartbeat=RABBIT_HEARTBEAT_SECONDS))
        self._connection = connection
        try:
            channel = declare_topology(connection, self.prefix, self.time_limit, self.delivery_limit, KINDS)
            channel.basic_qos(prefetch_count=1)
            tag = channel.basic_consume(f"{self.prefix}{self.kind}", self._on_message, auto_ack=False)
            log.info("%s consuming %s%s", self.ctx.worker_name, self.prefix, self.kind)
            cancelled = False
            while True:
                connection.process_data_events(time_limit=0.5)
                if self.ctx.shutdown.is_set():
                    if not cancelled:
                        channel.basic_cancel(tag)  # nothing new; the running job is handed back
                        cancelled = True
                    if self._worker is None or not self._worker.is_alive():
                        connection.process_data_events(time_limit=0.1)
                        break
        finally:
            self._connection = None
            if connection.is_open:
                try:
                    connection.close()
                except Exception:
                    pass

    def _on_message(self, channel, method, _properties, body: bytes) -> None:
        connection = self._connection
        self._worker = threading.Thread(target=self._work, args=(connection, channel, method.delivery_tag, body),
                                        name=f"job-{self.kind}", daemon=True)
        self._worker.start()

    def _work(self, connection, channel, delivery_tag: int, body: bytes) -> None:
        outcome = self.consumer.handle(body)
        if outcome is Outcome.RETRY and not self.ctx.shutdown.is_set():
            time.sleep(self.retry_delay)  # e.g. the database is down: do not spin on the message
        try:
            connection.add_callback_threadsafe(functools.partial(_settle, channel, delivery_tag, outcome))
        except Exception as exc:  # the connection died: the message comes back; the job's row decides
            log.warning("could not settle message %s (%s); it will be delivered again", delivery_tag, exc)


def _settle(channel, delivery_tag: int, outcome: Outcome) -> None:
    try:
        if outcome is Outcome.ACK:
            channel.basic_ack(delivery_tag)
        elif outcome is Outcome.DEAD_LETTER:
            channel.basic_reject(delivery_tag, requeue=False)
        else:
            channel.basic_nack(delivery_tag, requeue=True)
    except Exception as exc:
        log.warning("could not settle message %s: %s", delivery_tag, exc)


class InProcessRuntime:
    """Consumers and the sweeper as threads of this process, on the in-process queue (`memory://`).

    Used by `vidjil-server serve` and `demo` when `vidjil.broker_url = memory://`:
    the same `JobConsumer` code as the RabbitMQ consumers. On start, every QUEUED job
    is published again (the in-process queue starts empty).
    """

    def __init__(self, broker: MemoryBroker, settings: dict, engine, workers: dict[str, int] | None = None,
                 with_sweeper: bool = True):
        self.broker, self.settings, self.engine = broker, settings, engine
        self.workers = workers or {kind: 1 for kind in KINDS}
        self.with_sweeper = with_sweeper
        self.shutdown = threading.Event()
        self.contexts: list[WorkerContext] = []
        self._threads: list[threading.Thread] = []
        self._heartbeats: list[Heartbeat] = []
        self.on_claim = None

    def start(self) -> "InProcessRuntime":
        from .sweeper import Sweeper

        interval = setting(self.settings, "vidjil.worker_heartbeat", DEFAULT_HEARTBEAT_SECONDS)
        for kind, count in self.workers.items():
            for _ in range(count):
                ctx = WorkerContext(self.settings, self.engine, worker_name(kind), self.broker,
                                    shutdown=self.shutdown, on_claim=self.on_claim)
                self.contexts.append(ctx)
                self._heartbeats.append(Heartbeat(self.engine, ctx.worker_name, kind, interval).start())
                self._spawn(f"consumer-{kind}", self._consume, kind, ctx)
        if self.with_sweeper:
            sweeper = Sweeper(self.settings, self.engine, self.broker)
            sweeper.sweep(republish_all_queued=True)
            self._spawn("sweeper", sweeper.run_forever, self.shutdown)
        return self

    def _spawn(self, name: str, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _consume(self, kind: str, ctx: WorkerContext) -> None:
        consumer = JobConsumer(kind, ctx)
        retry_delay = setting(self.settings, "vidjil.retry_delay", RETRY_DELAY_SECONDS)
        while not self.shutdown.is_set():
            delivery = self.broker.get(kind, timeout=0.5)
            if delivery is None:
                continue
            outcome = consumer.handle(delivery.body)
            if outcome is Outcome.ACK:
                self.broker.ack(delivery)
            elif outcome is Outcome.DEAD_LETTER:
                self.broker.dead_letter(delivery, "rejected")
            elif self.shutdown.is_set():
                self.broker.ack(delivery)  # the job is QUEUED again; the next start republishes it
            else:
                self.shutdown.wait(retry_delay)
                self.broker.requeue(delivery)

    def stop(self, timeout: float = 30.0) -> None:
        self.shutdown.set()
        for thread in self._threads:
            thread.join(timeout=timeout)
        for heartbeat in self._heartbeats:
            heartbeat.stop()


def start_in_process(app_or_registry, settings: dict, engine) -> InProcessRuntime | None:
    """Start in-process consumers when the app's broker is the in-process queue (else None)."""
    registry = getattr(app_or_registry, "registry", app_or_registry)
    broker = registry.get("broker")
    if not isinstance(broker, MemoryBroker):
        return None
    counts = {kind: int(setting(settings, f"vidjil.inprocess_{kind}_workers", 1)) for kind in KINDS}
    return InProcessRuntime(broker, settings, engine, counts).start()


def registered_workers(engine) -> list[str]:
    with Session(engine) as db:
        return list(db.scalars(select(SchedulerWorker.worker_name)))
