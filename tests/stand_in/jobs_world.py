"""A committed little world for running jobs: a lab, a patient with one sample, configs,
settings pointing at the stand-in vidjil-algo, and an in-process broker."""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

import factories
from vidjil_pyramid.admin.initial_data import insert_initial_data
from vidjil_pyramid.db import make_engine
from vidjil_pyramid.files.storage import store_copy
from vidjil_pyramid.jobs.broker import MemoryBroker
from vidjil_pyramid.jobs.dispatch import JobPublisher
from vidjil_pyramid.jobs.models import SchedulerTask
from vidjil_pyramid.settings import build_settings

STAND_IN_DIR = Path(__file__).resolve().parent


def reads(clones: dict[str, int], length: int = 120) -> str:
    """A FASTA file where each clone (a repeated letter pattern) has the given number of reads."""
    lines = []
    for index, (seed, count) in enumerate(clones.items()):
        sequence = (seed * length)[:length]
        for n in range(count):
            lines.append(f">c{index}_{n}\n{sequence}")
    return "\n".join(lines) + "\n"


@dataclass
class JobWorld:
    data_dir: Path
    settings: dict
    engine: object
    broker: MemoryBroker
    ids: dict = field(default_factory=dict)

    @contextlib.contextmanager
    def session(self):
        with Session(self.engine, expire_on_commit=False) as db, db.begin():
            yield db

    def publisher(self) -> JobPublisher:
        return JobPublisher.from_settings(self.broker, self.settings)

    def store_reads(self, name: str, text: str) -> tuple[str, int]:
        source = self.data_dir / name
        source.write_text(text)
        return store_copy(source, self.settings["vidjil.upload_dir"], "sequence_file", "data_file")

    def task(self, task_id: int) -> SchedulerTask:
        with Session(self.engine) as db:
            return db.get(SchedulerTask, task_id)

    def wait_for(self, task_id: int, statuses=("COMPLETED", "FAILED", "TIMEOUT", "STOPPED"), timeout: float = 30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            task = self.task(task_id)
            if task.status in statuses:
                return task
            time.sleep(0.05)
        raise AssertionError(f"task {task_id} still {self.task(task_id).status}")

    def close(self) -> None:
        self.engine.dispose()


def open_job_world(data_dir: Path, url: str, **overrides) -> JobWorld:
    """A world on an existing data directory (see `make_job_world`)."""
    settings = build_settings({}, data_dir=str(data_dir), environ={}, overrides={
        "sqlalchemy.url": url, "vidjil.secret": "test", "vidjil.algo_path": "stand-in",
        "vidjil.worker_heartbeat": "0.5", "vidjil.retry_delay": "0.1", "vidjil.min_free_percent": "0",
        **overrides})
    engine = make_engine(settings)
    settings["vidjil.engine"] = engine
    broker = MemoryBroker()
    broker.engine = engine
    world = JobWorld(data_dir, settings, engine, broker)
    ids_file = data_dir / "ids.json"
    if ids_file.exists():
        world.ids.update(json.loads(ids_file.read_text()))
    return world


def make_job_world(data_dir: Path, url: str, **overrides) -> JobWorld:
    """Initial data, a lab with alice, a patient set and a run set sharing one sample, a config."""
    world = open_job_world(data_dir, url, **overrides)
    with world.session() as db:
        insert_initial_data(db)
        lab = factories.make_group(db, "lab", rights=("create", "read", "admin", "upload", "save", "run", "anon"))
        alice = factories.make_user(db, email="alice@lab.test", groups=[lab])
        patient_set, patient = factories.make_set(db, "patient", groups=[lab])
        run_set, _ = factories.make_set(db, "run", groups=[lab])
        stored, size = world.store_reads("diag.fa", reads({"ACGTTGCA": 6, "TTGACCAG": 3, "GGATCCTA": 1}))
        sample = factories.make_sequence_file(db, sets=[patient_set, run_set], provider=alice, data_file=stored,
                                              size_file=size, filename="diag.fa")
        config = factories.make_config(db, groups=[lab], command="-c clones -g germline/homo-sapiens.g -w 40")
        world.ids.update(lab=lab.id, alice=alice.id, patient_set=patient_set.id, patient=patient.id,
                         run_set=run_set.id, sample=sample.id, config=config.id)
    (data_dir / "ids.json").write_text(json.dumps(world.ids))
    return world
