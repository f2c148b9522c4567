#!/usr/bin/env python3
"""Benchmark of job dispatch: from `default/run_request` to a consumer claiming the job.

    python bench/dispatch.py [--jobs 200] [--latency-jobs 50]
                             [--broker amqp://guest:guest@127.0.0.1:5672/%2F] [--database-url URL]

For each broker (the in-process queue, and RabbitMQ when `--broker` is given) it
builds a throw-away server (a temporary data directory, SQLite unless
`--database-url`), logs in through the real login flow and calls `run_request`
through the WSGI application (real transactions: the message is published after
the commit), with one analysis consumer running in this process (on RabbitMQ: the
same `RabbitConsumerRuntime` as `vidjil-server consumer analysis`, over TCP).

* latency: one request at a time, time from sending `run_request` to the consumer's
  claim (the conditional UPDATE that starts the job); median, 95th percentile, max;
* throughput: `--jobs` requests sent back to back, jobs/second until all are finished.

The program is trivial (a shell script writing the expected output at once) and the
runs are read extractions (`grep_reads`: hidden results, no fuse), so the figures
measure the dispatch path, not an analysis. RabbitMQ queues get a random prefix and
are deleted at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TRIVIAL_PROGRAM = """#!/bin/sh
# a vidjil-algo that answers at once: -o DIR -b BASE ... FILE
out=""; base=""
while [ $# -gt 0 ]; do
  case "$1" in -o) out="$2"; shift;; -b) base="$2"; shift;; esac; shift
done
mkdir -p "$out/seq"
printf '>read\\nACGT\\n' > "$out/seq/clone.fa-1"
"""
FORM_KEY = re.compile(r'name="_formkey" type="hidden" value="([^"]+)"')
PASSWORD = "Bench-password-1"


def empty_database(url: str) -> None:
    """`--database-url` names a scratch database: every table in it is dropped first."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    with engine.begin() as connection:
        mysql = connection.dialect.name in ("mysql", "mariadb")
        if mysql:
            connection.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for name in inspect(connection).get_table_names():
            connection.execute(text(f"DROP TABLE `{name}`" if mysql else f'DROP TABLE "{name}"'))
        if mysql:
            connection.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    engine.dispose()


def build_server(data_dir: Path, database_url: str | None, broker_url: str, prefix: str):
    """Schema, a user with every right on a patient with one sample, and the app."""
    from sqlalchemy.orm import Session

    from vidjil_pyramid import main
    from vidjil_pyramid.admin.initial_data import insert_initial_data
    from vidjil_pyramid.admin.models import Config
    from vidjil_pyramid.auth.services import NewUser, create_user, grant, group_by_role, personal_role
    from vidjil_pyramid.db import make_engine
    from vidjil_pyramid.db.schema import upgrade
    from vidjil_pyramid.files.models import SampleSetMembership, SequenceFile
    from vidjil_pyramid.files.storage import store_copy
    from vidjil_pyramid.sample_sets.models import Patient, SampleSet
    from vidjil_pyramid.settings import build_settings

    program = data_dir / "trivial-algo.sh"
    program.write_text(TRIVIAL_PROGRAM)
    program.chmod(0o755)
    settings = build_settings({}, data_dir=str(data_dir), environ={}, overrides={
        "sqlalchemy.url": database_url, "vidjil.broker_url": broker_url, "vidjil.queue_prefix": prefix,
        "vidjil.secret": "bench", "vidjil.algo_path": str(program), "vidjil.min_free_percent": "0",
        "vidjil.worker_heartbeat": "5"})
    engine = make_engine(settings)
    settings["vidjil.engine"] = engine
    upgrade(engine)
    with Session(engine) as db, db.begin():
        insert_initial_data(db)
        user = create_user(db, NewUser(email="bench@vidjil.test", first_name="Bench", last_name="Mark",
                                       password=PASSWORD, admin=False))
        group = group_by_role(db, personal_role(user.id))
        for right in ("read", "admin", "run"):
            grant(db, group.id, right, "sample_set", 0)
        sample_set = SampleSet(sample_type="patient")
        db.add(sample_set)
        db.flush()
        db.add(Patient(first_name="Ben", last_name="Ch", sample_set_id=sample_set.id))
        grant(db, group.id, "access", "sample_set", sample_set.id)
        reads = data_dir / "reads.fa"
        reads.write_text(">r\nACGTACGT\n")
        stored, size = store_copy(reads, settings["vidjil.upload_dir"], "sequence_file", "data_file")
        sample = SequenceFile(filename="reads.fa", data_file=stored, size_file=size, pre_process_flag="COMPLETED")
        db.add(sample)
        db.flush()
        db.add(SampleSetMembership(sample_set_id=sample_set.id, sequence_file_id=sample.id))
        config = Config(name="bench", program="vidjil", command="-c clones", fuse_command="-t 100")
        db.add(config)
        db.flush()
        grant(db, group.id, "access", "config", config.id)
        ids = {"set": sample_set.id, "sample": sample.id, "config": config.id}
    return settings, engine, main({}, **settings), ids


def logged_in_client(app):
    import webtest

    client = webtest.TestApp(app, extra_environ={"HTTP_HOST": "bench.vidjil.test"})
    page = client.get("/vidjil/auth/login")
    client.post("/vidjil/auth/submit", {"login": "bench@vidjil.test", "email": "bench@vidjil.test",
                                        "password": PASSWORD, "_formkey": FORM_KEY.search(page.text).group(1),
                                        "_formname": "login"})
    return client


class Claims:
    """When each job was claimed (perf_counter), and a way to wait for one."""

    def __init__(self):
        self.at: dict[int, float] = {}
        self._condition = threading.Condition()

    def record(self, task_id: int) -> None:
        with self._condition:
            self.at[task_id] = time.perf_counter()
            self._condition.notify_all()

    def wait(self, task_id: int, timeout: float = 30) -> float:
        with self._condition:
            if not self._condition.wait_for(lambda: task_id in self.at, timeout):
                raise RuntimeError(f"job {task_id} was not claimed within {timeout} s")
            return self.at[task_id]


def start_consumer(settings, engine, app, claims: Claims):
    """One analysis consumer in this process: in-process threads, or the RabbitMQ runtime."""
    from consumers.jobs import WorkerContext
    from consumers.runtime import InProcessRuntime, RabbitConsumerRuntime, worker_name
    from vidjil_pyramid.jobs.broker import MemoryBroker, RabbitBroker

    broker = app.registry["broker"]
    if isinstance(broker, MemoryBroker):
        runtime = InProcessRuntime(broker, settings, engine, {"analysis": 1}, with_sweeper=False)
        runtime.on_claim = claims.record
        runtime.start()
        return runtime.stop
    publisher = RabbitBroker(settings["vidjil.broker_url"], settings["vidjil.queue_prefix"])
    ctx = WorkerContext(settings, engine, worker_name("analysis"), publisher, on_claim=claims.record)
    runtime = RabbitConsumerRuntime(ctx, "analysis", settings["vidjil.broker_url"], settings["vidjil.queue_prefix"])
    thread = threading.Thread(target=runtime.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # until it listens
        try:
            if publisher.queue_depths()[f"{settings['vidjil.queue_prefix']}analysis"]["consumers"]:
                break
        except Exception:
            pass
        time.sleep(0.05)

    def stop() -> None:
        ctx.shutdown.set()
        thread.join(timeout=20)
        publisher.delete_queues()
        publisher.close()

    return stop


ANSWERED: dict[int, float] = {}


def request_run(client, ids) -> tuple[float, int]:
    """Send one `run_request`: (when it was sent, the job id it answered)."""
    started = time.perf_counter()
    response = client.post("/vidjil/default/run_request", {
        "sequence_file_id": ids["sample"], "sample_set_id": ids["set"], "config_id": ids["config"],
        "grep_reads": "ACGT"})
    answer = json.loads(response.text)
    if "processId" not in answer:
        raise RuntimeError(f"run_request refused: {answer}")
    ANSWERED[answer["processId"]] = time.perf_counter()
    return started, answer["processId"]


def wait_finished(engine, task_ids: list[int], timeout: float = 300) -> float:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from vidjil_pyramid.jobs.models import SchedulerTask

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Session(engine) as db:
            done = db.scalar(select(func.count(SchedulerTask.id)).where(
                SchedulerTask.id.in_(task_ids), SchedulerTask.status.in_(("COMPLETED", "FAILED"))))
        if done == len(task_ids):
            return time.perf_counter()
        time.sleep(0.02)
    raise RuntimeError("jobs still running")


def measure(label: str, broker_url: str, database_url: str | None, latency_jobs: int, jobs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="vidjil-bench-") as tmp:
        data_dir = Path(tmp)
        url = database_url or f"sqlite:///{data_dir / 'bench.sqlite'}"
        if database_url:
            empty_database(database_url)
        prefix = f"bench_{uuid.uuid4().hex[:8]}_"
        settings, engine, app, ids = build_server(data_dir, url, broker_url, prefix)
        claims = Claims()
        stop = start_consumer(settings, engine, app, claims)
        try:
            client = logged_in_client(app)
            request_run(client, ids)  # warm-up (connections, first import of everything)
            latencies, answers = [], []
            for _ in range(latency_jobs):
                started, task_id = request_run(client, ids)
                latencies.append((claims.wait(task_id) - started) * 1000)
                answers.append((ANSWERED[task_id] - started) * 1000)
            wait_finished(engine, list(claims.at))
            first = time.perf_counter()
            task_ids = [request_run(client, ids)[1] for _ in range(jobs)]
            sent = time.perf_counter()
            finished = wait_finished(engine, task_ids)
        finally:
            stop()
            app.registry["broker"].close()
            engine.dispose()
    latencies.sort()
    return {
        "broker": label, "median_ms": statistics.median(latencies), "answer_ms": statistics.median(answers),
        "p95_ms": latencies[max(0, int(len(latencies) * 0.95) - 1)], "max_ms": latencies[-1],
        "requests_per_s": jobs / (sent - first), "jobs_per_s": jobs / (finished - first),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs for the throughput run (200)")
    parser.add_argument("--latency-jobs", type=int, default=50, help="jobs timed one by one (50)")
    parser.add_argument("--broker", help="RabbitMQ URL; without it only the in-process queue is measured")
    parser.add_argument("--database-url", help="a scratch database, emptied first (default: a temporary SQLite file)")
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("PYTHONPATH", str(REPO))
    results = [measure("in-process (memory://)", "memory://", args.database_url, args.latency_jobs, args.jobs)]
    if args.broker:
        results.append(measure("RabbitMQ", args.broker, args.database_url, args.latency_jobs, args.jobs))
    database = "MariaDB" if (args.database_url or "").startswith("mysql") else "SQLite" if not args.database_url \
        else args.database_url.split("://")[0]
    print(f"dispatch: run_request -> claim ({args.latency_jobs} jobs one at a time), then {args.jobs} jobs "
          f"back to back; 1 analysis consumer; database {database}")
    print(f"{'broker':<24} {'answer ms':>10} {'median ms':>10} {'p95 ms':>8} {'max ms':>8} {'requests/s':>11} "
          f"{'jobs/s':>8}")
    for r in results:
        print(f"{r['broker']:<24} {r['answer_ms']:>10.1f} {r['median_ms']:>10.1f} {r['p95_ms']:>8.1f} {r['max_ms']:>8.1f} "
              f"{r['requests_per_s']:>11.1f} {r['jobs_per_s']:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
