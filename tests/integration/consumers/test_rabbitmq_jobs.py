"""Never lose a job: crashes, a down broker, poison messages, time limits and stops, for real."""
from __future__ import annotations

import json
import signal
import time

import pika
import pytest
from factories import PASSWORD
from job_processes import group_is_gone, wait_for_lines
from sqlalchemy import select, update

from vidjil_pyramid.jobs import services
from vidjil_pyramid.jobs.broker import JobMessage
from vidjil_pyramid.jobs.dispatch import JobPublisher
from vidjil_pyramid.jobs.models import SchedulerRun, SchedulerTask
from vidjil_pyramid.results.models import FusedFile

from rabbit_cluster import BROKER_URL, CLOSED_BROKER_URL, DATABASE_URL, TIMINGS


def schedule(world, broker, time_limit: int = 600, grep_reads: str | None = None) -> int:
    publisher = JobPublisher(broker, engine=world.engine, time_limit=time_limit, republish_after=1)
    with world.session() as db:
        task_id = services.schedule_analysis(db, publisher, world.ids["sample"], world.ids["config"], grep_reads).id
    publisher.flush()
    return task_id


def runs(world, task_id: int) -> list[SchedulerRun]:
    with world.session() as db:
        return list(db.scalars(select(SchedulerRun).where(SchedulerRun.task_id == task_id).order_by(SchedulerRun.id)))


def dead_letters(cluster) -> list[tuple[bytes, dict]]:
    connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    try:
        channel = connection.channel()
        found = []
        while True:
            method, properties, body = channel.basic_get(f"{cluster.prefix}dead_letter", auto_ack=True)
            if method is None:
                return found
            found.append((body, properties.headers or {}))
    finally:
        connection.close()


def test_a_consumer_killed_mid_job_loses_nothing_and_the_job_completes_once(cluster, monkeypatch):
    world = cluster.world
    cluster.env["STAND_IN_SLEEP"] = "2"
    first = cluster.start("consumer", "analysis")
    cluster.start("sweeper")
    cluster.wait_for_consumers()
    broker = cluster.broker()
    task_id = schedule(world, broker)
    wait_for_lines(cluster.tmp_path / "starts.log", 1)
    assert world.task(task_id).status == "RUNNING"
    first.send_signal(signal.SIGKILL)  # no chance to clean up
    first.wait()
    cluster.start("consumer", "analysis")
    task = world.wait_for(task_id, timeout=60)
    broker.close()

    assert task.status == "COMPLETED" and task.times_run == 2
    attempts = runs(world, task_id)
    assert [run.status for run in attempts] == ["FAILED", "COMPLETED"]
    assert "stopped responding" in attempts[0].traceback
    assert len(wait_for_lines(cluster.tmp_path / "starts.log", 2)) == 2  # the program ran again, from scratch
    time.sleep(1.5)  # a late duplicate delivery would have run by now
    assert len(runs(world, task_id)) == 2 and world.task(task_id).status == "COMPLETED"
    with world.session() as db:
        result = services.results_file_of_task(db, task_id)
        fused = db.scalars(select(FusedFile).where(FusedFile.sample_set_id == world.ids["patient_set"])).all()
    assert result.data_file is not None and len(fused) == 1


def test_a_job_requested_while_the_broker_is_down_runs_when_it_is_back(cluster, tmp_path):
    """The web request succeeds with the broker down; the sweeper publishes the job later."""
    import webtest

    from vidjil_pyramid import main
    from vidjil_pyramid.settings import build_settings
    from webclient import login

    world = cluster.world
    settings = build_settings({}, data_dir=str(world.data_dir), environ={}, overrides={
        "sqlalchemy.url": DATABASE_URL, "vidjil.broker_url": CLOSED_BROKER_URL, "vidjil.queue_prefix": cluster.prefix,
        "vidjil.secret": "test", **TIMINGS})
    app = webtest.TestApp(main({}, **settings), extra_environ={"HTTP_HOST": "vidjil.test"})
    with world.session() as db:
        from vidjil_pyramid.auth.models import User

        email = db.get(User, world.ids["alice"]).email
    login(app, email, PASSWORD)
    started = time.monotonic()
    answer = json.loads(app.post("/vidjil/default/run_request", params={
        "sequence_file_id": world.ids["sample"], "sample_set_id": world.ids["patient_set"],
        "config_id": world.ids["config"], "grep_reads": "ACGTTGCA"}).text)
    assert time.monotonic() - started < 5  # a down broker does not hang the request
    task_id = answer["processId"]
    assert world.task(task_id).status == "QUEUED"
    health = app.get("/vidjil/health", status=503).json
    assert health["broker"]["ok"] is False

    cluster.start("consumer", "analysis")
    cluster.start("sweeper")  # the broker is "back": these processes use the real one
    assert world.wait_for(task_id, timeout=60).status == "COMPLETED"
    assert json.loads(app.post("/vidjil/default/checkProcess", params={"processId": task_id}).text)["status"] == \
        "COMPLETED"


def test_poison_messages_are_dead_lettered_and_their_job_failed_with_a_reason(cluster):
    world = cluster.world
    cluster.start("consumer", "analysis")
    cluster.wait_for_consumers()
    broker = cluster.broker()
    task_id = schedule(world, broker, grep_reads="ACGT")
    world.wait_for(task_id)  # a sound job first: the consumer works
    with world.session() as db:  # then a job whose row can never run
        poison = services.schedule_analysis(db, JobPublisher(None, time_limit=600), world.ids["sample"],
                                            world.ids["config"], "ACGT").id
        db.execute(update(SchedulerTask).where(SchedulerTask.id == poison).values(args='["not", "ids"]'))
    broker.publish("analysis", poison)
    broker.publish_body("analysis", b"rm -rf /")
    task = world.wait_for(poison, timeout=30)
    assert task.status == "FAILED"
    assert "expected [sequence_file" in runs(world, poison)[-1].traceback
    deadline = time.monotonic() + 10
    letters = []
    while len(letters) < 2 and time.monotonic() < deadline:
        letters += dead_letters(cluster)
        time.sleep(0.2)
    bodies = sorted(body for body, _ in letters)
    assert bodies == sorted([JobMessage(poison, "analysis").encode(), b"rm -rf /"])
    assert all(headers["x-death"][0]["reason"] == "rejected" for _, headers in letters)
    broker.close()


def test_a_message_that_keeps_coming_back_is_dead_lettered_by_the_delivery_limit(cluster):
    """What happens to a message whose consumers all crash: the broker stops redelivering it."""
    broker = cluster.broker()
    broker.publish("analysis", 987654)
    broker.close()
    connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    channel = connection.channel()
    for _ in range(10):  # a consumer taking the message and dying, again and again
        method, _, _ = channel.basic_get(f"{cluster.prefix}analysis")
        if method is None:
            break
        channel.basic_nack(method.delivery_tag, requeue=True)
    connection.close()
    (body, headers), = dead_letters(cluster)
    assert json.loads(body)["task_id"] == 987654 and headers["x-death"][0]["reason"] == "delivery_limit"


def test_a_job_over_its_time_limit_is_killed_with_no_process_left(cluster):
    world = cluster.world
    cluster.env["STAND_IN_SLEEP"] = "60"
    cluster.start("consumer", "analysis")
    cluster.wait_for_consumers()
    broker = cluster.broker()
    task_id = schedule(world, broker, time_limit=2)
    (pid,) = wait_for_lines(cluster.tmp_path / "pids", 1, timeout=20)
    assert world.wait_for(task_id, timeout=30).status == "TIMEOUT"
    assert group_is_gone(int(pid))
    assert "time limit" in runs(world, task_id)[-1].traceback
    broker.close()


def test_a_stopped_job_is_killed_with_no_process_left(cluster):
    world = cluster.world
    cluster.env["STAND_IN_SLEEP"] = "60"
    cluster.start("consumer", "analysis")
    cluster.wait_for_consumers()
    broker = cluster.broker()
    task_id = schedule(world, broker)
    (pid,) = wait_for_lines(cluster.tmp_path / "pids", 1, timeout=20)
    with world.session() as db:
        services.stop_job(db, task_id)
    assert group_is_gone(int(pid), timeout=15)
    task = world.wait_for(task_id)
    assert task.status == "STOPPED"
    deadline = time.monotonic() + 10
    while runs(world, task_id)[-1].status == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert runs(world, task_id)[-1].status == "STOPPED"
    broker.close()


@pytest.mark.parametrize("signal_number", [signal.SIGTERM])
def test_a_consumer_stopped_by_supervisor_hands_its_job_back(cluster, signal_number):
    world = cluster.world
    cluster.env["STAND_IN_SLEEP"] = "60"
    consumer = cluster.start("consumer", "analysis")
    cluster.wait_for_consumers()
    broker = cluster.broker()
    task_id = schedule(world, broker)
    (pid,) = wait_for_lines(cluster.tmp_path / "pids", 1, timeout=20)
    consumer.send_signal(signal_number)
    assert consumer.wait(timeout=20) == 0
    assert group_is_gone(int(pid))
    task = world.task(task_id)
    assert task.status == "QUEUED" and task.times_run == 0
    cluster.env["STAND_IN_SLEEP"] = "0"
    cluster.start("consumer", "analysis")  # the next consumer gets the message back
    assert world.wait_for(task_id, timeout=30).status == "COMPLETED"
    broker.close()
