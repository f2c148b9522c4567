"""`sample_set/confirm` + `delete`, `sample_set/permission` + `change_permission`."""
from __future__ import annotations

import pathlib

from bs4 import BeautifulSoup
from factories import make_set
from sample_set_world import NASTY_LAST, body
from sqlalchemy import select

from vidjil_pyramid.auth.models import Permission
from vidjil_pyramid.files.models import SampleSetMembership, SequenceFile
from vidjil_pyramid.results.models import FusedFile, ResultsFile
from vidjil_pyramid.sample_sets.models import Patient, SampleSet, TagRef


def test_confirm_says_what_will_go(world, as_user):
    page = as_user(world.alice).post("/vidjil/sample_set/confirm", {"id": world.patient_a.id})
    soup = BeautifulSoup(page.text, "html.parser")
    assert soup.select_one("#delete_button")["onclick"] == f"db.call('sample_set/delete', {{'id': '{world.patient_a.id}'}})"
    assert soup.select_one("#cancel_button")["onclick"] == f"db.call('sample_set/index', {{'id': '{world.patient_a.id}'}})"
    text = soup.get_text(" ")
    assert "1 sample(s) found in no other set" in text and "1 result file(s)" in text
    assert "1 sample(s) also in other sets are kept" in text
    assert NASTY_LAST in text and soup.find("script") is None


def test_delete_removes_the_set_its_own_samples_and_their_results_only(world, as_user):
    db = world.db
    set_id = world.patient_a.id
    own_id, shared_id = world.own_file.id, world.shared_file.id
    own_result_id, shared_result_id = world.own_result.id, world.shared_result.id
    detail_id = world.patient_a_detail.id
    response = as_user(world.alice).get(f"/vidjil/sample_set/delete?id={set_id}&format=json")
    assert body(response) == {"redirect": "sample_set/all", "args": {"type": "patient", "page": 0},
                              "success": "true", "message": f"sample set ({set_id}) deleted"}
    db.expire_all()
    assert db.get(SampleSet, set_id) is None and db.get(Patient, detail_id) is None
    assert db.get(SequenceFile, own_id) is None and db.get(ResultsFile, own_result_id) is None
    # the sample shared with the run stays, with its result and its run membership
    assert db.get(SequenceFile, shared_id) is not None and db.get(ResultsFile, shared_result_id) is not None
    memberships = set(db.scalars(select(SampleSetMembership.sample_set_id)
                                 .where(SampleSetMembership.sequence_file_id == shared_id)))
    assert memberships == {world.run_a.id}
    assert db.scalars(select(Permission).where(Permission.table_name == "sample_set",
                                               Permission.record_id == set_id)).all() == []
    assert db.scalars(select(TagRef).where(TagRef.table_name == "patient", TagRef.record_id == detail_id)).all() == []
    assert db.get(FusedFile, world.fused.id).sample_set_id is None
    # files on disk are kept
    assert (pathlib.Path(world.results_dir) / world.own_result.data_file).exists()
    # the run page still works and no longer lists the patient
    data = as_user(world.alice).get(f"/vidjil/sample_set/index.json?id={world.run_a.id}").json
    assert [row["list_share_set"] for row in data["query"]] == [[]]


def test_a_deleted_id_reused_by_a_new_set_grants_nothing_to_the_old_groups(world, as_user):
    """Access rows die with their set, so a new set that gets the same id is not shared by accident."""
    db = world.db
    victim, _ = make_set(db, "generic", groups=[world.lab_a], name="to delete")
    victim_id = victim.id
    as_user(world.alice).post(f"/vidjil/sample_set/delete?id={victim_id}")
    db.expire_all()
    reborn = SampleSet(id=victim_id, sample_type="generic")
    db.add(reborn)
    db.flush()
    perms = db.scalars(select(Permission).where(Permission.record_id == victim_id,
                                                Permission.table_name == "sample_set")).all()
    assert perms == []


def test_delete_refusals(world, as_user, anonymous):
    set_id = world.patient_a.id
    assert "redirect" in body(anonymous.post(f"/vidjil/sample_set/delete?id={set_id}"))
    for user in (world.bob, world.reader):
        app = as_user(user)
        assert body(app.post(f"/vidjil/sample_set/confirm?id={set_id}")) == {"message": "access denied"}
        assert body(app.post(f"/vidjil/sample_set/delete?id={set_id}")) == {"message": "access denied"}
    assert world.db.get(SampleSet, set_id) is not None


def test_w23_cross_site_deletion_is_refused(world, as_user):
    """W23: a link or form on another site cannot delete a set, even by GET."""
    app = as_user(world.alice)
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Referer": "https://evil.example/page"}):
        response = app.get(f"/vidjil/sample_set/delete?id={world.patient_a.id}", headers=headers, status=403)
        assert body(response)["success"] == "false"
    assert world.db.get(SampleSet, world.patient_a.id) is not None


def test_permission_page_lists_groups_and_their_access(world, as_user):
    page = as_user(world.alice).post("/vidjil/sample_set/permission", {"id": world.patient_a.id})
    soup = BeautifulSoup(page.text, "html.parser")
    boxes = {int(b["id"].rsplit("_", 1)[1]): b for b in soup.select("input[type=checkbox][id^=permission_checkbox_]")}
    assert boxes[world.lab_a.id].has_attr("checked") and boxes[world.readers.id].has_attr("checked")
    assert boxes[world.lab_a.id]["onclick"] == (f"db.call('sample_set/change_permission', {{'sample_set_id': "
                                                f"'{world.patient_a.id}', 'group_id': '{world.lab_a.id}'}})")
    # a non-admin sees their own groups and the groups sharing the set, not every lab (W11)
    assert world.lab_b.id not in boxes
    admin_page = as_user(world.admin).post("/vidjil/sample_set/permission", {"id": world.patient_a.id})
    admin_boxes = BeautifulSoup(admin_page.text, "html.parser").select("input[id^=permission_checkbox_]")
    assert f"permission_checkbox_{world.lab_b.id}" in {b["id"] for b in admin_boxes}
    owners = [td.text for td in BeautifulSoup(admin_page.text, "html.parser").select("tbody td:nth-of-type(2)")]
    assert "Alice Martin" in owners  # personal groups show their user


def test_change_permission_toggles_access(world, as_user):
    db = world.db
    app = as_user(world.admin)
    url = f"/vidjil/sample_set/change_permission?sample_set_id={world.patient_a.id}&group_id={world.lab_b.id}"
    assert body(app.post(url)) == {"message": "access 'access' granted to 'lab-b'"}
    bob_sees = {r["sample_set_id"] for r in as_user(world.bob).get("/vidjil/sample_set/all.json?type=patient").json["query"]}
    assert world.patient_a.id in bob_sees
    assert body(as_user(world.admin).post(url)) == {"message": "access 'access' deleted to 'lab-b'"}
    assert db.scalars(select(Permission).where(Permission.group_id == world.lab_b.id,
                                               Permission.record_id == world.patient_a.id)).all() == []


def test_change_permission_refusals(world, as_user, anonymous):
    url = f"/vidjil/sample_set/change_permission?sample_set_id={world.patient_a.id}&group_id={world.lab_b.id}"
    assert "redirect" in body(anonymous.post(url))
    assert body(as_user(world.bob).post(url)) == {"message": "access denied"}
    # alice may share her set only with groups she knows, not with any lab of the server
    assert body(as_user(world.alice).post(url)) == {"message": "access denied"}
    assert body(as_user(world.alice).post(f"/vidjil/sample_set/change_permission?sample_set_id={world.patient_a.id}")) \
        == {"message": "incomplete request : missing group_id, "}
    assert body(as_user(world.alice).post(f"/vidjil/sample_set/permission?id={world.patient_b.id}")) == {"message": "access denied"}
    response = as_user(world.alice).post(url, headers={"Origin": "https://evil.example"}, status=403)
    assert body(response)["success"] == "false"


def test_w24_group_names_in_messages_are_escaped(world, as_user):
    """W24: the browser shows messages as HTML; a group name cannot inject markup."""
    world.lab_a.role = "<img src=x onerror=alert(1)>"
    world.db.flush()
    url = f"/vidjil/sample_set/change_permission?sample_set_id={world.patient_a.id}&group_id={world.lab_a.id}"
    message = body(as_user(world.admin).post(url))["message"]
    assert "<img" not in message and "&lt;img" in message
