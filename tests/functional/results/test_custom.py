"""Comparing chosen samples: `default/get_custom_data` (merged by the fuse service, started
here in a thread on a free port) and the selection page `sample_set/custom`."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from factories import PASSWORD, make_config, make_group, make_sequence_file, make_set, make_user

from fuse_rpc.service import FuseService, start_in_thread
from vidjil_pyramid.files.storage import stored_name
from vidjil_pyramid.results.comparison import CANNOT_FUSE
from vidjil_pyramid.results.custom import CONNECTOR_KEY
from vidjil_pyramid.results.models import ResultsFile
from vidjil_pyramid.sample_sets.tags import register_tags
from webclient import login


class CountingService(FuseService):
    """The real service, counting the fuses it was asked for."""

    calls = 0

    def fuse(self, *args, **kwargs):
        type(self).calls += 1
        return super().fuse(*args, **kwargs)


@pytest.fixture
def app_settings(app_settings, tmp_path):
    """The app's settings, with a fuse service listening on a free port."""
    results_dir = Path(app_settings["vidjil.results_dir"])
    results_dir.mkdir(parents=True, exist_ok=True)
    CountingService.calls = 0
    service = CountingService(results_dir, app_settings["vidjil.secret"], work_dir=tmp_path / "fuse-work",
                              time_limit=60, max_concurrent=2)
    running = start_in_thread(service, "127.0.0.1", 0)
    try:
        yield {**app_settings, "vidjil.fuse_rpc_port": str(running.port)}
    finally:
        running.stop()


def vidjil_result(sample_name: str, clones: list[tuple[str, int]]) -> bytes:
    total = sum(reads for _, reads in clones)
    return json.dumps({
        "vidjil_json_version": "2016b", "producer": "vidjil-algo",
        "samples": {"number": 1, "original_names": [f"/uploads/{sample_name}"], "producer": ["vidjil-algo"],
                    "commandline": ["vidjil-algo -c clones"]},
        "reads": {"total": [total + 100], "segmented": [total], "germline": {"IGH": [total]}},
        "clones": [{"id": clone_id, "top": rank + 1, "reads": [reads], "germline": "IGH",
                    "name": f"IGHV3-9 {clone_id}", "sequence": "ACGT" * 10}
                   for rank, (clone_id, reads) in enumerate(clones)],
    }).encode()


@dataclass
class CompareLab:
    db: object
    results_dir: Path
    alice: object
    reader: object
    bob: object
    patient_set: object
    run_set: object
    bob_set: object
    config: object
    other_config: object
    diag: ResultsFile
    follow_up: ResultsFile
    run_result: ResultsFile
    bob_result: ResultsFile
    samples: dict

    def login(self, testapp, user) -> None:
        testapp.reset()
        login(testapp, user.email, PASSWORD)


@pytest.fixture
def compare_lab(initial_data, app_settings) -> CompareLab:
    db = initial_data
    results_dir = Path(app_settings["vidjil.results_dir"])
    alice = make_user(db, first_name="Alice", last_name="Martin")
    reader = make_user(db, first_name="Rita", last_name="Reader")
    bob = make_user(db, first_name="Bob", last_name="Other")
    lab = make_group(db, rights=("read", "save", "admin", "run", "anon"), members=[alice])
    readers = make_group(db, rights=("read",), members=[reader])
    bob_lab = make_group(db, rights=("read", "save", "admin", "run", "anon"), members=[bob])
    patient_set, _ = make_set(db, "patient", groups=[lab, readers], first_name="Jeanne", last_name="Dupont",
                              info="patient info")
    run_set, _ = make_set(db, "run", groups=[lab], name="RUN-42")
    bob_set, _ = make_set(db, "generic", groups=[bob_lab], name="bob-set")
    config = make_config(db, name="multi", command="-c clones -g germline", groups=[lab, readers])
    other_config = make_config(db, name="bobs-config", command="-c other", groups=[bob_lab])
    samples, results = {}, {}
    specs = [
        ("diag", patient_set, "diag.fastq.gz", dt.date(2024, 1, 10), "diagnosis #diagnosis",
         [("clone-a", 60), ("clone-b", 30)], config),
        ("follow_up", patient_set, "fu1.fastq.gz", dt.date(2024, 3, 1), "follow-up",
         [("clone-a", 5), ("clone-c", 50)], config),
        ("run_result", run_set, "lane1.fastq", dt.date(2024, 2, 2), "lane one", [("clone-d", 70)], config),
        ("bob_result", bob_set, "bob.fastq", dt.date(2024, 2, 3), "bob's sample", [("clone-e", 9)], other_config),
    ]
    for index, (key, sample_set, filename, sampling_date, info, clones, cfg) in enumerate(specs):
        sample = make_sequence_file(db, sets=[sample_set], filename=filename, sampling_date=sampling_date, info=info,
                                    data_file=stored_name("sequence_file", "data_file", filename), size_file=2048)
        data_file = stored_name("results_file", "data_file", f"{index:06d}.vidjil")
        (results_dir / data_file).write_bytes(vidjil_result(filename, clones))
        result = ResultsFile(sequence_file_id=sample.id, config_id=cfg.id, run_date=dt.datetime(2024, 3, 2, 9, index),
                             hidden=False, data_file=data_file)
        db.add(result)
        register_tags(db, info, "sequence_file", sample.id, lab.id)
        samples[key] = sample
        results[key] = result
    db.flush()
    return CompareLab(db=db, results_dir=results_dir, alice=alice, reader=reader, bob=bob,
                      patient_set=patient_set, run_set=run_set, bob_set=bob_set, config=config,
                      other_config=other_config, samples=samples, **results)


def get_custom_data(testapp, *result_ids, **extra):
    """As the browser's load_custom_data: a POST with the arguments in the query string."""
    query = urlencode([("custom", i) for i in result_ids] + list(extra.items()))
    return testapp.post("/vidjil/default/get_custom_data?" + query)


# --- default/get_custom_data ------------------------------------------------------------------

def test_chosen_samples_of_two_sets_are_merged_and_labelled(testapp, compare_lab):
    lab = compare_lab
    lab.login(testapp, lab.alice)
    response = get_custom_data(testapp, lab.diag.id, lab.run_result.id)
    assert response.content_type == "text/html"  # the browser parses the text itself
    data = json.loads(response.text)
    assert data["sample_name"] == data["dataFileName"] == data["info"] == "Compare samples"
    samples = data["samples"]
    assert samples["number"] == 2
    assert samples["original_names"] == [f"Dupont Jeanne_diag.fastq.gz ({lab.diag.id})",
                                         f"RUN-42_lane1.fastq ({lab.run_result.id})"]
    assert samples["timestamp"] == ["2024-01-10", "2024-02-02"]
    assert samples["info"] == ["diagnosis #diagnosis", "lane one"]
    assert samples["commandline"] == ["-c clones -g germline"] * 2
    assert samples["sequence_file_id"] == [lab.samples["diag"].id, lab.samples["run_result"].id]
    assert {c["id"]: c["reads"] for c in data["clones"]} == {"clone-a": [60, 0], "clone-b": [30, 0],
                                                             "clone-d": [0, 70]}
    assert data["reads"]["segmented"] == [90, 70]
    assert str(lab.results_dir) not in response.text  # no server path reaches the browser


def test_one_sample_is_labelled_with_its_result(testapp, compare_lab):
    lab = compare_lab
    lab.login(testapp, lab.alice)
    data = json.loads(get_custom_data(testapp, lab.follow_up.id, sample_set_id=lab.patient_set.id).text)
    assert data["sample_name"] == f"Sample {lab.follow_up.id}"
    assert data["samples"]["original_names"] == [f"Dupont Jeanne_fu1.fastq.gz ({lab.follow_up.id})"]


def test_patient_names_are_anonymised_for_readers_without_the_anon_right(testapp, compare_lab):
    lab = compare_lab
    lab.login(testapp, lab.reader)
    data = json.loads(get_custom_data(testapp, lab.diag.id, lab.follow_up.id).text)
    assert data["samples"]["original_names"] == [f"Dup_diag.fastq.gz ({lab.diag.id})",
                                                 f"Dup_fu1.fastq.gz ({lab.follow_up.id})"]
    assert "Jeanne" not in json.dumps(data)


def test_pre_process_statistics_travel_with_their_result(testapp, compare_lab):
    lab = compare_lab
    pre = stored_name("sequence_file", "pre_process_file", "pre_process.vidjil")
    (lab.results_dir / pre).write_text(json.dumps({"pre_process": {"producer": ["flash2"]},
                                                   "reads": {"total": [200], "merged": [150]}}))
    lab.samples["diag"].pre_process_file = pre
    lab.db.flush()
    lab.login(testapp, lab.alice)
    data = json.loads(get_custom_data(testapp, lab.diag.id, lab.follow_up.id).text)
    assert data["reads"]["merged"] == [150, 0]


def test_anonymous_users_are_sent_to_the_login_page(testapp, compare_lab):
    response = get_custom_data(testapp, compare_lab.diag.id)
    assert "default/user/login" in json.loads(response.text)["redirect"]
    assert CountingService.calls == 0


def test_a_result_of_another_groups_set_is_refused_before_any_fuse(testapp, compare_lab):
    lab = compare_lab
    lab.login(testapp, lab.alice)
    data = json.loads(get_custom_data(testapp, lab.diag.id, lab.bob_result.id).text)
    assert data == {"success": "false", "message": "default/get_custom_data : you do not have permission "
                                                   f"to consult this element ({lab.bob_result.id})"}
    assert CountingService.calls == 0


def test_an_unknown_result_gets_the_same_refusal(testapp, compare_lab):
    lab = compare_lab
    lab.login(testapp, lab.alice)
    data = json.loads(get_custom_data(testapp, 987654).text)
    assert data["message"] == "default/get_custom_data : you do not have permission to consult this element (987654)"


def test_no_selection_is_an_error(testapp, compare_lab):
    compare_lab.login(testapp, compare_lab.alice)
    data = json.loads(get_custom_data(testapp).text)
    assert data == {"success": "false", "message": "default/get_custom_data : no file selected, "}


def test_w24_invalid_ids_are_refused_and_echoed_escaped(testapp, compare_lab):
    compare_lab.login(testapp, compare_lab.alice)
    data = json.loads(get_custom_data(testapp, "<img src=x onerror=alert(1)>").text)
    assert data["success"] == "false"
    assert "<img" not in data["message"] and "&lt;img" in data["message"]


def test_a_result_without_file_cannot_be_compared(testapp, compare_lab):
    lab = compare_lab
    pending = ResultsFile(sequence_file_id=lab.samples["diag"].id, config_id=lab.config.id, hidden=False,
                          data_file=None)
    lab.db.add(pending)
    lab.db.flush()
    lab.login(testapp, lab.alice)
    data = json.loads(get_custom_data(testapp, lab.follow_up.id, pending.id).text)
    assert data == {"success": "false", "message": f"default/get_custom_data : no result file yet for {pending.id}"}


def test_a_result_file_missing_on_disk_is_reported(testapp, compare_lab):
    lab = compare_lab
    (lab.results_dir / lab.follow_up.data_file).unlink()
    lab.login(testapp, lab.alice)
    data = json.loads(get_custom_data(testapp, lab.diag.id, lab.follow_up.id).text)
    assert data == {"success": "false", "message": "default/get_custom_data : a result file is missing"}


@pytest.fixture
def app_with(app_settings, testapp):
    """Rebuild the WebTest app with other fuse service settings."""
    from vidjil_pyramid import main

    built = []

    def build(**settings):
        app = main({}, **{**app_settings, **settings})
        built.append(app)
        testapp.app = app
        return app

    yield build
    for app in built:
        app.registry[CONNECTOR_KEY].close()


def test_without_a_fuse_service_the_server_says_it_cannot_fuse(testapp, compare_lab, app_with):
    lab = compare_lab
    app_with(**{"vidjil.fuse_rpc_port": "off"})
    lab.login(testapp, lab.alice)
    assert json.loads(get_custom_data(testapp, lab.diag.id).text) == {"success": "false", "message": CANNOT_FUSE}


def test_an_unreachable_fuse_service_is_reported_the_same_way(testapp, compare_lab, app_with):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    app_with(**{"vidjil.fuse_rpc_port": str(free_port)})
    compare_lab.login(testapp, compare_lab.alice)
    data = json.loads(get_custom_data(testapp, compare_lab.diag.id).text)
    assert data == {"success": "false", "message": CANNOT_FUSE}


def test_the_in_process_setup_serves_comparisons_from_an_embedded_service(testapp, compare_lab, app_with):
    """The demo (memory:// queue) needs no separately started service."""
    lab = compare_lab
    app = app_with(**{"vidjil.fuse_rpc_port": None, "vidjil.broker_url": "memory://"})
    lab.login(testapp, lab.alice)
    data = json.loads(get_custom_data(testapp, lab.diag.id, lab.follow_up.id).text)
    assert data["samples"]["number"] == 2
    assert {c["id"] for c in data["clones"]} == {"clone-a", "clone-b", "clone-c"}
    assert CountingService.calls == 0  # not the test's service: the app's own
    assert app.registry[CONNECTOR_KEY]._embedded is not None


def test_the_embedded_service_refuses_callers_without_the_secret(testapp, compare_lab, app_with):
    """W22: even the web process's own service wants the token."""
    import xmlrpc.client

    app = app_with(**{"vidjil.fuse_rpc_port": "embedded"})
    compare_lab.login(testapp, compare_lab.alice)
    get_custom_data(testapp, compare_lab.diag.id)
    port = app.registry[CONNECTOR_KEY]._embedded.port
    proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")
    with pytest.raises(xmlrpc.client.Fault) as refused:
        proxy.fuse("python fuse.py -o /tmp/x; id", "/tmp", "x")
    assert refused.value.faultCode == 401


# --- sample_set/custom ------------------------------------------------------------------------

def custom_page(testapp, **params):
    items = []
    for key, value in params.items():
        for one in (value if isinstance(value, list) else [value]):
            items.append((key, one))
    return testapp.post("/vidjil/sample_set/custom?" + urlencode(items))


def checkbox_values(response) -> list[int]:
    return [int(box["value"]) for box in response.html.select('input[name="custom_result[]"]')]


def test_the_page_lists_the_results_of_every_readable_set(testapp, compare_lab):
    lab = compare_lab
    lab.login(testapp, lab.alice)
    response = custom_page(testapp, filter="")
    page = response.html
    assert page.select_one("table.db_table.table_compare#table") is not None
    assert page.select_one("#db_filter_input") is not None
    assert page.select_one("#db_auth_name") is not None  # inside the layout
    assert sorted(checkbox_values(response)) == sorted([lab.diag.id, lab.follow_up.id, lab.run_result.id])
    assert page.select_one(f"td#sequence_file_{lab.samples['diag'].id}").text.strip() == "diag.fastq.gz"
    select = page.select_one("select#choose_config")
    offered = [o["value"] for o in select.select("option")]
    assert offered[0] == "-1" and str(lab.config.id) in offered
    assert str(lab.other_config.id) not in offered  # bob's config is not usable here
    see_results = [s for s in page.select("span.button2") if "see results" in s.text][0]
    assert see_results["onclick"] == "myUrl.loadCustomUrl(db, undefined)"
    assert "bob" not in response.text


def test_a_set_restricts_the_list_and_names_it(testapp, compare_lab):
    lab = compare_lab
    lab.login(testapp, lab.alice)
    response = custom_page(testapp, id=lab.patient_set.id, filter="")
    assert sorted(checkbox_values(response)) == sorted([lab.diag.id, lab.follow_up.id])
    assert "Preview or compare samples from patient Dupont Jeanne" in response.html.select_one("h3").text
    see_results = [s for s in response.html.select("span.button2") if "see results" in s.text][0]
    assert see_results["onclick"] == 'myUrl.loadCustomUrl(db, {"sample_set_id": %d})' % lab.patient_set.id


def test_readers_see_anonymised_names_and_no_config_choice(testapp, compare_lab):
    lab = compare_lab
    lab.login(testapp, lab.reader)
    response = custom_page(testapp)
    assert sorted(checkbox_values(response)) == sorted([lab.diag.id, lab.follow_up.id])
    names = {span.text for span in response.html.select("span.set_token")}
    assert names == {"Dup"}
    assert response.html.select_one("select#choose_config") is None  # no `run` right
    assert "Jeanne" not in response.text


def test_search_config_and_ticked_results(testapp, compare_lab):
    lab = compare_lab
    lab.login(testapp, lab.alice)
    assert checkbox_values(custom_page(testapp, filter="fu1")) == [lab.follow_up.id]
    assert checkbox_values(custom_page(testapp, filter="RUN-42")) == [lab.run_result.id]
    assert sorted(checkbox_values(custom_page(testapp, filter="-fu1"))) == sorted([lab.diag.id, lab.run_result.id])
    assert checkbox_values(custom_page(testapp, filter="#diagnosis")) == [lab.diag.id]
    # ticked results stay listed (and ticked) whatever the search
    kept = custom_page(testapp, filter="fu1", custom_list=[str(lab.run_result.id)])
    assert sorted(checkbox_values(kept)) == sorted([lab.follow_up.id, lab.run_result.id])
    assert kept.html.select_one(f'input[value="{lab.run_result.id}"]').has_attr("checked")
    other = make_config(lab.db, name="other", groups=[])
    assert checkbox_values(custom_page(testapp, config_id=other.id)) == []  # a config alice may not use
    assert sorted(checkbox_values(custom_page(testapp, config_id=lab.config.id))) == \
        sorted([lab.diag.id, lab.follow_up.id, lab.run_result.id])


def test_only_the_newest_visible_result_of_a_sample_is_listed(testapp, compare_lab):
    lab = compare_lab
    newer = ResultsFile(sequence_file_id=lab.samples["diag"].id, config_id=lab.config.id,
                        run_date=dt.datetime(2024, 5, 1), hidden=False, data_file=lab.diag.data_file)
    hidden = ResultsFile(sequence_file_id=lab.samples["follow_up"].id, config_id=lab.config.id,
                         run_date=dt.datetime(2024, 5, 1), hidden=True, data_file=lab.follow_up.data_file)
    lab.db.add_all([newer, hidden])
    lab.db.flush()
    lab.login(testapp, lab.alice)
    listed = checkbox_values(custom_page(testapp, id=lab.patient_set.id))
    assert sorted(listed) == sorted([newer.id, lab.follow_up.id])


def test_the_page_of_another_groups_set_is_refused(testapp, compare_lab):
    lab = compare_lab
    lab.login(testapp, lab.alice)
    assert json.loads(custom_page(testapp, id=lab.bob_set.id).text) == {"message": "access denied"}
    assert json.loads(custom_page(testapp, id="abc").text) == {"message": "access denied"}


def test_anonymous_users_are_sent_to_log_in(testapp, compare_lab):
    assert "default/user/login" in json.loads(custom_page(testapp).text)["redirect"]


def test_the_page_as_json_for_api_clients(testapp, compare_lab):
    lab = compare_lab
    lab.login(testapp, lab.alice)
    data = custom_page(testapp, id=lab.patient_set.id, format="json").json_body
    assert data["sample_set_id"] == lab.patient_set.id
    assert sorted(row["results_file_id"] for row in data["query"]) == sorted([lab.diag.id, lab.follow_up.id])
    assert {row["name"] for row in data["query"]} == {"Dupont Jeanne"}


def test_w24_info_texts_and_file_names_are_escaped(testapp, compare_lab):
    lab = compare_lab
    lab.samples["diag"].info = "<img src=x onerror=alert(1)> #diagnosis"
    lab.samples["follow_up"].filename = "<script>alert(2)</script>.fq"
    lab.db.flush()
    lab.login(testapp, lab.alice)
    response = custom_page(testapp, id=lab.patient_set.id)
    assert "<img src=x" not in response.text and "<script>alert(2)" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in response.text
    assert response.html.select_one("a.tag-link")["data-linkable-name"] == "#diagnosis"


def test_w25_reflected_parameters_never_leave_their_javascript_strings(testapp, compare_lab):
    """The original put `filter`, `config_id` and `id` inside quoted JavaScript strings."""
    lab = compare_lab
    lab.login(testapp, lab.alice)
    attack = "'); alert(document.cookie); ('\"</script>"
    response = custom_page(testapp, id=lab.patient_set.id, filter=attack, config_id="-1')+alert(1)+('")
    expected = {"config_id": -1, "filter": attack, "id": lab.patient_set.id}
    filter_input = response.html.select_one("#db_filter_input")
    assert filter_input["value"] == attack  # shown back, as text
    for element, attribute in ((filter_input, "onchange"), (response.html.select_one("select#choose_config"),
                                                            "onchange")):
        code = element[attribute]
        # the only place the values go: one JSON object literal, which must parse back to them
        literal = code.split("Object.assign(", 1)[1].split(", {'", 1)[0]
        assert json.loads(literal) == expected
        assert code.count("alert(") == code.count("\\u0027); alert(")  # only inside the JSON string
    assert "</script>" not in response.text.split("<tbody>")[0].replace("&lt;/script&gt;", "")


def test_long_lists_are_cut_but_keep_the_ticked_results(compare_lab):
    from vidjil_pyramid.auth.permissions import Permissions
    from vidjil_pyramid.results.comparison import comparison_rows

    lab = compare_lab
    perms = Permissions(lab.db, lab.alice.id)
    listing = comparison_rows(lab.db, perms, sample_set_id=None, config_id=None,
                              checked_ids=[lab.run_result.id], limit=1)
    assert listing.matching == 3
    assert [row.results_file_id for row in listing.rows] == [lab.diag.id, lab.run_result.id]
    assert [row.checked for row in listing.rows] == [False, True]
