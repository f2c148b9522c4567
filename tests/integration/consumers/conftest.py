"""Consumers as real processes on the real RabbitMQ and MariaDB.

Database `vidjil_test_jobs` (made and dropped here), queues under a random prefix per
test (deleted afterwards), consumer and sweeper processes started with
`python -m vidjil_pyramid.cli --config <test ini> consumer analysis|sweeper` and
stopped (killed if needed) at the end of each test. Skipped when RabbitMQ or MariaDB
is not reachable.
"""
from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
for path in (ROOT, ROOT / "tests" / "stand_in", Path(__file__).resolve().parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from jobs_world import JobWorld, make_job_world  # noqa: E402
from rabbit_cluster import DATABASE, DATABASE_URL, SERVER_URL, TIMINGS, Cluster, reachable  # noqa: E402


@pytest.fixture(scope="session")
def services_up():
    reason = reachable()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def job_database(services_up):
    from sqlalchemy import create_engine, inspect, text

    from vidjil_pyramid.db import make_engine
    from vidjil_pyramid.db.schema import upgrade

    engine = make_engine({"sqlalchemy.url": DATABASE_URL})
    with engine.begin() as connection:  # whatever an interrupted run left
        connection.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for name in inspect(connection).get_table_names():
            connection.execute(text(f"DROP TABLE `{name}`"))
        connection.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    upgrade(engine)
    engine.dispose()
    yield DATABASE_URL
    server = create_engine(SERVER_URL)
    with server.begin() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE}"))
    server.dispose()


@pytest.fixture(scope="module")
def base_world(job_database, tmp_path_factory) -> JobWorld:
    """One committed world per module (the rows stay; each test adds its own jobs)."""
    from sqlalchemy import create_engine, inspect, text

    data_dir = tmp_path_factory.mktemp("jobs-it") / "data"
    data_dir.mkdir()
    engine = create_engine(DATABASE_URL)
    with engine.begin() as connection:  # each module starts from the bare schema
        connection.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for name in inspect(connection).get_table_names():
            if name != "alembic_version":
                connection.execute(text(f"DELETE FROM `{name}`"))
        connection.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    engine.dispose()
    world = make_job_world(data_dir, DATABASE_URL, **TIMINGS)
    yield world
    world.close()


@pytest.fixture
def cluster(base_world, tmp_path):
    prefix = f"test_{uuid.uuid4().hex[:8]}_"
    base_world.settings["vidjil.queue_prefix"] = prefix
    cluster = Cluster(base_world, tmp_path, prefix)
    yield cluster
    cluster.stop()
    broker = cluster.broker()
    try:
        broker.delete_queues()
    finally:
        broker.close()
    # no job of this test may be left for the next one
    from sqlalchemy import update

    from vidjil_pyramid.jobs.models import SchedulerTask

    with base_world.session() as db:
        db.execute(update(SchedulerTask).where(SchedulerTask.status.in_(("QUEUED", "RUNNING", "ASSIGNED", "STOPPED")))
                   .values(status="EXPIRED", enabled=False))
