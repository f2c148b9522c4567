"""Where job messages travel: RabbitMQ (`amqp://...`) or the in-process queue (`memory://`).

A message only names a job (`{"task_id": 12, "kind": "analysis"}`); the job itself,
its arguments and its status live in `scheduler_task`, the source of truth. A lost or
duplicated message therefore never loses or doubles a job: the sweeper republishes
jobs nobody claimed, and a consumer claims a job with a conditional UPDATE before
running it.

RabbitMQ topology (every name is prefixed by `vidjil.queue_prefix`):

- durable quorum queues `analysis`, `pre_process`, `fuse`, with a delivery limit
  (`x-delivery-limit`), a consumer timeout above the job time limit
  (`x-consumer-timeout`, honoured by RabbitMQ >= 3.12; older brokers use the
  global `consumer_timeout` of rabbitmq.conf) and dead-lettering to
- the direct exchange `vidjil.dead_letter` and its durable queue `dead_letter`,
  which keeps poison messages for inspection (bounded length and age).

Messages are persistent and published with publisher confirms on the default exchange,
`mandatory` so that a missing queue is an error rather than a silent drop.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import logging
import queue as queue_module
import threading
import time
from typing import Any, Callable, Iterable

log = logging.getLogger(__name__)

ANALYSIS, PRE_PROCESS, FUSE = "analysis", "pre_process", "fuse"
KINDS = (ANALYSIS, PRE_PROCESS, FUSE)
DEAD_LETTER_QUEUE = "dead_letter"
DEAD_LETTER_EXCHANGE = "vidjil.dead_letter"
DEAD_LETTER_ROUTING_KEY = "dead"
MESSAGE_VERSION = 1

DEFAULT_TIME_LIMIT = 7200
DEFAULT_DELIVERY_LIMIT = 5
# A consumer must ack within the job time limit plus this margin (fuse and storage after the program).
CONSUMER_TIMEOUT_MARGIN = 1800
DEAD_LETTER_TTL_MS = 14 * 24 * 3600 * 1000
DEAD_LETTER_MAX_LENGTH = 100_000


class BrokerUnavailable(Exception):
    """The message could not be handed to the broker; the job stays QUEUED for the sweeper."""


class InvalidMessage(ValueError):
    """A message that names no job we could run (dead-lettered)."""


@dataclasses.dataclass(frozen=True)
class JobMessage:
    task_id: int
    kind: str

    def encode(self) -> bytes:
        return json.dumps({"task_id": self.task_id, "kind": self.kind, "v": MESSAGE_VERSION}).encode()


def decode_message(body: bytes, expected_kind: str | None = None) -> JobMessage:
    """The job a message names; anything else is an InvalidMessage."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidMessage("not a JSON message") from None
    if not isinstance(data, dict):
        raise InvalidMessage("not a JSON object")
    task_id, kind = data.get("task_id"), data.get("kind")
    if isinstance(task_id, bool) or not isinstance(task_id, int) or task_id <= 0:
        raise InvalidMessage(f"invalid task_id {task_id!r}")
    if kind not in KINDS:
        raise InvalidMessage(f"unknown kind {kind!r}")
    if expected_kind is not None and kind != expected_kind:
        raise InvalidMessage(f"a {kind} message on the {expected_kind} queue")
    return JobMessage(task_id, kind)


def _int_setting(settings: dict, key: str, default: int) -> int:
    try:
        return int(settings.get(key) or default)
    except (TypeError, ValueError):
        return default


def job_time_limit(settings: dict) -> int:
    return _int_setting(settings, "vidjil.job_time_limit", DEFAULT_TIME_LIMIT)


class Broker:
    """What the web app, the sweeper and the consumers need from a message broker."""

    url = ""
    kind_name = "broker"

    def __init__(self, prefix: str = ""):
        self.prefix = prefix
        self.engine = None  # set by the app or a command: lets health() report the oldest QUEUED job

    def queue_name(self, kind: str) -> str:
        return f"{self.prefix}{kind}"

    def publish(self, kind: str, task_id: int) -> None:
        """Hand a job's message to the broker; BrokerUnavailable if it cannot take it now."""
        raise NotImplementedError

    def queue_depths(self) -> dict[str, dict[str, int]]:
        raise NotImplementedError

    def health(self) -> dict[str, Any]:
        """Queue depth per queue, dead letters, and the job table's view (oldest QUEUED job...).

        Raises when the broker cannot be reached: the health endpoint answers 503 then.
        """
        report: dict[str, Any] = {"kind": self.kind_name, "queues": self.queue_depths()}
        if self.engine is not None:
            from sqlalchemy.orm import Session

            from .services import queue_statistics

            with Session(self.engine) as db:
                report.update(queue_statistics(db))
        return report

    def close(self) -> None:
        pass


# --- in-process queue --------------------------------------------------------------------------

@dataclasses.dataclass
class Delivery:
    """One message handed to a consumer; `redeliveries` counts earlier returns to the queue."""

    kind: str
    body: bytes
    redeliveries: int = 0


class MemoryBroker(Broker):
    """Thread-safe queues inside this process, consumed by threads running the consumers' code.

    Nothing survives a restart, which is fine: the jobs are rows, and the in-process
    runtime republishes every QUEUED job when it starts.
    """

    url = "memory://"
    kind_name = "memory"

    def __init__(self, prefix: str = "", delivery_limit: int = DEFAULT_DELIVERY_LIMIT):
        super().__init__(prefix)
        self.delivery_limit = delivery_limit
        self._queues = {kind: queue_module.Queue() for kind in KINDS}
        self._in_progress = collections.Counter()
        self._lock = threading.Lock()
        self.dead_letters: collections.deque[tuple[Delivery, str]] = collections.deque(maxlen=1000)

    def publish(self, kind: str, task_id: int) -> None:
        self.publish_body(kind, JobMessage(task_id, kind).encode())

    def publish_body(self, kind: str, body: bytes) -> None:
        if kind not in self._queues:
            raise BrokerUnavailable(f"no queue {kind!r}")
        self._queues[kind].put(Delivery(kind, body))

    def get(self, kind: str, timeout: float = 0.5) -> Delivery | None:
        try:
            delivery = self._queues[kind].get(timeout=timeout)
        except queue_module.Empty:
            return None
        with self._lock:
            self._in_progress[kind] += 1
        return delivery

    def _done(self, delivery: Delivery) -> None:
        with self._lock:
            self._in_progress[delivery.kind] -= 1

    def ack(self, delivery: Delivery) -> None:
        self._done(delivery)

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        self._done(delivery)
        log.warning("dead-lettered a %s message (%s): %r", delivery.kind, reason, delivery.body[:200])
        self.dead_letters.append((delivery, reason))

    def requeue(self, delivery: Delivery) -> None:
        """Back to the queue, unless it came back too often (then it is dead-lettered)."""
        self._done(delivery)
        if delivery.redeliveries + 1 >= self.delivery_limit:
            self.dead_letters.append((delivery, "delivery_limit"))
            log.warning("dead-lettered a %s message after %d deliveries", delivery.kind, delivery.redeliveries + 1)
            return
        self._queues[delivery.kind].put(dataclasses.replace(delivery, redeliveries=delivery.redeliveries + 1))

    def queue_depths(self) -> dict[str, dict[str, int]]:
        with self._lock:
            depths = {self.queue_name(kind): {"messages": q.qsize(), "unacked": self._in_progress[kind]}
                      for kind, q in self._queues.items()}
        depths[self.queue_name(DEAD_LETTER_QUEUE)] = {"messages": len(self.dead_letters), "unacked": 0}
        return depths


# --- RabbitMQ ----------------------------------------------------------------------------------

def queue_arguments(prefix: str, time_limit: int, delivery_limit: int) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": f"{prefix}{DEAD_LETTER_EXCHANGE}",
        "x-dead-letter-routing-key": DEAD_LETTER_ROUTING_KEY,
        "x-consumer-timeout": (time_limit + CONSUMER_TIMEOUT_MARGIN) * 1000,
    }


def connection_parameters(url: str, heartbeat: int | None = None, timeout: float = 5.0):
    import pika

    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.retry_delay = 0
    params.socket_timeout = timeout
    params.stack_timeout = timeout * 2
    params.blocked_connection_timeout = 30
    params.client_properties = {"connection_name": "vidjil"}
    if heartbeat is not None:
        params.heartbeat = heartbeat
    return params


def declare_topology(connection, prefix: str, time_limit: int, delivery_limit: int,
                     kinds: Iterable[str] = KINDS):
    """Declare the exchange and queues (idempotent) and return an open channel.

    A queue that already exists with other arguments (e.g. another time limit) is
    used as it is, with a warning: RabbitMQ refuses to change arguments in place.
    """
    import pika.exceptions

    channel = connection.channel()
    channel.exchange_declare(f"{prefix}{DEAD_LETTER_EXCHANGE}", exchange_type="direct", durable=True)
    dead = f"{prefix}{DEAD_LETTER_QUEUE}"
    channel.queue_declare(dead, durable=True, arguments={
        "x-message-ttl": DEAD_LETTER_TTL_MS, "x-max-length": DEAD_LETTER_MAX_LENGTH})
    channel.queue_bind(dead, f"{prefix}{DEAD_LETTER_EXCHANGE}", routing_key=DEAD_LETTER_ROUTING_KEY)
    arguments = queue_arguments(prefix, time_limit, delivery_limit)
    for kind in kinds:
        name = f"{prefix}{kind}"
        try:
            channel.queue_declare(name, durable=True, arguments=arguments)
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code != 406:
                raise
            log.warning("queue %s exists with other arguments (%s); using it as it is", name, exc.reply_text)
            channel = connection.channel()
            channel.queue_declare(name, passive=True)
    return channel


class RabbitBroker(Broker):
    """Publishes on one lazily opened connection, with confirms; thread-safe.

    The connection has no heartbeat (it is idle between publishes and nobody would
    service it); a dead connection is detected at the next publish, which reconnects
    once. After a failure, publishes fail fast for `retry_after` seconds so that a down
    broker does not slow every request: the jobs stay QUEUED and the sweeper
    republishes them.
    """

    kind_name = "rabbitmq"

    def __init__(self, url: str, prefix: str = "", time_limit: int = DEFAULT_TIME_LIMIT,
                 delivery_limit: int = DEFAULT_DELIVERY_LIMIT, retry_after: float = 2.0,
                 connect_timeout: float = 3.0):
        super().__init__(prefix)
        self.url = url
        self.time_limit = time_limit
        self.delivery_limit = delivery_limit
        self.retry_after = retry_after
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._connection = None
        self._channel = None
        self._down_until = 0.0

    def _open(self):
        import pika

        if self._channel is not None and self._channel.is_open and self._connection.is_open:
            return self._channel
        self._close_quietly()
        if time.monotonic() < self._down_until:
            raise BrokerUnavailable("broker unreachable (recent failure)")
        try:
            self._connection = pika.BlockingConnection(
                connection_parameters(self.url, heartbeat=0, timeout=self.connect_timeout))
            channel = declare_topology(self._connection, self.prefix, self.time_limit, self.delivery_limit)
            channel.confirm_delivery()
        except Exception as exc:
            self._close_quietly()
            self._down_until = time.monotonic() + self.retry_after
            raise BrokerUnavailable(f"cannot reach the broker: {exc.__class__.__name__}: {exc}") from exc
        self._channel = channel
        return channel

    def _close_quietly(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            try:
                connection.close()
            except Exception:
                pass

    def _with_channel(self, action: Callable[[Any], Any]):
        """Run `action(channel)`, reconnecting once if the connection died meanwhile."""
        import pika.exceptions

        with self._lock:
            for attempt in (1, 2):
                channel = self._open()
                try:
                    return action(channel)
                except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as exc:
                    raise BrokerUnavailable(f"the broker refused the message: {exc}") from exc
                except (pika.exceptions.AMQPError, OSError) as exc:
                    self._close_quietly()
                    if attempt == 2:
                        self._down_until = time.monotonic() + self.retry_after
                        raise BrokerUnavailable(f"lost the broker: {exc.__class__.__name__}") from exc

    def publish(self, kind: str, task_id: int) -> None:
        self.publish_body(kind, JobMessage(task_id, kind).encode(), message_id=f"task-{task_id}")

    def publish_body(self, kind: str, body: bytes, message_id: str | None = None) -> None:
        import pika

        properties = pika.BasicProperties(delivery_mode=2, content_type="application/json",
                                          message_id=message_id, timestamp=int(time.time()))
        self._with_channel(lambda channel: channel.basic_publish(
            exchange="", routing_key=self.queue_name(kind), body=body, properties=properties, mandatory=True))

    def queue_depths(self) -> dict[str, dict[str, int]]:
        def read(channel):
            depths = {}
            for kind in (*KINDS, DEAD_LETTER_QUEUE):
                frame = channel.queue_declare(self.queue_name(kind), passive=True)
                depths[self.queue_name(kind)] = {"messages": frame.method.message_count,
                                                 "consumers": frame.method.consumer_count}
            return depths

        return self._with_channel(read)

    def delete_queues(self) -> None:
        """Remove this prefix's queues and exchange (tests, benchmarks)."""
        def delete(channel):
            for kind in (*KINDS, DEAD_LETTER_QUEUE):
                channel.queue_delete(self.queue_name(kind))
            channel.exchange_delete(f"{self.prefix}{DEAD_LETTER_EXCHANGE}")

        self._with_channel(delete)

    def close(self) -> None:
        with self._lock:
            self._close_quietly()


def make_broker(settings: dict) -> Broker:
    """The broker named by `vidjil.broker_url`: `memory://` (default) or `amqp://...`."""
    url = str(settings.get("vidjil.broker_url") or "memory://")
    prefix = str(settings.get("vidjil.queue_prefix") or "")
    delivery_limit = _int_setting(settings, "vidjil.delivery_limit", DEFAULT_DELIVERY_LIMIT)
    if url.startswith("memory:"):
        return MemoryBroker(prefix, delivery_limit=delivery_limit)
    if url.startswith(("amqp://", "amqps://")):
        return RabbitBroker(url, prefix, time_limit=job_time_limit(settings), delivery_limit=delivery_limit)
    raise ValueError(f"unsupported vidjil.broker_url {url!r}: use memory:// or amqp://")
