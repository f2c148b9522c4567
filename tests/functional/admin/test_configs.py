"""`config/*`: analysis configs, their forms, deletion and sharing."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from admin_helpers import asks_login, denied, submit
from factories import make_config, make_sequence_file
from vidjil_pyramid.admin.models import Classification, Config
from vidjil_pyramid.auth.models import Group, Permission
from vidjil_pyramid.auth.services import grant
from vidjil_pyramid.results.models import ResultsFile
from webclient import login

FORM = {"config_name": "TRB only", "config_command": "-c clones -g germline/homo-sapiens.g:TRB",
        "config_fuse_command": "-t 100", "config_program": "vidjil", "config_classification": "-1",
        "config_info": "TRB analysis"}


def access_rows(db, config_id):
    return set(db.scalars(select(Permission.group_id).where(
        Permission.name == "access", Permission.table_name == "config", Permission.record_id == config_id)))


def add(testapp, **fields):
    return submit(testapp, "/vidjil/config/add", "/vidjil/config/add_form", {**FORM, **fields})


def test_admin_config_list_has_the_hooks_the_browser_binds(as_admin, dbsession):
    html = as_admin.post("/vidjil/config/index").html
    assert html.find("h3", id="page_process") is not None
    table = html.find("table", id="table_configs")
    config = dbsession.scalar(select(Config).where(Config.name == "multi+inc+xxx"))
    for field in ("classification", "name", "program", "command", "fuse_command", "info"):
        assert table.find(id=f"config_{field}_{config.id}") is not None, field
    assert html.find(id=f"config_classification_{config.id}").text == "Human V(D)J recombinations"
    assert "config/permission" in html.find(id=f"config_permission_{config.id}")["onclick"]
    assert "config/confirm" in html.find(id=f"config_delete_{config.id}")["onclick"]
    assert html.find(id="new_config_btn")["onclick"] == "db.call('config/add');"


def test_users_see_the_shared_configs_without_admin_icons(as_alice, dbsession):
    html = as_alice.post("/vidjil/config/index").html
    assert len(html.find("table", id="table_configs").find_all("tr", id=True)) == 8  # shared with public
    assert not html.find_all(id=lambda i: i and i.startswith("config_edit_"))
    assert html.find(id="new_config_btn") is None


def test_anonymous_config_pages_ask_for_a_login(testapp):
    for url in ("index", "add", "edit?id=1", "permission?id=1"):
        assert asks_login(testapp.post(f"/vidjil/config/{url}")), url


def test_admin_adds_a_config(as_admin, admin, dbsession):
    form = as_admin.post("/vidjil/config/add").html.find("form", id="data_form")
    assert form["action"] == "DB_ADDRESS/config/add_form"
    for field in ("config_name", "config_classification", "config_program", "config_command",
                  "config_fuse_command", "config_info", "add_config_submit"):
        assert form.find(id=field) is not None, field
    response = add(as_admin, config_classification=str(dbsession.scalar(select(Classification.id).limit(1))))
    assert response.json_body == {"redirect": "config/index", "message": "config 'TRB only' added"}
    config = dbsession.scalar(select(Config).where(Config.name == "TRB only"))
    assert (config.program, config.command, config.info) == ("vidjil", FORM["config_command"], "TRB analysis")
    personal = dbsession.scalar(select(Group.id).where(Group.role == "user_%04d" % admin.id))
    assert access_rows(dbsession, config.id) == {personal}


@pytest.mark.parametrize("fields, error", [
    ({"config_name": ""}, "config_name needed"),
    ({"config_command": ""}, "config_command needed"),
    ({"config_program": "rm -rf"}, "unknown program"),
    ({"config_classification": "9999"}, "classification id don't exist"),
    ({"config_command": "x" * 600}, "too long"),
])
def test_invalid_configs_are_refused_and_nothing_is_written(as_admin, dbsession, fields, error):
    count = len(dbsession.scalars(select(Config.id)).all())
    response = add(as_admin, **fields)
    assert response.json_body["success"] == "false" and error in response.json_body["message"]
    assert len(dbsession.scalars(select(Config.id)).all()) == count


def test_config_form_without_its_key_is_refused(as_admin, dbsession):
    response = as_admin.post("/vidjil/config/add_form", FORM)
    assert "expired" in response.json_body["message"]
    assert dbsession.scalar(select(Config).where(Config.name == "TRB only")) is None


def test_config_names_are_escaped_in_messages_and_pages(as_admin):
    """W24: names travel in flash messages the browser renders as HTML."""
    response = add(as_admin, config_name="<img src=x onerror=alert(1)>")
    assert "<img" not in response.json_body["message"]
    assert "<img src=x" not in as_admin.post("/vidjil/config/index").text


def test_users_without_create_config_cannot_add(as_alice, dbsession):
    assert denied(as_alice.post("/vidjil/config/add"))
    assert denied(as_alice.post("/vidjil/config/add_form", FORM))
    assert dbsession.scalar(select(Config).where(Config.name == "TRB only")) is None


def test_a_creator_sees_uses_and_edits_their_config(testapp, alice, lab, dbsession):
    """The original gave the creator a `create_config` row that reached nothing (§9.18)."""
    grant(dbsession, lab.id, "create_config", "config", 0)
    login(testapp, alice.email, "Secret-123")
    add(testapp)
    config = dbsession.scalar(select(Config).where(Config.name == "TRB only"))
    html = testapp.post("/vidjil/config/index").html
    assert html.find(id=f"config_name_{config.id}") is not None
    assert html.find(id=f"config_edit_{config.id}") is not None
    response = submit(testapp, "/vidjil/config/edit", "/vidjil/config/edit_form",
                      {**FORM, "id": config.id, "config_name": "TRB v2"}, {"id": config.id})
    assert response.json_body == {"redirect": "config/index", "message": "config 'TRB v2' updated"}


def test_admin_edits_a_config(as_admin, dbsession):
    config = dbsession.scalar(select(Config).where(Config.name == "TRG"))
    form = as_admin.post(f"/vidjil/config/edit?id={config.id}").html.find("form", id="data_form")
    assert form["action"] == "DB_ADDRESS/config/edit_form"
    assert form.find(id="config_id")["value"] == str(config.id) and form.find(id="config_name")["value"] == "TRG"
    assert form.find(id="config_program").find("option", selected=True)["value"] == "vidjil"
    submit(as_admin, "/vidjil/config/edit", "/vidjil/config/edit_form",
           {**FORM, "id": config.id, "config_program": "none"}, {"id": config.id})
    dbsession.refresh(config)
    assert (config.name, config.program) == ("TRB only", "none")


def test_users_cannot_edit_shared_configs(as_alice, dbsession):
    config = dbsession.scalar(select(Config).where(Config.name == "TRG"))
    assert denied(as_alice.post(f"/vidjil/config/edit?id={config.id}"))
    assert denied(as_alice.post("/vidjil/config/edit_form", {**FORM, "id": config.id}))
    assert denied(as_alice.post(f"/vidjil/config/delete?id={config.id}"))
    dbsession.refresh(config)
    assert config.name == "TRG"


def test_an_unused_config_is_deleted_with_its_rows(as_admin, dbsession):
    config = dbsession.scalar(select(Config).where(Config.name == "TRG"))
    page = as_admin.post(f"/vidjil/config/confirm?id={config.id}").html
    assert "config/delete" in page.find(id="delete_config_confirm_btn")["onclick"]
    response = as_admin.post(f"/vidjil/config/delete?id={config.id}")
    assert response.json_body == {"redirect": "config/index", "message": f"config '{config.id}' deleted"}
    assert dbsession.get(Config, config.id) is None
    assert not access_rows(dbsession, config.id)


def test_a_used_config_is_kept(as_admin, dbsession):
    config = make_config(dbsession)
    sample = make_sequence_file(dbsession)
    dbsession.add(ResultsFile(sequence_file_id=sample.id, config_id=config.id, run_date=dt.datetime.now()))
    dbsession.flush()
    page = as_admin.post(f"/vidjil/config/confirm?id={config.id}").html
    assert page.find(id="delete_config_confirm_btn") is None
    response = as_admin.post(f"/vidjil/config/delete?id={config.id}")
    assert response.json_body == {"redirect": "config/index", "success": "false",
                                  "message": "cannot delete a config that has been used"}
    assert dbsession.get(Config, config.id) is not None


def test_sharing_page_and_toggle(as_admin, lab, dbsession):
    config = make_config(dbsession, name="private")
    html = as_admin.post(f"/vidjil/config/permission?id={config.id}").html
    box = html.find("input", id=f"permission_checkbox_{lab.id}")
    assert box["onclick"] == f"db.call('config/change_permission', {{'config_id': {config.id}, 'group_id': {lab.id}}});"
    assert not box.has_attr("checked")
    assert html.find("input", id=f"permission_checkbox_{dbsession.scalar(select(Group.id).where(Group.role == 'admin'))}") is None
    response = as_admin.post(f"/vidjil/config/change_permission?config_id={config.id}&group_id={lab.id}")
    assert response.json_body == {"message": f"c{config.id}: access 'access' granted to 'hematology-lab'"}
    assert access_rows(dbsession, config.id) == {lab.id}
    assert as_admin.post(f"/vidjil/config/permission?id={config.id}").html.find(
        "input", id=f"permission_checkbox_{lab.id}").has_attr("checked")
    response = as_admin.post(f"/vidjil/config/change_permission?config_id={config.id}&group_id={lab.id}")
    assert response.json_body["message"] == f"c{config.id}: access 'access' deleted to 'hematology-lab'"
    assert not access_rows(dbsession, config.id)
    assert as_admin.post(f"/vidjil/config/change_permission?config_id={config.id}&group_id=9999").json_body[
        "success"] == "false"


def test_users_cannot_share_configs(as_alice, lab, dbsession):
    config = make_config(dbsession, name="private")
    assert denied(as_alice.post(f"/vidjil/config/permission?id={config.id}"))
    assert denied(as_alice.post(f"/vidjil/config/change_permission?config_id={config.id}&group_id={lab.id}"))
    assert not access_rows(dbsession, config.id)
