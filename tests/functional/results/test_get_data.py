"""`default/get_data`: the fused file with the server's fields, as the browser loads it."""
from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs, urlencode, urlsplit

from results_lab import clone, fused_content
from factories import make_sequence_file

from vidjil_pyramid.results.fused import DELETED_SAMPLE_INFO


def get_data(testapp, **params):
    """As the browser's load_data: a POST with the arguments in the query string."""
    return testapp.post("/vidjil/default/get_data?" + urlencode(params))


def test_fused_data_carries_the_server_fields(testapp, lab):
    lab.login(testapp, lab.alice)
    response = get_data(testapp, sample_set_id=lab.patient_set.id, config=lab.config.id)
    assert response.content_type == "text/html"  # the browser parses the text itself
    data = json.loads(response.text)
    assert data["dataFileName"] == "Dupont Jeanne (multi)"
    assert data["sample_name"] == "Dupont Jeanne"
    assert data["info"] == "patient info #T-ALL"
    assert data["patient_id"] == lab.patient.id
    assert data["sample_set_id"] == lab.patient_set.id
    assert data["config_name"] == "multi"
    assert data["group_id"] == lab.lab.id
    assert data["logs"] == []
    assert [c["id"] for c in data["clones"]] == ["clone-a", "clone-b"]
    assert data["reads"]["segmented"] == [900, 900]
    samples = data["samples"]
    first, second = lab.samples
    assert samples["original_names"] == [first.data_file, second.data_file]
    assert samples["sequence_file_id"] == [first.id, second.id]
    assert samples["id"] == [first.id, second.id]
    assert samples["results_file_id"] == [r.id for r in lab.results]
    assert samples["names"] == ["diag", "fu1"]
    assert samples["info"] == ["diagnosis #diagnosis", "follow-up"]
    assert samples["timestamp"] == ["2024-01-10", "2024-03-01"]
    assert samples["config_id"] == [str(lab.config.id)] * 2
    assert samples["commandline"] == ["-c clones -g germline"] * 2
    assert samples["db_key"] == ["", ""]
    assert samples["patient_id"] == [lab.patient.id] * 2
    assert samples["sample_name"] == samples["run_id"] == [first.id, second.id]
    assert samples["log"] == ["log", "log"]  # what fuse wrote is kept
    assert set(data["distributions"]["repertoires"]) == {first.data_file, second.data_file}


def test_patient_names_are_anonymised_without_the_anon_right(testapp, lab):
    lab.login(testapp, lab.reader)
    data = json.loads(get_data(testapp, sample_set_id=lab.patient_set.id, config=lab.config.id).text)
    assert data["dataFileName"] == "Dup (multi)"
    assert data["sample_name"] == "Dup"


def test_patient_and_run_parameters_name_the_set(testapp, lab):
    lab.login(testapp, lab.alice)
    data = json.loads(get_data(testapp, patient=lab.patient.id, config=lab.config.id).text)
    assert data["sample_set_id"] == lab.patient_set.id


def test_the_newest_fused_file_is_served(testapp, lab):
    newer = fused_content([f"/x/{lab.samples[0].data_file}"], [clone("newest", [3], 1)])
    lab.add_fused(lab.patient_set, lab.config, newer, lab.fused.fuse_date + dt.timedelta(hours=1))
    lab.login(testapp, lab.alice)
    data = json.loads(get_data(testapp, sample_set_id=lab.patient_set.id, config=lab.config.id).text)
    assert [c["id"] for c in data["clones"]] == ["newest"]


def test_deleted_and_imported_samples(testapp, lab):
    """§5.5 matching: a sample gone from the database gets the placeholders; an imported
    .vidjil is found by its file name without extension; arrays stay aligned."""
    imported = make_sequence_file(lab.db, sets=[lab.patient_set], filename="Demo-X5-x100.vidjil",
                                  data_file="sequence_file.data_file.0.txt", sampling_date=dt.date(2024, 2, 1))
    lab.add_result(imported, lab.config, run_date=dt.datetime(2024, 3, 3))
    content = fused_content(["/x/gone.fastq", "Demo-X5-x100.fasta"], [clone("c", [1, 2], 1)])
    lab.add_fused(lab.patient_set, lab.config, content, dt.datetime(2025, 1, 1))
    lab.login(testapp, lab.alice)
    samples = json.loads(get_data(testapp, sample_set_id=lab.patient_set.id, config=lab.config.id).text)["samples"]
    assert samples["original_names"] == ["gone.fastq", "Demo-X5-x100.fasta"]
    assert samples["info"] == [DELETED_SAMPLE_INFO, ""]
    assert samples["names"] == ["deleted", "Demo-X5-x100"]
    assert samples["sequence_file_id"] == ["", imported.id]
    assert samples["timestamp"] == ["None", "2024-02-01"]
    assert samples["patient_id"] == [-1, lab.patient.id]
    assert all(len(v) == 2 for k, v in samples.items() if isinstance(v, list))


def test_download_is_an_attachment(testapp, lab):
    lab.login(testapp, lab.alice)
    response = testapp.get("/vidjil/default/get_data", {"sample_set_id": lab.patient_set.id,
                                                        "config": lab.config.id, "filename": 'dupont".vidjil'})
    assert response.headers["Content-Disposition"] == 'attachment; filename="dupont_.vidjil"'
    assert json.loads(response.body)["sample_set_id"] == lab.patient_set.id


def test_anonymous_is_sent_to_login_and_back(testapp, lab):
    response = get_data(testapp, sample_set_id=lab.patient_set.id, config=lab.config.id)
    target = urlsplit(response.json_body["redirect"])
    assert target.path == "/vidjil/default/user/login"
    back = urlsplit(parse_qs(target.query)["_next"][0])
    assert back.scheme == "http" and back.netloc == "vidjil.test" and back.path == "/vidjil/default/get_data"
    assert parse_qs(back.query) == {"sample_set_id": [str(lab.patient_set.id)], "config": [str(lab.config.id)]}


def test_no_right_gets_the_original_refusal(testapp, lab):
    lab.login(testapp, lab.bob)
    response = get_data(testapp, sample_set_id=lab.patient_set.id, config=lab.config.id)
    set_id, config_id = lab.patient_set.id, lab.config.id
    assert response.json_body == {
        "success": "false",
        "message": f"get_data ({set_id}) c{config_id} : you do not have permission to consult this "
                   f"sample_set ({set_id})file not found ",
    }
    assert "clones" not in response.text


def test_other_groups_set_is_refused_too(testapp, lab):
    lab.login(testapp, lab.alice)
    response = get_data(testapp, sample_set_id=lab.other_set.id, config=lab.config.id)
    assert response.json_body["success"] == "false"
    assert "you do not have permission" in response.json_body["message"]


def test_no_fused_file_for_the_config(testapp, lab):
    lab.login(testapp, lab.alice)
    response = get_data(testapp, sample_set_id=lab.patient_set.id, config=lab.config.id + 1000)
    assert response.json_body == {
        "success": "false", "message": f"get_data ({lab.patient_set.id}) c{lab.config.id + 1000} : file not found "}


def test_fused_row_without_its_file(testapp, lab):
    (lab.results_dir / lab.fused.fused_file).unlink()
    lab.login(testapp, lab.alice)
    response = get_data(testapp, sample_set_id=lab.patient_set.id, config=lab.config.id)
    assert response.json_body["message"].endswith(": file not found ")


def test_broken_fused_file_is_an_error_not_a_truncated_answer(testapp, lab):
    (lab.results_dir / lab.fused.fused_file).write_text('{"samples": {"original_names": []}, "clones": [{"id"')
    lab.login(testapp, lab.alice)
    response = get_data(testapp, sample_set_id=lab.patient_set.id, config=lab.config.id)
    assert response.json_body["success"] == "false"
    assert "cannot be read" in response.json_body["message"]


def test_missing_parameters(testapp, lab):
    lab.login(testapp, lab.alice)
    message = get_data(testapp, config=lab.config.id).json_body["message"]
    assert message == f"get_data (None) c{lab.config.id} : id sampleset file needed, file not found "
    message = get_data(testapp, sample_set_id=lab.patient_set.id).json_body["message"]
    assert message == f"get_data ({lab.patient_set.id}) cNone : id config needed, file not found "


def test_reflected_parameters_are_escaped_in_messages(testapp, lab):
    """W24: the browser shows `message` as HTML; request values in it are escaped."""
    lab.login(testapp, lab.alice)
    message = get_data(testapp, sample_set_id="<img src=x onerror=alert(1)>", config="<b>").json_body["message"]
    assert "<img" not in message and "<b>" not in message
    assert "&lt;img src=x onerror=alert(1)&gt;" in message
