"""`log/index` (the user_log table, filtered by access, escaped) and `my_account/index` (usage per group)."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from admin_helpers import asks_login
from factories import make_config, make_group, make_sequence_file, make_set
from vidjil_pyramid.auth.models import UserLog
from vidjil_pyramid.jobs.models import SchedulerTask
from vidjil_pyramid.results.models import AnalysisFile, FusedFile, ResultsFile
from vidjil_pyramid.sample_sets.tags import register_tags


@pytest.fixture
def lab_sets(dbsession, lab, alice):
    patient, patient_row = make_set(dbsession, "patient", groups=[lab], creator=alice, first_name="Jean",
                                    last_name="Dupont")
    run, run_row = make_set(dbsession, "run", groups=[lab], creator=alice, name="RUN-42")
    return patient, patient_row, run, run_row


@pytest.fixture
def private_set(dbsession, initial_data):
    other = make_group(initial_data, "other-lab", rights=("read",))
    return make_set(dbsession, "patient", groups=[other], first_name="Secret", last_name="Person")


def log(db, table, record_id, msg, user=None):
    db.add(UserLog(user_id=getattr(user, "id", None), created=dt.datetime(2024, 1, 2, 3, 4, len(msg) % 60),
                   msg=msg, table_name=table, record_id=record_id))
    db.flush()


def test_log_rows_are_filtered_by_access_and_escaped(as_alice, alice, lab_sets, private_set, dbsession):
    patient, patient_row, run, run_row = lab_sets
    _, secret_row = private_set
    log(dbsession, "patient", patient_row.id, "opened <b>patient</b>", alice)
    log(dbsession, "sample_set", run.id, "run edited", alice)
    log(dbsession, "patient", secret_row.id, "looked at the secret patient")
    log(dbsession, "auth_user", alice.id, "account changed")
    response = as_alice.post("/vidjil/log/index")
    text = response.html.find("table", id="table").text
    assert "opened <b>patient</b>" in text and "<b>patient</b>" not in response.text  # W24
    assert "run edited" in text
    assert "secret patient" not in text and "account changed" not in text
    names = [tr.find_all("td")[3].text for tr in response.html.find("tbody").find_all("tr")]
    assert "Dup" in names  # alice's groups have no `anon` right: three letters only
    assert "Dupont Jean" not in response.text


def test_log_table_and_id_selectors(as_admin, lab_sets, dbsession):
    patient, patient_row, run, run_row = lab_sets
    log(dbsession, "patient", patient_row.id, "patient message")
    log(dbsession, "run", run_row.id, "run message")
    html = as_admin.post(f"/vidjil/log/index?table=run&id={run_row.id}").html
    assert html.find("select", id="table_selector").find("option", selected=True)["value"] == "run"
    assert html.find("select", id="id_selector").find("option", selected=True).text == "RUN-42"
    text = html.find("table", id="table").text
    assert "run message" in text and "patient message" not in text
    assert "patient message" in as_admin.post("/vidjil/log/index?table=all").text


def test_log_needs_a_login(testapp):
    assert asks_login(testapp.post("/vidjil/log/index"))


@pytest.fixture
def usage_data(dbsession, lab, lab_sets, alice):
    patient, _, run, _ = lab_sets
    config = make_config(dbsession, name="TRG-test")
    sample = make_sequence_file(dbsession, sets=[patient, run], provider=alice)
    register_tags(dbsession, "#MRD sample", "sequence_file", sample.id, lab.id)
    other_sample = make_sequence_file(dbsession, sets=[run], provider=alice)
    for status in ("COMPLETED", "FAILED"):
        task = SchedulerTask(function_name="vidjil", status=status, start_time=dt.datetime.now())
        dbsession.add(task)
        dbsession.flush()
        dbsession.add(ResultsFile(sequence_file_id=sample.id, config_id=config.id, scheduler_task_id=task.id))
    dbsession.add(FusedFile(sample_set_id=patient.id, config_id=config.id, fuse_date=dt.datetime.now()))
    dbsession.add(AnalysisFile(sample_set_id=run.id, analyze_date=dt.datetime.now()))
    dbsession.flush()
    return config, sample, other_sample


def test_usage_per_group(as_alice, lab, usage_data, lab_sets):
    config, _, _ = usage_data
    patient, _, run, _ = lab_sets
    html = as_alice.post("/vidjil/my_account/index").html
    assert html.find("h3", id="page_usage").text.strip() == "Usage \u2013 all samples"
    block = html.find("div", id="hematology-lab_info")
    assert block.find(class_="patient_num_sets").text == "1" and block.find(class_="run_num_sets").text == "1"
    assert block.find(class_="patient_num_samples").text == "(1 samples)"
    assert block.find(class_="run_num_samples").text == "(2 samples)"
    assert "2 processes last month" in block.text
    tag = block.find("a", class_="tag-link")
    assert tag["data-linkable-name"] == "#MRD" and tag["href"] == "/my_account/index"
    result = block.find("a", href=f"?sample_set_id={patient.id}&config={config.id}")
    assert result.text == "Dup: TRG-test" and "myUrl.loadUrl" in result["onclick"]
    assert "Dupont" not in html.text  # anonymised like every list
    assert f"'id': {run.id}" in block.find("span", string="RUN-42")["onclick"]
    box = html.find("input", id="db_filter_input")
    assert json.loads(box["data-keys"]) and "this.value" in box["onchange"]


def test_usage_tag_filter(as_alice, usage_data):
    html = as_alice.post("/vidjil/my_account/index", {"filter": "#mrd"}).html
    block = html.find("div", id="hematology-lab_info")
    assert block.find(class_="patient_num_sets").text == "1"
    assert block.find(class_="run_num_samples").text == "(2 samples)"
    empty = as_alice.post("/vidjil/my_account/index", {"filter": "#nothing"}).html.find("div", id="hematology-lab_info")
    assert empty.find(class_="patient_num_sets") is None


def test_usage_filter_is_never_placed_in_javascript(as_alice, alice):
    """W25: the filter is only an attribute value."""
    html = as_alice.post("/vidjil/my_account/index", {"filter": "#x'});alert(1);//"}).html
    box = html.find("input", id="db_filter_input")
    assert "alert" not in box["onchange"] and box["value"] == "#x'});alert(1);//"


def test_admins_choose_the_groups_users_cannot(testapp, as_admin, lab, usage_data, initial_data):
    other = make_group(initial_data, "other-lab")
    html = as_admin.post("/vidjil/my_account/index", {"data": json.dumps({"group_ids": [str(lab.id)]})}).html
    assert html.find("div", id="hematology-lab_info") is not None
    assert html.find("div", id="admin_info") is None
    html = as_admin.post(f"/vidjil/my_account/index?group_ids={other.id}").html
    assert html.find("div", id="other-lab_info") is not None


def test_users_see_only_their_groups(as_alice, initial_data):
    other = make_group(initial_data, "other-lab")
    html = as_alice.post(f"/vidjil/my_account/index?group_ids={other.id}").html
    assert html.find("div", id="other-lab_info") is None
    assert html.find("div", id="hematology-lab_info") is None  # asked for nothing of theirs
    assert as_alice.post("/vidjil/my_account/index").html.find("div", id="hematology-lab_info") is not None


def test_usage_needs_a_login(testapp):
    assert asks_login(testapp.post("/vidjil/my_account/index"))
