#!/usr/bin/env python3
"""Benchmark of the set pages: `sample_set/all` and `sample_set/index` on a big lab.

    python bench/listing.py [--database-url URL --reset] [--patients 1000] [--samples 10]
                            [--repeat 5] [--record docs/benchmarks.md]

Builds, in a fresh database (SQLite in a temporary folder by default; with
``--database-url mysql+pymysql://root@127.0.0.1/<scratch db> --reset`` a MariaDB
database that is emptied first), 1,000 patients of 10 samples each (10,000
samples, each with a finished analysis, and a fused result per patient), shared
between two lab groups of one user; then times the pages through WebTest, the
way the browser asks for them, and counts their SQL statements. ``--record``
writes the figures into the ``## listing`` section of a Markdown file.
"""
from __future__ import annotations

import argparse
import datetime as dt
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import event, insert, inspect, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from vidjil_pyramid.admin.initial_data import insert_initial_data  # noqa: E402
from vidjil_pyramid.admin.models import Config  # noqa: E402
from vidjil_pyramid.auth.services import NewUser, add_membership, create_user, grant  # noqa: E402
from vidjil_pyramid.db import make_engine  # noqa: E402
from vidjil_pyramid.db.schema import drop_all_tables, upgrade  # noqa: E402
from vidjil_pyramid.auth.models import Group, Permission  # noqa: E402
from vidjil_pyramid.files.models import SampleSetMembership, SequenceFile  # noqa: E402
from vidjil_pyramid.jobs.models import SchedulerTask  # noqa: E402
from vidjil_pyramid.results.models import FusedFile, ResultsFile  # noqa: E402
from vidjil_pyramid.sample_sets.models import GroupTag, Patient, SampleSet, Tag, TagRef  # noqa: E402

EMAIL, PASSWORD = "bench@lab.test", "Bench-password-1"
LAB_RIGHTS = ("create", "read", "admin", "upload", "run", "save", "anon")


def reset(engine) -> None:
    drop_all_tables(engine)


def populate(engine, patients: int, samples: int) -> dict:
    """The big lab, inserted in bulk. Returns the ids the timings need."""
    started = time.perf_counter()
    with Session(engine) as db:
        insert_initial_data(db)
        user = create_user(db, NewUser(email=EMAIL, first_name="Bench", last_name="User", password=PASSWORD))
        labs = []
        for role in ("bench-lab-1", "bench-lab-2"):
            group = Group(role=role, description="benchmark lab")
            db.add(group)
            db.flush()
            for right in LAB_RIGHTS:
                grant(db, group.id, right)
            add_membership(db, user.id, group.id)
            labs.append(group.id)
        config_id = db.scalar(select(Config.id).order_by(Config.id))
        tag = Tag(name="benchtag")
        db.add(tag)
        db.flush()
        db.add(GroupTag(group_id=labs[0], tag_id=tag.id))
        db.commit()
        user_id, tag_id = user.id, tag.id

    today = dt.date(2024, 1, 1)
    with engine.begin() as connection:
        first_set = (connection.scalar(select(SampleSet.id).order_by(SampleSet.id.desc()).limit(1)) or 0) + 1
        set_ids = list(range(first_set, first_set + patients))
        connection.execute(insert(SampleSet), [{"id": i, "sample_type": "patient", "creator": user_id} for i in set_ids])
        connection.execute(insert(Patient), [
            {"id": i, "sample_set_id": i, "first_name": f"First{n}", "last_name": f"Last{n:05d}",
             "birth": today - dt.timedelta(days=9000 + n), "info": f"patient {n} #benchtag" if n % 10 == 0 else f"patient {n}",
             "id_label": f"P{n}", "creator": user_id}
            for n, i in enumerate(set_ids)])
        connection.execute(insert(Permission), [
            {"group_id": labs[n % 2], "name": "access", "table_name": "sample_set", "record_id": i}
            for n, i in enumerate(set_ids)])
        connection.execute(insert(TagRef), [
            {"tag_id": tag_id, "table_name": "patient", "record_id": i} for n, i in enumerate(set_ids) if n % 10 == 0])
        connection.execute(insert(FusedFile), [
            {"sample_set_id": i, "config_id": config_id, "fuse_date": dt.datetime(2024, 1, 2),
             "fused_file": f"fused_file.fused_file.{i:016x}.66.fused", "sequence_file_list": ""} for i in set_ids])
        first_file = (connection.scalar(select(SequenceFile.id).order_by(SequenceFile.id.desc()).limit(1)) or 0) + 1
        first_task = (connection.scalar(select(SchedulerTask.id).order_by(SchedulerTask.id.desc()).limit(1)) or 0) + 1
        files, memberships, tasks, results = [], [], [], []
        for n, set_id in enumerate(set_ids):
            for k in range(samples):
                file_id = first_file + n * samples + k
                task_id = first_task + n * samples + k
                files.append({"id": file_id, "filename": f"s{n}_{k}.fastq.gz", "size_file": 1_000_000 + k,
                              "data_file": f"sequence_file.data_file.{file_id:016x}.73.fastq.gz",
                              "pre_process_flag": "COMPLETED", "provider": user_id, "info": f"sample {k}",
                              "sampling_date": today})
                memberships.append({"sample_set_id": set_id, "sequence_file_id": file_id})
                tasks.append({"id": task_id, "task_name": "vidjil", "function_name": "vidjil", "status": "COMPLETED",
                              "args": "[]", "uuid": f"bench-{task_id}"})
                results.append({"sequence_file_id": file_id, "config_id": config_id, "scheduler_task_id": task_id,
                                "run_date": dt.datetime(2024, 1, 2), "hidden": False,
                                "data_file": f"results_file.data_file.{file_id:016x}.72.vidjil"})
        for model, rows in ((SequenceFile, files), (SampleSetMembership, memberships), (SchedulerTask, tasks),
                            (ResultsFile, results)):
            for start in range(0, len(rows), 2000):
                connection.execute(insert(model), rows[start:start + 2000])
    return {"set_ids": set_ids, "config_id": config_id, "seconds": time.perf_counter() - started}


def make_client(engine, data_dir: str, url: str):
    import webtest

    from vidjil_pyramid import main
    from vidjil_pyramid.settings import build_settings

    settings = build_settings({}, data_dir=data_dir, environ={},
                              overrides={"sqlalchemy.url": url, "vidjil.engine": engine, "vidjil.secret": "bench"})
    client = webtest.TestApp(main({}, **settings), extra_environ={"HTTP_HOST": "bench.test"})
    page = client.get("/vidjil/auth/login")
    formkey = re.search(r'name="_formkey" type="hidden" value="([^"]+)"', page.text).group(1)
    answer = client.post("/vidjil/auth/submit", {"login": EMAIL, "email": EMAIL, "password": PASSWORD,
                                                 "_formkey": formkey, "_formname": "login"})
    assert '"error": null' in answer.text, answer.text
    return client


def measure(engine, client, url: str, repeat: int) -> tuple[list[float], int, int]:
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    client.post(url)  # warm-up (template compilation, caches of the database)
    times = []
    for _ in range(repeat):
        statements.clear()
        event.listen(engine, "before_cursor_execute", record)
        started = time.perf_counter()
        response = client.post(url)
        times.append(time.perf_counter() - started)
        event.remove(engine, "before_cursor_execute", record)
        assert response.status_int == 200 and "access denied" not in response.text, response.text[:300]
    return times, len(statements), len(response.body)


def main_cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="a scratch database (MariaDB: mysql+pymysql://...); default SQLite")
    parser.add_argument("--reset", action="store_true", help="empty the --database-url database first")
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=10, help="samples per patient")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--record", type=Path, help="write the figures into the '## listing' section of this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vidjil-bench-listing-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.sqlite"
        engine = make_engine({"sqlalchemy.url": url})
        if args.database_url:
            if inspect(engine).get_table_names() and not args.reset:
                parser.error("the database is not empty: give --reset to empty it (scratch databases only)")
            reset(engine)
        upgrade(engine)
        built = populate(engine, args.patients, args.samples)
        client = make_client(engine, tmp, url)
        set_ids, config_id = built["set_ids"], built["config_id"]
        middle = set_ids[len(set_ids) // 2]
        pages = [
            ("sample_set/all, patients, first page", "/vidjil/sample_set/all?type=patient&page=0"),
            ("sample_set/all, patients, page 10", "/vidjil/sample_set/all?type=patient&page=10"),
            ("sample_set/all, sorted by files", "/vidjil/sample_set/all?type=patient&page=0&sort=file_count&reverse=true"),
            ("sample_set/all, filter word", "/vidjil/sample_set/all?type=patient&page=0&filter=Last00042"),
            ("sample_set/all, filter #tag", "/vidjil/sample_set/all?type=patient&page=0&filter=%23benchtag"),
            ("sample_set/all.json, everything (API)", "/vidjil/sample_set/all?&type=patient&&format=json"),
            (f"sample_set/index, {args.samples} samples, config", f"/vidjil/sample_set/index?id={middle}&config_id={config_id}"),
            (f"sample_set/index, {args.samples} samples, -1", f"/vidjil/sample_set/index?id={middle}&config_id=-1"),
            ("sample_set/index.json", f"/vidjil/sample_set/index.json?id={middle}&config_id={config_id}"),
        ]
        backend = _backend_name(engine)
        print(f"database: {backend}; {args.patients} patients, {args.patients * args.samples} samples "
              f"(built in {built['seconds']:.1f} s); {args.repeat} runs per page")
        lines = ["| page | median ms | min ms | statements | bytes |", "|---|---:|---:|---:|---:|"]
        for label, page_url in pages:
            times, statement_count, size = measure(engine, client, page_url, args.repeat)
            lines.append(f"| {label} | {statistics.median(times) * 1000:.1f} | {min(times) * 1000:.1f} | "
                         f"{statement_count} | {size} |")
        print("\n".join(lines))
        if args.record:
            _record(args.record, backend, args, lines)
        engine.dispose()
    return 0


def _backend_name(engine) -> str:
    if engine.dialect.name != "mysql":
        return engine.dialect.name
    with engine.connect() as connection:
        version = connection.exec_driver_sql("SELECT VERSION()").scalar() or ""
    return "mariadb" if "mariadb" in version.lower() else "mysql"


def _record(path: Path, backend: str, args, lines: list[str]) -> None:
    """Replace this backend's table in the '## listing' section; other sections are left alone."""
    intro = ("## listing\n\n`bench/listing.py`: "
             f"{args.patients} patients x {args.samples} samples, each sample with a finished analysis and each "
             "patient with a fused result, visible to one user through two lab groups. Pages are asked through "
             f"WebTest as the browser asks them (no network); median and best of {args.repeat} runs after a "
             f"warm-up, and the SQL statements of one request. Machine: {platform.machine()}, "
             f"Python {platform.python_version()}, 2 shared cores.\n")
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    match = re.search(r"^## listing\n.*?(?=^## |\Z)", text, flags=re.M | re.S)
    blocks: dict[str, str] = {}
    for part in re.split(r"^(?=### )", match.group(0) if match else "", flags=re.M)[1:]:
        blocks[part.split()[1]] = part.rstrip() + "\n"
    blocks[backend] = f"### {backend} ({dt.date.today().isoformat()})\n\n" + "\n".join(lines) + "\n"
    section = intro + "\n" + "\n".join(blocks[name] for name in sorted(blocks)) + "\n"
    if match:
        text = text[:match.start()] + section + text[match.end():]
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text)
    print(f"recorded in {path}")


if __name__ == "__main__":
    sys.exit(main_cli())
