"""Safety of a run: dry runs keep nothing, targets holding other data are refused, an
interrupted import resumes without duplicates, the source is never written."""
from __future__ import annotations

from pathlib import Path

import pytest
from li_support import DUMP_A, dump_row_counts, target_kind, target_url_for
from sqlalchemy import create_engine, func, inspect, select, text

from legacy_import.importer import ImportOptions, Importer, LegacyImportError, run_import
from legacy_import.scratch import load_dump
from legacy_import.source import LegacySource, open_source_engine
from legacy_import.tables import IMPORTED_TABLES
from legacy_import.target import TargetRefused
from vidjil_pyramid.models import metadata
from vidjil_pyramid.settings import build_settings


@pytest.fixture(scope="module")
def source_a(databases):
    """Fixture A loaded once into a database of its own, used read-only as `--from URL`."""
    url = databases.create("source_a")
    load_dump(DUMP_A, url)
    return url


def _checksums(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            names = inspect(connection).get_table_names()
            return {row[0]: row[1] for row in connection.execute(text(
                "CHECKSUM TABLE " + ", ".join(f"`{n}`" for n in names)))}
    finally:
        engine.dispose()


@pytest.fixture
def target(databases, tmp_path):
    url = target_url_for(target_kind(), databases, tmp_path, "target")
    settings = build_settings({}, data_dir=str(tmp_path / "data"),
                              overrides={"sqlalchemy.url": url, "vidjil.secret": "x"}, environ={})
    yield settings
    if target_kind() == "mariadb":
        databases.drop(url)


def _engine(settings):
    from vidjil_pyramid.db import make_engine

    return make_engine(settings)


def _counts(settings) -> dict[str, int]:
    engine = _engine(settings)
    try:
        with engine.connect() as connection:
            present = set(inspect(connection).get_table_names())
            return {n: connection.scalar(select(func.count()).select_from(metadata.tables[n]))
                    for n in IMPORTED_TABLES if n in present}
    finally:
        engine.dispose()


def _tables(settings) -> list[str]:
    engine = _engine(settings)
    try:
        with engine.connect() as connection:
            return inspect(connection).get_table_names()
    finally:
        engine.dispose()


def test_dry_run_leaves_the_target_empty_and_still_reports(source_a, target, old_files, databases):
    before = databases.scratch_names()
    report = run_import(ImportOptions(source_url=source_a, dry_run=True,
                                      uploads=[old_files / "upload" / "uploads"],
                                      results=[old_files / "result" / "results"]), target)
    assert _tables(target) == []
    assert not Path(target["vidjil.upload_dir"]).exists()
    assert report.dry_run and report.tables["sample_set"].target == 10
    assert report.files["found"] == 9 and report.files["refused"] == 1  # no --file-source: W20 rule
    assert report.target["real_target"].startswith("empty")
    assert databases.scratch_names() == before  # its throw-away database is gone


def test_dry_run_says_the_real_target_would_be_refused(source_a, target):
    run_import(ImportOptions(source_url=source_a), target)
    report = run_import(ImportOptions(source_url=source_a, dry_run=True), target)
    assert report.target["real_target"].startswith("REFUSED")


def test_a_target_with_initial_data_is_refused(source_a, target):
    from sqlalchemy.orm import Session

    from vidjil_pyramid.admin.initial_data import insert_initial_data
    from vidjil_pyramid.db.schema import upgrade

    engine = _engine(target)
    upgrade(engine)
    with Session(engine) as db, db.begin():
        insert_initial_data(db)
    engine.dispose()
    before = _counts(target)
    with pytest.raises(TargetRefused, match="already holds data"):
        run_import(ImportOptions(source_url=source_a), target)
    assert _counts(target) == before


def test_an_empty_schema_is_filled(source_a, target):
    from vidjil_pyramid.db.schema import upgrade

    engine = _engine(target)
    upgrade(engine)
    engine.dispose()
    report = run_import(ImportOptions(source_url=source_a), target)
    assert report.target["state"] == "empty-schema"
    assert _counts(target)["auth_user"] == 4


def test_a_web2py_database_is_refused_as_target(source_a, databases, tmp_path):
    foreign = databases.create("foreign")
    load_dump(DUMP_A, foreign)
    settings = build_settings({}, data_dir=str(tmp_path), overrides={"sqlalchemy.url": foreign,
                                                                     "vidjil.secret": "x"}, environ={})
    before = _checksums(foreign)
    with pytest.raises(TargetRefused, match="did not create"):
        run_import(ImportOptions(source_url=source_a), settings)
    assert _checksums(foreign) == before


def test_the_source_cannot_be_the_target(source_a, tmp_path):
    settings = build_settings({}, data_dir=str(tmp_path), overrides={"sqlalchemy.url": source_a,
                                                                     "vidjil.secret": "x"}, environ={})
    with pytest.raises(LegacyImportError, match="same database"):
        run_import(ImportOptions(source_url=source_a), settings)


def test_the_source_is_only_read(source_a, target):
    before = _checksums(source_a)
    run_import(ImportOptions(source_url=source_a), target)
    assert _checksums(source_a) == before
    source = LegacySource(open_source_engine(source_a))
    try:
        with pytest.raises(Exception, match="READ ONLY|read.only|read-only"):
            source.connection.exec_driver_sql("UPDATE auth_user SET first_name = 'x'")
    finally:
        source.close()
    assert _checksums(source_a) == before


def test_an_interrupted_import_resumes_without_duplicates(source_a, target, monkeypatch):
    def fail(self, connection, log):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Importer, "_after_results", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        run_import(ImportOptions(source_url=source_a), target)
    partial = _counts(target)
    assert partial["auth_user"] == 4 and partial["sequence_file"] == 7
    assert partial["results_file"] == 0 and partial["auth_permission"] == 0  # that phase rolled back

    monkeypatch.undo()
    report = run_import(ImportOptions(source_url=source_a), target)
    resumed = {p["phase"]: p["resumed"] for p in report.phases}
    assert resumed == {"accounts": True, "configs": True, "sample_sets": True, "samples": True,
                       "jobs": True, "results": False, "permissions": False, "tags": False, "logs": False}
    in_dump = dump_row_counts(DUMP_A)
    assert _counts(target) == {n: in_dump.get(n, 0) for n in IMPORTED_TABLES}
    assert all(c.consistent for c in report.tables.values())
    with pytest.raises(TargetRefused, match="already imported"):
        run_import(ImportOptions(source_url=source_a), target)


def test_an_unfinished_import_of_another_source_is_not_resumed(source_a, target, databases, monkeypatch):
    def stop(self, connection, log):
        raise RuntimeError("stop")

    monkeypatch.setattr(Importer, "_after_tags", stop, raising=False)
    with pytest.raises(RuntimeError):
        run_import(ImportOptions(source_url=source_a), target)
    monkeypatch.undo()
    other = databases.create("other_source")
    load_dump(DUMP_A, other)
    engine = create_engine(other)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO auth_event (user_id, description) VALUES (1, 'later event')"))
    engine.dispose()
    with pytest.raises(TargetRefused, match="different source"):
        run_import(ImportOptions(source_url=other), target)
