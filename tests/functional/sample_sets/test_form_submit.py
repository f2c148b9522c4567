"""`sample_set/form` and `sample_set/submit`: creating and editing sets, one or many at once."""
from __future__ import annotations

import json

from bs4 import BeautifulSoup
from sample_set_world import NASTY_FIRST, NASTY_LAST, body
from sqlalchemy import delete, func, select

from vidjil_pyramid.auth.models import Membership, Permission
from vidjil_pyramid.sample_sets.models import Generic, Patient, Run, SampleSet, Tag, TagRef


def submit(app, data, **extra):
    return app.post("/vidjil/sample_set/submit", {"data": json.dumps(data)}, **extra)


def set_count(db) -> int:
    return db.scalar(select(func.count(SampleSet.id)))


def patient(**values):
    base = {"id": "", "sample_set_id": "", "id_label": "", "first_name": "Jean", "last_name": "Dupont",
            "birth": "1961-04-12", "info": ""}
    return {**base, **values}


def test_create_form_has_the_fields_the_browser_binds(world, as_user):
    page = as_user(world.alice).post("/vidjil/sample_set/form", {"type": "patient"})
    soup = BeautifulSoup(page.text, "html.parser")
    form = soup.select_one("form#object_form")
    assert form["action"] == "DB_ADDRESS/sample_set/submit"
    assert page.text.count("DB_ADDRESS/") == 1
    options = {int(o["value"]): o.text for o in soup.select("select#group_select[name=group] option")}
    assert world.lab_a.id in options and "Personal Group" in options.values()
    assert soup.select_one("select#group_select option[selected]")["value"] == str(world.lab_a.id)
    assert soup.select_one("#patient_group__label") is not None
    for kind, handler in (("patient", "addPatientForm()"), ("run", "addRunForm()"), ("generic", "addSetForm()")):
        button = soup.select_one(f"span#{kind}_button")
        assert button["onclick"] == handler
    assert soup.select_one("#patient_button")["data-index"] == "1"
    assert soup.select_one("#run_button")["data-index"] == "0"
    names = {i["name"] for i in soup.select("#fieldset_container .form_line input[name]")}
    assert names == {f"patient[0][{f}]" for f in ("id", "sample_set_id", "id_label", "first_name", "last_name",
                                                  "birth", "info")}
    assert soup.select_one("#patient_first_name_0.form-control") is not None
    assert soup.select_one("input[type=submit].btn") is not None


def test_edit_form_is_filled_with_the_set_as_typed(world, as_user):
    """W24: the values go back into inputs escaped, and come out as typed."""
    page = as_user(world.alice).post("/vidjil/sample_set/form", {"id": world.patient_a.id})
    soup = BeautifulSoup(page.text, "html.parser")
    assert soup.select_one("#patient_first_name_0")["value"] == NASTY_FIRST
    assert soup.select_one("#patient_last_name_0")["value"] == NASTY_LAST
    assert soup.select_one("#patient_birth_0")["value"] == "1970-01-02"
    assert soup.select_one("input[name='patient[0][sample_set_id]']")["value"] == str(world.patient_a.id)
    assert soup.select_one("#patient_button") is None
    assert soup.find("script") is None


def test_create_one_patient_redirects_to_its_page(world, as_user):
    db = world.db
    before = set_count(db)
    response = submit(as_user(world.alice), {"group": world.lab_a.id, "patient": [patient(info="new #MRD #Brand-New")]})
    data = body(response)
    assert data["redirect"] == "sample_set/index" and data["message"] == "successfully added/edited set(s)"
    new_id = data["args"]["id"]
    assert set_count(db) == before + 1
    detail = db.scalars(select(Patient).where(Patient.sample_set_id == new_id)).one()
    assert (detail.first_name, detail.last_name, str(detail.birth), detail.creator) == ("Jean", "Dupont", "1961-04-12", world.alice.id)
    assert db.get(SampleSet, new_id).sample_type == "patient"
    assert db.scalar(select(Permission.group_id).where(Permission.name == "access", Permission.table_name == "sample_set",
                                                       Permission.record_id == new_id)) == world.lab_a.id
    tags = set(db.scalars(select(Tag.name).join(TagRef, TagRef.tag_id == Tag.id)
                          .where(TagRef.table_name == "patient", TagRef.record_id == detail.id)))
    assert {t.lower() for t in tags} == {"mrd", "brand-new"}
    # it shows in alice's list, and not in bob's
    assert new_id in {r["sample_set_id"] for r in as_user(world.alice).get("/vidjil/sample_set/all.json?type=patient").json["query"]}


def test_batch_creation_as_the_browser_sends_it(world, as_user):
    """Removed form lines leave `null` holes; several lines of several types at once."""
    db = world.db
    before = set_count(db)
    data = {"group": str(world.lab_a.id),
            "patient": [patient(first_name="A"), None, patient(first_name="B", birth="")],
            "run": [{"id": "", "sample_set_id": "", "id_label": "R", "name": "RUN-9", "run_date": "2024-05-06", "info": "#TRG"}],
            "generic": [None]}
    response = submit(as_user(world.alice), data)
    assert body(response) == {"redirect": "sample_set/all", "args": {"type": "patient", "page": 0},
                              "message": "successfully added/edited set(s)"}
    assert set_count(db) == before + 3
    run = db.scalars(select(Run).where(Run.name == "RUN-9")).one()
    assert str(run.run_date) == "2024-05-06" and run.sequencer in (None, "")


def test_edit_updates_the_detail_row_and_its_tags(world, as_user):
    db = world.db
    detail = world.run_a_detail
    data = {"group": world.lab_a.id, "run": [{"id": detail.id, "sample_set_id": world.run_a.id, "id_label": "L",
                                              "name": "RUN-A2", "run_date": "", "info": "now #IGH", "sequencer": "seq", "pcr": "p"}]}
    response = submit(as_user(world.alice), data)
    assert body(response)["args"] == {"id": world.run_a.id}
    db.refresh(detail)
    assert (detail.name, detail.run_date, detail.info, detail.sequencer, detail.pcr) == ("RUN-A2", None, "now #IGH", "seq", "p")
    names = set(db.scalars(select(Tag.name).join(TagRef, TagRef.tag_id == Tag.id)
                           .where(TagRef.table_name == "run", TagRef.record_id == detail.id)))
    assert names == {"IGH"}


def test_validation_errors_rerender_the_form_and_write_nothing(world, as_user):
    db = world.db
    before = set_count(db)
    data = {"group": world.lab_a.id,
            "patient": [patient(first_name="Valid"), patient(first_name="", birth="1961-13-40"),
                        patient(last_name="Pipe|Name")]}
    response = submit(as_user(world.alice), data)
    assert response.content_type == "text/html"
    soup = BeautifulSoup(response.text, "html.parser")
    errors = [e.text for e in soup.select(".form_line div.error")]
    assert errors == ["error: first name needed, date (wrong format)", "error: illegal character '|' in name"]
    assert soup.select_one("#patient_first_name_0")["value"] == "Valid"
    assert set_count(db) == before  # the valid line was not saved either


def test_refused_lines_write_nothing(world, as_user):
    """Editing another lab's set is refused (not turned into a creation), and nothing is saved."""
    db = world.db
    before = set_count(db)
    name_before = world.patient_b_detail.first_name
    data = {"group": world.lab_a.id, "patient": [patient(first_name="Mine"),
                                                 patient(sample_set_id=world.patient_b.id, first_name="Stolen")]}
    response = submit(as_user(world.alice), data)
    assert "permission denied" in response.text
    db.refresh(world.patient_b_detail)
    assert world.patient_b_detail.first_name == name_before and set_count(db) == before


def test_creating_in_a_group_that_is_not_yours_is_refused(world, as_user):
    db = world.db
    before = set_count(db)
    response = submit(as_user(world.alice), {"group": world.lab_b.id, "patient": [patient()]})
    assert "you cannot create sets in this group" in response.text and set_count(db) == before


def test_users_without_create_right_cannot_create(world, as_user):
    db = world.db
    before = set_count(db)
    reader_groups = select(Membership.group_id).where(Membership.user_id == world.reader.id)
    db.execute(delete(Permission).where(Permission.name == "create", Permission.group_id.in_(reader_groups)))
    db.flush()
    app = as_user(world.reader)
    assert body(app.post("/vidjil/sample_set/form", {"type": "patient"})) == {"message": "access denied"}
    response = submit(app, {"group": world.readers.id, "generic": [{"id": "", "sample_set_id": "", "name": "x", "info": ""}]})
    assert "permission denied" in response.text and set_count(db) == before


def test_malformed_submissions_are_clear_errors(world, as_user):
    app = as_user(world.alice)
    assert body(app.post("/vidjil/sample_set/submit"))["message"] == "missing form data"
    assert body(app.post("/vidjil/sample_set/submit", {"data": "{not json"})) == {"success": "false", "message": "invalid form data"}
    assert body(submit(app, ["a list"]))["success"] == "false"
    assert body(submit(app, {"patient": "oops"}))["success"] == "false"
    assert body(submit(app, {"patient": [{"first_name": {"a": 1}}]}))["success"] == "false"
    assert body(submit(app, {"patient": [patient(sample_set_id="1 OR 1=1")]}))["success"] == "false"
    empty = submit(app, {"group": world.lab_a.id, "patient": [None]})
    assert "form is empty" in empty.text


def test_api_client_style_creation(world, as_user):
    """`createSet`: the JSON in the query string, info %-encoded by the client, then decoded by the URL."""
    data = json.dumps({"group": world.lab_a.id, "generic": [{"id": "", "sample_set_id": "", "name": "api set",
                                                             "info": "%23tag%20here"}]}).replace(" ", "")
    response = as_user(world.alice).post(f"/vidjil/sample_set/submit?data={data}")
    new_id = body(response)["args"]["id"]
    detail = world.db.scalars(select(Generic).where(Generic.sample_set_id == new_id)).one()
    assert detail.name == "apiset" and detail.info == "#tag here"


def test_form_refusals(world, as_user, anonymous):
    assert "redirect" in body(anonymous.post("/vidjil/sample_set/form", {"type": "patient"}))
    assert "redirect" in body(anonymous.post("/vidjil/sample_set/submit", {"data": "{}"}))
    app = as_user(world.bob)
    assert body(app.post("/vidjil/sample_set/form", {"id": world.patient_a.id})) == {"message": "access denied"}
    assert body(app.post("/vidjil/sample_set/form", {"type": "bogus"}))["success"] == "false"


def test_w23_cross_site_submission_is_refused(world, as_user):
    """W23: a state change coming from another site's page is refused before anything is written."""
    db = world.db
    before = set_count(db)
    app = as_user(world.alice)
    response = submit(app, {"group": world.lab_a.id, "patient": [patient()]},
                      headers={"Origin": "https://evil.example"}, status=403)
    assert body(response)["success"] == "false" and set_count(db) == before
    ok = submit(app, {"group": world.lab_a.id, "patient": [patient()]}, headers={"Origin": "https://app.vidjil.test"})
    assert body(ok)["redirect"] == "sample_set/index"
