"""`user/index|edit|edit_form|info`: admins see every account, users only their own (W11),
own password changes need the current password and 8 characters (W29)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from admin_helpers import asks_login, denied, submit
from vidjil_pyramid.auth import passwords
from vidjil_pyramid.auth.models import AuthEvent, WebSession
from webclient import login

NEW_PASSWORD = "Another-pass-42"


def edit(testapp, user, **fields):
    data = {"id": user.id, "first_name": user.first_name, "last_name": user.last_name, "email": user.email,
            "password": "", "confirm_password": "", **fields}
    return submit(testapp, "/vidjil/user/edit", "/vidjil/user/edit_form", data, {"id": user.id})


def test_admin_lists_every_account_with_the_hooks_the_browser_binds(as_admin, admin, alice, bob):
    html = as_admin.post("/vidjil/user/index").html
    assert html.find("h3", id="page_user") is not None
    table = html.find("table", id="table_users")
    for user in (admin, alice, bob):
        assert user.email in table.text
        assert html.find(id=f"impersonate_btn_{user.id}") is not None
        assert html.find(id=f"user_line_{user.id}")["onclick"] == f"db.call('user/info', {{'id': '{user.id}'}});"
    assert "default/user/register" in html.find(id="create_user_button")["onclick"]


def test_user_list_json_carries_no_secret(as_admin, alice):
    """W26: what the API client gets of the accounts holds no hash nor reset key."""
    data = as_admin.get("/vidjil/user/index.json").json_body
    row = next(r for r in data["query"] if r["id"] == alice.id)
    assert row["email"] == alice.email and row["access"] == "c"
    assert not {"password", "reset_password_key", "registration_key"} & set(row)
    assert "argon2" not in as_admin.get("/vidjil/user/index.json").text


def test_user_list_sorts_by_files_patients_and_login(as_admin, alice, bob):
    for sort in ("files", "patients", "login", "id", "nonsense"):
        response = as_admin.post(f"/vidjil/user/index?sort={sort}&reverse=true")
        assert response.html.find("table", id="table_users") is not None


def test_user_list_is_for_admins_only(testapp, as_alice):
    """W11: the original showed every account's name and e-mail to any logged-in user."""
    assert denied(as_alice.post("/vidjil/user/index"))
    assert denied(as_alice.get("/vidjil/user/index.json"))


def test_anonymous_visitors_are_sent_to_the_login_page(testapp, alice):
    for url in ("/vidjil/user/index", f"/vidjil/user/info?id={alice.id}", f"/vidjil/user/edit?id={alice.id}"):
        assert asks_login(testapp.post(url)), url


def test_users_see_only_their_own_account_page(as_alice, alice, bob, lab):
    """W11: `user/info` of another account is refused; without id it is one's own."""
    assert denied(as_alice.post(f"/vidjil/user/info?id={bob.id}"))
    for url in (f"/vidjil/user/info?id={alice.id}", "/vidjil/user/info"):
        html = as_alice.post(url).html
        assert "Alice Martin" in html.find("h3", id="user_info").text
        assert html.find(id=f"user_group_{lab.id}").text.split() == ["hematology-lab", "member"]


def test_admin_sees_any_account_page(as_admin, bob):
    assert "Bob Durand" in as_admin.post(f"/vidjil/user/info?id={bob.id}").html.find(id="user_info").text
    assert denied(as_admin.post("/vidjil/user/info?id=99999"))


def test_edit_form_of_another_account_is_refused(as_alice, alice, bob):
    assert denied(as_alice.post(f"/vidjil/user/edit?id={bob.id}"))
    page = as_alice.post(f"/vidjil/user/edit?id={alice.id}")
    response = as_alice.post("/vidjil/user/edit_form", {
        "id": bob.id, "first_name": "Mallory", "last_name": "X", "email": "m@x.test",
        "_formkey": page.html.find("input", attrs={"name": "_formkey"})["value"]})
    assert denied(response)
    assert bob.first_name == "Bob"


def test_own_edit_form_asks_for_the_current_password(as_alice, alice):
    html = as_alice.post(f"/vidjil/user/edit?id={alice.id}").html
    form = html.find("form", id="data_form")
    assert form["action"] == "DB_ADDRESS/user/edit_form"
    for field in ("user_id", "first_name", "last_name", "email", "password", "confirm_password", "current_password"):
        assert form.find(id=field) is not None, field


def test_user_edits_names_and_email(as_alice, alice, dbsession):
    response = edit(as_alice, alice, first_name="Alicia", email="Alicia@Lab.test")
    assert response.json_body == {"redirect": "back", "message": f"alicia@lab.test ({alice.id}) user edited"}
    dbsession.refresh(alice)
    assert (alice.first_name, alice.email) == ("Alicia", "alicia@lab.test")


@pytest.mark.parametrize("fields, error", [
    ({"first_name": ""}, "first name needed"),
    ({"email": "not-an-address"}, "incorrect email format"),
    ({"email": "bob@other.test"}, "another account already uses this email"),
    ({"password": NEW_PASSWORD, "confirm_password": "something else", "current_password": "Secret-123"},
     "password fields must match"),
])
def test_invalid_profiles_are_refused_and_nothing_changes(as_alice, alice, bob, dbsession, fields, error):
    response = edit(as_alice, alice, **fields)
    assert response.json_body["success"] == "false" and error in response.json_body["message"]
    dbsession.refresh(alice)
    assert (alice.first_name, alice.email) == ("Alice", "alice@lab.test")


def test_changing_ones_own_password_needs_the_current_one(as_alice, alice, dbsession):
    """W29: the original changed the password of whoever held the session, without asking."""
    before = alice.password
    for current in ("", "wrong-password"):
        response = edit(as_alice, alice, password=NEW_PASSWORD, confirm_password=NEW_PASSWORD, current_password=current)
        assert response.json_body["success"] == "false"
        assert "current password" in response.json_body["message"]
    dbsession.refresh(alice)
    assert alice.password == before


def test_new_passwords_have_at_least_8_characters(as_alice, alice, dbsession):
    """W29: the original accepted 6 characters."""
    before = alice.password
    response = edit(as_alice, alice, password="Short7!", confirm_password="Short7!", current_password="Secret-123")
    assert "at least 8 characters" in response.json_body["message"]
    dbsession.refresh(alice)
    assert alice.password == before


def test_password_change_keeps_this_session_and_ends_the_others(testapp, other_browser, alice, dbsession):
    login(testapp, alice.email, "Secret-123")
    login(other_browser, alice.email, "Secret-123")
    response = edit(testapp, alice, password=NEW_PASSWORD, confirm_password=NEW_PASSWORD, current_password="Secret-123")
    assert response.json_body["redirect"] == "back"
    dbsession.refresh(alice)
    assert passwords.verify_password(alice.password, NEW_PASSWORD)
    assert testapp.get("/vidjil/default/whoami").json_body["id"] == alice.id
    assert other_browser.get("/vidjil/default/whoami").json_body == {}
    assert dbsession.scalar(select(AuthEvent.id).where(AuthEvent.description == f"User {alice.id} Password changed"))


def test_admin_resets_a_password_without_knowing_it(testapp, other_browser, admin, alice, dbsession):
    login(other_browser, alice.email, "Secret-123")
    login(testapp, admin.email, "Secret-123")
    response = edit(testapp, alice, password=NEW_PASSWORD, confirm_password=NEW_PASSWORD)
    assert response.json_body["redirect"] == "back"
    dbsession.refresh(alice)
    assert passwords.verify_password(alice.password, NEW_PASSWORD)
    assert other_browser.get("/vidjil/default/whoami").json_body == {}
    assert dbsession.scalars(select(WebSession).where(WebSession.user_id == alice.id)).first() is None


def test_profile_form_without_its_key_is_refused(as_alice, alice, dbsession):
    response = as_alice.post("/vidjil/user/edit_form", {"id": alice.id, "first_name": "Eve", "last_name": "X",
                                                       "email": alice.email})
    assert response.json_body["success"] == "false" and "expired" in response.json_body["message"]
    dbsession.refresh(alice)
    assert alice.first_name == "Alice"


def test_names_are_escaped_in_pages_and_messages(as_admin, alice):
    """W24: names are self-editable and end up in admin pages and flash messages."""
    response = edit(as_admin, alice, first_name="<img src=x onerror=alert(1)>", email="a<b>@lab.test")
    assert "<b>" not in response.json_body["message"] and "&lt;b&gt;" in response.json_body["message"]
    page = as_admin.post("/vidjil/user/index").text
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
