"""`file/form`: the add/edit samples form the browser binds (http-contract §4.6)."""
from __future__ import annotations

import json
import re

import pytest
from files_helpers import jtext
from bs4 import BeautifulSoup


def soup(response):
    return BeautifulSoup(response.text, "html.parser")


def test_add_form_structure(world, as_user):
    page = soup(as_user(world.alice).post(f"/vidjil/file/form?sample_set_id={world.set_a.id}"))
    form = page.select_one("form#upload_sample_form")
    assert form["action"] == "DB_ADDRESS/file/submit"
    assert page.select_one("#db_auth_name") and page.select_one("#logout_button")
    assert not page.select_one("#submitForm_isEditing").has_attr("checked")
    assert page.select_one("#source_computer")["value"] == "computer"
    assert page.select_one("#source_nfs")["value"] == "nfs"
    options = page.select("select#pre_process option")
    assert (options[0]["value"], options[0]["required_files"]) == ("0", "1")
    pair = next(o for o in options if o["value"] == str(world.pair_pre_process.id))
    assert pair["required_files"] == "2" and pair["title"] == "merge R1/R2"
    token = f":p Dupont Jeanne (1961-04-12) ({world.set_a.id})"
    assert page.select_one("input#file_set_list")["name"] == "set_ids"
    assert page.select_one("input#file_set_list")["value"] == token
    span = page.select_one("#set_div.token_container span.set_token.patient_token")
    assert span["data-set-id"] == token
    assert page.select_one("#set_div")["data-min-tokens"] == "1"
    token_input = page.select_one("input#token_input")
    assert token_input["data-needs-atwho"] == "true" and token_input["data-needs-tokeniser"] == "true"
    assert json.loads(token_input["data-keys"]) == ["generic", "patient", "run"]
    assert world.lab_a.id in json.loads(token_input["data-group-ids"])
    add_line = page.select_one("span#add_sample_line")
    assert add_line["data-index"] == "1" and "add_file('fieldset_container'" in add_line["onclick"]
    line = page.select_one("#fieldset_container div.form_line")
    for selector, name in [("#file_filename_0", "file[0][filename]"), ("#file_filename2_0", "file[0][filename2]"),
                           ("#file_id_0", "file[0][id]"), ("#sample_set_id", "sample_set_id"),
                           ("#sample_type", "sample_type"), ("#file_sampling_date_0", "file[0][sampling_date]"),
                           ("#file_info_0", "file[0][info]"), ("#file_set_list_0", "file[0][set_ids]")]:
        assert line.select_one(selector)["name"] == name, selector
    assert line.select_one("#sample_set_id")["value"] == str(world.set_a.id)
    assert line.select_one("#sample_type")["value"] == "patient"
    assert not line.select_one("#is_editing")
    assert "upload_field" in line.select_one("input#file_upload_1_0.file_1")["class"]
    assert line.select_one("#file_field_2_0 input#file_upload_2_0.file_2")
    assert not line.select_one("#file_upload_1_0").has_attr("name")  # never serialised by the browser
    assert line.select_one("#jstree_field_1_0")["onclick"] == "db.display_jstree(1, this.dataset.index)"
    assert line.select_one("span#file_indicator_1_0") and line.select_one("span#file_indicator_2_0")
    assert line.select_one("#file_info_0")["data-needs-atwho"] == "true"
    assert line.select_one("#file_set_div_0") and line.select_one("input#token_input_0")
    assert page.select_one("input#submit_samples_btn")
    assert page.select_one("div#jstree_container.modal form#jstree_search_form input#jstree_search_input")
    loader = page.select_one("div.jstree#jstree_loader")
    assert loader["onload"] == "db.set_jstree($('#jstree'))" and loader.select_one("div#jstree")
    assert page.select_one("span#jstree_button") and page.select_one("span#jstree_close")
    assert response_is_not_json(page)


def response_is_not_json(page) -> bool:
    try:
        json.loads(str(page))
    except ValueError:
        return True
    return False


def test_edit_form_structure(world, as_user):
    page = soup(as_user(world.alice).post(f"/vidjil/file/form?file_id={world.sample_a.id}&sample_type=patient"))
    assert page.select_one("h3").text == "Edit sample"
    assert page.select_one("#submitForm_isEditing").has_attr("checked")
    assert page.select_one("#source_computer").has_attr("checked")
    assert page.select_one("#file_id_0")["value"] == str(world.sample_a.id)
    assert page.select_one("#sample_set_id")["value"] == ""
    assert page.select_one("#is_editing")["value"] == "1"
    assert page.select_one("#file_sampling_date_0")["value"] == "2024-01-10"
    assert page.select_one("#file_info_0")["value"] == "diagnosis #dx"
    assert page.select_one("#set_ids__label").text == "Sets:"
    assert not page.select_one("#add_sample_line")
    assert page.select_one("#file_set_list")["value"] == f":p Dupont Jeanne (1961-04-12) ({world.set_a.id})"


def test_form_json(world, as_user):
    data = jtext(as_user(world.alice).get(f"/vidjil/file/form.json?file_id={world.sample_a.id}&sample_type=patient"))
    assert data["isEditing"] is True
    assert data["files"][0]["id"] == world.sample_a.id and data["files"][0]["filename"] == "a.fa"
    assert data["sets"] == [{"type": "patient", "id": f":p Dupont Jeanne (1961-04-12) ({world.set_a.id})"}]
    assert data["pre_process_list"][0] == {"id": world.pair_pre_process.id, "name": "merge pairs", "file": 2,
                                           "info": "merge R1/R2"}
    assert data["source_module_active"] is True and data["network_source"] is False
    assert set(data) >= {"group_ids", "upload_group_ids", "sample_type", "errors"}
    assert not any(k.startswith("_") for k in data)


def test_add_form_without_network_storage_offers_the_computer_only(world, as_user):
    app = as_user(world.alice)
    app.app.registry.settings["vidjil.file_source"] = ""
    page = soup(app.post(f"/vidjil/file/form?sample_set_id={world.set_a.id}"))
    assert page.select_one("#source_computer").has_attr("checked")
    assert not page.select_one("#source_nfs")
    assert not page.select_one("#jstree_loader").has_attr("onload")


def test_admin_sees_the_form_of_any_set(world, as_user):
    response = as_user(world.admin).post(f"/vidjil/file/form?sample_set_id={world.set_b.id}")
    assert "upload_sample_form" in response.text


def test_anonymous_is_sent_to_login(world, as_user):
    response = as_user(None).post(f"/vidjil/file/form?sample_set_id={world.set_a.id}")
    assert "default/user/login" in jtext(response)["redirect"]


@pytest.mark.parametrize("query,message", [
    ("sample_set_id={set_b}", "you don't have right to upload files"),
    ("file_id={sample_b}&sample_type=patient", "you need admin permission to edit files"),
    ("sample_set_id=999999", "you don't have right to upload files"),
    ("", "missing sample_set or file id"),
    ("sample_set_id=1');alert(1)//", "you don't have right to upload files"),
])
def test_refusals(world, as_user, query, message):
    app = as_user(world.alice)
    response = app.post("/vidjil/file/form?" + query.format(set_b=world.set_b.id, sample_b=world.sample_b.id))
    assert jtext(response) == {"message": message}


def test_reader_may_not_add_or_edit(world, as_user):
    app = as_user(world.reader)
    assert "message" in jtext(app.post(f"/vidjil/file/form?sample_set_id={world.set_a.id}"))
    assert "message" in jtext(app.post(f"/vidjil/file/form?file_id={world.sample_a.id}"))


def test_user_text_shows_as_typed_w24(world, as_user):
    """Info, names with markup, quotes and non-ASCII are escaped in the fragment (W24)."""
    world.sample_a.info = 'x"><script>alert(1)</script> été'
    world.patient_a.last_name = "<b>O'Brien\"</b>"
    world.db.flush()
    response = as_user(world.alice).post(f"/vidjil/file/form?file_id={world.sample_a.id}&sample_type=patient")
    assert "<script>alert(1)" not in response.text and "<b>O'Brien" not in response.text
    page = soup(response)
    assert page.select_one("#file_info_0")["value"] == 'x"><script>alert(1)</script> été'
    assert page.select_one("#set_div span.set_token")["data-set-id"].startswith(":p <b>O'Brien\"</b> Jeanne")


def test_no_request_parameter_reaches_inline_javascript_w25(world, as_user):
    """Only server-made integers and JSON appear in event handlers (W25)."""
    payload = "');alert(1);//"
    response = as_user(world.alice).post(f"/vidjil/file/form?sample_set_id={world.set_a.id}&sample_type={payload}")
    handlers = " ".join(value for value in re.findall(r'on\w+="([^"]*)"', response.text))
    assert "alert(1)" not in handlers


def test_edit_form_keeps_only_a_known_sample_type(world, as_user):
    page = soup(as_user(world.alice).post(f"/vidjil/file/form?file_id={world.sample_a.id}",
                                          {"sample_type": '"><script>alert(1)</script>'}))
    assert page.select_one("#sample_type")["value"] == "patient"
