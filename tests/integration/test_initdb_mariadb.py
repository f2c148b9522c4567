"""`VIDJIL_DATABASE_URL=mysql+pymysql://… vidjil-server initdb` on an empty MariaDB database
creates every table and column of the web2py schema (schema-auth.md §3) and the initial data."""
import os
import uuid

import pytest
from sqlalchemy import create_engine, inspect, text

from vidjil_pyramid.cli import main

SERVER_URL = os.environ.get("VIDJIL_TEST_MARIADB_SERVER", "mysql+pymysql://root@127.0.0.1")

# Table → columns of release 2024.02, as listed in the spec (id included).
WEB2PY_SCHEMA = {
    "auth_user": "first_name last_name email password registration_key reset_password_key registration_id",
    "auth_group": "role description",
    "auth_membership": "user_id group_id",
    "auth_permission": "group_id name table_name record_id",
    "auth_event": "time_stamp client_ip user_id origin description",
    "auth_cas": "user_id created_on service ticket renew",
    "sample_set": "creator sample_type",
    "patient": "first_name last_name birth info id_label creator sample_set_id",
    "run": "name run_date info id_label creator sequencer pcr sample_set_id",
    "generic": "name info creator sample_set_id",
    "pre_process": "name command info",
    "sequence_file": "patient_id sampling_date info filename pcr sequencer producer size_file size_file2 network "
                     "provider pre_process_id pre_process_result pre_process_flag pre_process_scheduler_task_id "
                     "data_file data_file2 pre_process_file",
    "classification": "name info",
    "config": "name program command fuse_command info classification",
    "results_file": "sequence_file_id config_id run_date scheduler_task_id hidden data_file",
    "fused_file": "patient_id config_id sample_set_id fuse_date status sequence_file_list fused_file",
    "analysis_file": "patient_id config_id sample_set_id analyze_date status analysis_file",
    "notification": "creator title message_content message_type priority expiration creation_datetime",
    "user_preference": "user_id preference val",
    "sample_set_membership": "sample_set_id sequence_file_id",
    "group_assoc": "first_group_id second_group_id",
    "user_log": "user_id created msg table_name record_id",
    "tag": "name",
    "group_tag": "group_id tag_id",
    "tag_ref": "tag_id table_name record_id",
    "scheduler_task": "application_name task_name group_name status broadcast function_name uuid args vars enabled "
                      "start_time next_run_time stop_time repeats retry_failed period prevent_drift cronline timeout "
                      "sync_output times_run times_failed last_run_time assigned_worker_name",
    "scheduler_run": "task_id status start_time stop_time run_output run_result traceback worker_name",
    "scheduler_worker": "worker_name first_heartbeat last_heartbeat status is_ticker group_names worker_stats",
    "scheduler_task_deps": "job_name task_parent task_child can_visit",
}


@pytest.fixture
def mariadb_database(monkeypatch, tmp_path):
    try:
        server = create_engine(SERVER_URL)
        with server.begin() as connection:
            name = f"vidjil_initdb_{uuid.uuid4().hex[:8]}"
            connection.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    except Exception as exc:  # pragma: no cover - CI always has MariaDB
        pytest.skip(f"MariaDB does not answer at {SERVER_URL}: {exc}")
    url = f"{SERVER_URL}/{name}?charset=utf8mb4"
    monkeypatch.setenv("VIDJIL_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    yield url
    with server.begin() as connection:
        connection.execute(text(f"DROP DATABASE {name}"))
    server.dispose()


def snapshot(url):
    engine = create_engine(url)
    with engine.connect() as connection:
        inspector = inspect(connection)
        tables = {t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()}
        counts = {t: connection.execute(text(f"SELECT COUNT(*) FROM `{t}`")).scalar() for t in tables}
        groups = sorted(connection.execute(text("SELECT role FROM auth_group")).scalars())
    engine.dispose()
    return tables, counts, groups


def test_initdb_on_empty_mariadb(mariadb_database, tmp_path):
    assert main(["--data-dir", str(tmp_path), "initdb"]) == 0
    tables, counts, groups = snapshot(mariadb_database)
    for table, columns in WEB2PY_SCHEMA.items():
        assert table in tables, table
        missing = {"id", *columns.split()} - tables[table]
        assert not missing, f"{table} lacks {missing}"
    assert groups == ["admin", "public"]
    assert counts["config"] == 8 and counts["classification"] == 6 and counts["tag"] == 57
    assert counts["auth_permission"] == 26 + 2 + 8  # admin rows, public read rows, public config access

    assert main(["--data-dir", str(tmp_path), "initdb"]) == 0
    assert snapshot(mariadb_database)[1] == counts  # a second run changes nothing


def test_initdb_refuses_a_foreign_database(mariadb_database, tmp_path, capsys):
    engine = create_engine(mariadb_database)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE auth_user (id INT PRIMARY KEY, email VARCHAR(512))"))
    engine.dispose()
    assert main(["--data-dir", str(tmp_path), "initdb"]) == 2
    assert "legacy-import" in capsys.readouterr().err
