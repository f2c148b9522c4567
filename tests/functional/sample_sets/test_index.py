"""`sample_set/index`: the set page, its JSON form, and `samplesetById`."""
from __future__ import annotations

import json
import re

from bs4 import BeautifulSoup
from factories import make_sequence_file, make_set
from sample_set_world import NASTY_FIRST, NASTY_LAST, body

from vidjil_pyramid.jobs.models import SchedulerTask
from vidjil_pyramid.results.models import ResultsFile


def page_of(app, **params):
    response = app.post("/vidjil/sample_set/index", params)
    assert response.content_type == "text/html"
    return response, BeautifulSoup(response.text, "html.parser")


def test_set_page_with_a_config_shows_results_statuses_and_run_icons(world, as_user):
    app = as_user(world.alice)
    set_id, cfg = world.patient_a.id, world.config.id
    _response, soup = page_of(app, id=set_id, config_id=cfg)
    assert soup.select_one("span.uid").text == str(set_id)
    assert soup.select_one("h3 span.set_token.patient_token").text == f"{NASTY_LAST} {NASTY_FIRST}"
    assert soup.select_one(f"#choose_config option[value='{cfg}']").has_attr("selected")
    shared, own = world.shared_file.id, world.own_file.id
    assert soup.select_one(f"tr#row_sequence_file_{shared} td#sequence_file_{shared}").text.strip() == "shared.fa"
    assert soup.select_one(f"td#status_{shared}_{cfg}").text.strip() == "COMPLETED"
    assert soup.select_one(f"td#status_{own}_{cfg}").text.strip() == ""
    launch = soup.select_one(f"span#launch_{shared}_{cfg}")
    assert launch["onclick"] == (f"db.call('default/run_request', {{'sequence_file_id': '{shared}', "
                                 f"'sample_set_id': {set_id}, 'config_id': {cfg}}})")
    footer = soup.select_one(f"#footer_run_icon span#launch_all_unanalyzed_samples_{cfg}")
    assert footer is not None and "default/run_all_request" in footer["onclick"]
    assert soup.select_one("#footer_number_samples").text.strip() == "2 sample(s)"
    # the shared sample shows the run it also belongs to
    token = soup.select_one(f"tr#row_sequence_file_{shared} span.run_token.set_token")
    assert token.text == "RUN-A" and f"'id': '{world.run_a.id}'" in token["onclick"]
    download = soup.select_one(f"tr#row_sequence_file_{shared} a[href*='patient/download']")
    assert download["href"] == f"http://vidjil.test/vidjil/patient/download/{world.shared_file.data_file}"
    result = soup.select_one(f"tr#row_sequence_file_{shared} a[href*='default/download']")
    assert result["href"].endswith(f"{world.shared_result.data_file}?filename=result-{set_id}-{world.shared_result.id}.txt")
    assert soup.select_one(f"td#delete_process_{shared}") is not None
    assert soup.select_one("#add_sample_button")["onclick"] == f"db.call('file/form', {{'sample_set_id': '{set_id}'}})"
    see = soup.select_one(f"a#result_sample_set_id_{set_id}_config_{cfg}")
    assert see is not None and "myUrl.loadUrl" in see["onclick"]
    assert soup.select_one("#stats_button")["href"].endswith(f"sample_set/result_files?sample_set_ids={set_id}&config_id=-1")
    assert soup.find("script") is None and soup.find("img") is None


def test_minus_one_picks_the_config_of_the_latest_fused_result(world, as_user):
    _response, soup = page_of(as_user(world.alice), id=world.patient_a.id, config_id=-1)
    assert soup.select_one(f"#choose_config option[value='{world.config.id}']").has_attr("selected")
    _response, soup = page_of(as_user(world.alice), id=world.run_a.id, config_id=-1)
    assert soup.select_one("#choose_config option[value='-1']").has_attr("selected")
    assert soup.select_one(f"td#status_{world.shared_file.id}_-1") is not None


def test_busy_samples_and_missing_files_have_no_run_icon(world, as_user):
    world.task.status = "RUNNING"
    world.own_file.data_file = None
    world.db.flush()
    cfg = world.config.id
    _response, soup = page_of(as_user(world.alice), id=world.patient_a.id, config_id=cfg)
    assert soup.select_one(f"td#status_{world.shared_file.id}_{cfg}").text.strip() == "RUNNING"
    assert soup.select_one(f"span#launch_{world.shared_file.id}_{cfg}") is None
    assert soup.select_one(f"span#launch_{world.own_file.id}_{cfg}") is None
    assert "inactive" in soup.select_one(f"td#sequence_file_{world.own_file.id}")["class"]


def test_preprocessing_samples_say_so(world, as_user):
    world.own_file.pre_process_flag = "WAIT"
    world.db.flush()
    cfg = world.config.id
    _response, soup = page_of(as_user(world.alice), id=world.patient_a.id, config_id=cfg)
    assert soup.select_one(f"td#status_{world.own_file.id}_{cfg}").text.strip() == "PREPROCESSING"


def test_only_the_newest_visible_result_is_shown(world, as_user):
    newer_task = SchedulerTask(task_name="vidjil", function_name="vidjil", status="QUEUED", args="[]")
    world.db.add(newer_task)
    world.db.flush()
    world.db.add_all([
        ResultsFile(sequence_file_id=world.shared_file.id, config_id=world.config.id, run_date=world.shared_result.run_date.replace(year=2025),
                    scheduler_task_id=newer_task.id),
        ResultsFile(sequence_file_id=world.shared_file.id, config_id=world.config.id, hidden=True,
                    run_date=world.shared_result.run_date.replace(year=2026)),
    ])
    world.db.flush()
    data = as_user(world.alice).get("/vidjil/sample_set/index.json", {"id": world.patient_a.id,
                                                                      "config_id": world.config.id}).json
    statuses = {row["sequence_file"]["id"]: row["results_file"]["status"] for row in data["query"]}
    assert statuses[world.shared_file.id] == "QUEUED"


def test_json_form_gives_what_get_samples_of_set_reads(world, as_user):
    app = as_user(world.alice)
    for url in (f"/vidjil/sample_set/index.json?id={world.patient_a.id}&config_id={world.config.id}",
                f"/vidjil/sample_set/index?id={world.patient_a.id}&config_id={world.config.id}&format=json"):
        response = app.get(url)
        assert response.content_type == "application/json"
        data = response.json
        assert not any(key.startswith("_") for key in data)
        assert data["config_id"] == world.config.id and data["sample_type"] == "patient"
        assert data["can_modify"] is True and data["can_upload"] is True
        assert data["fused_count"] == 1 and data["analysis_count"] == 1
        rows = {row["sequence_file"]["id"]: row for row in data["query"]}
        shared = rows[world.shared_file.id]
        assert shared["sequence_file"]["filename"] == "shared.fa"
        assert shared["sequence_file"]["data_file"] == world.shared_file.data_file
        assert set(shared["sequence_file"]) >= {"id", "data_file", "filename", "info", "pre_process_id", "pre_process_flag"}
        assert shared["results_file"]["status"] == "COMPLETED"
        assert shared["results_file"]["data_file"] == world.shared_result.data_file
        assert shared["sample_set_membership"]["sample_set_id"] == world.patient_a.id
        assert shared["list_share_set"] == [{"title": "RUN-A", "sample_type": "run", "id": world.run_a.id}]
        assert rows[world.own_file.id]["list_share_set"] == []
        assert isinstance(data["pre_process_list"], dict)
        assert data["info"]["name"] == f"{NASTY_LAST} {NASTY_FIRST}"
        assert data["info"]["label"] == "PAT-1 (1970-01-02)"


def test_sets_the_user_cannot_read_are_not_listed_as_shared(world, as_user):
    """A sample shared with another lab's set does not reveal that set."""
    make_sequence_file(world.db, sets=[world.patient_a, world.patient_b], filename="both.fa")
    data = as_user(world.alice).get("/vidjil/sample_set/index.json", {"id": world.patient_a.id}).json
    for row in data["query"]:
        assert all(s["id"] != world.patient_b.id for s in row["list_share_set"])
    assert "Lam" not in json.dumps(data)


def test_next_moves_to_the_neighbouring_readable_set(world, as_user):
    newer, _ = make_set(world.db, "patient", groups=[world.lab_a], first_name="New", last_name="Patient")
    make_set(world.db, "patient", groups=[world.lab_b], first_name="Other", last_name="Lab")  # not alice's
    app = as_user(world.alice)
    _r, soup = page_of(app, id=world.patient_a.id, next="1")
    assert soup.select_one("span.uid").text == str(newer.id)
    _r, soup = page_of(app, id=newer.id, next="-1")
    assert soup.select_one("span.uid").text == str(world.patient_a.id)
    _r, soup = page_of(app, id=newer.id, next="1")  # nothing further: stays
    assert soup.select_one("span.uid").text == str(newer.id)


def test_users_without_run_right_get_no_config_selector_nor_run_icons(world, as_user):
    _r, soup = page_of(as_user(world.reader), id=world.patient_a.id, config_id=world.config.id)
    assert soup.select_one("#choose_config") is None
    assert soup.select("span[id^='launch_']") == []
    assert soup.select_one("#add_sample_button") is None
    assert soup.select_one(f"td#status_{world.shared_file.id}_{world.config.id}").text.strip() == "COMPLETED"
    assert soup.select_one("h3 span.set_token").text == NASTY_LAST[:3]


def test_refusals(world, as_user, anonymous):
    anonymous = anonymous.post(f"/vidjil/sample_set/index?id={world.patient_a.id}")
    assert "redirect" in body(anonymous)
    app = as_user(world.bob)
    for set_id in (world.patient_a.id, 999999, "abc", ""):
        response = app.post("/vidjil/sample_set/index", {"id": set_id})
        assert body(response) == {"message": "access denied"}
    assert body(app.get(f"/vidjil/sample_set/index.json?id={world.patient_a.id}")) == {"message": "access denied"}


def test_w25_reflected_id_and_config_never_reach_javascript(world, as_user):
    """W25: `id` and `config_id` come back only as integers read from the database."""
    payload = "1'});reflected(1);//"
    app = as_user(world.alice)
    response = app.post("/vidjil/sample_set/index", {"id": world.patient_a.id, "config_id": payload})
    assert "reflected(1)" not in response.text
    soup = BeautifulSoup(response.text, "html.parser")
    assert soup.select_one("#choose_config option[value='-1']").has_attr("selected")
    assert body(app.post("/vidjil/sample_set/index", {"id": payload})) == {"message": "access denied"}
    for tag in soup.find_all(onclick=True):
        for value in re.findall(r"'(?:id|config_id|sample_set_id)': '?([^',}]*)", tag["onclick"]):
            assert value.lstrip("-").isdigit() or value == "this.value", tag["onclick"]


def test_sampleset_by_id(world, as_user, anonymous):
    app = as_user(world.alice)
    data = app.get(f"/vidjil/sample_set/samplesetById?&id={world.run_a.id}&type=run&format=json").json
    assert [(r["sample_set_id"], r["name"]) for r in data] == [(world.run_a.id, "RUN-A")]
    assert app.get(f"/vidjil/sample_set/samplesetById?id={world.run_a.id}").json[0]["sample_set_id"] == world.run_a.id
    assert app.get(f"/vidjil/sample_set/samplesetById?id={world.run_a.id}&type=patient").json == []
    refused = app.get(f"/vidjil/sample_set/samplesetById?id={world.patient_b.id}&type=patient")
    assert body(refused) == {"message": "access denied"}
