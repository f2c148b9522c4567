"""`results_file/*`: a result's job information, output files, deletion, and the admin list."""
from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

import pytest
from factories import PASSWORD, make_sequence_file, make_user
from sqlalchemy import select

from vidjil_pyramid.jobs.models import SchedulerRun, SchedulerTask
from vidjil_pyramid.jobs.paths import analysis_dir
from vidjil_pyramid.results.models import FusedFile, ResultsFile
from webclient import login


def call(testapp, page, status=200, headers=None, **params):
    """As `db.call` does: a POST with the arguments in the query string."""
    return testapp.post(f"/vidjil/results_file/{page}?{urlencode(params)}", headers=headers or {}, status=status)


@pytest.fixture
def job(lab):
    """The job of the first result, with one recorded execution and files in its working folder."""
    task = SchedulerTask(function_name="vidjil", task_name="vidjil", status="COMPLETED", args="[]", vars="{}")
    lab.db.add(task)
    lab.db.flush()
    lab.results[0].scheduler_task_id = task.id
    lab.db.add(SchedulerRun(task_id=task.id, status="COMPLETED", start_time=dt.datetime(2024, 3, 2, 9, 0),
                            stop_time=dt.datetime(2024, 3, 2, 9, 5), run_result='"SUCCESS"',
                            run_output="<script>alert(1)</script> 1000 reads", traceback=""))
    lab.db.flush()
    directory = analysis_dir({"vidjil.tmp_dir": str(lab.tmp_dir)}, lab.results[0].id)
    (directory / "seq").mkdir(parents=True)
    (directory / "000001.vidjil.log").write_text("log of the run\n")
    (directory / "000001.tsv").write_bytes(b"x" * 123456)
    (lab.tmp_dir / "secret.txt").write_text("not yours")
    (directory / "link.txt").symlink_to(lab.tmp_dir / "secret.txt")
    return task


# --- info ------------------------------------------------------------------------------------------

def test_info_shows_the_job_escaped(testapp, lab, job):
    lab.login(testapp, lab.alice)
    page = call(testapp, "info", results_file_id=lab.results[0].id).text
    assert f"Information for process #{lab.results[0].id} diag.fastq.gz (multi)" in page
    assert "COMPLETED" in page and "1000 reads" in page
    assert "<script>alert(1)</script>" not in page  # W24: job output is text
    assert "&lt;script&gt;" in page


def test_info_as_json(testapp, lab, job):
    lab.login(testapp, lab.alice)
    data = testapp.get("/vidjil/results_file/info.json", {"results_file_id": lab.results[0].id}).json_body
    assert data["run"]["status"] == "COMPLETED" and data["run"]["run_result"] == '"SUCCESS"'


def test_info_needs_the_right_to_modify_the_set(testapp, lab, job):
    lab.login(testapp, lab.reader)
    assert call(testapp, "info", results_file_id=lab.results[0].id).json_body == {"message": "access denied"}


def test_info_of_another_groups_result_is_refused(testapp, lab, job):
    lab.login(testapp, lab.bob)
    assert call(testapp, "info", results_file_id=lab.results[0].id).json_body == {"message": "access denied"}


def test_info_within_a_set_the_result_is_not_in(testapp, lab, job):
    lab.login(testapp, lab.bob)
    response = call(testapp, "info", results_file_id=lab.results[0].id, sample_set_id=lab.other_set.id)
    assert response.json_body == {"message": "this result does not belong to this sample set"}


# --- output and download -----------------------------------------------------------------------

def test_output_lists_the_files_with_download_links(testapp, lab, job):
    lab.login(testapp, lab.reader)  # reading the set is enough
    page = call(testapp, "output", results_file_id=lab.results[0].id).text
    assert f"Output files for process #{lab.results[0].id}" in page
    assert "000001.vidjil.log" in page and "123 kB" in page
    assert (f'href="http://vidjil.test/vidjil/results_file/download?results_file_id={lab.results[0].id}'
            "&amp;filename=000001.tsv\"") in page
    assert ">seq<" not in page


def test_output_without_a_working_folder(testapp, lab):
    lab.login(testapp, lab.alice)
    data = testapp.get("/vidjil/results_file/output.json", {"results_file_id": lab.results[1].id}).json_body
    assert data["files"] == []


def test_download_an_output_file(testapp, lab, job):
    lab.login(testapp, lab.reader)
    response = testapp.get("/vidjil/results_file/download",
                           {"results_file_id": lab.results[0].id, "filename": "000001.vidjil.log"})
    assert response.body == b"log of the run\n"
    assert response.headers["Content-Disposition"] == 'attachment; filename="000001.vidjil.log"'
    assert "public" not in response.headers.get("Cache-Control", "")


@pytest.mark.parametrize("filename", ["../secret.txt", "..", "seq", "/etc/passwd", "link.txt", "missing.txt", ""])
def test_download_stays_inside_the_working_folder(testapp, lab, job, filename):
    lab.login(testapp, lab.alice)
    response = testapp.get("/vidjil/results_file/download",
                           {"results_file_id": lab.results[0].id, "filename": filename})
    assert response.json_body["success"] == "false"
    assert "not yours" not in response.text


def test_output_and_download_of_another_groups_result_are_refused(testapp, lab, job):
    lab.login(testapp, lab.bob)
    assert call(testapp, "output", results_file_id=lab.results[0].id).json_body == {"message": "access denied"}
    response = testapp.get("/vidjil/results_file/download",
                           {"results_file_id": lab.results[0].id, "filename": "000001.vidjil.log"})
    assert response.json_body == {"message": "access denied"}


def test_anonymous_is_sent_to_login(testapp, lab, job):
    for page in ("info", "output", "download", "confirm", "delete", "index"):
        response = call(testapp, page, results_file_id=lab.results[0].id, sample_set_id=lab.patient_set.id,
                        filename="000001.vidjil.log")
        assert "/vidjil/default/user/login" in response.json_body["redirect"], page
    assert lab.db.get(ResultsFile, lab.results[0].id) is not None


# --- confirm and delete ------------------------------------------------------------------------

def test_confirm_page(testapp, lab):
    lab.login(testapp, lab.alice)
    page = call(testapp, "confirm", results_file_id=lab.results[0].id, sample_set_id=lab.patient_set.id).text
    assert 'id="delete_button"' in page and 'id="cancel_button"' in page
    assert (f"db.call('results_file/delete', {{'results_file_id': {lab.results[0].id}, "
            f"'sample_set_id': {lab.patient_set.id}}});") in page


def test_confirm_refuses_a_result_of_another_set(testapp, lab):
    """W17: the confirmation only exists for a result of the named set."""
    foreign = make_sequence_file(lab.db, sets=[lab.other_set])
    foreign_result = lab.add_result(foreign, lab.config, run_date=dt.datetime(2024, 1, 1))
    lab.login(testapp, lab.alice)
    response = call(testapp, "confirm", results_file_id=foreign_result.id, sample_set_id=lab.patient_set.id)
    assert response.json_body == {"message": "this result does not belong to this sample set"}


def test_delete_a_result_and_refuse_the_set(testapp, lab):
    lab.login(testapp, lab.alice)
    target = lab.results[0]
    response = call(testapp, "delete", results_file_id=target.id, sample_set_id=lab.patient_set.id)
    assert response.json_body == {
        "redirect": "sample_set/index", "args": {"id": lab.patient_set.id, "config_id": lab.config.id},
        "success": "true",
        "message": f"[{target.id}] ({lab.patient_set.id}) c{lab.config.id}: process deleted "}
    lab.db.expire_all()
    assert lab.db.get(ResultsFile, target.id) is None
    task = lab.db.scalars(select(SchedulerTask).where(SchedulerTask.function_name == "refuse")).one()
    entries = json.loads(task.args)[0]
    assert [(e[1], e[3]) for e in entries] == [(lab.config.id, lab.patient_set.id)]
    assert lab.db.get(FusedFile, lab.fused.id) is not None  # replaced by the re-fuse, not dropped


def test_deleting_the_last_result_drops_the_fused_file(testapp, lab):
    lab.login(testapp, lab.alice)
    for result in lab.results:
        call(testapp, "delete", results_file_id=result.id, sample_set_id=lab.patient_set.id)
    lab.db.expire_all()
    assert lab.db.scalars(select(FusedFile).where(FusedFile.sample_set_id == lab.patient_set.id)).all() == []
    response = testapp.post(f"/vidjil/default/get_data?sample_set_id={lab.patient_set.id}&config={lab.config.id}")
    assert response.json_body["message"].endswith("file not found ")


def test_delete_refuses_a_result_of_another_set(testapp, lab):
    """W17: the original deleted any result id as long as the user could act on the named set."""
    foreign = make_sequence_file(lab.db, sets=[lab.other_set])
    foreign_result = lab.add_result(foreign, lab.config, run_date=dt.datetime(2024, 1, 1))
    lab.login(testapp, lab.alice)
    response = call(testapp, "delete", results_file_id=foreign_result.id, sample_set_id=lab.patient_set.id)
    assert response.json_body == {"message": "this result does not belong to this sample set"}
    lab.db.expire_all()
    assert lab.db.get(ResultsFile, foreign_result.id) is not None


def test_delete_needs_admin_and_run_on_the_set(testapp, lab, initial_data):
    lab.login(testapp, lab.reader)
    response = call(testapp, "delete", results_file_id=lab.results[0].id, sample_set_id=lab.patient_set.id)
    assert response.json_body == {"message": "access denied"}
    lab.login(testapp, lab.bob)
    response = call(testapp, "delete", results_file_id=lab.results[0].id, sample_set_id=lab.patient_set.id)
    assert response.json_body == {"message": "access denied"}
    lab.db.expire_all()
    assert lab.db.get(ResultsFile, lab.results[0].id) is not None


def test_delete_without_a_set_is_refused(testapp, lab):
    lab.login(testapp, lab.alice)
    assert call(testapp, "delete", results_file_id=lab.results[0].id).json_body == {"message": "access denied"}


def test_delete_from_another_site_is_refused(testapp, lab):
    """W23: deleting is state-changing: another site's page cannot make the browser do it."""
    lab.login(testapp, lab.alice)
    call(testapp, "delete", status=403, headers={"Origin": "https://evil.example"},
         results_file_id=lab.results[0].id, sample_set_id=lab.patient_set.id)
    lab.db.expire_all()
    assert lab.db.get(ResultsFile, lab.results[0].id) is not None


# --- the admin list ----------------------------------------------------------------------------

def test_index_is_for_admins(testapp, lab):
    lab.login(testapp, lab.alice)
    assert call(testapp, "index").json_body == {"message": "access denied"}


def test_index_lists_filters_and_sorts(testapp, lab, job, initial_data):
    admin = make_user(lab.db, admin=True)
    login(testapp, admin.email, PASSWORD)
    page = call(testapp, "index").text
    assert "diag.fastq.gz" in page and "fu1.fastq.gz" in page and "Dupont Jeanne" in page
    assert (f"db.call('results_file/confirm', {{'results_file_id': {lab.results[0].id}, "
            f"'sample_set_id': {lab.patient_set.id}}});") in page
    data = testapp.get("/vidjil/results_file/index.json", {"filter": "fu1"}).json_body
    assert [r["filename"] for r in data["results"]] == ["fu1.fastq.gz"]
    data = testapp.get("/vidjil/results_file/index.json", {"filter": "-fu1"}).json_body
    assert [r["filename"] for r in data["results"]] == ["diag.fastq.gz"]
    assert data["results"][0]["status"] == "COMPLETED"
    data = testapp.get("/vidjil/results_file/index.json", {"sort": "filename", "reverse": "true"}).json_body
    assert [r["filename"] for r in data["results"]] == ["fu1.fastq.gz", "diag.fastq.gz"]


def test_index_does_not_reflect_the_filter_into_javascript(testapp, lab, initial_data):
    """W25: the search text is only an attribute value, never inside an onclick string."""
    admin = make_user(lab.db, admin=True)
    login(testapp, admin.email, PASSWORD)
    page = call(testapp, "index", filter="');alert(1);('").text
    assert "alert(1)" not in page.replace('value="&#39;);alert(1);(&#39;"', "")
