"""`group/*`: admins manage every group; a user manages only groups they were made owner of (W12)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from admin_helpers import asks_login, denied, submit
from factories import make_group
from vidjil_pyramid.auth.models import Group, GroupAssoc, Membership, Permission


def rows(db, group_id: int, **where) -> set[tuple]:
    query = select(Permission.name, Permission.table_name, Permission.record_id).where(Permission.group_id == group_id)
    for key, value in where.items():
        query = query.where(getattr(Permission, key) == value)
    return set(db.execute(query).all())


def members(db, group_id: int) -> set[int]:
    return set(db.scalars(select(Membership.user_id).where(Membership.group_id == group_id)))


def add_group(testapp, name, parent="None", info=""):
    return submit(testapp, "/vidjil/group/add", "/vidjil/group/add_form",
                  {"group_name": name, "group_parent": parent, "info": info})


@pytest.fixture
def alice_owns_lab(as_admin, alice, lab):
    response = as_admin.post(f"/vidjil/group/change_permission?group_id={lab.id}&user_id={alice.id}")
    assert response.json_body["message"] == f"user '{alice.id}' is now owner of the group '{lab.id}'"
    as_admin.post("/vidjil/auth/logout")
    return lab


def test_admin_group_list_has_the_hooks_the_browser_binds(as_admin, lab, alice, initial_data):
    child = make_group(initial_data, "mrd-team", rights=("read", "run"), parent=lab)
    html = as_admin.post("/vidjil/group/index").html
    assert html.find("h3", id="page_group") is not None and html.find(id="group_check_all") is not None
    row = html.find("tr", id=f"row_group_{lab.id}")
    assert row["onclick"] == f"db.call('group/info', {{'id': '{lab.id}'}});"
    assert row.find("input", attrs={"name": "group_ids[]"})["value"] == str(lab.id)
    assert html.find(id=f"col_role_{lab.id}").text.strip() == "hematology-lab"
    assert html.find(id=f"col_count_{lab.id}").text.strip() == "1"
    assert html.find(id=f"col_access_{lab.id}").text.split("//")[0].strip() == "ecsu"  # admin create save upload
    assert html.find(id=f"col_access_{child.id}").text.split("//")[0].strip() == "r"
    assert html.find(id=f"col_parent_{child.id}").text.strip() == str(lab.id)
    for cell in ("col_grpSelect", "col_stats", "col_permission", "col_edit", "col_delete"):
        assert html.find(id=f"{cell}_{lab.id}") is not None, cell
    assert html.find(id="new_group_button") is not None


def test_group_list_json_for_the_api(as_admin, lab):
    data = as_admin.get("/vidjil/group/index.json").json_body
    assert data["message"] == "Groups"
    row = next(r for r in data["query"] if r["id"] == lab.id)
    assert row == {"id": lab.id, "role": "hematology-lab", "description": "test group", "count": 0,
                   "access": "ecsu", "parents": ""}


def test_group_pages_are_closed_to_users_who_manage_no_group(as_alice, lab, dbsession):
    """W12: the original showed every group, and the add form, to any logged-in user."""
    before = dbsession.scalar(select(Group.id).order_by(Group.id.desc()).limit(1))
    assert denied(as_alice.post("/vidjil/group/index"))
    assert denied(as_alice.post("/vidjil/group/add"))
    assert denied(as_alice.post("/vidjil/group/add_form?group_name=mine&group_parent=None"))
    for url in ("info", "edit", "confirm", "delete"):
        assert denied(as_alice.post(f"/vidjil/group/{url}?id={lab.id}")), url
    assert dbsession.scalar(select(Group.id).order_by(Group.id.desc()).limit(1)) == before


def test_anonymous_group_pages_ask_for_a_login(testapp, lab):
    """The original crashed with a 500 (transcript unauthorized-group-index-anonymous)."""
    for url in ("/vidjil/group/index", "/vidjil/group/add", f"/vidjil/group/info?id={lab.id}"):
        assert asks_login(testapp.post(url)), url


def test_owners_manage_their_group_and_only_it(testapp, alice, bob, alice_owns_lab, initial_data, dbsession):
    other = make_group(initial_data, "other-lab", rights=("read",))
    from webclient import login

    login(testapp, alice.email, "Secret-123")
    html = testapp.post("/vidjil/group/index").html
    assert [tr["id"] for tr in html.find_all("tr", id=True)] == [f"row_group_{alice_owns_lab.id}"]
    assert html.find(id="new_group_button") is None
    info = testapp.post(f"/vidjil/group/info?id={alice_owns_lab.id}").html
    assert info.find("select", id="select_user") is not None
    assert info.find(id="group_right_create").has_attr("disabled")  # rights stay with admins

    response = testapp.post(f"/vidjil/group/invite?group_id={alice_owns_lab.id}&user_id={bob.id}")
    assert response.json_body == {"redirect": "group/info", "args": {"id": alice_owns_lab.id},
                                  "message": f"user '{bob.id}' added to group '{alice_owns_lab.id}'"}
    assert bob.id in members(dbsession, alice_owns_lab.id)
    testapp.post(f"/vidjil/group/kick?group_id={alice_owns_lab.id}&user_id={bob.id}")
    assert bob.id not in members(dbsession, alice_owns_lab.id)

    assert denied(testapp.post(f"/vidjil/group/invite?group_id={other.id}&user_id={bob.id}"))
    assert denied(testapp.post(f"/vidjil/group/info?id={other.id}"))
    assert denied(testapp.post(f"/vidjil/group/rights?id={alice_owns_lab.id}&right=run&value=true&name=sample_set"))
    assert bob.id not in members(dbsession, other.id)


def test_ownership_rows_and_their_removal(as_admin, alice, lab, dbsession):
    personal = dbsession.scalar(select(Group.id).where(Group.role == "user_%04d" % alice.id))
    as_admin.post(f"/vidjil/group/change_permission?group_id={lab.id}&user_id={alice.id}")
    assert {("admin", "auth_group", lab.id), ("access", "auth_group", lab.id)} <= rows(dbsession, personal)
    info = as_admin.post(f"/vidjil/group/info?id={lab.id}").html
    assert info.find("tr", id=f"member_{alice.id}").find_all("td")[3].text == "owner"
    response = as_admin.post(f"/vidjil/group/remove_permission?group_id={lab.id}&user_id={alice.id}")
    assert response.json_body["message"] == f"user '{alice.id}' is not anymore owner of the group '{lab.id}'"
    assert not rows(dbsession, personal, table_name="auth_group")


def test_renaming_a_group_to_a_meaningful_name_is_refused(testapp, alice, alice_owns_lab, dbsession):
    """W12: a manager renaming their group `admin` would make its members administrators."""
    from webclient import login

    login(testapp, alice.email, "Secret-123")
    for name in ("admin", "Public", "user_0001", "user_7"):
        response = submit(testapp, "/vidjil/group/edit", "/vidjil/group/edit_form",
                          {"id": alice_owns_lab.id, "group_name": name, "info": ""}, {"id": alice_owns_lab.id})
        assert response.json_body["success"] == "false" and "reserved" in response.json_body["message"], name
    dbsession.refresh(alice_owns_lab)
    assert alice_owns_lab.role == "hematology-lab"
    assert testapp.get("/vidjil/default/whoami").json_body["admin"] is False


def test_admin_creates_a_group_with_the_default_rights(as_admin, admin, dbsession):
    response = add_group(as_admin, "new-lab", info="Lab #2")
    group = dbsession.scalar(select(Group).where(Group.role == "new-lab"))
    assert response.json_body == {"redirect": "group/index", "message": f"group '{group.id}' (new-lab) created"}
    assert group.description == "Lab #2"
    assert members(dbsession, group.id) == {admin.id}
    assert rows(dbsession, group.id) == {(r, "sample_set", 0) for r in ("create", "read", "admin", "upload", "save")}


def test_a_child_of_a_child_is_attached_to_the_top_group(as_admin, lab, initial_data, dbsession):
    child = make_group(initial_data, "lab-child", parent=lab)
    add_group(as_admin, "grand-child", parent=str(child.id))
    group = dbsession.scalar(select(Group).where(Group.role == "grand-child"))
    parents = set(dbsession.scalars(select(GroupAssoc.first_group_id).where(GroupAssoc.second_group_id == group.id)))
    assert parents == {lab.id}
    assert ("admin", "auth_group", group.id) in rows(dbsession, lab.id)


@pytest.mark.parametrize("name, error", [
    ("", "group name needed"), ("admin", "reserved"), ("user_0042", "reserved"),
    ("hematology-lab", "already exists"),
])
def test_invalid_group_names_are_refused(as_admin, lab, dbsession, name, error):
    count = len(dbsession.scalars(select(Group.id)).all())
    response = add_group(as_admin, name)
    assert response.json_body["success"] == "false" and error in response.json_body["message"]
    assert len(dbsession.scalars(select(Group.id)).all()) == count


def test_group_names_are_escaped_in_messages_and_pages(as_admin):
    """W24: group names travel in flash messages the browser renders as HTML."""
    response = add_group(as_admin, "<b>lab</b>")
    assert "<b>" not in response.json_body["message"] and "&lt;b&gt;lab&lt;/b&gt;" in response.json_body["message"]
    assert "<b>lab</b>" not in as_admin.post("/vidjil/group/index").text


def test_admin_edits_a_group(as_admin, lab, dbsession):
    form = as_admin.post(f"/vidjil/group/edit?id={lab.id}").html.find("form", id="data_form")
    assert form["action"] == "DB_ADDRESS/group/edit_form" and form.find(id="group_id")["value"] == str(lab.id)
    response = submit(as_admin, "/vidjil/group/edit", "/vidjil/group/edit_form",
                      {"id": lab.id, "group_name": "hemato", "info": "renamed"}, {"id": lab.id})
    assert response.json_body == {"redirect": "group/index", "message": f"group '{lab.id}' modified"}
    dbsession.refresh(lab)
    assert (lab.role, lab.description) == ("hemato", "renamed")


def test_special_groups_keep_their_role_and_cannot_be_deleted(as_admin, admin, dbsession):
    public = dbsession.scalar(select(Group).where(Group.role == "public"))
    response = submit(as_admin, "/vidjil/group/edit", "/vidjil/group/edit_form",
                      {"id": public.id, "group_name": "everyone", "info": "all of us"}, {"id": public.id})
    assert "cannot be renamed" in response.json_body["message"]
    assert as_admin.post(f"/vidjil/group/delete?id={public.id}").json_body["success"] == "false"
    assert dbsession.get(Group, public.id) is not None


def test_deleting_a_group_removes_everything_about_it(as_admin, alice, lab, initial_data, dbsession):
    child = make_group(initial_data, "lab-child", parent=lab)
    as_admin.post(f"/vidjil/group/change_permission?group_id={lab.id}&user_id={alice.id}")
    page = as_admin.post(f"/vidjil/group/confirm?id={lab.id}").html
    assert f"'{lab.id}'" in page.find(id="delete_group_confirm_btn")["onclick"]
    response = as_admin.post(f"/vidjil/group/delete?id={lab.id}")
    assert response.json_body == {"redirect": "group/index", "message": f"group '{lab.id}' deleted"}
    dbsession.expire_all()
    assert dbsession.get(Group, lab.id) is None
    assert not members(dbsession, lab.id)
    assert not dbsession.scalars(select(Permission).where(
        (Permission.group_id == lab.id) | ((Permission.table_name == "auth_group") & (Permission.record_id == lab.id)))
    ).all()
    assert not dbsession.scalars(select(GroupAssoc).where(GroupAssoc.first_group_id == lab.id)).all()
    assert dbsession.get(Group, child.id) is not None


def test_group_deletion_from_another_site_is_refused(as_admin, lab, dbsession):
    """W23: a forged cross-site request deletes nothing."""
    as_admin.post(f"/vidjil/group/delete?id={lab.id}", headers={"Origin": "https://evil.example"}, status=403)
    assert dbsession.get(Group, lab.id) is not None


def test_admin_toggles_sample_set_rights(as_admin, lab, dbsession):
    info = as_admin.post(f"/vidjil/group/info?id={lab.id}").html
    box = info.find("input", id="group_right_run")
    assert "db.group_rights(this.checked, this.name, 'run'" in box["onclick"] and not box.has_attr("checked")
    assert info.find("input", id="group_right_create").has_attr("checked")
    response = as_admin.post(f"/vidjil/group/rights?id={lab.id}&value=true&right=run&name=sample_set")
    assert response.json_body == {"redirect": "group/info", "args": {"id": lab.id},
                                  "message": "add 'run' permission on 'sample_set' for group hematology-lab"}
    assert ("run", "sample_set", 0) in rows(dbsession, lab.id)
    as_admin.post(f"/vidjil/group/rights?id={lab.id}&value=false&right=create&name=sample_set")
    assert ("create", "sample_set", 0) not in rows(dbsession, lab.id)
    assert as_admin.post(f"/vidjil/group/rights?id={lab.id}&value=true&right=impersonate").json_body["success"] == "false"
    assert ("impersonate", "sample_set", 0) not in rows(dbsession, lab.id)


def test_the_admin_group_keeps_a_member(as_admin, admin, dbsession):
    admin_group = dbsession.scalar(select(Group).where(Group.role == "admin"))
    response = as_admin.post(f"/vidjil/group/kick?group_id={admin_group.id}&user_id={admin.id}")
    assert "at least one member" in response.json_body["message"]
    assert admin.id in members(dbsession, admin_group.id)


def test_invite_needs_an_existing_user(as_admin, lab, dbsession):
    assert as_admin.post(f"/vidjil/group/invite?group_id={lab.id}&user_id=99999").json_body["success"] == "false"
    assert as_admin.post(f"/vidjil/group/invite?group_id={lab.id}").json_body["success"] == "false"
    assert 99999 not in members(dbsession, lab.id)
