"""`pre_process/*`: pre-process recipes, their sharing, and the log of a sample's run (W18)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from admin_helpers import asks_login, denied, submit
from factories import make_group, make_sequence_file, make_set, make_user
from vidjil_pyramid.auth.models import Group, Permission
from vidjil_pyramid.auth.services import grant
from vidjil_pyramid.files.models import PreProcess
from vidjil_pyramid.jobs.models import SchedulerRun, SchedulerTask
from webclient import login

FORM = {"pre_process_name": "merge", "pre_process_command": "flash2 &file1& &file2& -o &result&",
        "pre_process_info": "merge paired reads"}


def add(testapp, **fields):
    return submit(testapp, "/vidjil/pre_process/add", "/vidjil/pre_process/add_form", {**FORM, **fields})


@pytest.fixture
def pre_process(dbsession):
    row = PreProcess(name="trim", command="trim &file1& > &result&", info="trimming")
    dbsession.add(row)
    dbsession.flush()
    return row


def test_admin_pre_process_list_has_the_hooks_the_browser_binds(as_admin, pre_process):
    html = as_admin.post("/vidjil/pre_process/index").html
    assert html.find("h3", id="page_preprocess") is not None
    assert html.find("tr", id=f"preprocess_line_{pre_process.id}") is not None
    for cell in ("id", "name", "command", "info", "permission", "edit", "delete"):
        assert html.find(id=f"preprocess_{cell}_{pre_process.id}") is not None, cell
    assert html.find(id=f"preprocess_name_{pre_process.id}").text.strip() == "trim"
    assert html.find(id="new_preprocess_btn") is not None


def test_anonymous_pre_process_pages_ask_for_a_login(testapp, pre_process):
    for url in ("index", "add", f"edit?id={pre_process.id}", "info?sequence_file_id=1&sample_set_id=1"):
        assert asks_login(testapp.post(f"/vidjil/pre_process/{url}")), url


def test_a_user_creates_a_pre_process_then_sees_and_edits_it(as_alice, alice, dbsession):
    """Every user with default rights may; the original's `read` row reached nothing (§9.18)."""
    form = as_alice.post("/vidjil/pre_process/add").html.find("form", id="data_form")
    assert form["action"] == "DB_ADDRESS/pre_process/add_form"
    for field in ("pre_process_name", "pre_process_command", "pre_process_info", "add_preprocess_submit"):
        assert form.find(id=field) is not None, field
    response = add(as_alice)
    assert response.json_body == {"redirect": "pre_process/index", "message": "pre_process 'merge' added"}
    row = dbsession.scalar(select(PreProcess).where(PreProcess.name == "merge"))
    personal = dbsession.scalar(select(Group.id).where(Group.role == "user_%04d" % alice.id))
    assert dbsession.scalar(select(Permission.group_id).where(
        Permission.name == "access", Permission.table_name == "pre_process", Permission.record_id == row.id)) == personal
    html = as_alice.post("/vidjil/pre_process/index").html
    assert html.find(id=f"preprocess_edit_{row.id}") is not None
    edit = as_alice.post(f"/vidjil/pre_process/edit?id={row.id}").html
    assert edit.find(id="pre_process_id")["value"] == str(row.id) and edit.find(id="preprocess_update_submit")
    response = submit(as_alice, "/vidjil/pre_process/edit", "/vidjil/pre_process/edit_form",
                      {**FORM, "id": row.id, "pre_process_name": "merge v2"}, {"id": row.id})
    assert response.json_body == {"redirect": "pre_process/index", "message": "pre_process 'merge v2' updated"}


@pytest.mark.parametrize("fields, error", [
    ({"pre_process_name": ""}, "pre_process_name needed"),
    ({"pre_process_command": ""}, "pre_process_command needed"),
    ({"pre_process_command": "cat &file1&"}, "&result&"),
])
def test_invalid_pre_processes_are_refused(as_admin, dbsession, fields, error):
    response = add(as_admin, **fields)
    assert response.json_body["success"] == "false" and error in response.json_body["message"]
    assert dbsession.scalar(select(PreProcess.id)) is None


def test_other_users_cannot_touch_a_pre_process(as_bob, pre_process, dbsession):
    for url in ("edit", "confirm", "delete", "permission"):
        assert denied(as_bob.post(f"/vidjil/pre_process/{url}?id={pre_process.id}")), url
    assert denied(as_bob.post("/vidjil/pre_process/edit_form", {**FORM, "id": pre_process.id}))
    dbsession.refresh(pre_process)
    assert pre_process.name == "trim"


def test_admin_deletes_a_pre_process_and_its_samples_forget_it(as_admin, pre_process, dbsession):
    sample = make_sequence_file(dbsession, pre_process_id=pre_process.id)
    page = as_admin.post(f"/vidjil/pre_process/confirm?id={pre_process.id}").html
    assert page.find(id="preprocess_name").text == "trim"
    assert "pre_process/delete" in page.find(id="delete_preprocess_confirm_btn")["onclick"]
    response = as_admin.post(f"/vidjil/pre_process/delete?id={pre_process.id}")
    assert response.json_body == {"redirect": "pre_process/index", "message": f"pre_process '{pre_process.id}' deleted"}
    dbsession.expire_all()
    assert dbsession.get(PreProcess, pre_process.id) is None
    assert sample.pre_process_id is None


def test_sharing_a_pre_process(as_admin, pre_process, lab, dbsession):
    html = as_admin.post(f"/vidjil/pre_process/permission?id={pre_process.id}").html
    assert "pre_process/change_permission" in html.find("input", id=f"permission_checkbox_{lab.id}")["onclick"]
    response = as_admin.post(f"/vidjil/pre_process/change_permission?pre_process_id={pre_process.id}&group_id={lab.id}")
    assert response.json_body == {"message": f"c{pre_process.id}: access 'access' granted to 'hematology-lab'"}
    assert dbsession.scalar(select(Permission.id).where(
        Permission.group_id == lab.id, Permission.table_name == "pre_process", Permission.record_id == pre_process.id))


@pytest.fixture
def pre_processed_sample(dbsession, lab, pre_process):
    sample_set, _ = make_set(dbsession, "patient", groups=[lab])
    task = SchedulerTask(function_name="pre_process", status="FAILED")
    dbsession.add(task)
    dbsession.flush()
    sample = make_sequence_file(dbsession, sets=[sample_set], pre_process_id=pre_process.id,
                                pre_process_flag="FAILED", pre_process_scheduler_task_id=task.id,
                                filename="R1.fastq.gz")
    dbsession.add(SchedulerRun(task_id=task.id, status="FAILED", start_time=dt.datetime(2024, 1, 2, 3, 4),
                               stop_time=dt.datetime(2024, 1, 2, 3, 5), run_result='"FAILED"',
                               run_output="<script>alert(1)</script> merged 0 reads", traceback="Traceback ..."))
    dbsession.flush()
    return sample_set, sample


def test_pre_process_log_of_a_sample(as_alice, pre_processed_sample):
    sample_set, sample = pre_processed_sample
    response = as_alice.post(f"/vidjil/pre_process/info?sequence_file_id={sample.id}&sample_set_id={sample_set.id}")
    html = response.html
    assert "R1.fastq.gz" in html.find("h3").text
    assert html.find(id="pre_process_status").text == "FAILED"
    assert "<script>alert(1)</script>" not in response.text  # W24: job output is escaped
    assert "merged 0 reads" in html.find("table", class_="log").text


def test_pre_process_log_needs_the_sample_to_be_in_the_set(as_alice, pre_processed_sample, lab, bob, dbsession):
    """W18: the original showed the log of any sample to whoever could modify some set."""
    _, foreign_sample = pre_processed_sample
    own_set, _ = make_set(dbsession, "run", groups=[lab])
    response = as_alice.post(f"/vidjil/pre_process/info?sequence_file_id={foreign_sample.id}&sample_set_id={own_set.id}")
    assert denied(response)
    assert "merged 0 reads" not in response.text


def test_pre_process_log_needs_the_right_to_modify_the_set(testapp, pre_processed_sample, initial_data):
    """W18: reading the set is not enough."""
    sample_set, sample = pre_processed_sample
    readers = make_group(initial_data, "readers", rights=("read",))
    grant(initial_data, readers.id, "access", "sample_set", sample_set.id)
    reader = make_user(initial_data, email="reader@lab.test", groups=[readers])
    login(testapp, reader.email, "Secret-123")
    assert denied(testapp.post(f"/vidjil/pre_process/info?sequence_file_id={sample.id}&sample_set_id={sample_set.id}"))
