"""A small world for the sample pages: two labs, their patients and samples, an admin,
a user who may only read lab A's sets, and a network storage (FILE_SOURCE)."""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest
from factories import PASSWORD, make_group, make_sequence_file, make_set, make_user
from webclient import login

sys.path.insert(0, str(Path(__file__).parent))  # files_helpers, shared by the tests of this folder
from files_helpers import UPLOAD_LIMIT, World  # noqa: E402
from vidjil_pyramid.files.models import PreProcess
from vidjil_pyramid.auth.services import grant


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """Users are made and logged in by the dozen here: argon2 with the smallest costs."""
    from argon2 import PasswordHasher

    from vidjil_pyramid.auth import passwords

    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def source_dir(tmp_path) -> Path:
    root = tmp_path / "network-source"
    (root / "run1").mkdir(parents=True)
    (root / "run1" / "S1_R1.fastq").write_text("@r1\nACGT\n+\nIIII\n")
    (root / "run1" / "S1_R2.fastq").write_text("@r1\nTGCA\n+\nIIII\n")
    (root / "Demo-X5.fa").write_text(">r\nACGTACGT\n")
    (root / "notes.txt").write_text("not a sequence")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "passwd.fa").write_text("root:x:0:0\n")
    (root / "escape.fa").symlink_to(secret / "passwd.fa")
    return root


@pytest.fixture
def app_settings(app_settings, source_dir):
    return {**app_settings, "vidjil.file_source": str(source_dir), "vidjil.file_types": ".fa .fastq .fastq.gz",
            "vidjil.max_upload_bytes": str(UPLOAD_LIMIT)}


@pytest.fixture
def upload_dir(app_settings) -> Path:
    path = Path(app_settings["vidjil.upload_dir"])
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def results_dir(app_settings) -> Path:
    path = Path(app_settings["vidjil.results_dir"])
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def world(initial_data, dbsession, upload_dir, results_dir) -> World:
    db = dbsession
    rights = ("create", "read", "admin", "upload", "save", "run", "anon")
    lab_a = make_group(db, "lab-a", rights=rights)
    lab_b = make_group(db, "lab-b", rights=rights)
    readers = make_group(db, "lab-a-readers", rights=("read",))
    alice = make_user(db, email="alice@lab-a.test", first_name="Alice", last_name="Martin", groups=[lab_a])
    bob = make_user(db, email="bob@lab-b.test", first_name="Bob", last_name="Durand", groups=[lab_b])
    reader = make_user(db, email="reader@lab-a.test", groups=[readers])
    admin = make_user(db, email="admin@vidjil.test", admin=True)
    set_a, patient_a = make_set(db, "patient", groups=[lab_a, readers], first_name="Jeanne", last_name="Dupont",
                                birth=dt.date(1961, 4, 12))
    set_a2, _ = make_set(db, "run", groups=[lab_a], name="RUN-A")
    set_b, _ = make_set(db, "patient", groups=[lab_b], first_name="Paul", last_name="Secret")
    sample_a = make_sequence_file(db, sets=[set_a], provider=alice, filename="a.fa", info="diagnosis #dx",
                                  sampling_date=dt.date(2024, 1, 10))
    sample_b = make_sequence_file(db, sets=[set_b], provider=bob, filename="b.fa", sequencer="MiSeq-B", pcr="pcr-b")
    pair = PreProcess(name="merge pairs", command="flash2 &file1& &file2& -o &result&", info="merge R1/R2")
    db.add(pair)
    db.flush()
    for group in (lab_a, lab_b):
        grant(db, group.id, "read", "pre_process", 0)
        grant(db, group.id, "access", "pre_process", pair.id)
    db.flush()
    world = World(db, upload_dir, results_dir, lab_a, lab_b, alice, bob, reader, admin, set_a, patient_a, set_a2,
                  set_b, sample_a, sample_b, pair)
    world.stored_sample_file(sample_a, b">a\nACGTACGT\n", "a.fa")
    world.stored_sample_file(sample_b, b">b\nTTTTGGGG\n", "b.fa")
    return world


@pytest.fixture
def as_user(testapp):
    """Log a user of the world in (None: stay anonymous) and return the test app."""
    def log_in(user):
        testapp.reset()  # forget any previous user's session cookie
        if user is not None:
            login(testapp, user.email, PASSWORD)
        return testapp
    return log_in

