"""A lab running analyses: who may run, see and stop what."""
from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from factories import PASSWORD, make_config, make_group, make_sequence_file, make_set, make_user
from webclient import login, logout

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))



@pytest.fixture
def app_settings(app_settings):
    return {**app_settings, "vidjil.min_free_percent": "0"}


@dataclass
class Lab:
    db: object
    alice: object     # lab member: every right on the lab's sets, sees identities
    runner: object    # may run (run right) but not administer the sets
    reader: object    # may only read the lab's sets
    bob: object       # another lab
    admin: object
    lab: object
    patient_set: object
    run_set: object
    bob_set: object
    sample: object        # in the patient set and the run set
    second: object        # in the run set only
    bob_sample: object
    config: object        # usable by the lab
    private_config: object  # usable by nobody but admins

    def login(self, testapp, user) -> None:
        """Log in as `user` (after logging out whoever was logged in)."""
        logout(testapp)
        login(testapp, user.email, PASSWORD)


@pytest.fixture
def lab(initial_data, dbsession) -> Lab:
    db = dbsession
    everything = ("create", "read", "admin", "upload", "save", "run", "anon")
    lab_group = make_group(db, "lab-a", rights=everything)
    runners = make_group(db, "lab-a-runners", rights=("read", "run"))
    readers = make_group(db, "lab-a-readers", rights=("read",))
    bob_group = make_group(db, "lab-b", rights=everything)
    alice = make_user(db, email="alice@lab.test", first_name="Alice", last_name="Martin", groups=[lab_group])
    runner = make_user(db, email="runner@lab.test", groups=[runners])
    reader = make_user(db, email="reader@lab.test", groups=[readers])
    bob = make_user(db, email="bob@other.test", groups=[bob_group])
    admin = make_user(db, email="admin@vidjil.test", admin=True)
    patient_set, _ = make_set(db, "patient", groups=[lab_group, runners, readers], first_name="Jeanne",
                              last_name="Dupont", birth=dt.date(1961, 4, 12))
    run_set, _ = make_set(db, "run", groups=[lab_group], name="RUN-A")
    bob_set, _ = make_set(db, "patient", groups=[bob_group], first_name="Paul", last_name="Secret")
    sample = make_sequence_file(db, sets=[patient_set, run_set], provider=alice, filename="diag<b>.fa",
                                info="diagnosis #dx", data_file="sequence_file.data_file.aa.61.fa")
    second = make_sequence_file(db, sets=[run_set], provider=alice, filename="mrd.fa",
                                data_file="sequence_file.data_file.bb.62.fa")
    bob_sample = make_sequence_file(db, sets=[bob_set], provider=bob, filename="bob.fa",
                                    data_file="sequence_file.data_file.cc.63.fa")
    config = make_config(db, name="multi <i>", groups=[lab_group, runners, bob_group])
    private_config = make_config(db, name="private")
    return Lab(db, alice, runner, reader, bob, admin, lab_group, patient_set, run_set, bob_set, sample, second,
               bob_sample, config, private_config)


@pytest.fixture
def broker(app):
    return app.registry["broker"]


@pytest.fixture
def commit_hooks(tm):
    """Run the after-commit hooks of the test's transaction as if it had committed."""
    def fire() -> None:
        for hook, args, kws in list(tm.get().getAfterCommitHooks()):
            hook(True, *args, **kws)

    return fire


@pytest.fixture(autouse=True)
def no_publication_marks(monkeypatch):
    """Recording a publication needs a second connection, which the test's open transaction would block."""
    from vidjil_pyramid.jobs.dispatch import JobPublisher

    monkeypatch.setattr(JobPublisher, "_set_deadline", lambda self, ids, seconds: None)
