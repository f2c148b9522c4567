"""`default/checkProcess`, `default/stop_job`, `file/restart_pre_process`, `my_account/jobs`."""
from __future__ import annotations

import datetime as dt
import json
import re

from sqlalchemy import select

from vidjil_pyramid.files.models import PreProcess
from vidjil_pyramid.jobs import services
from vidjil_pyramid.jobs.dispatch import JobPublisher
from vidjil_pyramid.jobs.models import SchedulerRun, SchedulerTask


def schedule(lab, sample=None, grep_reads=None) -> SchedulerTask:
    return services.schedule_analysis(lab.db, JobPublisher(None), (sample or lab.sample).id, lab.config.id, grep_reads)


def check(testapp, process_id) -> dict:
    return json.loads(testapp.post("/vidjil/default/checkProcess", params={"processId": process_id}).text)


def complete(lab, task: SchedulerTask, data_file: str = "results_file.data_file.0123456789abcdef.61.txt") -> None:
    task.status = "COMPLETED"
    result = services.results_file_of_task(lab.db, task.id)
    result.data_file = data_file
    lab.db.add(SchedulerRun(task_id=task.id, status="COMPLETED", run_result='"SUCCESS"'))
    lab.db.flush()


# --- checkProcess ------------------------------------------------------------------------------

def test_a_queued_job(testapp, lab):
    task = schedule(lab)
    lab.login(testapp, lab.reader)
    assert check(testapp, task.id) == {"status": "QUEUED", "processId": task.id, "success": "true"}


def test_a_completed_job_gives_its_result(testapp, lab):
    task = schedule(lab, grep_reads="ACGT")
    complete(lab, task)
    lab.login(testapp, lab.alice)
    result = services.results_file_of_task(lab.db, task.id)
    assert check(testapp, task.id) == {
        "status": "COMPLETED", "processId": task.id, "success": "true",
        "data": {"data_file": result.data_file, "result_id": result.id, "run_result": '"SUCCESS"'}}


def test_a_job_of_a_set_the_user_cannot_see_reveals_nothing(testapp, lab):
    """The original returned the result's stored name once COMPLETED, even without the view right."""
    task = schedule(lab)
    complete(lab, task)
    lab.login(testapp, lab.bob)
    assert check(testapp, task.id) == {"success": "false", "status": "FAILED", "processId": task.id,
                                       "message": "You don't have access to this sample"}


def test_unknown_or_missing_ids_are_answered_not_crashed(testapp, lab):
    """The original answered an unknown id with a server error."""
    lab.login(testapp, lab.alice)
    assert check(testapp, 424242)["status"] == "FAILED"
    assert check(testapp, "x")["message"] == "process id needed"


def test_ended_but_not_completed_jobs_are_failed_for_the_browser(testapp, lab):
    """The browser polled TIMEOUT, STOPPED and EXPIRED jobs forever."""
    lab.login(testapp, lab.alice)
    task = schedule(lab)
    for status in ("TIMEOUT", "STOPPED", "EXPIRED", "FAILED"):
        task.status, task.enabled = status, False
        lab.db.flush()
        answer = check(testapp, task.id)
        assert answer["status"] == "FAILED" and answer["success"] == "true"


def test_a_run_waiting_for_its_pre_process_is_still_queued_for_the_browser(testapp, lab):
    lab.sample.pre_process_flag = "WAIT"
    task = schedule(lab)
    lab.login(testapp, lab.alice)
    assert check(testapp, task.id)["status"] == "QUEUED"


def test_anonymous_check_is_sent_to_login(testapp, lab):
    task = schedule(lab)
    assert "redirect" in check(testapp, task.id)


# --- stop_job ----------------------------------------------------------------------------------

def test_stopping_a_queued_job(testapp, lab):
    task = schedule(lab)
    lab.login(testapp, lab.alice)
    body = json.loads(testapp.post("/vidjil/default/stop_job", params={"processId": task.id}).text)
    assert body == {"success": "true", "redirect": "reload", "status": "STOPPED", "processId": task.id,
                    "message": f"[{task.id}] process stopped"}
    lab.db.refresh(task)
    assert task.status == "STOPPED" and task.enabled is False
    assert check(testapp, task.id)["status"] == "FAILED"
    again = json.loads(testapp.post("/vidjil/default/stop_job", params={"processId": task.id}).text)
    assert again["success"] == "false" and "already finished" in again["message"]


def test_only_administrators_of_the_set_may_stop_a_job(testapp, lab):
    task = schedule(lab)
    for user in (lab.reader, lab.bob):
        lab.login(testapp, user)
        body = json.loads(testapp.post("/vidjil/default/stop_job", params={"processId": task.id}).text)
        assert body["success"] == "false" and "permission" in body["message"]
    lab.db.refresh(task)
    assert task.status == "QUEUED"
    lab.login(testapp, lab.admin)
    assert json.loads(testapp.post("/vidjil/default/stop_job", params={"processId": task.id}).text)["success"] == "true"


def test_stop_job_is_refused_cross_site(testapp, lab):
    task = schedule(lab)
    lab.login(testapp, lab.alice)
    testapp.post("/vidjil/default/stop_job", params={"processId": task.id}, headers={"Origin": "https://evil.test"},
                 status=403)
    lab.db.refresh(task)
    assert task.status == "QUEUED"


# --- restart_pre_process -----------------------------------------------------------------------

def with_failed_pre_process(lab) -> PreProcess:
    recipe = PreProcess(name="merge", command="cat &file1& &file2& > &result&")
    lab.db.add(recipe)
    lab.db.flush()
    lab.sample.data_file2 = "sequence_file.data_file2.dd.64.fa"
    lab.sample.pre_process_id = recipe.id
    lab.sample.pre_process_flag = "FAILED"
    lab.db.flush()
    return recipe


def test_restart_pre_process(testapp, lab, broker, commit_hooks):
    recipe = with_failed_pre_process(lab)
    lab.login(testapp, lab.alice)
    url = "/vidjil/file/restart_pre_process"
    body = json.loads(testapp.post(url, params={"sequence_file_id": lab.sample.id}).text)
    assert body == {"redirect": "reload", "message": f"{{{lab.sample.id}}} ({recipe.id}): process requested"}
    lab.db.refresh(lab.sample)
    assert lab.sample.pre_process_flag == "WAIT"
    commit_hooks()
    assert broker.get("pre_process", timeout=1) is not None
    assert json.loads(testapp.post(url, params={"sequence_file_id": lab.sample.id}).text) == \
        {"message": "task already registered"}


def test_restart_pre_process_refusals(testapp, lab):
    with_failed_pre_process(lab)
    url = "/vidjil/file/restart_pre_process"
    lab.login(testapp, lab.bob)
    assert json.loads(testapp.post(url, params={"sequence_file_id": lab.sample.id}).text) == \
        {"success": "false", "message": "Permission denied"}
    lab.login(testapp, lab.alice)
    assert json.loads(testapp.post(url).text) == {"success": "false", "message": "missing parameter"}
    body = json.loads(testapp.post(url, params={"sequence_file_id": lab.second.id}).text)
    assert body["success"] == "false" and "has no pre-process" in body["message"]
    assert lab.db.scalar(select(SchedulerTask.id)) is None


# --- my_account/jobs ---------------------------------------------------------------------------

def rows(page: str) -> list[str]:
    return re.findall(r'<tr class="pointer" id="job_[^"]*"', page)


def test_the_processes_page_lists_the_jobs_of_visible_sets(testapp, lab):
    schedule(lab)
    bob_task = services.schedule_analysis(lab.db, JobPublisher(None), lab.bob_sample.id, lab.config.id)
    lab.login(testapp, lab.alice)
    page = testapp.post("/vidjil/my_account/jobs").text
    assert 'id="page_jobs"' in page and 'id="table_process"' in page and 'id="db_filter_input"' in page
    assert len(rows(page)) == 2  # the sample is in the patient set and in the run set
    assert "Dupont Jeanne" in page and "RUN-A" in page
    assert f"job_{bob_task.id}_" not in page and "Secret" not in page
    assert "diag&lt;b&gt;.fa" in page and "<b>" not in page  # W24: names are escaped
    assert "multi &lt;i&gt;" in page and "QUEUED" in page
    assert 'data-linkable-name="#dx"' in page  # tags link to the filter


def test_the_processes_page_anonymises_patients(testapp, lab):
    schedule(lab)
    lab.login(testapp, lab.reader)  # read, but not anon
    page = testapp.post("/vidjil/my_account/jobs").text
    assert "Dup" in page and "Jeanne" not in page and "Dupont" not in page
    assert len(rows(page)) == 1  # the run set is not shared with the readers


def test_the_processes_page_links_completed_results_safely(testapp, lab):
    task = schedule(lab)
    complete(lab, task)
    lab.login(testapp, lab.alice)
    page = testapp.post("/vidjil/my_account/jobs").text
    assert f'href="/?sample_set_id={lab.patient_set.id}&amp;config={lab.config.id}"' in page
    assert 'data-filename="diag&lt;b&gt;.fa"' in page  # read by the link's script, never pasted into it
    assert "COMPLETED" in page


def test_the_processes_page_filter_and_json(testapp, lab):
    schedule(lab)
    schedule(lab, sample=lab.second)
    lab.login(testapp, lab.alice)
    data = json.loads(testapp.get("/vidjil/my_account/jobs.json", params={"filter": "mrd"}).text)
    assert [job["filename"] for job in data["jobs"]] == ["mrd.fa"]
    assert set(data["jobs"][0]) >= {"sample_set_id", "sample_type", "name", "filename", "info", "config",
                                    "config_id", "status", "start_time"}
    page = testapp.post("/vidjil/my_account/jobs", params={"filter": "#dx"}).text
    assert len(rows(page)) == 2 and "mrd.fa" not in page


def test_old_jobs_are_not_listed(testapp, lab):
    task = schedule(lab)
    task.start_time = dt.datetime.now() - dt.timedelta(days=31)
    lab.db.flush()
    lab.login(testapp, lab.alice)
    assert rows(testapp.post("/vidjil/my_account/jobs").text) == []


def test_admins_see_every_set_or_the_groups_they_ask_for(testapp, lab):
    schedule(lab)
    services.schedule_analysis(lab.db, JobPublisher(None), lab.bob_sample.id, lab.config.id)
    lab.login(testapp, lab.admin)
    assert len(rows(testapp.post("/vidjil/my_account/jobs").text)) == 3
    page = testapp.post("/vidjil/my_account/jobs", params={"group_ids": lab.lab.id}).text
    assert len(rows(page)) == 2 and "Secret" not in page
    lab.login(testapp, lab.bob)  # non-admins cannot widen their view with group_ids
    page = testapp.post("/vidjil/my_account/jobs", params={"group_ids": lab.lab.id}).text
    assert len(rows(page)) == 1 and "Dupont" not in page


def test_the_processes_page_needs_a_login(testapp, lab):
    assert "redirect" in json.loads(testapp.post("/vidjil/my_account/jobs").text)


# --- health ------------------------------------------------------------------------------------

def test_health_reports_the_queues_and_the_oldest_queued_job(testapp, lab):
    report = testapp.get("/vidjil/health").json["broker"]
    assert report["ok"] is True and report["kind"] == "memory"
    assert set(report["queues"]) == {"analysis", "pre_process", "fuse", "dead_letter"}
    assert {"jobs", "oldest_queued", "workers"} <= set(report)
