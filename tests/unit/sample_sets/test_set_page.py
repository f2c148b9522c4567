"""The set page's data: chosen config, current results, statuses, shared sets, file names."""
from __future__ import annotations

import datetime as dt

import pytest
from factories import make_config, make_group, make_sequence_file, make_set, make_user

from vidjil_pyramid.auth.permissions import Permissions
from vidjil_pyramid.jobs.models import SchedulerTask
from vidjil_pyramid.results.models import FusedFile, ResultsFile
from vidjil_pyramid.sample_sets.set_page import build_set_page, parse_config_param

RIGHTS = ("create", "read", "admin", "upload", "run", "save")


@pytest.fixture
def lab(initial_data):
    db = initial_data
    user = make_user(db)
    group = make_group(db, "page-lab", rights=RIGHTS, members=[user])
    return db, user, group, Permissions(db, user.id)


@pytest.mark.parametrize("value, expected", [(None, None), ("", None), ("-1", None), ("None", None),
                                             ("7", 7), (" 7 ", 7), ("0", None), ("7'", None), ("99999999999", None)])
def test_parse_config_param(value, expected):
    assert parse_config_param(value) == expected


def test_page_data(lab):
    db, user, group, perms = lab
    old_config, new_config = make_config(db, groups=[group]), make_config(db, groups=[group])
    patient, _ = make_set(db, "patient", groups=[group], first_name="Jean", last_name="Dupont/../x")
    run, _ = make_set(db, "run", groups=[group], name="R1")
    hidden_run, _ = make_set(db, "run", groups=[make_group(db)], name="not yours")
    sample = make_sequence_file(db, sets=[patient, run, hidden_run], data_file="sequence_file.data_file.a.b.fa")
    waiting = make_sequence_file(db, sets=[patient], pre_process_id=None, pre_process_flag="WAIT")
    task = SchedulerTask(status="RUNNING", args="[]")
    db.add(task)
    db.flush()
    db.add_all([
        ResultsFile(sequence_file_id=sample.id, config_id=new_config.id, run_date=dt.datetime(2024, 1, 1)),
        ResultsFile(sequence_file_id=sample.id, config_id=new_config.id, run_date=dt.datetime(2024, 2, 1),
                    scheduler_task_id=task.id),
        FusedFile(sample_set_id=patient.id, config_id=old_config.id, fuse_date=dt.datetime(2023, 1, 1), fused_file="a"),
        FusedFile(sample_set_id=patient.id, config_id=new_config.id, fuse_date=dt.datetime(2024, 1, 1), fused_file="b"),
    ])
    db.flush()
    page = build_set_page(db, perms, patient.id, "-1")
    assert page.config.id == new_config.id and page.fused_file.fused_file == "b"
    assert page.name == "Dup" and page.filename == "Dup"
    lines = {line.sequence_file.id: line for line in page.lines}
    assert lines[sample.id].status == "RUNNING" and not lines[sample.id].launchable
    assert [(s.id, s.title) for s in lines[sample.id].shared_sets] == [(run.id, "R1")]
    assert lines[waiting.id].displayed_status == "PREPROCESSING"
    assert page.unanalysed_file_ids == [waiting.id]
    assert {c for g in page.classification for c in g.configs} >= {old_config, new_config}
    assert build_set_page(db, perms, patient.id, None).config is None
    assert build_set_page(db, perms, patient.id, str(old_config.id)).lines[0].result is None


def test_file_names_of_downloads_are_safe(lab):
    db, user, group, perms = lab
    run, _ = make_set(db, "run", groups=[group], name="../../etc/passwd;rm", run_date=dt.date(2024, 3, 4))
    assert build_set_page(db, perms, run.id, None).filename == "run_.._.._etc_passwd_rm_2024-03-04"
