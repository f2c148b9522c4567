"""A small lab world for the set pages: two labs, their users, sets, samples and results.

Names carry HTML, quotes and non-ASCII letters on purpose (W24): every page
must show them as typed.
"""
from __future__ import annotations

import datetime as dt
import pathlib
import sys
from types import SimpleNamespace

import pytest

from factories import PASSWORD, make_group, make_sequence_file, make_set, make_user
from sqlalchemy import select
from webclient import login, logout

from vidjil_pyramid.admin.models import Config
from vidjil_pyramid.auth.services import grant
from vidjil_pyramid.jobs.models import SchedulerTask
from vidjil_pyramid.results.models import AnalysisFile, FusedFile, ResultsFile
from vidjil_pyramid.sample_sets.tags import register_tags

# the test modules here share `sample_set_world` (pytest runs with --import-mode=importlib)
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from sample_set_world import LAB_RIGHTS, NASTY_FIRST, NASTY_INFO, NASTY_LAST  # noqa: E402





@pytest.fixture
def world(initial_data, data_dir, app_settings):
    db = initial_data
    admin = make_user(db, admin=True, first_name="Ada", last_name="Admin")
    alice = make_user(db, first_name="Alice", last_name="Martin")
    bob = make_user(db, first_name="Bob", last_name="Durand")
    reader = make_user(db, first_name="Rita", last_name="Reader")
    lab_a = make_group(db, "lab-a", rights=LAB_RIGHTS, members=[alice])
    lab_b = make_group(db, "lab-b", rights=LAB_RIGHTS, members=[bob])
    readers = make_group(db, "readers-a", rights=("read",), members=[reader])

    patient_a, patient_a_detail = make_set(db, "patient", groups=[lab_a, readers], creator=alice,
                                           first_name=NASTY_FIRST, last_name=NASTY_LAST, info=NASTY_INFO,
                                           id_label="PAT-1")
    register_tags(db, NASTY_INFO, "patient", patient_a_detail.id, lab_a.id)
    run_a, run_a_detail = make_set(db, "run", groups=[lab_a], creator=alice, name="RUN-A", info="first run #TRG")
    generic_a, _ = make_set(db, "generic", groups=[lab_a], creator=alice, name="Set A", info="")
    patient_b, patient_b_detail = make_set(db, "patient", groups=[lab_b], creator=bob, first_name="Hugo",
                                           last_name="Lambert", info="private #CLL")
    register_tags(db, "private #CLL", "patient", patient_b_detail.id, lab_b.id)

    config = db.scalars(select(Config).order_by(Config.id)).first()
    shared_file = make_sequence_file(db, sets=[patient_a, run_a], provider=alice, filename="shared.fa",
                                     data_file="sequence_file.data_file.aaaa.7368617265642e6661.fa",
                                     size_file=5022, sampling_date=dt.date(2024, 1, 10), info="diag #diagnosis")
    own_file = make_sequence_file(db, sets=[patient_a], provider=alice, filename="own.fa",
                                  data_file="sequence_file.data_file.bbbb.6f776e2e6661.fa", size_file=1000)
    b_file = make_sequence_file(db, sets=[patient_b], provider=bob, filename="bob.fa",
                                data_file="sequence_file.data_file.cccc.626f622e6661.fa", size_file=2000)

    results_dir = app_settings["vidjil.results_dir"]
    pathlib.Path(results_dir).mkdir(parents=True, exist_ok=True)
    task = SchedulerTask(task_name="vidjil", function_name="vidjil", status="COMPLETED", args="[]")
    db.add(task)
    db.flush()
    stored = "results_file.data_file.dddd.7368617265642e6661.vidjil"
    (pathlib.Path(results_dir) / stored).write_text('{"reads": {}}')
    shared_result = ResultsFile(sequence_file_id=shared_file.id, config_id=config.id, scheduler_task_id=task.id,
                                run_date=dt.datetime(2024, 2, 1, 10, 0), data_file=stored)
    own_result = ResultsFile(sequence_file_id=own_file.id, config_id=config.id,
                             run_date=dt.datetime(2024, 2, 2), data_file="results_file.data_file.eeee.6f776e.vidjil")
    (pathlib.Path(results_dir) / own_result.data_file).write_text('{"own": true}')
    b_result = ResultsFile(sequence_file_id=b_file.id, config_id=config.id, data_file="results_file.data_file.ffff.62.vidjil")
    (pathlib.Path(results_dir) / b_result.data_file).write_text('{"bob": true}')
    db.add_all([shared_result, own_result, b_result])
    fused = FusedFile(sample_set_id=patient_a.id, config_id=config.id, fuse_date=dt.datetime(2024, 2, 3),
                      fused_file="fused_file.fused_file.1111.66.fused", sequence_file_list=f"{shared_file.id}_")
    db.add(fused)
    db.add(AnalysisFile(sample_set_id=patient_a.id, analyze_date=dt.datetime(2024, 2, 4),
                        analysis_file="analysis_file.analysis_file.2222.61.analysis"))
    db.flush()
    return SimpleNamespace(
        db=db, admin=admin, alice=alice, bob=bob, reader=reader, lab_a=lab_a, lab_b=lab_b, readers=readers,
        patient_a=patient_a, patient_a_detail=patient_a_detail, run_a=run_a, run_a_detail=run_a_detail,
        generic_a=generic_a, patient_b=patient_b, patient_b_detail=patient_b_detail, config=config,
        shared_file=shared_file, own_file=own_file, b_file=b_file, task=task,
        shared_result=shared_result, own_result=own_result, b_result=b_result, fused=fused,
        results_dir=results_dir,
    )


@pytest.fixture
def as_user(testapp):
    """Log the test app in as one of the world's users."""

    current = {}

    def log_in(user):
        if current.get("id") != user.id:
            if current:
                logout(testapp)
            login(testapp, user.email, PASSWORD)
            current["id"] = user.id
        return testapp

    return log_in


@pytest.fixture
def anonymous(testapp):
    """A second client on the same app and transaction, never logged in."""
    import webtest

    return webtest.TestApp(testapp.app, extra_environ=dict(testapp.extra_environ))


@pytest.fixture
def share(world):
    def give(group, sample_set):
        grant(world.db, group.id, "access", "sample_set", sample_set.id)
        world.db.flush()

    return give

