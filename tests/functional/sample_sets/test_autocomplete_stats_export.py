"""`sample_set/auto_complete`, `tag/auto_complete` (W5), `sample_set/stats`, `sample_set/result_files`."""
from __future__ import annotations

import io
import json
import zipfile

from bs4 import BeautifulSoup
from factories import make_set
from sample_set_world import NASTY_FIRST, NASTY_LAST, body
from sqlalchemy import select

from vidjil_pyramid.auth.models import Group
from vidjil_pyramid.sample_sets.tags import register_tags


def picker(app, text):
    return body(app.post("/vidjil/sample_set/auto_complete", {"keys": json.dumps([text])}))


def test_set_picker_lists_modifiable_sets_as_id_strings(world, as_user):
    app = as_user(world.alice)
    data = picker(app, "")
    assert list(data) == [""]
    entries = {e["id"]: e for e in data[""]}
    assert set(entries) == {world.patient_a.id, world.run_a.id, world.generic_a.id}
    assert entries[world.patient_a.id] == {
        "name": f":p {NASTY_LAST} {NASTY_FIRST} (1970-01-02) ({world.patient_a.id})",
        "id": world.patient_a.id, "type": "patient"}
    assert entries[world.run_a.id]["name"] == f":r RUN-A (2024-01-02) ({world.run_a.id})"
    assert entries[world.generic_a.id]["name"] == f":s Set A ({world.generic_a.id})"
    assert {e["id"] for e in picker(app, "RUN")["RUN"]} == {world.run_a.id}
    assert {e["id"] for e in picker(app, "Ñuñ")["Ñuñ"]} == {world.patient_a.id}


def test_set_picker_never_offers_other_labs_nor_read_only_sets(world, as_user):
    assert all(e["id"] != world.patient_b.id for e in picker(as_user(world.alice), "Lambert")["Lambert"])
    assert picker(as_user(world.reader), "") == {"": []}  # readers cannot put samples in the set


def test_set_picker_caps_empty_queries_and_errors(world, as_user, anonymous):
    for n in range(12):
        make_set(world.db, "generic", groups=[world.lab_a], name=f"many {n}")
    app = as_user(world.alice)
    generics = [e for e in picker(app, "")[""] if e["type"] == "generic"]
    assert len(generics) == 10
    assert body(app.post("/vidjil/sample_set/auto_complete")) == {"success": "false", "message": "missing group ids"}
    assert body(app.post("/vidjil/sample_set/auto_complete", {"keys": "not json"}))["success"] == "false"
    assert "redirect" in body(anonymous.post("/vidjil/sample_set/auto_complete", {"keys": '[""]'}))


def test_tag_autocomplete_gives_own_groups_and_public_tags(world, as_user):
    app = as_user(world.alice)
    data = body(app.post("/vidjil/tag/auto_complete", {"keys": json.dumps([world.lab_a.id])}))
    names = {t["name"] for t in data[str(world.lab_a.id)]}
    assert "MRD" in names and "TRG" in names  # lab tag + a public tag
    assert all(set(t) == {"id", "name"} for t in data[str(world.lab_a.id)])


def test_w5_tag_autocomplete_refuses_other_groups(world, as_user, anonymous):
    """W5: the tags of a group the caller is not in are never returned."""
    register_tags(world.db, "#bob-secret-tag", "patient", world.patient_b_detail.id, world.lab_b.id)
    app = as_user(world.alice)
    data = body(app.post("/vidjil/tag/auto_complete", {"keys": json.dumps([world.lab_b.id, str(world.lab_a.id)])}))
    assert str(world.lab_b.id) not in data and str(world.lab_a.id) in data
    assert "bob-secret-tag" not in json.dumps(data)
    admin_data = body(as_user(world.admin).post("/vidjil/tag/auto_complete", {"keys": json.dumps([world.lab_b.id])}))
    assert "bob-secret-tag" in {t["name"] for t in admin_data[str(world.lab_b.id)]}
    assert "redirect" in body(anonymous.post("/vidjil/tag/auto_complete", {"keys": "[1]"}))
    assert body(as_user(world.alice).post("/vidjil/tag/auto_complete"))["message"] == "missing group ids"


def test_stats_page(world, as_user, anonymous):
    app = as_user(world.alice)
    page = app.post("/vidjil/sample_set/stats", {"type": "patient", "filter": ""})
    soup = BeautifulSoup(page.text, "html.parser")
    boxes = [b["value"] for b in soup.select("input[type=checkbox][name='sample_set_ids[]']")]
    assert boxes == [str(world.patient_a.id)]
    assert soup.select_one("select#choose_config")["onchange"] == "db.updateStatsButton()"
    assert soup.select_one("input#select_check")["onclick"] == "db.updateStatsSelection(this);"
    assert soup.select_one("a#stats_button") is not None and soup.find("script") is None
    assert "redirect" in body(anonymous.post("/vidjil/sample_set/stats?type=patient"))


def test_result_files_zip(world, as_user):
    app = as_user(world.alice)
    response = app.get(f"/vidjil/sample_set/result_files?config_id={world.config.id}"
                       f"&sample_set_ids={world.patient_a.id}&sample_set_ids={world.run_a.id}")
    assert response.content_type == "application/zip"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="export_{world.patient_a.id}-{world.run_a.id}_')
    archive = zipfile.ZipFile(io.BytesIO(response.body))
    names = set(archive.namelist())
    assert names == {world.shared_result.data_file, world.own_result.data_file, "metadata.json"}
    assert archive.read(world.shared_result.data_file) == b'{"reads": {}}'
    metadata = json.loads(archive.read("metadata.json"))
    assert {(m["id"], m["file"]) for m in metadata} == {
        (world.patient_a.id, world.shared_result.data_file), (world.patient_a.id, world.own_result.data_file),
        (world.run_a.id, world.shared_result.data_file)}
    entry = next(m for m in metadata if m["id"] == world.run_a.id)
    assert entry == {"id": world.run_a.id, "name": "RUN-A", "file": world.shared_result.data_file,
                     "set_info": "first run #TRG", "sample_info": "diag #diagnosis", "sequence_file": "shared.fa"}


def test_result_files_for_all_configs_and_missing_files(world, as_user):
    (__import__("pathlib").Path(world.results_dir) / world.own_result.data_file).unlink()
    response = as_user(world.alice).get(f"/vidjil/sample_set/result_files?config_id=-1&sample_set_ids={world.patient_a.id}")
    archive = zipfile.ZipFile(io.BytesIO(response.body))
    assert set(archive.namelist()) == {world.shared_result.data_file, "metadata.json"}
    metadata = json.loads(archive.read("metadata.json"))
    assert [m.get("missing") for m in metadata if m["file"] == world.own_result.data_file] == [True]


def test_result_files_checks_every_set(world, as_user, anonymous):
    """Every id is checked: one set of another lab among yours refuses the whole export."""
    expected = {"message": "You don't have permissions to access those sample sets"}
    app = as_user(world.alice)
    mixed = app.get(f"/vidjil/sample_set/result_files?config_id=-1&sample_set_ids={world.patient_a.id}"
                    f"&sample_set_ids={world.patient_b.id}")
    assert body(mixed) == expected
    assert body(app.get("/vidjil/sample_set/result_files?config_id=-1&sample_set_ids=abc")) == expected
    assert body(app.get("/vidjil/sample_set/result_files?config_id=-1")) == expected
    assert body(app.get(f"/vidjil/sample_set/result_files?config_id=x&sample_set_ids={world.patient_a.id}"))["success"] == "false"
    assert "redirect" in body(anonymous.get(f"/vidjil/sample_set/result_files?sample_set_ids={world.patient_a.id}"))


def test_admin_group_is_never_offered_for_sharing(world, as_user):
    admin_group = world.db.scalar(select(Group.id).where(Group.role == "admin"))
    page = as_user(world.admin).post("/vidjil/sample_set/permission", {"id": world.patient_a.id})
    assert f"permission_checkbox_{admin_group}\"" not in page.text
    url = f"/vidjil/sample_set/change_permission?sample_set_id={world.patient_a.id}&group_id={admin_group}"
    assert body(as_user(world.admin).post(url)) == {"message": "access denied"}
