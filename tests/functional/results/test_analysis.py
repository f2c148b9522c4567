"""`default/get_analysis` and `default/save_analysis`: every save is a version, the newest is served."""
from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

from results_lab import ALLOWED_ORIGIN
from factories import make_sequence_file
from sqlalchemy import func, select

from vidjil_pyramid.files.models import SequenceFile
from vidjil_pyramid.results.models import AnalysisFile
from vidjil_pyramid.sample_sets.models import Patient, Tag, TagRef

BROWSER_ANALYSIS = {
    "producer": "browser", "info": "x", "timestamp": "2024-03-03", "vidjil_json_version": "2016b",
    "samples": {"id": ["diag"], "info": ["i"], "order": [0], "stock_order": [0], "names": ["diag"]},
    "clones": [{"id": "clone-a", "name": "main clone", "tag": 0}], "clusters": [["clone-a", "clone-b"]],
    "report_save": {"r": 1}, "normalization": {"method": "constant"},
}


def get_analysis(testapp, **params):
    return testapp.post("/vidjil/default/get_analysis?" + urlencode(params))


def save(testapp, set_id, analysis=BROWSER_ANALYSIS, *, status=200, headers=None, **fields):
    """As the browser's save_analysis: query arguments, a multipart body with the blob."""
    body = json.dumps(analysis).encode() if not isinstance(analysis, bytes) else analysis
    return testapp.post(f"/vidjil/default/save_analysis?{urlencode({'sample_set_id': set_id, 'config': 1})}",
                        params={"info": "info from the browser #relapse", **fields},
                        upload_files=[("fileToUpload", "blob", body, "json")], headers=headers or {},
                        status=status)


def analysis_rows(lab):
    return lab.db.scalars(select(AnalysisFile).where(AnalysisFile.sample_set_id == lab.patient_set.id)
                          .order_by(AnalysisFile.id)).all()


def test_no_saved_analysis_answers_the_empty_one(testapp, lab):
    lab.login(testapp, lab.alice)
    assert json.loads(get_analysis(testapp, sample_set_id=lab.patient_set.id, config=lab.config.id).text) == {
        "tags": {}, "vidjil_json_version": "2014.09", "custom": [], "report_save": {},
        "samples": {"info_sequence_file": [], "number": 0, "original_names": [], "order": []},
        "clones": [], "clusters": []}


def test_saved_keys_the_browser_reads_are_served(testapp, lab):
    legacy = {"cluster": [["a", "b"]], "clones": [{"id": "a"}], "info": "dropped", "data": {"x": [1]}}
    lab.add_analysis(lab.patient_set, legacy, dt.datetime(2024, 1, 1))
    lab.login(testapp, lab.alice)
    response = get_analysis(testapp, sample_set_id=lab.patient_set.id)
    assert response.content_type == "text/html"
    served = json.loads(response.text)
    assert served["clusters"] == [["a", "b"]] and served["clones"] == [{"id": "a"}]
    assert "info" not in served and "data" not in served
    assert served["vidjil_json_version"] == "2014.09"


def test_save_then_get_round_trip(testapp, lab):
    lab.login(testapp, lab.alice)
    response = save(testapp, lab.patient_set.id)
    assert response.json_body == {"success": "true", "message": f"({lab.patient_set.id}): analysis saved"}
    served = json.loads(get_analysis(testapp, sample_set_id=lab.patient_set.id, config=lab.config.id).text)
    assert served["clones"] == BROWSER_ANALYSIS["clones"]
    assert served["clusters"] == BROWSER_ANALYSIS["clusters"]
    assert served["samples"] == BROWSER_ANALYSIS["samples"]
    assert served["report_save"] == {"r": 1}
    row, = analysis_rows(lab)
    assert row.analysis_file.startswith("analysis_file.analysis_file.") and row.analysis_file.endswith(".626c6f62.txt")
    assert json.loads((lab.results_dir / row.analysis_file).read_text()) == BROWSER_ANALYSIS
    assert not list(lab.results_dir.glob(".*.part"))


def test_info_of_the_set_is_updated_and_its_tags_registered(testapp, lab):
    lab.login(testapp, lab.alice)
    save(testapp, lab.patient_set.id)
    lab.db.expire_all()
    assert lab.db.get(Patient, lab.patient.id).info == "info from the browser #relapse"
    tags = lab.db.scalars(select(Tag.name).join(TagRef, TagRef.tag_id == Tag.id)
                          .where(TagRef.table_name == "patient", TagRef.record_id == lab.patient.id)).all()
    assert tags == ["relapse"]


def test_two_saves_keep_both_versions_and_serve_the_newest(testapp, lab):
    """Concurrent saves (same second) never disappear: both rows stay, the later one is answered."""
    lab.login(testapp, lab.alice)
    first = {**BROWSER_ANALYSIS, "clones": [{"id": "first"}]}
    second = {**BROWSER_ANALYSIS, "clones": [{"id": "second"}]}
    save(testapp, lab.patient_set.id, first)
    save(testapp, lab.patient_set.id, second)
    rows = analysis_rows(lab)
    assert len(rows) == 2 and rows[0].analysis_file != rows[1].analysis_file
    assert all((lab.results_dir / r.analysis_file).is_file() for r in rows)
    served = json.loads(get_analysis(testapp, sample_set_id=lab.patient_set.id).text)
    assert served["clones"] == [{"id": "second"}]


def test_an_older_save_date_does_not_hide_a_newer_version(testapp, lab):
    lab.add_analysis(lab.patient_set, {"clones": [{"id": "future"}]}, dt.datetime(2999, 1, 1))
    lab.add_analysis(lab.patient_set, {"clones": [{"id": "past"}]}, dt.datetime(2000, 1, 1))
    lab.login(testapp, lab.alice)
    assert json.loads(get_analysis(testapp, sample_set_id=lab.patient_set.id).text)["clones"] == [{"id": "future"}]


def test_download_of_the_analysis(testapp, lab):
    lab.add_analysis(lab.patient_set, {"clones": [{"id": "a"}]}, dt.datetime(2024, 1, 1))
    lab.login(testapp, lab.alice)
    response = testapp.get("/vidjil/default/get_analysis", {"sample_set_id": lab.patient_set.id,
                                                            "filename": "Dupont_multi.analysis"})
    assert response.headers["Content-Disposition"] == 'attachment; filename="Dupont_multi.analysis"'
    assert json.loads(response.body)["clones"] == [{"id": "a"}]


def test_custom_comparisons_have_no_analysis(testapp, lab):
    lab.login(testapp, lab.alice)
    assert get_analysis(testapp, custom=lab.results[0].id).json_body == {"success": "true"}


def test_sample_infos_of_the_set_are_updated(testapp, lab):
    first, second = lab.samples
    lab.login(testapp, lab.alice)
    save(testapp, lab.patient_set.id, samples_id=f"{first.id},{second.id}", samples_info="one #MRD,two")
    lab.db.expire_all()
    assert [lab.db.get(SequenceFile, s.id).info for s in lab.samples] == ["one #MRD", "two"]


def test_samples_of_another_set_are_refused_and_nothing_is_saved(testapp, lab):
    """W19: `samples_id` cannot rewrite the info of a sample outside the saved set."""
    foreign = make_sequence_file(lab.db, sets=[lab.other_set], info="bob's sample")
    lab.login(testapp, lab.alice)
    response = save(testapp, lab.patient_set.id, samples_id=f"{lab.samples[0].id},{foreign.id}",
                    samples_info="mine,hijacked")
    assert response.json_body["success"] == "false"
    assert f"sample {foreign.id} is not in this sample set" in response.json_body["message"]
    lab.db.expire_all()
    assert lab.db.get(SequenceFile, foreign.id).info == "bob's sample"
    assert lab.db.get(SequenceFile, lab.samples[0].id).info == "diagnosis #diagnosis"
    assert analysis_rows(lab) == []
    assert not any(lab.results_dir.glob("analysis_file.*"))


def test_mismatched_sample_lists_are_refused(testapp, lab):
    lab.login(testapp, lab.alice)
    response = save(testapp, lab.patient_set.id, samples_id=str(lab.samples[0].id), samples_info="a,b")
    assert response.json_body["success"] == "false"
    assert analysis_rows(lab) == []


def test_invalid_analysis_is_refused_and_nothing_is_kept(testapp, lab):
    lab.login(testapp, lab.alice)
    for body in (b"{not json", b"[1, 2]"):
        response = save(testapp, lab.patient_set.id, body)
        assert response.json_body["success"] == "false"
    assert analysis_rows(lab) == []
    assert not any(lab.results_dir.glob("*analysis_file*"))
    lab.db.expire_all()
    assert lab.db.get(Patient, lab.patient.id).info == "patient info #T-ALL"


def test_save_without_file_is_refused(testapp, lab):
    lab.login(testapp, lab.alice)
    response = testapp.post(f"/vidjil/default/save_analysis?sample_set_id={lab.patient_set.id}", {"info": "x"})
    assert response.json_body == {"success": "false", "message": "no analysis was sent (fileToUpload)"}


def test_save_needs_the_save_right(testapp, lab):
    lab.login(testapp, lab.reader)  # may read the set, not save it
    response = save(testapp, lab.patient_set.id)
    assert response.json_body == {"success": "false",
                                  "message": "you do not have permission to save changes on this sample set"}
    assert analysis_rows(lab) == []


def test_save_on_another_groups_set_is_refused(testapp, lab):
    lab.login(testapp, lab.alice)
    response = save(testapp, lab.other_set.id)
    assert response.json_body["success"] == "false"
    count = lab.db.scalar(select(func.count(AnalysisFile.id)).where(AnalysisFile.sample_set_id == lab.other_set.id))
    assert count == 0


def test_save_from_another_site_is_refused(testapp, lab):
    """W23: a page elsewhere cannot save over a logged-in user's analysis."""
    lab.login(testapp, lab.alice)
    response = save(testapp, lab.patient_set.id, headers={"Origin": "https://evil.example"}, status=403)
    assert response.json_body["success"] == "false"
    assert analysis_rows(lab) == []
    save(testapp, lab.patient_set.id, headers={"Origin": ALLOWED_ORIGIN})
    assert len(analysis_rows(lab)) == 1


def test_anonymous_cannot_read_or_save(testapp, lab):
    assert "redirect" in get_analysis(testapp, sample_set_id=lab.patient_set.id).json_body
    assert "redirect" in save(testapp, lab.patient_set.id).json_body
    assert analysis_rows(lab) == []


def test_reading_another_groups_analysis_is_refused(testapp, lab):
    lab.add_analysis(lab.other_set, {"clones": [{"id": "secret"}]}, dt.datetime(2024, 1, 1))
    lab.login(testapp, lab.alice)
    response = get_analysis(testapp, sample_set_id=lab.other_set.id)
    assert response.json_body["success"] == "false"
    assert "secret" not in response.text


def test_unreadable_saved_analysis_is_a_clear_error(testapp, lab):
    row = lab.add_analysis(lab.patient_set, {"clones": []}, dt.datetime(2024, 1, 1))
    (lab.results_dir / row.analysis_file).unlink()
    lab.login(testapp, lab.alice)
    response = get_analysis(testapp, sample_set_id=lab.patient_set.id)
    assert response.json_body["success"] == "false"
    assert "cannot be found" in response.json_body["message"]
