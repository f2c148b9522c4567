"""Fixture A (a database and files made by a real web2py Vidjil server) imported with
`vidjil-server legacy-import --from-dump`, into SQLite and into MariaDB."""
from __future__ import annotations

import hashlib
import json
import tarfile

import pytest
import webtest
from li_support import DUMP_A, credentials, dump_row_counts, run_cli
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from legacy_import.tables import IMPORTED_TABLES
from vidjil_pyramid.auth.models import User
from vidjil_pyramid.auth.permissions import Permissions
from vidjil_pyramid.models import metadata
from vidjil_pyramid.results.models import FusedFile
from vidjil_pyramid.sample_sets.models import SET_TYPES, SampleSet


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_report_counts_match_the_dump(imported_a):
    in_dump = dump_row_counts(DUMP_A)
    tables = imported_a.report["tables"]
    for name in IMPORTED_TABLES:
        assert tables[name]["source"] == in_dump.get(name, 0), name
        assert tables[name]["dropped"] == 0, name
        assert tables[name]["added"] == 0, name  # fixture A is all era C
        assert tables[name]["target"] == in_dump.get(name, 0), name
        assert tables[name]["consistent"]
    assert not imported_a.report["warnings"] or all(
        w["table"] == "files" for w in imported_a.report["warnings"])
    assert "sample_set" in imported_a.output and "can log in: 4" in imported_a.output


def test_ids_and_values_are_preserved(imported_a):
    engine = imported_a.engine()
    try:
        with engine.connect() as connection:
            ids = {name: set(connection.scalars(select(metadata.tables[name].c.id)))
                   for name in ("sample_set", "patient", "sequence_file", "results_file", "tag")}
            assert ids["sample_set"] == set(range(1, 11))
            assert ids["sequence_file"] == set(range(1, 8))
            assert ids["results_file"] == {1, 2}
            assert len(ids["tag"]) == 57
            sf = metadata.tables["sequence_file"]
            network = connection.execute(select(sf).where(sf.c.id == 6)).mappings().one()
            assert network["network"] is True and network["size_file"] == 5022
            assert network["data_file"] == "sequence_file.data_file.a09d60f27a2c15c3.44656d6f2d5835.fa"
            rf = metadata.tables["results_file"]
            assert connection.execute(select(rf.c.hidden).where(rf.c.id == 1)).scalar() is False
            patient = metadata.tables["patient"]
            birth = connection.execute(select(patient.c.birth).where(patient.c.id == 3)).scalar()
            assert birth is None
            assert str(connection.execute(select(patient.c.birth).where(patient.c.id == 1)).scalar()) == "1961-04-12"
    finally:
        engine.dispose()


def test_new_rows_get_ids_after_the_imported_ones(imported_a):
    engine = imported_a.engine()
    try:
        with engine.connect() as connection:
            with connection.begin() as transaction:
                ss = metadata.tables["sample_set"]
                new_id = connection.execute(ss.insert().values(sample_type="generic")).inserted_primary_key[0]
                transaction.rollback()
        assert new_id == 11
    finally:
        engine.dispose()


@pytest.fixture
def server_app(imported_a):
    """A WebTest app on the imported database; web2py password hashes restored afterwards."""
    from vidjil_pyramid import main

    engine = imported_a.engine()
    with engine.connect() as connection:
        hashes = dict(connection.execute(select(User.id, User.password)).all())
    settings = imported_a.settings()
    settings["vidjil.engine"] = engine

    def restore():
        with engine.begin() as connection:
            for user_id, password in hashes.items():
                connection.execute(update(User).where(User.id == user_id).values(password=password))
            connection.exec_driver_sql("DELETE FROM vidjil_session")

    def new_client():
        return webtest.TestApp(main({}, **settings), extra_environ={"HTTP_HOST": "vidjil.test"})

    restore()
    yield new_client, restore, hashes
    restore()
    engine.dispose()


def test_every_user_logs_in_with_the_old_password_through_both_flows(server_app, fixture_a):
    from webclient import login, web2py_login

    new_client, restore, hashes = server_app
    users = credentials(fixture_a)
    assert len(users) == 4
    for user_id, email, password in users:
        assert hashes[user_id].startswith("pbkdf2(1000,20,sha512)$")
        client = new_client()
        login(client, email, password)
        assert client.get("/vidjil/default/whoami.json").json_body["id"] == user_id
        restore()  # the next flow starts from the web2py hash again

        client = new_client()
        response = web2py_login(client, email, password)
        assert response.status_int == 303 and "/default/user/login" not in response.location
        assert client.get("/vidjil/default/whoami.json").json_body["email"] == email

        bad = new_client()
        login(bad, email, password + "x", expect_success=False)
        assert bad.get("/vidjil/default/whoami.json").json_body.get("id") is None


def test_the_old_hash_is_replaced_by_argon2_at_first_login(server_app, fixture_a, imported_a):
    from webclient import login

    new_client, _restore, hashes = server_app
    user_id, email, password = credentials(fixture_a)[1]
    login(new_client(), email, password)
    engine = imported_a.engine()
    try:
        with engine.connect() as connection:
            stored = connection.scalar(select(User.password).where(User.id == user_id))
    finally:
        engine.dispose()
    assert stored.startswith("$argon2id$") and stored != hashes[user_id]


def test_each_user_sees_the_sets_the_old_server_showed(imported_a, fixture_a):
    expected = json.loads((fixture_a / "expected-visibility.json").read_text())
    engine = imported_a.engine()
    try:
        with Session(engine) as db:
            for email, by_type in expected.items():
                user_id = db.scalar(select(User.id).where(User.email == email))
                visible = Permissions(db, user_id).accessible_sample_set_ids_query("read")
                rows = db.execute(select(SampleSet.sample_type, SampleSet.id)
                                  .where(SampleSet.id.in_(visible))).all()
                seen = {t: sorted(i for k, i in rows if k == t) for t in SET_TYPES}
                assert seen == {t: by_type.get(t, []) for t in SET_TYPES}, email
                assert imported_a.report["visibility"][email] == {t: len(by_type.get(t, [])) for t in SET_TYPES}
    finally:
        engine.dispose()


def test_the_sample_set_list_pages_show_the_same_sets(server_app, fixture_a):
    from webclient import login

    new_client, _restore, _hashes = server_app
    expected = json.loads((fixture_a / "expected-visibility.json").read_text())
    passwords = {email: password for _, email, password in credentials(fixture_a)}
    for email, by_type in expected.items():
        client = new_client()
        login(client, email, passwords[email])
        for sample_type in SET_TYPES:
            page = client.get("/vidjil/sample_set/all", {"type": sample_type, "page": 0, "format": "json"})
            shown = sorted(row["sample_set_id"] for row in page.json_body["query"])
            assert shown == by_type.get(sample_type, []), (email, sample_type)


def test_files_are_brought_unchanged_with_their_stored_names(imported_a, fixture_a):
    settings = imported_a.settings()
    originals = {}
    with tarfile.open(fixture_a / "legacy-web2py-A-files.tar.gz") as archive:
        for member in archive.getmembers():
            if member.isfile() and ("/uploads/" in member.name or "/results/" in member.name):
                originals[member.name.rsplit("/", 1)[1]] = _sha256(archive.extractfile(member).read())
    manifest = {}
    for line in (imported_a.data_dir / "legacy-import-sha256.txt").read_text().splitlines():
        digest, path = line.split("  ", 1)
        manifest[path.rsplit("/", 1)[1]] = digest
    assert manifest == originals
    from pathlib import Path

    for name, digest in originals.items():
        folder = settings["vidjil.upload_dir"] if name.startswith("sequence_file.") else settings["vidjil.results_dir"]
        assert _sha256((Path(folder) / name).read_bytes()) == digest
    files = imported_a.report["files"]
    assert (files["found"], files["missing"], files["symlinks"], files["refused"]) == (10, 0, 1, 0)


def test_the_network_sample_symlink_points_into_the_new_file_source(imported_a):
    from pathlib import Path

    link = Path(imported_a.settings()["vidjil.upload_dir"]) / \
        "sequence_file.data_file.a09d60f27a2c15c3.44656d6f2d5835.fa"
    assert link.is_symlink()
    assert Path(link.resolve()) == (imported_a.file_source / "Demo-X5.fa").resolve()
    assert link.read_bytes() == (imported_a.file_source / "Demo-X5.fa").read_bytes()


def test_the_fused_result_is_the_same_file_for_the_same_set_and_config(imported_a, old_files):
    engine = imported_a.engine()
    try:
        with Session(engine) as db:
            fused = db.scalars(select(FusedFile)).one()
    finally:
        engine.dispose()
    assert (fused.id, fused.sample_set_id, fused.config_id, fused.sequence_file_list) == (1, 1, 9, "7_")
    from pathlib import Path

    copied = Path(imported_a.settings()["vidjil.results_dir"]) / fused.fused_file
    original = old_files / "result" / "results" / fused.fused_file
    clones = json.loads(copied.read_text())["clones"]
    assert copied.read_bytes() == original.read_bytes()
    assert len(clones) > 0


def test_get_data_of_the_imported_fused_result_answers_the_same_clones(server_app, fixture_a):
    from webclient import login

    new_client, _restore, _hashes = server_app
    original = json.loads((fixture_a.parent / "transcripts-A" / "full-bodies" / "get_data.body").read_text())
    _, email, password = credentials(fixture_a)[1]  # alice, who asked in the transcript
    client = new_client()
    login(client, email, password)
    answer = json.loads(client.post("/vidjil/default/get_data?sample_set_id=1&config=9").text)
    assert answer["clones"] == original["clones"]
    assert answer["sample_set_id"] == original["sample_set_id"] == 1
    assert answer["samples"]["original_names"] == original["samples"]["original_names"]


def test_a_second_run_changes_nothing(imported_a, databases):
    engine = imported_a.engine()
    try:
        with engine.connect() as connection:
            before = {name: connection.scalar(select(func.count()).select_from(metadata.tables[name]))
                      for name in IMPORTED_TABLES}
        code, output = run_cli(["--config", str(imported_a.ini), "--data-dir", str(imported_a.data_dir),
                                "legacy-import", "--from-dump", str(DUMP_A), "--scratch", databases.server])
        assert code == 2
        assert "already imported" in output
        with engine.connect() as connection:
            after = {name: connection.scalar(select(func.count()).select_from(metadata.tables[name]))
                     for name in IMPORTED_TABLES}
        assert after == before
    finally:
        engine.dispose()
