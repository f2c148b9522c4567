"""`vidjil-server legacy-import`, `export` and `import` as an admin types them."""
from __future__ import annotations

import json

import pytest
from li_support import DUMP_A, OLD_FILE_SOURCE, run_cli, write_ini
from sqlalchemy import func, select

from vidjil_pyramid.db import make_engine
from vidjil_pyramid.sample_sets.models import SampleSet


def test_a_source_is_required(tmp_path):
    with pytest.raises(SystemExit) as stopped:
        run_cli(["--data-dir", str(tmp_path), "legacy-import"])
    assert stopped.value.code == 2


def test_a_dump_into_sqlite_needs_a_scratch_server(tmp_path):
    code, output = run_cli(["--data-dir", str(tmp_path), "legacy-import", "--from-dump", str(DUMP_A)])
    assert code == 2 and "--scratch" in output
    assert not (tmp_path / "vidjil.sqlite").exists()


def test_missing_inputs_are_told_in_one_line(tmp_path):
    code, output = run_cli(["--data-dir", str(tmp_path), "legacy-import", "--from", "mysql+pymysql://x@127.0.0.1/db",
                            "--uploads", str(tmp_path / "nowhere")])
    assert code == 2 and "not a directory" in output
    code, output = run_cli(["legacy-import", "--from", "postgresql://x@127.0.0.1/db", "--data-dir", str(tmp_path)])
    assert code == 2 and "unsupported source database" in output
    code, output = run_cli(["--data-dir", str(tmp_path), "legacy-import", "--from",
                            "mysql+pymysql://nobody:wrong@127.0.0.1:1/vidjil"])
    assert code == 2 and "cannot read the source" in output and "wrong" not in output
    assert "Traceback" not in output


def test_a_missing_dump_is_told(databases, tmp_path):
    code, output = run_cli(["--data-dir", str(tmp_path), "legacy-import", "--from-dump", str(tmp_path / "no.sql"),
                            "--scratch", databases.server])
    assert code == 2 and "dump file not found" in output


def test_the_builtin_dump_loader_gives_the_same_import(databases, tmp_path, old_files):
    report_path = tmp_path / "dry.json"
    code, output = run_cli(["legacy-import", "--from-dump", str(DUMP_A), "--scratch", databases.server,
                            "--dump-loader", "builtin", "--dry-run", "--report", str(report_path),
                            "--data-dir", str(tmp_path / "data")])
    assert code == 0, output
    report = json.loads(report_path.read_text())
    assert "builtin loader" in report["source"]["description"]
    assert {t: c["target"] for t, c in report["tables"].items() if c["target"]} == {
        "analysis_file": 1, "auth_event": 11, "auth_group": 8, "auth_membership": 14, "auth_permission": 84,
        "auth_user": 4, "classification": 6, "config": 9, "fused_file": 1, "generic": 2, "group_assoc": 1,
        "group_tag": 70, "notification": 2, "patient": 6, "results_file": 2, "run": 2, "sample_set": 10,
        "sample_set_membership": 10, "scheduler_run": 2, "scheduler_task": 2, "scheduler_worker": 1,
        "sequence_file": 7, "tag": 57, "tag_ref": 16}
    assert "DRY RUN" in output
    assert not (tmp_path / "data" / "vidjil.sqlite").exists()


@pytest.fixture(scope="module")
def imported_server(databases, old_files, tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli-server")
    ini = write_ini(directory / "server.ini", **{
        "sqlalchemy.url": f"sqlite:///{directory}/vidjil.sqlite", "vidjil.secret": "x",
        "vidjil.file_source": str(old_files / "src")})
    code, output = run_cli(["--config", str(ini), "legacy-import", "--from-dump", str(DUMP_A),
                            "--scratch", databases.server, "--files", "link", "--file-source", OLD_FILE_SOURCE,
                            "--uploads", str(old_files / "upload" / "uploads"),
                            "--results", str(old_files / "result" / "results"), "--data-dir", str(directory / "data")])
    assert code == 0, output
    return directory, ini


def test_legacy_import_prints_the_summary_and_writes_the_report(imported_server):
    directory, _ = imported_server
    report = json.loads((directory / "data" / "legacy-import-report.json").read_text())
    assert report["files"]["mode"] == "link" and report["files"]["found"] == 10
    assert report["users"]["can_log_in"] == 4


def test_export_then_import_of_an_archive_through_the_commands(imported_server):
    directory, ini = imported_server
    archive = directory / "archive-group7"
    base = ["--config", str(ini), "--data-dir", str(directory / "data")]
    code, output = run_cli(base + ["export", "group", "7", "-p", str(archive)])
    assert code == 0, output
    assert "patient: 6" in output and (archive / "export.json").exists()

    engine = make_engine({"sqlalchemy.url": f"sqlite:///{directory}/vidjil.sqlite"})
    try:
        def sets() -> int:
            with engine.connect() as connection:
                return connection.scalar(select(func.count()).select_from(SampleSet))

        code, output = run_cli(base + ["import", "--dry-run", "8", str(archive)])
        assert code == 0 and "DRY RUN" in output and sets() == 10
        code, output = run_cli(base + ["import", "8", str(archive)])
        assert code == 0, output
        assert sets() == 10 + 9  # 6 patients, 1 run and 2 generic sets reached by group 7
        code, output = run_cli(base + ["import", "99", str(archive)])
        assert code == 2 and "no group with id 99" in output
        code, output = run_cli(base + ["export", "sample_set", "patient", "999", "-p", str(directory / "none")])
        assert code == 2 and "no patient with id 999" in output
    finally:
        engine.dispose()
