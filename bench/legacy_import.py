"""Benchmark of `vidjil-server legacy-import` on a generated web2py database.

    .venv/bin/python bench/legacy_import.py [--samples 100000] [--target mariadb|sqlite]
                                            [--server mysql+pymysql://root@127.0.0.1/]

Builds a web2py-style (release 2024.02) database on the MariaDB server with
`--samples` sequence_file rows and proportional sets, memberships, results,
jobs, permissions and logs (generated server-side from MariaDB's sequence
tables), imports it into a fresh target, then prints rows per second and the
peak memory of this process (ru_maxrss). Every database it creates is named
`vidjil_li_bench_*` and dropped at the end.
"""
from __future__ import annotations

import argparse
import resource
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from legacy_import.importer import ImportOptions, run_import  # noqa: E402
from vidjil_pyramid.settings import build_settings  # noqa: E402

TAIL = ", PRIMARY KEY (id)) ENGINE=InnoDB CHARACTER SET utf8"
# Release 2024.02 tables, with web2py's column types (schema-auth.md §3).
TABLES = {
    "auth_user": "first_name VARCHAR(128), last_name VARCHAR(128), email VARCHAR(512), password VARCHAR(512), "
                 "registration_key VARCHAR(512), reset_password_key VARCHAR(512), registration_id VARCHAR(512)",
    "auth_group": "role VARCHAR(512), description LONGTEXT",
    "auth_membership": "user_id INT, group_id INT",
    "auth_permission": "group_id INT, name VARCHAR(512), table_name VARCHAR(512), record_id INT",
    "auth_event": "time_stamp DATETIME, client_ip VARCHAR(512), user_id INT, origin VARCHAR(512), "
                  "description LONGTEXT",
    "sample_set": "creator INT, sample_type VARCHAR(512)",
    "patient": "first_name VARCHAR(512), last_name VARCHAR(512), birth DATE, info LONGTEXT, id_label VARCHAR(512), "
               "creator INT, sample_set_id INT",
    "run": "name VARCHAR(512), run_date DATE, info LONGTEXT, id_label VARCHAR(512), creator INT, "
           "sequencer VARCHAR(512), pcr VARCHAR(512), sample_set_id INT",
    "config": "name VARCHAR(512), program VARCHAR(512), command VARCHAR(512), fuse_command VARCHAR(512), "
              "info LONGTEXT, classification INT",
    "sequence_file": "patient_id INT, sampling_date DATE, info LONGTEXT, filename LONGTEXT, pcr LONGTEXT, "
                     "sequencer LONGTEXT, producer LONGTEXT, size_file BIGINT, size_file2 BIGINT, network CHAR(1), "
                     "provider INT, pre_process_id INT, pre_process_result LONGTEXT, pre_process_flag LONGTEXT, "
                     "pre_process_scheduler_task_id INT, data_file VARCHAR(400), data_file2 VARCHAR(400), "
                     "pre_process_file VARCHAR(400)",
    "sample_set_membership": "sample_set_id INT, sequence_file_id INT",
    "scheduler_task": "application_name VARCHAR(512), task_name VARCHAR(512), group_name VARCHAR(512), "
                      "status VARCHAR(512), broadcast CHAR(1), function_name VARCHAR(512), uuid VARCHAR(255) UNIQUE, "
                      "args LONGTEXT, vars LONGTEXT, enabled CHAR(1), start_time DATETIME, next_run_time DATETIME, "
                      "stop_time DATETIME, repeats INT, retry_failed INT, period INT, prevent_drift CHAR(1), "
                      "cronline VARCHAR(512), timeout INT, sync_output INT, times_run INT, times_failed INT, "
                      "last_run_time DATETIME, assigned_worker_name VARCHAR(512)",
    "scheduler_run": "task_id INT, status VARCHAR(512), start_time DATETIME, stop_time DATETIME, "
                     "run_output LONGTEXT, run_result LONGTEXT, traceback LONGTEXT, worker_name VARCHAR(512)",
    "results_file": "sequence_file_id INT, config_id INT, run_date DATETIME, scheduler_task_id INT, "
                    "hidden CHAR(1) NOT NULL DEFAULT 'F', data_file VARCHAR(400)",
    "fused_file": "patient_id INT, config_id INT, sample_set_id INT, fuse_date DATETIME, status VARCHAR(512), "
                  "sequence_file_list VARCHAR(512), fused_file VARCHAR(400)",
    "analysis_file": "patient_id INT, config_id INT, sample_set_id INT, analyze_date DATETIME, "
                     "status VARCHAR(512), analysis_file VARCHAR(400)",
}


def generate(connection, samples: int) -> None:
    """Fill the tables from MariaDB's `seq_1_to_N` tables; ratios of a busy lab server."""
    users, patients, runs = max(samples // 1000, 5), max(samples // 5, 10), max(samples // 50, 2)
    sets = patients + runs
    connection.execute(text("SET SESSION sql_mode = ''"))
    for name, columns in TABLES.items():
        connection.execute(text(f"CREATE TABLE `{name}` (id INT AUTO_INCREMENT NOT NULL, {columns}{TAIL}"))
    hash_ = "pbkdf2(1000,20,sha512)$0123456789abcdef$468322864e8aaf0949db2d8e8e2fc0ed2f23aadc"
    statements = [
        f"INSERT INTO auth_user SELECT seq, 'First', CONCAT('Last', seq), CONCAT('user', seq, '@lab.example'), "
        f"'{hash_}', '', '', '' FROM seq_1_to_{users}",
        "INSERT INTO auth_group VALUES (1,'admin',NULL),(2,'user_1',NULL),(3,'public',NULL),(4,'lab','the lab')",
        f"INSERT INTO auth_group SELECT 4 + seq, CONCAT('user_', LPAD(seq, 4, '0')), 'personal' "
        f"FROM seq_2_to_{users}",
        f"INSERT INTO auth_membership (user_id, group_id) SELECT seq, 4 FROM seq_1_to_{users}",
        f"INSERT INTO auth_membership (user_id, group_id) SELECT seq, 3 FROM seq_1_to_{users}",
        "INSERT INTO auth_membership (user_id, group_id) VALUES (1, 1), (1, 2)",
        "INSERT INTO auth_permission (group_id, name, table_name, record_id) VALUES "
        "(4,'read','sample_set',0),(4,'admin','sample_set',0),(4,'upload','sample_set',0),(4,'anon','sample_set',0)",
        f"INSERT INTO auth_permission (group_id, name, table_name, record_id) "
        f"SELECT 4, 'access', 'sample_set', seq FROM seq_1_to_{sets}",
        "INSERT INTO config (id, name, program, command, fuse_command) VALUES "
        "(1,'multi','vidjil','-c clones -g germline ','-t 100'),(2,'IGH','vidjil','-c clones -g germline:IGH ','-t 100')",
        f"INSERT INTO sample_set SELECT seq, NULL, IF(seq <= {patients}, 'patient', 'run') FROM seq_1_to_{sets}",
        f"INSERT INTO patient SELECT seq, 'Jean', CONCAT('Patient', seq), '1961-04-12', 'follow-up #MRD', "
        f"CONCAT('P', seq), 1 + seq % {users}, seq FROM seq_1_to_{patients}",
        f"INSERT INTO run SELECT seq, CONCAT('RUN-', seq), '2024-01-15', '', CONCAT('R', seq), 1, 'MiSeq', 'pcr', "
        f"{patients} + seq FROM seq_1_to_{runs}",
        f"INSERT INTO sequence_file SELECT seq, NULL, '2024-01-10', 'sample #diagnosis', CONCAT('s', seq, '.fastq.gz'), "
        f"NULL, 'MiSeq', NULL, 1000000 + seq, 0, 'F', 1 + seq % {users}, NULL, NULL, 'COMPLETED', NULL, "
        f"CONCAT('sequence_file.data_file.', LPAD(HEX(seq), 16, '0'), '.732e6661737471.gz'), NULL, NULL "
        f"FROM seq_1_to_{samples}",
        f"INSERT INTO sample_set_membership (sample_set_id, sequence_file_id) "
        f"SELECT 1 + seq % {patients}, seq FROM seq_1_to_{samples}",
        f"INSERT INTO sample_set_membership (sample_set_id, sequence_file_id) "
        f"SELECT {patients} + 1 + seq % {runs}, seq FROM seq_1_to_{samples}",
        f"INSERT INTO scheduler_task SELECT seq, 'vidjil/default', 'vidjil', 'main', 'COMPLETED', 'F', 'vidjil', "
        f"CONCAT('uuid-', seq), CONCAT('[\"', seq, '\", \"1\", ', seq, ', null]'), '{{}}', 'T', "
        f"'2024-01-10 10:00:00', '2024-01-10 10:00:00', NULL, 1, 0, 60, 'F', NULL, 7200, 0, 1, 0, "
        f"'2024-01-10 10:05:00', 'vm#1' FROM seq_1_to_{samples}",
        f"INSERT INTO scheduler_run SELECT seq, seq, 'COMPLETED', '2024-01-10 10:00:00', '2024-01-10 10:05:00', "
        f"'=== Launching Vidjil ===', '\"SUCCESS\"', NULL, 'vm#1' FROM seq_1_to_{samples}",
        f"INSERT INTO results_file SELECT seq, seq, 1, '2024-01-10 10:05:00', seq, 'F', "
        f"CONCAT('results_file.data_file.', LPAD(HEX(seq), 16, '0'), '.3030.txt') FROM seq_1_to_{samples}",
        f"INSERT INTO fused_file SELECT seq, NULL, 1, seq, '2024-01-10 10:06:00', NULL, '1_2_', "
        f"CONCAT('fused_file.fused_file.', LPAD(HEX(seq), 16, '0'), '.3030.fused') FROM seq_1_to_{sets}",
        f"INSERT INTO analysis_file SELECT seq, NULL, NULL, seq, '2024-01-11 09:00:00', NULL, "
        f"CONCAT('analysis_file.analysis_file.', LPAD(HEX(seq), 16, '0'), '.626c6f62.txt') "
        f"FROM seq_1_to_{max(patients // 4, 1)}",
        f"INSERT INTO auth_event SELECT seq, '2024-01-10 08:00:00', '10.0.0.1', 1 + seq % {users}, 'auth', "
        f"CONCAT('User ', 1 + seq % {users}, ' Logged-in') FROM seq_1_to_{samples // 2}",
    ]
    for statement in statements:
        connection.execute(text(statement))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--target", choices=("mariadb", "sqlite"), default="mariadb")
    parser.add_argument("--server", default="mysql+pymysql://root@127.0.0.1/")
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args(argv)

    server = make_url(args.server).set(database=None)
    admin = create_engine(server)
    tag = secrets.token_hex(3)
    source_name, target_name = f"vidjil_li_bench_source_{tag}", f"vidjil_li_bench_target_{tag}"
    workdir = Path(tempfile.mkdtemp(prefix="vidjil_li_bench_"))
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE DATABASE `{source_name}` CHARACTER SET utf8"))
            if args.target == "mariadb":
                connection.execute(text(f"CREATE DATABASE `{target_name}` CHARACTER SET utf8mb4"))
        source_url = server.set(database=source_name).render_as_string(hide_password=False)
        source = create_engine(source_url)
        started = time.monotonic()
        with source.begin() as connection:
            generate(connection, args.samples)
        source.dispose()
        print(f"generated a web2py database with {args.samples} samples in {time.monotonic() - started:.1f} s")

        target_url = (server.set(database=target_name).render_as_string(hide_password=False)
                      if args.target == "mariadb" else f"sqlite:///{workdir}/bench.sqlite")
        settings = build_settings({}, data_dir=str(workdir / "data"),
                                  overrides={"sqlalchemy.url": target_url, "vidjil.secret": "bench"}, environ={})
        report = run_import(ImportOptions(source_url=source_url, batch_size=args.batch_size, progress=False),
                            settings)
        rows = report.total_rows()
        phases = sum(p["seconds"] for p in report.phases)
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"target: {args.target}; imported {rows} rows in {report.seconds:.1f} s "
              f"({rows / report.seconds:.0f} rows/s overall, {rows / phases:.0f} rows/s in the copy phases "
              f"taking {phases:.1f} s); peak memory {peak_mib:.0f} MiB")
        for phase in report.phases:
            print(f"  {phase['phase']:<12} {phase['seconds']:7.2f} s")
        return 0
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{source_name}`"))
            connection.execute(text(f"DROP DATABASE IF EXISTS `{target_name}`"))
        admin.dispose()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
