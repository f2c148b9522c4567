"""The in-process queue, the message format, and publishing after commit."""
from __future__ import annotations

import threading

import pytest
import transaction

from vidjil_pyramid.jobs.broker import (
    DEAD_LETTER_QUEUE, InvalidMessage, JobMessage, MemoryBroker, RabbitBroker, decode_message, make_broker,
    queue_arguments,
)
from vidjil_pyramid.jobs.dispatch import AfterCommitPublisher, JobPublisher


def test_make_broker_from_the_url():
    assert isinstance(make_broker({}), MemoryBroker)
    rabbit = make_broker({"vidjil.broker_url": "amqp://guest:guest@127.0.0.1:5672/%2F", "vidjil.queue_prefix": "t_",
                          "vidjil.job_time_limit": "60", "vidjil.delivery_limit": "4"})
    assert isinstance(rabbit, RabbitBroker) and rabbit.queue_name("analysis") == "t_analysis"
    with pytest.raises(ValueError):
        make_broker({"vidjil.broker_url": "redis://localhost"})


def test_queue_arguments_bound_deliveries_and_ack_time():
    arguments = queue_arguments("t_", 7200, 5)
    assert arguments["x-queue-type"] == "quorum"
    assert arguments["x-delivery-limit"] == 5
    assert arguments["x-dead-letter-exchange"] == "t_vidjil.dead_letter"
    assert arguments["x-consumer-timeout"] > 7200 * 1000


def test_messages_name_a_job_and_nothing_else():
    message = decode_message(JobMessage(12, "analysis").encode(), "analysis")
    assert (message.task_id, message.kind) == (12, "analysis")
    for body in (b"\xff", b"[]", b'{"task_id": "12", "kind": "analysis"}', b'{"task_id": 0, "kind": "analysis"}',
                 b'{"task_id": true, "kind": "analysis"}', b'{"task_id": 3, "kind": "shell"}', b"rm -rf /"):
        with pytest.raises(InvalidMessage):
            decode_message(body)
    with pytest.raises(InvalidMessage, match="fuse message on the analysis queue"):
        decode_message(JobMessage(3, "fuse").encode(), "analysis")


def test_memory_queue_delivers_once_and_counts_work_in_progress():
    broker = MemoryBroker()
    broker.publish("analysis", 7)
    delivery = broker.get("analysis", timeout=0.1)
    assert decode_message(delivery.body).task_id == 7
    assert broker.get("analysis", timeout=0.01) is None
    assert broker.queue_depths()["analysis"] == {"messages": 0, "unacked": 1}
    broker.ack(delivery)
    assert broker.queue_depths()["analysis"] == {"messages": 0, "unacked": 0}


def test_memory_queue_dead_letters_after_the_delivery_limit():
    broker = MemoryBroker(delivery_limit=3)
    broker.publish("fuse", 1)
    for _ in range(2):
        broker.requeue(broker.get("fuse", timeout=0.1))
    broker.requeue(broker.get("fuse", timeout=0.1))
    assert broker.get("fuse", timeout=0.01) is None
    (delivery, reason), = broker.dead_letters
    assert reason == "delivery_limit" and delivery.redeliveries == 2
    assert broker.queue_depths()[DEAD_LETTER_QUEUE]["messages"] == 1


def test_memory_queue_is_thread_safe():
    broker = MemoryBroker()
    received: list[int] = []
    lock = threading.Lock()

    def consume():
        while True:
            delivery = broker.get("analysis", timeout=0.2)
            if delivery is None:
                return
            with lock:
                received.append(decode_message(delivery.body).task_id)
            broker.ack(delivery)

    for task_id in range(1, 501):
        broker.publish("analysis", task_id)
    threads = [threading.Thread(target=consume) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(received) == list(range(1, 501))


class RecordingBroker(MemoryBroker):
    def __init__(self, fail: bool = False):
        super().__init__()
        self.fail = fail
        self.published: list[tuple[str, int]] = []

    def publish(self, kind: str, task_id: int) -> None:
        from vidjil_pyramid.jobs.broker import BrokerUnavailable

        if self.fail:
            raise BrokerUnavailable("down")
        self.published.append((kind, task_id))


def test_jobs_are_published_only_when_the_transaction_commits():
    broker = RecordingBroker()
    manager = transaction.TransactionManager(explicit=True)
    manager.begin()
    publisher = AfterCommitPublisher(broker, manager)
    publisher.enqueue("analysis", 1)
    publisher.enqueue("pre_process", 2)
    assert broker.published == []  # nothing before the commit: a consumer could not read the rows yet
    manager.commit()
    assert broker.published == [("analysis", 1), ("pre_process", 2)]


def test_a_rolled_back_transaction_publishes_nothing():
    broker = RecordingBroker()
    manager = transaction.TransactionManager(explicit=True)
    manager.begin()
    publisher = AfterCommitPublisher(broker, manager)
    publisher.enqueue("analysis", 1)
    manager.abort()
    manager.begin()
    manager.commit()
    assert broker.published == [] and publisher.pending == []


def test_a_down_broker_does_not_fail_the_commit():
    broker = RecordingBroker(fail=True)
    manager = transaction.TransactionManager(explicit=True)
    manager.begin()
    publisher = AfterCommitPublisher(broker, manager)
    publisher.enqueue("analysis", 1)
    manager.commit()  # no exception: the job stays QUEUED for the sweeper
    assert broker.published == []


def test_flush_reports_what_the_broker_confirmed():
    publisher = JobPublisher(RecordingBroker())
    publisher.enqueue("fuse", 4)
    assert publisher.flush() == [4]
    assert JobPublisher(RecordingBroker(fail=True)).flush() == []
    down = JobPublisher(RecordingBroker(fail=True))
    down.enqueue("fuse", 5)
    assert down.flush() == []
