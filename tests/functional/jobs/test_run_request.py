"""`default/run_request` and `default/run_all_request`: answers, refusals, what is written and published."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from vidjil_pyramid.jobs.broker import decode_message
from vidjil_pyramid.jobs.models import SchedulerTask
from vidjil_pyramid.results.models import ResultsFile


def tasks(db) -> list[SchedulerTask]:
    return list(db.scalars(select(SchedulerTask).order_by(SchedulerTask.id)))


def run(testapp, lab, sample=None, sample_set=None, config=None, **extra):
    params = {"sequence_file_id": (sample or lab.sample).id, "sample_set_id": (sample_set or lab.patient_set).id,
              "config_id": (config or lab.config).id, **extra}
    return testapp.post("/vidjil/default/run_request", params=params)


def test_run_request_answers_like_the_original_and_queues_the_job(testapp, lab, broker, commit_hooks):
    lab.login(testapp, lab.alice)
    response = run(testapp, lab)
    assert response.content_type == "text/html"
    body = json.loads(response.text)
    (task,) = tasks(lab.db)
    result = lab.db.scalars(select(ResultsFile)).one()
    assert body == {"redirect": "reload", "processId": task.id,
                    "message": f"[{result.id}] c{lab.config.id}: process requested - None diag&lt;b&gt;.fa"}
    assert task.status == "QUEUED" and json.loads(task.args) == [lab.sample.id, lab.config.id, result.id, None]
    assert not result.hidden and result.scheduler_task_id == task.id
    assert broker.get("analysis", timeout=0.01) is None  # nothing is published before the commit
    commit_hooks()
    message = decode_message(broker.get("analysis", timeout=1).body)
    assert (message.task_id, message.kind) == (task.id, "analysis")


def test_the_api_client_get_with_format_json_works(testapp, lab):
    lab.login(testapp, lab.alice)
    response = testapp.get("/vidjil/default/run_request", params={
        "sequence_file_id": lab.sample.id, "sample_set_id": lab.patient_set.id, "config_id": lab.config.id,
        "format": "json"})
    assert "processId" in json.loads(response.text)


def test_grep_reads_requests_a_hidden_extraction(testapp, lab):
    lab.login(testapp, lab.alice)
    body = json.loads(run(testapp, lab, grep_reads="ACGTACGT").text)
    assert body["message"].endswith("process requested - ACGTACGT diag&lt;b&gt;.fa")
    assert lab.db.scalars(select(ResultsFile)).one().hidden


def test_an_invalid_grep_reads_is_refused_instead_of_ignored(testapp, lab):
    lab.login(testapp, lab.alice)
    body = json.loads(run(testapp, lab, grep_reads="ACGT<script>").text)
    assert body["success"] == "false" and "nucleotide" in body["message"] and "<script>" not in body["message"]
    assert tasks(lab.db) == []


def test_a_second_click_does_not_launch_a_second_analysis(testapp, lab):
    lab.login(testapp, lab.alice)
    run(testapp, lab)
    assert json.loads(run(testapp, lab).text) == {"message": "task already registered"}
    assert len(tasks(lab.db)) == 1


def test_anonymous_users_are_sent_to_the_login_page(testapp, lab):
    body = json.loads(run(testapp, lab).text)
    assert "/vidjil/default/user/login" in body["redirect"]
    assert tasks(lab.db) == []


def test_users_without_run_and_admin_rights_on_the_set_are_refused(testapp, lab):
    for user in (lab.bob, lab.reader, lab.runner):  # runner: run right but not admin of the set
        lab.login(testapp, user)
        body = json.loads(run(testapp, lab).text)
        assert body["success"] == "false"
        assert "you do not have permission to launch process for this sample_set" in body["message"]
    assert tasks(lab.db) == []


def test_a_config_the_user_may_not_use_is_refused_without_naming_it(testapp, lab):
    lab.login(testapp, lab.alice)
    body = json.loads(run(testapp, lab, config=lab.private_config).text)
    assert body["success"] == "false" and tasks(lab.db) == []
    assert "private" not in body["message"]


def test_w16_the_sample_must_belong_to_the_set(testapp, lab):
    """W16: the original checked the rights on the set only, so any sample id could be run through one's own set."""
    lab.login(testapp, lab.alice)
    body = json.loads(run(testapp, lab, sample=lab.bob_sample).text)
    assert body["success"] == "false" and "is not in sample set" in body["message"]
    body = json.loads(run(testapp, lab, sample=lab.second).text)  # alice's own sample, but of another set
    assert body["success"] == "false"
    assert tasks(lab.db) == []


def test_missing_parameters_are_named(testapp, lab):
    lab.login(testapp, lab.alice)
    body = json.loads(testapp.post("/vidjil/default/run_request", params={"sample_set_id": lab.patient_set.id}).text)
    assert body["success"] == "false"
    assert "id sequence file needed" in body["message"] and "id config needed" in body["message"]


def test_unknown_program_and_missing_data_are_clear_errors(testapp, lab):
    lab.login(testapp, lab.admin)
    odd = lab.private_config
    odd.program = "euro-mrd pipeline"
    lab.sample.data_file = None
    lab.db.flush()
    assert "does not run" in json.loads(run(testapp, lab, config=odd).text)["message"]
    assert "has no data file" in json.loads(run(testapp, lab).text)["message"]
    assert tasks(lab.db) == []


def test_w23_a_cross_site_run_request_is_refused(testapp, lab):
    lab.login(testapp, lab.alice)
    response = testapp.post("/vidjil/default/run_request", headers={"Origin": "https://evil.test"}, params={
        "sequence_file_id": lab.sample.id, "sample_set_id": lab.patient_set.id, "config_id": lab.config.id},
        status=403)
    assert json.loads(response.text)["success"] == "false" and tasks(lab.db) == []


def test_w4_work_is_never_queued_by_the_unchecked_extra_and_contamination_urls(testapp, lab):
    """W4: `run_extra` and `run_contamination` queued work for anyone; this server has no such URL."""
    for url in ("/vidjil/default/run_extra", "/vidjil/default/run_contamination"):
        testapp.post(url, params={"sequence_file_id": lab.sample.id, "config_id": lab.config.id,
                                  "results_file_id": 1}, status=404)
        lab.login(testapp, lab.alice)
        testapp.post(url, params={"sequence_file_id": lab.sample.id, "config_id": lab.config.id}, status=404)
    assert lab.db.scalar(select(func.count(SchedulerTask.id))) == 0


# --- run_all_request ---------------------------------------------------------------------------

def run_all(testapp, lab, ids, sample_set=None, config=None):
    return json.loads(testapp.post("/vidjil/default/run_all_request", params=[
        *(("sequence_file_ids", i) for i in ids), ("sample_set_id", (sample_set or lab.run_set).id),
        ("config_id", (config or lab.config).id)]).text)


def test_run_all_runs_the_sets_samples_and_ignores_the_others(testapp, lab, broker, commit_hooks):
    lab.login(testapp, lab.alice)
    assert run_all(testapp, lab, [lab.sample.id, lab.second.id, lab.bob_sample.id]) == \
        {"success": "true", "redirect": "reload"}
    assert sorted(json.loads(t.args)[0] for t in tasks(lab.db)) == sorted([lab.sample.id, lab.second.id])
    commit_hooks()
    published = {decode_message(broker.get("analysis", timeout=1).body).task_id for _ in range(2)}
    assert published == {t.id for t in tasks(lab.db)}


def test_run_all_accepts_one_id_and_skips_running_samples(testapp, lab):
    lab.login(testapp, lab.alice)
    run_all(testapp, lab, [lab.second.id])
    assert run_all(testapp, lab, [lab.second.id, lab.sample.id])["success"] == "true"
    assert len(tasks(lab.db)) == 2


def test_run_all_needs_the_run_right_and_the_config(testapp, lab):
    lab.login(testapp, lab.runner)  # run right on the patient set, no admin: enough for run_all, as before
    assert run_all(testapp, lab, [lab.sample.id], sample_set=lab.patient_set)["success"] == "true"
    lab.login(testapp, lab.reader)
    body = run_all(testapp, lab, [lab.sample.id], sample_set=lab.patient_set)
    assert body["success"] == "false" and "permission" in body["message"]
    lab.login(testapp, lab.alice)
    assert run_all(testapp, lab, [lab.second.id], config=lab.private_config)["success"] == "false"
    assert len(tasks(lab.db)) == 1


def test_run_all_reports_missing_and_invalid_ids(testapp, lab):
    lab.login(testapp, lab.alice)
    body = json.loads(testapp.post("/vidjil/default/run_all_request", params={"config_id": lab.config.id}).text)
    assert body["success"] == "false" and "sequence file ids required" in body["message"]
    assert run_all(testapp, lab, ["x"])["success"] == "false"
    assert tasks(lab.db) == []
