"""Databases of older web2py releases, built here from schema-auth.md §4 (tables as the
release's models created them, columns added later sitting at the end, legacy
tables, the permission rows of each era), imported and checked."""
from __future__ import annotations

import hashlib

import pytest
from li_support import target_kind, target_url_for
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from legacy_import.importer import ImportOptions, run_import
from vidjil_pyramid.auth.login import authenticate
from vidjil_pyramid.auth.models import Permission
from vidjil_pyramid.auth.permissions import Permissions
from vidjil_pyramid.db import make_engine
from vidjil_pyramid.models import metadata
from vidjil_pyramid.sample_sets.models import SET_TYPES, SampleSet
from vidjil_pyramid.settings import build_settings

PK = "id INT AUTO_INCREMENT NOT NULL"
TAIL = ", PRIMARY KEY (id)) ENGINE=InnoDB CHARACTER SET utf8"
AUTH_TABLES = {
    "auth_user": "first_name VARCHAR(128), last_name VARCHAR(128), email VARCHAR(512), password VARCHAR(512), "
                 "registration_key VARCHAR(512), reset_password_key VARCHAR(512), registration_id VARCHAR(512)",
    "auth_group": "role VARCHAR(512), description LONGTEXT",
    "auth_membership": "user_id INT, group_id INT",
    "auth_permission": "group_id INT, name VARCHAR(512), table_name VARCHAR(512), record_id INT",
    "auth_event": "time_stamp DATETIME, client_ip VARCHAR(512), user_id INT, origin VARCHAR(512), "
                  "description LONGTEXT",
    "auth_cas": "user_id INT, created_on DATETIME, service VARCHAR(512), ticket VARCHAR(512), renew CHAR(1)",
}
SCHEDULER_TABLES = {
    "scheduler_task": "application_name VARCHAR(512), task_name VARCHAR(512), group_name VARCHAR(512), "
                      "status VARCHAR(512), function_name VARCHAR(512), uuid VARCHAR(255) UNIQUE, args LONGTEXT, "
                      "vars LONGTEXT, enabled CHAR(1), start_time DATETIME, next_run_time DATETIME, "
                      "stop_time DATETIME, repeats INT, retry_failed INT, period INT, prevent_drift CHAR(1), "
                      "timeout INT, sync_output INT, times_run INT, times_failed INT, last_run_time DATETIME, "
                      "assigned_worker_name VARCHAR(512)",
    "scheduler_run": "task_id INT, status VARCHAR(512), start_time DATETIME, stop_time DATETIME, "
                     "run_output LONGTEXT, run_result LONGTEXT, traceback LONGTEXT, worker_name VARCHAR(512)",
    "scheduler_worker": "worker_name VARCHAR(255) UNIQUE, first_heartbeat DATETIME, last_heartbeat DATETIME, "
                        "status VARCHAR(512), is_ticker CHAR(1), group_names LONGTEXT, worker_stats LONGTEXT",
}


def web2py_hash(password: str, salt: str = "0123456789abcdef") -> str:
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt.encode(), 1000, 20).hex()
    return f"pbkdf2(1000,20,sha512)${salt}${digest}"


def build_source(databases, purpose: str, tables: dict[str, str], rows: list[str]) -> str:
    """A MySQL database with these tables (web2py column types) and rows, written in a
    non-strict session with foreign-key checks off, as old servers and dumps allow."""
    url = databases.create(purpose)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("SET SESSION sql_mode = ''"))
        connection.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
        for name, columns in tables.items():
            connection.execute(text(f"CREATE TABLE `{name}` ({PK}, {columns}{TAIL}"))
        for statement in rows:
            connection.execute(text(statement))
    engine.dispose()
    return url


@pytest.fixture
def importer(databases, tmp_path):
    """Import a source into a fresh target of the run's kind; returns (report, engine)."""
    made = []

    def run(source_url: str):
        url = target_url_for(target_kind(), databases, tmp_path, f"target{len(made)}")
        settings = build_settings({}, data_dir=str(tmp_path / "data"),
                                  overrides={"sqlalchemy.url": url, "vidjil.secret": "x"}, environ={})
        report = run_import(ImportOptions(source_url=source_url), settings)
        engine = make_engine(settings)
        made.append((engine, url))
        return report, engine

    yield run
    for engine, url in made:
        engine.dispose()
        if url.startswith("mysql"):
            databases.drop(url)


def visible(engine, user_id: int, action: str = "read") -> dict[str, list[int]]:
    with Session(engine) as db:
        query = Permissions(db, user_id).accessible_sample_set_ids_query(action)
        rows = db.execute(select(SampleSet.sample_type, SampleSet.id).where(SampleSet.id.in_(query))).all()
    return {t: sorted(i for k, i in rows if k == t) for t in SET_TYPES if any(k == t for k, _ in rows)}


def count(engine, table: str, condition=None) -> int:
    """Rows of `table`, optionally only those for which `condition(table)` holds."""
    t = metadata.tables[table]
    query = select(func.count()).select_from(t)
    if condition is not None:
        query = query.where(condition(t))
    with engine.connect() as connection:
        return connection.scalar(query) or 0


def warnings_text(report) -> str:
    return "\n".join(f"{w.table}: {w.count} x {w.message}" for w in report.warnings)


def users_and_groups(extra_users: str = "") -> list[str]:
    """Install-time admin (group admin, user_1, public) and two users with `user_<n>` groups."""
    return [
        "INSERT INTO auth_user VALUES (1,'System','Administrator','admin@old.example',"
        f"'{web2py_hash('admin-pass')}','','','')",
        f"INSERT INTO auth_user VALUES (2,'Ann','Lee','ann@old.example','{web2py_hash('ann-pass')}','','','')",
        f"INSERT INTO auth_user VALUES (3,'Tom','Roy','tom@old.example','{web2py_hash('tom-pass')}','','','')",
        *([extra_users] if extra_users else []),
        "INSERT INTO auth_group VALUES (1,'admin',NULL),(2,'user_1',NULL),(3,'public',NULL),"
        "(4,'user_2','Group uniquely assigned to user 2'),(5,'user_3','Group uniquely assigned to user 3')",
        "INSERT INTO auth_membership (user_id, group_id) VALUES (1,1),(1,2),(1,3),(2,4),(2,3),(3,5),(3,3)",
    ]


# ---------------------------------------------------------------------- 2014.07

RELEASE_2014_07 = {
    **AUTH_TABLES,
    "patient": "first_name VARCHAR(512), last_name VARCHAR(512), birth DATE, info LONGTEXT",
    "sequence_file": "patient_id INT, sampling_date DATE, info LONGTEXT, filename LONGTEXT, pcr LONGTEXT, "
                     "sequencer LONGTEXT, producer LONGTEXT, size_file INT, data_file LONGTEXT",
    "standard_file": "name VARCHAR(512), info LONGTEXT, data_file LONGTEXT",
    "config": "name VARCHAR(512), command VARCHAR(512), info LONGTEXT, germline VARCHAR(512)",
    "data_file": "sequence_file_id INT, config_id INT, run_date DATE, status VARCHAR(512), data_file LONGTEXT",
    "fused_file": "patient_id INT, config_id INT, fuse_date DATE, status VARCHAR(512), fused_file LONGTEXT",
    "analysis_file": "patient_id INT, config_id INT, analyze_date DATE, status VARCHAR(512), "
                     "analysis_file LONGTEXT",
}


def test_release_2014_07_results_in_data_file_and_no_sample_sets(databases, importer):
    source = build_source(databases, "rel_2014_07", RELEASE_2014_07, users_and_groups() + [
        "INSERT INTO patient VALUES (1,'Jo','Smith','1950-02-03','first'),(2,'Al','Kahn',NULL,'second'),"
        "(3,'Ed','Wu','0000-00-00','third')",
        "INSERT INTO sequence_file VALUES (1,1,'2014-05-01','s1','a.fa',NULL,NULL,NULL,10,'sequence_file.data_file.1.61.fa'),"
        "(2,1,'0000-00-00','s2','b.fa',NULL,NULL,NULL,20,'sequence_file.data_file.2.62.fa'),"
        "(3,2,NULL,'s3','c.fa',NULL,NULL,NULL,30,NULL),(4,77,NULL,'orphan','d.fa',NULL,NULL,NULL,1,NULL)",
        "INSERT INTO standard_file VALUES (1,'std','x',NULL)",
        "INSERT INTO config VALUES (1,'IGH','-g germline/IGH','IGH only','IGH')",
        "INSERT INTO data_file VALUES (1,1,1,'2014-05-02','done','data_file.data_file.1.31.txt'),"
        "(2,2,1,'2014-05-03','done',NULL)",
        "INSERT INTO fused_file VALUES (1,1,1,'2014-05-04',NULL,'fused_file.fused_file.1.31.fused')",
        "INSERT INTO analysis_file VALUES (1,1,1,'2014-05-05',NULL,'analysis_file.analysis_file.1.62.txt')",
        # era A: per-patient rows on the creator's personal group; the admin group's class rows
        "INSERT INTO auth_permission (group_id, name, table_name, record_id) VALUES "
        "(1,'admin','patient',0),(1,'read','patient',0),(1,'create','patient',0),"
        "(4,'admin','patient',1),(4,'read','patient',1),(4,'anon','patient',1),"
        "(5,'read','patient',2),(5,'admin','patient',3),(NULL,'read','patient',3)",
    ])
    report, engine = importer(source)

    assert "2014.07" in report.source["release"]
    # every patient got a set with its own id; samples joined their patient's set
    assert count(engine, "sample_set") == 3 and report.tables["sample_set"].added == 3
    with engine.connect() as connection:
        patient = metadata.tables["patient"]
        assert dict(connection.execute(select(patient.c.id, patient.c.sample_set_id)).all()) == {1: 1, 2: 2, 3: 3}
        m = metadata.tables["sample_set_membership"]
        assert sorted(connection.execute(select(m.c.sample_set_id, m.c.sequence_file_id)).all()) == \
            [(1, 1), (1, 2), (2, 3)]
        results = metadata.tables["results_file"]
        row = connection.execute(select(results).where(results.c.id == 1)).mappings().one()
        assert (row["sequence_file_id"], row["config_id"], str(row["run_date"])) == (1, 1, "2014-05-02 00:00:00")
        assert row["hidden"] is False
        fused, analysis = metadata.tables["fused_file"], metadata.tables["analysis_file"]
        assert connection.scalar(select(fused.c.sample_set_id)) == 1
        assert connection.scalar(select(analysis.c.sample_set_id)) == 1
        sf = metadata.tables["sequence_file"]
        assert connection.scalar(select(sf.c.sampling_date).where(sf.c.id == 2)) is None  # zero date
        assert connection.scalar(select(sf.c.patient_id).where(sf.c.id == 4)) is None  # dangling
    assert report.tables["results_file"].source == 2 and count(engine, "results_file") == 2
    text_ = warnings_text(report)
    assert "legacy table data_file" in text_ and "standard_file" in text_
    assert "config.germline not carried over" in text_
    assert "sampling_date: zero date" in text_
    assert "patient_id cleared" in text_
    assert report.permissions["access_rows_added_from_era_a"] == 3
    assert report.tables["auth_permission"].dropped == 1  # the NULL-group row
    # era-A rights hold under today's rules: Ann reaches patient 1 (with identity), Tom 2 and 3
    assert visible(engine, 2) == {"patient": [1]}
    assert visible(engine, 3) == {"patient": [2, 3]}
    assert visible(engine, 3, "admin") == {"patient": [2, 3]}  # merged rights, reported
    assert "different era-A rights" in text_
    with Session(engine) as db:
        assert Permissions(db, 2).can_view_info(1)
        assert not Permissions(db, 2).can_view_sample_set(2)
        assert authenticate(db, "ann@old.example", "ann-pass", "127.0.0.1").user.id == 2
    assert all(c.consistent for c in report.tables.values())


# ---------------------------------------------------------------------- 2016.02

RELEASE_2016_02 = {
    **AUTH_TABLES, **SCHEDULER_TABLES,
    "patient": "first_name VARCHAR(512), last_name VARCHAR(512), birth DATE, info LONGTEXT, id_label VARCHAR(512), "
               "creator INT, sample_set_id INT",
    "sequence_file": "patient_id INT, sampling_date DATE, info LONGTEXT, filename LONGTEXT, pcr LONGTEXT, "
                     "sequencer LONGTEXT, producer LONGTEXT, size_file INT, provider INT, data_file VARCHAR(400)",
    "config": "name VARCHAR(512), command VARCHAR(512), info LONGTEXT, program VARCHAR(512), "
              "fuse_command VARCHAR(512)",
    "results_file": "sequence_file_id INT, config_id INT, run_date DATETIME, scheduler_task_id INT, "
                    "data_file VARCHAR(400)",
    "fused_file": "patient_id INT, config_id INT, status VARCHAR(512), sequence_file_list VARCHAR(512), "
                  "fuse_date DATETIME, fused_file VARCHAR(400), sample_set_id INT",
    "analysis_file": "patient_id INT, config_id INT, status VARCHAR(512), analyze_date DATETIME, "
                     "analysis_file VARCHAR(400), sample_set_id INT",
    "sample_set": "sample_type VARCHAR(512)",
    "sample_set_membership": "sample_set_id INT, sequence_file_id INT",
    "notification": "creator INT, title VARCHAR(512), message_content LONGTEXT, message_type VARCHAR(512), "
                    "priority VARCHAR(512), expiration DATE, creation_datetime DATETIME",
    "user_preference": "user_id INT, preference VARCHAR(512), val VARCHAR(512)",
    "standard_file": "name VARCHAR(512), info LONGTEXT, data_file VARCHAR(400)",
}


def test_release_2016_02_one_file_sets_and_era_a_rights(databases, importer):
    source = build_source(databases, "rel_2016_02", RELEASE_2016_02, users_and_groups() + [
        "INSERT INTO sample_set VALUES (1,'patient'),(2,'patient'),(3,'sequence_file'),(4,'sequence_file'),"
        "(5,'sequence_file')",
        "INSERT INTO patient VALUES (1,'Jo','Smith','1950-02-03','#ALL','P1',2,1),"
        "(2,'Al','Kahn',NULL,'','P2',3,2),(3,'Ex','Gone',NULL,'deleted set',NULL,3,NULL)",
        "INSERT INTO sequence_file VALUES (1,NULL,'2016-01-01','','a.fa',NULL,NULL,NULL,10,2,'sf.a.fa'),"
        "(2,NULL,'2016-01-02','','b.fa',NULL,NULL,NULL,20,3,'sf.b.fa'),(3,NULL,NULL,'','c.fa',NULL,NULL,NULL,5,9,NULL)",
        "INSERT INTO sample_set_membership VALUES (1,1,1),(2,3,1),(3,2,2),(4,4,2),(5,5,3),(6,NULL,3)",
        "INSERT INTO config VALUES (1,'multi','-g germline','multi-locus','vidjil','-t 100'),"
        "(2,'TRG','-g germline:TRG','TRG','vidjil','-t 100')",
        "INSERT INTO scheduler_task (id, function_name, status, uuid, args, enabled) VALUES "
        "(1,'vidjil','COMPLETED','u-1','[\"1\", \"1\", 1, null]','T')",
        "INSERT INTO scheduler_run (id, task_id, status) VALUES (1,1,'COMPLETED'),(2,99,'FAILED')",
        "INSERT INTO results_file VALUES (1,1,1,'2016-01-03 10:00:00',1,'rf.1.txt'),(2,42,1,NULL,NULL,NULL)",
        "INSERT INTO fused_file VALUES (1,1,1,NULL,'1_',NULL,'ff.1.fused',1)",
        "INSERT INTO notification VALUES (1,1,'News','hello','header','info','2016-12-31','2016-01-01 00:00:00')",
        "INSERT INTO user_preference VALUES (1,2,'mail','1'),(2,8,'mail','1')",
        "INSERT INTO auth_permission (group_id, name, table_name, record_id) VALUES "
        "(1,'admin','patient',0),(1,'read','patient',0),(1,'create','patient',0),(1,'impersonate','auth_user',0),"
        "(4,'admin','patient',1),(4,'read','patient',1),(4,'anon','patient',1),"
        "(5,'admin','patient',2),(5,'read','patient',2),(5,'anon','patient',2),"
        "(5,'admin','patient',3),(5,'read','patient',3),"
        "(3,'read','config',1),(4,'upload','sequence_file',0)",
    ])
    report, engine = importer(source)

    assert "2016.02" in report.source["release"]
    text_ = warnings_text(report)
    assert report.tables["sample_set"].source == 5 and report.tables["sample_set"].dropped == 3
    assert "legacy sample_type 'sequence_file'" in text_
    assert count(engine, "sample_set") == 2
    with engine.connect() as connection:
        m = metadata.tables["sample_set_membership"]
        assert sorted(connection.execute(select(m.c.sample_set_id, m.c.sequence_file_id)).all()) == [(1, 1), (2, 2)]
        sf = metadata.tables["sequence_file"]
        assert connection.scalar(select(sf.c.provider).where(sf.c.id == 3)) is None  # user 9 never existed
        assert connection.scalar(select(metadata.tables["patient"].c.sample_set_id)
                                 .where(metadata.tables["patient"].c.id == 3)) is None
    assert report.tables["sample_set_membership"].dropped == 4  # 3 one-file sets + 1 NULL set
    assert report.tables["results_file"].dropped == 1 and report.tables["scheduler_run"].dropped == 1
    assert report.tables["user_preference"].dropped == 1
    assert "rows without a sample set kept" in text_ and "samples in no sample set" in text_
    # era A -> today: each user reaches their patients; the public group keeps config 1
    assert visible(engine, 2) == {"patient": [1]}
    assert visible(engine, 3) == {"patient": [2]}
    assert visible(engine, 1) == {"patient": [1, 2]}
    with Session(engine) as db:
        assert Permissions(db, 3).can_modify_sample_set(2) and not Permissions(db, 3).can_modify_sample_set(1)
        assert Permissions(db, 2).can_use_config(1) and not Permissions(db, 2).can_use_config(2)
        assert Permissions(db, 1).can_impersonate(2)
        originals = db.scalar(select(func.count()).select_from(Permission).where(
            Permission.table_name == "patient", Permission.record_id > 0))
        assert originals == 8  # era-A rows are kept next to the converted ones
    assert all(c.consistent for c in report.tables.values())


# ---------------------------------------------------------------------- 2017.03

RELEASE_2017_03 = {
    **{k: v for k, v in RELEASE_2016_02.items() if k not in ("sequence_file", "sample_set")},
    "sample_set": "sample_type VARCHAR(512), creator INT",
    "sequence_file": "patient_id INT, sampling_date DATE, info LONGTEXT, filename LONGTEXT, pcr LONGTEXT, "
                     "sequencer LONGTEXT, producer LONGTEXT, provider INT, pre_process_id INT, "
                     "pre_process_result LONGTEXT, pre_process_flag LONGTEXT, pre_process_scheduler_task_id INT, "
                     "data_file VARCHAR(400), data_file2 VARCHAR(400), size_file BIGINT, size_file2 BIGINT",
    "run": "name VARCHAR(512), run_date DATE, info LONGTEXT, id_label VARCHAR(512), creator INT, "
           "sequencer VARCHAR(512), pcr VARCHAR(512), sample_set_id INT",
    "generic": "name VARCHAR(512), info LONGTEXT, creator INT, sample_set_id INT",
    "pre_process": "name VARCHAR(512), command VARCHAR(512), info LONGTEXT",
    "group_assoc": "first_group_id INT, second_group_id INT",
    "user_log": "user_id INT, created DATETIME, msg LONGTEXT, table_name VARCHAR(512), record_id INT",
}


def test_release_2017_03_era_b_access_rows_and_parent_groups(databases, importer):
    lab_rights = ", ".join(f"(6,'{a}','sample_set',0)" for a in ("read", "admin", "upload", "save", "anon"))
    source = build_source(databases, "rel_2017_03", RELEASE_2017_03, users_and_groups() + [
        "INSERT INTO auth_group VALUES (6,'lab','a lab'),(7,'lab-team','child of lab')",
        "INSERT INTO group_assoc VALUES (1,6,7)",
        "INSERT INTO auth_membership (user_id, group_id) VALUES (2,6),(3,7)",
        "INSERT INTO auth_permission (group_id, name, table_name, record_id) VALUES "
        f"{lab_rights}, (7,'read','sample_set',0),"
        "(6,'access','patient',1),(6,'access','run',1),(6,'access','generic',1),(4,'access','patient',2),"
        "(4,'read','sample_set',0),(6,'access','patient',99)",
        "INSERT INTO sample_set VALUES (1,'patient',NULL),(2,'patient',NULL),(3,'run',NULL),(4,'generic',NULL)",
        "INSERT INTO patient VALUES (1,'Jo','Smith',NULL,'','P1',2,1),(2,'Al','Kahn',NULL,'','P2',2,2)",
        "INSERT INTO run VALUES (1,'RUN-1','2017-01-10','','R1',2,'MiSeq','pcr',3)",
        "INSERT INTO generic VALUES (1,'set A','',2,4)",
        "INSERT INTO pre_process VALUES (1,'merge','flash2 &file1& &file2& > &result&','')",
        "INSERT INTO sequence_file (id, filename, provider, pre_process_id, pre_process_flag, data_file, "
        "size_file, size_file2) VALUES (1,'a.fq',2,1,'COMPLETED','sf.a.fq',3000000000,0),(2,'b.fq',2,7,NULL,'sf.b.fq',1,0)",
        "INSERT INTO sample_set_membership VALUES (1,1,1),(2,3,1),(3,4,2),(4,3,999)",
        "INSERT INTO user_log VALUES (1,2,'2017-02-01 10:00:00','127.0.0.1 Ann_Lee patient 1 created','patient',1)",
    ])
    report, engine = importer(source)

    assert "2017.03" in report.source["release"]
    assert report.permissions["access_rows_added_from_era_b"] == 4  # patient 99 does not exist
    # lab members reach what the lab reaches; the child team inherits the lab's access rows
    assert visible(engine, 2) == {"patient": [1, 2], "run": [3], "generic": [4]}
    assert visible(engine, 3) == {"patient": [1], "run": [3], "generic": [4]}
    with Session(engine) as db:
        assert not Permissions(db, 3).can_modify_sample_set(1)  # parents give access rows only
        assert Permissions(db, 2).can_modify_sample_set(3)
    with engine.connect() as connection:
        sf = metadata.tables["sequence_file"]
        assert connection.scalar(select(sf.c.size_file).where(sf.c.id == 1)) == 3000000000
        assert connection.scalar(select(sf.c.pre_process_id).where(sf.c.id == 2)) is None
        assert connection.scalar(select(sf.c.network).where(sf.c.id == 1)) is None  # column of 2017.09
    assert report.tables["sample_set_membership"].dropped == 1
    assert count(engine, "user_log") == 1
    assert all(c.consistent for c in report.tables.values())


# ---------------------------------------------------------------------- 2019.03

RELEASE_2019_03 = {
    **{k: v for k, v in RELEASE_2017_03.items() if k != "sequence_file"},
    "sequence_file": RELEASE_2017_03["sequence_file"] + ", network CHAR(1)",
    "tag": "name VARCHAR(255) UNIQUE",
    "group_tag": "group_id INT, tag_id INT",
    "tag_ref": "tag_id INT, table_name VARCHAR(512), record_id INT",
}


def test_release_2019_03_personal_group_namings_tags_and_loose_accounts(databases, importer):
    member_rights = ", ".join(f"({g},'{a}','sample_set',0)" for g in (4, 8)
                              for a in ("create", "read", "admin", "upload", "save", "anon"))
    source = build_source(databases, "rel_2019_03", RELEASE_2019_03, users_and_groups(
        "INSERT INTO auth_user VALUES "
        f"(4,'Bea','Nu','Bea@New.example','{web2py_hash('bea-pass', 'fedcba9876543210')}','','',''),"
        "(5,'Dup','Case','bea@new.example','x','','',''),"
        f"(6,'Pen','Ding','pen@new.example','{web2py_hash('pen-pass')}','pending','',''),"
        "(7,'Old','Md5','md5@old.example','" + hashlib.md5(b"md5-pass").hexdigest() + "','','',''),"
        "(8,'Odd','Hash','odd@new.example','$unknown$abc','','','')") + [
        "INSERT INTO auth_group VALUES (8,'user_0004','Group of user 0004 - Bea Nu')",
        "INSERT INTO auth_membership (user_id, group_id) VALUES (4,8),(4,3)",
        f"INSERT INTO auth_permission (group_id, name, table_name, record_id) VALUES {member_rights},"
        "(8,'access','sample_set',2),(4,'access','patient',1),(NULL,'admin','auth_group',8),(8,'admin','8',0)",
        "INSERT INTO sample_set VALUES (1,'patient',NULL),(2,'patient',NULL)",
        "INSERT INTO patient VALUES (1,'Jo','Smith',NULL,'#ALL #mrd','P1',2,1),(2,'Al','Kahn',NULL,'#ALL','P2',4,2)",
        "INSERT INTO tag VALUES (1,'ALL'),(2,'mrd')",
        "INSERT INTO group_tag VALUES (1,4,1),(2,8,1),(3,4,2),(4,99,2)",
        "INSERT INTO tag_ref VALUES (1,1,'patient',1),(2,2,'patient',1),(3,1,'patient',2),(4,5,'patient',2)",
        "INSERT INTO auth_event VALUES (1,'0000-00-00 00:00:00','1.2.3.4',4,'auth','User 4 Logged-in'),"
        "(2,'2019-04-01 08:00:00','1.2.3.4',42,'auth','User 42 Logged-in')",
    ])
    report, engine = importer(source)

    assert "2018.02-2019.03" in report.source["release"]
    assert report.permissions["personal_groups_user_n"] == 3  # user_1, user_2, user_3
    assert report.permissions["personal_groups_user_0000"] == 1
    assert visible(engine, 2) == {"patient": [1]}  # era-B row of the 2018.01 era
    assert visible(engine, 4) == {"patient": [2]}
    with Session(engine) as db:
        assert Permissions(db, 2).personal_group_id == 4 and Permissions(db, 4).personal_group_id == 8
        assert Permissions(db, 4).display_name_patient(2, "Al", "Kahn") == "Kahn Al"
        assert authenticate(db, "BEA@new.example", "bea-pass", "127.0.0.1").user.id == 4
        assert authenticate(db, "md5@old.example", "md5-pass", "127.0.0.1").user.id == 7
    users = report.users
    assert users["total"] == 8 and users["can_log_in"] == 5
    reasons = {entry["id"]: entry["reason"] for entry in users["cannot_log_in"]}
    assert "already used by user 4" in reasons[5] and "awaiting approval" in reasons[6]
    assert "unknown format" in reasons[8]
    assert report.passwords["formats"]["md5 (unsalted)"] == 1 and report.passwords["formats"]["unknown"] == 2
    assert report.tables["group_tag"].dropped == 1 and report.tables["tag_ref"].dropped == 1
    assert report.tables["auth_permission"].dropped == 1  # NULL group (the owner-of-a-user_<n> bug)
    assert count(engine, "auth_permission", lambda t: t.c.table_name == "8") == 1  # kept as it was
    with engine.connect() as connection:
        event = metadata.tables["auth_event"]
        assert dict(connection.execute(select(event.c.id, event.c.user_id)).all()) == {1: 4, 2: None}
        assert connection.scalar(select(event.c.time_stamp).where(event.c.id == 1)) is None
    assert "time_stamp: zero date" in warnings_text(report)
    assert all(c.consistent for c in report.tables.values())


def test_tags_differing_only_by_case_are_merged(databases, importer):
    """A source whose tag names were compared case-sensitively (binary collation) can hold `ALL`
    and `all`; tag lookups are case-insensitive, so they become one tag and their uses follow."""
    tables = {**AUTH_TABLES, "tag": "name VARCHAR(255) COLLATE utf8_bin UNIQUE",
              "group_tag": "group_id INT, tag_id INT", "tag_ref": "tag_id INT, table_name VARCHAR(512), record_id INT"}
    source = build_source(databases, "tags_case", tables, users_and_groups() + [
        "INSERT INTO tag VALUES (1,'ALL'),(2,'all'),(3,'MRD')",
        "INSERT INTO group_tag VALUES (1,4,1),(2,4,2),(3,5,3)",
        "INSERT INTO tag_ref VALUES (1,1,'patient',1),(2,2,'patient',2),(3,3,'patient',2)",
    ])
    report, engine = importer(source)
    with engine.connect() as connection:
        tag, ref = metadata.tables["tag"], metadata.tables["tag_ref"]
        assert dict(connection.execute(select(tag.c.id, tag.c.name)).all()) == {1: "ALL", 3: "MRD"}
        assert sorted(connection.execute(select(ref.c.id, ref.c.tag_id)).all()) == [(1, 1), (2, 1), (3, 3)]
    assert report.tables["tag"].dropped == 1 and "another case" in warnings_text(report)
    assert all(c.consistent for c in report.tables.values())


def test_a_web2py_sqlite_database_is_read_without_being_changed(importer, tmp_path):
    """web2py's own default storage is SQLite (storage.sqlite); such a file is opened read-only."""
    import sqlite3

    path = tmp_path / "storage.sqlite"
    with sqlite3.connect(path) as db:
        for name, columns in {**AUTH_TABLES, "sample_set": "sample_type VARCHAR(512), creator INT",
                              "patient": RELEASE_2016_02["patient"]}.items():
            db.execute(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY AUTOINCREMENT, {columns})")
        for statement in users_and_groups() + [
                "INSERT INTO sample_set VALUES (1,'patient',NULL)",
                "INSERT INTO patient VALUES (1,'Jo','Smith','1950-02-03','','P1',2,1)",
                "INSERT INTO auth_permission (group_id, name, table_name, record_id) VALUES "
                "(4,'read','sample_set',0),(4,'access','sample_set',1)"]:
            db.execute(statement)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    report, engine = importer(f"sqlite:///{path}")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert visible(engine, 2) == {"patient": [1]}
    with engine.connect() as connection:
        birth = connection.scalar(select(metadata.tables["patient"].c.birth))
    assert str(birth) == "1950-02-03"
    assert report.users["can_log_in"] == 3
