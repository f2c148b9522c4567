"""Unit tests of jobs and consumers. Consumers open their own sessions, so their tests use
a database of their own: a data directory (SQLite file, uploads) made once per run and
copied for each test (`job_world`)."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
for path in (ROOT, ROOT / "tests" / "stand_in"):  # consumers/ even if the editable install predates it
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from jobs_world import JobWorld, make_job_world, open_job_world  # noqa: E402



@pytest.fixture(scope="session")
def job_world_template(tmp_path_factory) -> Path:
    from vidjil_pyramid.db.schema import upgrade

    data_dir = tmp_path_factory.mktemp("jobs-template") / "data"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'jobs.sqlite'}"
    from vidjil_pyramid.db import make_engine

    engine = make_engine({"sqlalchemy.url": url})
    upgrade(engine)
    engine.dispose()
    make_job_world(data_dir, url).close()
    return data_dir


@pytest.fixture
def job_world(job_world_template, tmp_path) -> JobWorld:
    data_dir = tmp_path / "data"
    shutil.copytree(job_world_template, data_dir)
    world = open_job_world(data_dir, f"sqlite:///{data_dir / 'jobs.sqlite'}")
    yield world
    world.close()
