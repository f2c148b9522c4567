"""`sample_set/all` (and `samples`): the lists of patients, runs and sets."""
from __future__ import annotations

import json
import re
from contextlib import contextmanager

import pytest
from bs4 import BeautifulSoup
from sample_set_world import NASTY_FIRST, NASTY_INFO, NASTY_LAST, body
from factories import make_group, make_sequence_file, make_set
from sqlalchemy import event

from vidjil_pyramid.results.models import FusedFile

CALL = re.compile(r"^db\.call\('sample_set/all', (\{.*\})\)$", re.S)


def rows(page_text: str) -> dict[int, BeautifulSoup]:
    soup = BeautifulSoup(page_text, "html.parser")
    found = {}
    for tr in soup.select("#table tbody tr"):
        match = re.fullmatch(r"sample_set_open_(\d+)_config_id_-1", tr["id"])
        assert match, tr["id"]
        found[int(match.group(1))] = tr
    return found


def test_patient_list_shows_own_sets_with_ids_classes_and_links(world, as_user):
    app = as_user(world.alice)
    page = app.post("/vidjil/sample_set/all?type=patient&page=0")
    assert page.content_type == "text/html"
    found = rows(page.text)
    assert set(found) == {world.patient_a.id}
    row = found[world.patient_a.id]
    assert row["onclick"] == f"db.call('sample_set/index', {{'id': '{world.patient_a.id}', 'config_id': '-1'}})"
    assert row.select_one("td.uid").text == str(world.patient_a.id)
    token = row.select_one("span.set_token.patient_token")
    assert token.text == f"{NASTY_LAST} {NASTY_FIRST}"  # alice's lab has the anon right
    link = row.select_one(f"a#result_sample_set_{world.patient_a.id}_config_{world.config.id}")
    assert link["href"] == f"index.html?sample_set_id={world.patient_a.id}&config={world.config.id}"
    assert "myUrl.loadUrl(db" in link["onclick"]
    assert row.find("a", class_="tag-link")["data-linkable-name"] == "#MRD"
    assert "2 (6.02 kB)" in row.text
    soup = BeautifulSoup(page.text, "html.parser")
    assert soup.select_one("#db_filter_input")["data-keys"].startswith("[")
    assert soup.select_one("#create_new_set_type_patient")["onclick"] == "db.call('sample_set/form', {'type': 'patient'})"
    assert soup.select_one("#db_fixed_header") is not None and soup.select_one("#db_auth_name") is not None


def test_w24_names_and_info_show_as_typed(world, as_user):
    """W24: `<script>`, quotes and non-ASCII in names and info are text, never markup."""
    page = as_user(world.alice).post("/vidjil/sample_set/all?type=patient&page=0")
    assert "<script>" not in page.text and "<img" not in page.text and "<b>" not in page.text
    soup = BeautifulSoup(page.text, "html.parser")
    assert soup.find("script") is None and soup.find("img") is None and soup.find("b") is None
    row = rows(page.text)[world.patient_a.id]
    assert row.select_one("span.set_token").text == f"{NASTY_LAST} {NASTY_FIRST}"
    info_cell = row.find("a", class_="tag-link").parent
    assert info_cell.get_text().strip() == NASTY_INFO


def test_names_are_anonymised_without_the_anon_right(world, as_user):
    page = as_user(world.reader).post("/vidjil/sample_set/all?type=patient&page=0")
    row = rows(page.text)[world.patient_a.id]
    assert row.select_one("span.set_token").text == NASTY_LAST[:3]
    data = as_user(world.reader).get("/vidjil/sample_set/all.json?type=patient&page=0").json
    [entry] = data["query"]
    assert entry["last_name"] == NASTY_LAST[:3] and entry["first_name"] == ""
    assert NASTY_FIRST not in json.dumps(data)


def test_admin_sees_every_set_with_its_id_appended(world, as_user):
    page = as_user(world.admin).post("/vidjil/sample_set/all?type=patient&page=0")
    found = rows(page.text)
    assert {world.patient_a.id, world.patient_b.id} <= set(found)
    assert found[world.patient_b.id].select_one("span.set_token").text == f"Lam ({world.patient_b.id})"


@pytest.mark.parametrize("url", ["/vidjil/sample_set/all.json?type=patient&page=0",
                                 "/vidjil/sample_set/all?&type=patient&&format=json"])
def test_json_forms_give_the_rows_the_api_client_reads(world, as_user, url):
    response = as_user(world.alice).get(url)
    assert response.content_type == "application/json"
    data = response.json
    assert {"query", "group_ids", "admin_permissions", "isAdmin", "reverse", "step", "page"} <= set(data)
    assert not any(key.startswith("_") for key in data)
    [entry] = data["query"]
    assert entry["sample_set_id"] == world.patient_a.id and entry["id"] == world.patient_a_detail.id
    assert entry["first_name"] == NASTY_FIRST and entry["last_name"] == NASTY_LAST
    assert entry["birth"] == "1970-01-02" and entry["info"] == NASTY_INFO
    assert entry["file_count"] == 2 and entry["creator"] == "Martin"
    assert entry["confs"] == [{"id": world.config.id, "name": world.config.name}]
    assert "lab-a" in entry["groups"]
    assert data["admin_permissions"] == [world.patient_a.id] and data["isAdmin"] is False


def test_run_and_generic_lists(world, as_user):
    app = as_user(world.alice)
    runs = app.get("/vidjil/sample_set/all.json?type=run&page=0").json["query"]
    assert [(r["sample_set_id"], r["name"], r["run_date"]) for r in runs] == [(world.run_a.id, "RUN-A", "2024-01-02")]
    sets = app.get("/vidjil/sample_set/all.json?type=generic&page=0").json["query"]
    assert [(s["sample_set_id"], s["name"]) for s in sets] == [(world.generic_a.id, "Set A")]
    page = app.post("/vidjil/sample_set/all?type=run&page=0")
    assert rows(page.text)[world.run_a.id].select_one("span.set_token.run_token").text == "RUN-A"


def test_filter_by_words_and_tags(world, as_user, share):
    share(world.lab_a, world.patient_b)
    app = as_user(world.alice)

    def ids(filter_text):
        data = app.get("/vidjil/sample_set/all.json", {"type": "patient", "page": 0, "filter": filter_text}).json
        return {row["sample_set_id"] for row in data["query"]}

    assert ids("") == {world.patient_a.id, world.patient_b.id}
    assert ids("#mrd") == {world.patient_a.id}  # tags match case-insensitively
    assert ids("#CLL") == {world.patient_b.id}
    assert ids("#MRD #CLL") == set()  # all tags must be present
    assert ids("lambert") == {world.patient_b.id}
    assert ids("follow-up") == {world.patient_a.id}
    assert ids(str(world.patient_b.id)) >= {world.patient_b.id}
    assert ids("lab-b") == {world.patient_b.id}  # group role
    assert ids("Durand") == {world.patient_b.id}  # creator
    assert ids("nothing-like-this") == set()
    assert ids("100%") == set()  # LIKE wildcards are literal


def test_patient_names_are_searchable_only_as_far_as_they_are_visible(world, as_user):
    app = as_user(world.reader)

    def ids(filter_text):
        data = app.get("/vidjil/sample_set/all.json", {"type": "patient", "page": 0, "filter": filter_text}).json
        return {row["sample_set_id"] for row in data["query"]}

    assert ids("Ñuñez") == set()  # the reader cannot see the full name, so cannot search it
    assert ids(NASTY_LAST[:3]) == {world.patient_a.id}


def test_w25_reflected_filter_stays_a_javascript_string(world, as_user):
    """W25: the filter is put back into inline JavaScript only as a JSON string."""
    payload = "x'}); alert(document.cookie); ({'a':'</td>\"<script>"
    page = as_user(world.alice).post("/vidjil/sample_set/all", {"type": "patient", "page": "0", "filter": payload})
    soup = BeautifulSoup(page.text, "html.parser")
    assert soup.select_one("#db_filter_input")["value"] == payload
    calls = [td["onclick"] for td in soup.select("#table thead td[onclick]")]
    assert calls
    for onclick in calls:
        match = CALL.match(onclick)
        assert match, onclick
        args = json.loads(match.group(1))
        assert args["filter"] == payload and args["type"] == "patient"
    assert soup.find("script") is None


def test_sorting_is_done_before_paging(world, as_user):
    db = world.db
    for name in ("B-run", "A-run", "C-run"):
        make_set(db, "run", groups=[world.lab_a], name=name)
    app = as_user(world.alice)

    def names(**params):
        data = app.get("/vidjil/sample_set/all.json", {"type": "run", "page": 0, **params}).json
        return [row["name"] for row in data["query"]]

    assert names(sort="name") == ["A-run", "B-run", "C-run", "RUN-A"]
    assert names(sort="name", reverse="true") == ["RUN-A", "C-run", "B-run", "A-run"]
    assert names()[0] == "C-run"  # default: newest first
    assert names(sort="file_count")[-1] == "RUN-A"
    assert names(sort="bogus") == names()


def test_paging_by_fifty(world, as_user):
    for n in range(55):
        make_set(world.db, "generic", groups=[world.lab_a], name=f"bulk {n:02d}")
    app = as_user(world.alice)
    first = app.post("/vidjil/sample_set/all?type=generic&page=0")
    assert len(rows(first.text)) == 50
    soup = BeautifulSoup(first.text, "html.parser")
    assert soup.select_one("i.icon-right-open-1") is not None and soup.select_one("i.icon-left-open-1") is None
    second = app.post("/vidjil/sample_set/all?type=generic&page=1")
    assert len(rows(second.text)) == 6  # 55 + Set A
    assert BeautifulSoup(second.text, "html.parser").select_one("i.icon-right-open-1") is None
    assert app.get("/vidjil/sample_set/all.json?type=generic&page=1").json["step"] == 50
    # the API client asks without a page: everything
    assert len(app.get("/vidjil/sample_set/all?&type=generic&&format=json").json["query"]) == 56


def test_anonymous_gets_the_login_redirect(world, anonymous):
    response = anonymous.post("/vidjil/sample_set/all?type=patient&page=0")
    assert response.content_type == "text/html"
    target = body(response)["redirect"]
    assert "/vidjil/default/user/login?_next=" in target and "sample_set%2Fall" in target


def test_unknown_type_is_a_clear_error(world, as_user):
    response = as_user(world.alice).post("/vidjil/sample_set/all?type=nope&page=0")
    assert body(response) == {"success": "false", "message": "unknown set type: nope"}
    reflected = as_user(world.alice).post("/vidjil/sample_set/all", {"type": "<img src=x onerror=alert(1)>"})
    assert body(reflected)["message"] == "unknown set type: &lt;img src=x onerror=alert(1)&gt;"  # W24


def test_samples_api_form(world, as_user):
    data = as_user(world.alice).get("/vidjil/sample_set/samples?type=patient&page=0").json
    assert set(data) == {"samples", "group_ids", "step", "page"}
    assert [s["sample_set_id"] for s in data["samples"]] == [world.patient_a.id]


@contextmanager
def count_statements(engine):
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _add_patients(world, group_cycle, start: int, count: int) -> None:
    db = world.db
    for n in range(start, start + count):
        sample_set, _ = make_set(db, "patient", groups=[group_cycle[n % len(group_cycle)]],
                                 first_name=f"P{n}", last_name=f"Name{n}", info=f"#MRD n{n}")
        make_sequence_file(db, sets=[sample_set], size_file=10)
        db.add(FusedFile(sample_set_id=sample_set.id, config_id=world.config.id, fused_file=f"f.{n}.fused"))
    db.flush()


def test_listing_costs_the_same_number_of_statements_for_5_and_60_sets(world, as_user, engine):
    """A user in several groups: the page costs as many statements with 60 sets as with 5."""
    other_lab = make_group(world.db, "lab-c", rights=("read", "admin", "anon"), members=[world.alice])
    groups = [world.lab_a, other_lab]
    app = as_user(world.alice)
    measured = {}
    for total, extra in ((5, 5), (60, 55)):
        _add_patients(world, groups, len(measured) * 5, extra)
        with count_statements(engine) as statements:
            page = app.post("/vidjil/sample_set/all?type=patient&page=0")
        assert len(rows(page.text)) == min(total + 1, 50)
        measured[total] = len(statements)
    assert measured[5] == measured[60], measured
