"""The sweeper, the in-process runtime and the demo's analysis."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from consumers.runtime import Heartbeat, InProcessRuntime
from consumers.sweeper import Sweeper
from vidjil_pyramid.files.models import SequenceFile
from vidjil_pyramid.jobs import services
from vidjil_pyramid.jobs.broker import decode_message
from vidjil_pyramid.jobs.models import SchedulerRun, SchedulerTask, SchedulerWorker
from vidjil_pyramid.results.models import FusedFile

LONG_AGO = dt.datetime(2020, 1, 1)


def schedule(world, grep_reads: str | None = None) -> int:
    with world.session() as db:
        return services.schedule_analysis(db, world.publisher(), world.ids["sample"], world.ids["config"],
                                          grep_reads).id


def published(world, kind: str = "analysis") -> list[int]:
    ids = []
    while (delivery := world.broker.get(kind, timeout=0.01)) is not None:
        ids.append(decode_message(delivery.body).task_id)
        world.broker.ack(delivery)
    return ids


def pretend_running(world, task_id: int, worker: str, times_run: int = 1, started=LONG_AGO) -> None:
    with world.session() as db:
        db.execute(update(SchedulerTask).where(SchedulerTask.id == task_id).values(
            status="RUNNING", assigned_worker_name=worker, times_run=times_run, last_run_time=started))
        db.add(SchedulerRun(task_id=task_id, status="RUNNING", start_time=started, worker_name=worker))


def sweeper(world, **settings) -> Sweeper:
    world.settings.update({"vidjil.worker_dead_after": "5", **settings})
    return Sweeper(world.settings, world.engine, world.broker)


def test_the_running_job_of_a_dead_worker_is_queued_again_and_published(job_world):
    world = job_world
    task_id = schedule(world)
    pretend_running(world, task_id, "ghost")
    with world.session() as db:
        db.add(SchedulerWorker(worker_name="ghost", first_heartbeat=LONG_AGO, last_heartbeat=LONG_AGO))
    report = sweeper(world).sweep()
    assert report.requeued == [task_id] and report.forgotten_workers == ["ghost"]
    task = world.task(task_id)
    assert task.status == "QUEUED" and task.assigned_worker_name == ""
    assert task_id in report.published and published(world) == [task_id]
    with world.session() as db:
        run = db.scalars(select(SchedulerRun).where(SchedulerRun.task_id == task_id)).one()
        assert run.status == "FAILED" and "ghost stopped responding" in run.traceback
        assert db.scalar(select(SchedulerWorker.id)) is None


def test_a_live_worker_keeps_its_job(job_world):
    world = job_world
    task_id = schedule(world)
    pretend_running(world, task_id, "alive", started=services.now())
    heartbeat = Heartbeat(world.engine, "alive", "analysis", interval=0.2).start()
    try:
        assert sweeper(world).sweep().requeued == []
    finally:
        heartbeat.stop()
    assert world.task(task_id).status == "RUNNING"


def test_a_running_job_of_an_unknown_worker_is_recovered_once_old_enough(job_world):
    world = job_world
    old, recent = schedule(world), schedule(world, grep_reads="ACGT")
    pretend_running(world, old, "imported-web2py-worker")
    pretend_running(world, recent, "just-claimed-worker", started=services.now())
    assert sweeper(world).sweep().requeued == [old]
    assert world.task(recent).status == "RUNNING"


def test_a_job_lost_too_often_is_failed(job_world):
    world = job_world
    task_id = schedule(world)
    pretend_running(world, task_id, "ghost", times_run=3)
    report = sweeper(world, **{"vidjil.max_attempts": "3"}).sweep()
    assert report.failed == [task_id]
    assert world.task(task_id).status == "FAILED"
    with world.session() as db:
        reasons = [r.traceback for r in db.scalars(select(SchedulerRun).where(SchedulerRun.task_id == task_id))]
    assert any("stopped responding 3 times" in reason for reason in reasons)


def test_queued_jobs_are_republished_only_when_due(job_world):
    world = job_world
    task_id = schedule(world)  # never published: due after vidjil.republish_after
    assert sweeper(world).sweep().published == []
    with world.session() as db:
        db.execute(update(SchedulerTask).where(SchedulerTask.id == task_id).values(next_run_time=LONG_AGO))
    assert sweeper(world).sweep().published == [task_id]
    assert published(world) == [task_id]
    assert world.task(task_id).next_run_time > services.now() + dt.timedelta(minutes=10)  # published: left alone
    assert sweeper(world).sweep().published == []
    assert sweeper(world).sweep(republish_all_queued=True).published == [task_id]


def test_a_job_the_broker_refused_becomes_due_soon(job_world):
    from vidjil_pyramid.jobs.broker import RabbitBroker
    from vidjil_pyramid.jobs.dispatch import JobPublisher

    world = job_world
    down = RabbitBroker("amqp://guest:guest@127.0.0.1:1/%2F", connect_timeout=1)
    publisher = JobPublisher.from_settings(down, world.settings, engine=world.engine)
    with world.session() as db:
        task_id = services.schedule_analysis(db, publisher, world.ids["sample"], world.ids["config"]).id
    assert world.task(task_id).next_run_time > services.now() + dt.timedelta(minutes=10)
    assert publisher.flush() == []
    assert world.task(task_id).next_run_time < services.now() + dt.timedelta(seconds=40)
    assert world.task(task_id).status == "QUEUED"


def test_jobs_of_types_we_do_not_run_are_failed(job_world):
    world = job_world
    with world.session() as db:
        task = SchedulerTask(function_name="compute_extra", status="QUEUED", args="[1, 1, 5]", next_run_time=LONG_AGO)
        db.add(task)
        db.flush()
        task_id = task.id
    assert sweeper(world).sweep().failed == [task_id]
    assert world.task(task_id).status == "FAILED"


def test_parked_runs_are_released_when_their_pre_process_ended(job_world):
    world = job_world
    with world.session() as db:
        db.execute(update(SequenceFile).where(SequenceFile.id == world.ids["sample"]).values(pre_process_flag="WAIT"))
    task_id = schedule(world)
    assert world.task(task_id).status == "STOPPED"
    assert sweeper(world).sweep().released == []
    with world.session() as db:
        db.execute(update(SequenceFile).where(SequenceFile.id == world.ids["sample"])
                   .values(pre_process_flag="COMPLETED"))
    assert sweeper(world).sweep().released == [task_id]
    assert world.task(task_id).status == "QUEUED" and published(world) == [task_id]


def test_the_in_process_runtime_runs_what_was_queued_before_it_started(job_world):
    world = job_world
    task_id = schedule(world)  # published nowhere: the runtime republishes QUEUED jobs when it starts
    runtime = InProcessRuntime(world.broker, world.settings, world.engine).start()
    try:
        assert world.wait_for(task_id).status == "COMPLETED"
        publisher = world.publisher()  # a new run of the same sample, published at commit
        with world.session() as db:
            second = services.schedule_analysis(db, publisher, world.ids["sample"], world.ids["config"]).id
        publisher.flush()
        assert world.wait_for(second).status == "COMPLETED"
    finally:
        runtime.stop(timeout=10)
    with world.session() as db:
        assert db.scalar(select(SchedulerWorker.id)) is None  # workers unregister on a clean stop


def test_the_demo_patient_gets_a_finished_fused_analysis(tmp_path, job_world_template):
    """`vidjil-server demo`: demo data, its analysis queued, run by in-process consumers with the stand-in."""
    from jobs_world import open_job_world

    from vidjil_pyramid.db import make_engine
    from vidjil_pyramid.db.schema import upgrade
    from vidjil_pyramid.demo import prepare_demo
    from vidjil_pyramid.admin.initial_data import insert_initial_data
    from vidjil_pyramid.sample_sets.models import Patient

    data_dir = tmp_path / "demo"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'demo.sqlite'}"
    engine = make_engine({"sqlalchemy.url": url})
    upgrade(engine)
    engine.dispose()
    world = open_job_world(data_dir, url)
    try:
        with world.session() as db:
            insert_initial_data(db)
            summary = prepare_demo(db, world.settings, "admin@demo.test", "Demo-password-1")
        assert "analysis" in summary.data_note
        runtime = InProcessRuntime(world.broker, world.settings, world.engine).start()
        try:
            with world.session() as db:
                task_id = db.scalar(select(SchedulerTask.id))
            assert world.wait_for(task_id, timeout=60).status == "COMPLETED"
        finally:
            runtime.stop(timeout=10)
        with world.session() as db:
            patient_set = db.scalar(select(Patient.sample_set_id).where(Patient.last_name == "Demo"))
            fused = db.scalars(select(FusedFile).where(FusedFile.sample_set_id == patient_set)).one()
        assert fused.fused_file and fused.sequence_file_list
    finally:
        world.close()
