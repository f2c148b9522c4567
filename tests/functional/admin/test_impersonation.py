"""`default/impersonate` and `stop_impersonate`: admins act as another user through a new
session that remembers them; the chooser in `#db_auth`."""
from __future__ import annotations

from sqlalchemy import select

from admin_helpers import denied
from vidjil_pyramid.auth.models import AuthEvent, WebSession


def whoami(testapp) -> dict:
    return testapp.get("/vidjil/default/whoami").json_body


def events(db, text: str) -> list[str]:
    return list(db.scalars(select(AuthEvent.description).where(AuthEvent.description.like(f"%{text}%"))))


def test_admins_get_the_user_chooser_and_the_edit_pencil(as_admin, admin, alice, bob):
    auth = as_admin.post("/vidjil/notification/index").html.find(id="db_auth")
    select_user = auth.find("select", id="choose_user")
    assert select_user["name"] == "user" and "default/impersonate" in select_user["onchange"]
    options = [(o["value"], o.text) for o in select_user.find_all("option")]
    assert options[0] == ("0", " --- ")
    assert (str(alice.id), f"{alice.id} \u2013 Alice Martin") in options
    assert str(admin.id) not in [value for value, _ in options]
    assert auth.find(id="db_auth_name").text.strip() == "Ada Min"
    assert f"db.call('user/edit', {{'id': '{admin.id}'}})" in auth.find("i", class_="icon-pencil-2").parent["onclick"]
    assert auth.find(id="desimpersonate_btn") is None


def test_other_users_get_no_chooser(as_alice):
    auth = as_alice.post("/vidjil/notification/index").html.find(id="db_auth")
    assert auth.find(id="choose_user") is None and auth.find(id="db_auth_name") is not None


def test_admin_impersonates_then_comes_back(as_admin, admin, alice, dbsession):
    first_session = dbsession.scalar(select(WebSession.id).where(WebSession.user_id == admin.id))
    response = as_admin.post(f"/vidjil/default/impersonate?id={alice.id}&next=/vidjil/notification/index")
    assert response.json_body == {"redirect": "reload"}
    assert whoami(as_admin)["id"] == alice.id and whoami(as_admin)["admin"] is False
    session = dbsession.scalar(select(WebSession).where(WebSession.user_id == alice.id))
    assert session.impersonator_id == admin.id
    assert dbsession.get(WebSession, first_session) is None  # the admin's own session does not linger
    assert events(dbsession, "is impersonating") == [f"User {admin.id} is impersonating {alice.id}"]

    auth = as_admin.post("/vidjil/notification/index").html.find(id="db_auth")
    assert auth.find(id="db_auth_name").text.strip() == "Alice Martin"
    assert auth.find(id="desimpersonate_btn") is not None
    assert auth.find("option", selected=True)["value"] == str(alice.id)
    assert auth.find("i", class_="icon-pencil-2") is None

    response = as_admin.post("/vidjil/default/impersonate?id=0&next=/vidjil/notification/index")
    assert response.json_body == {"redirect": "reload"}
    assert whoami(as_admin)["id"] == admin.id and whoami(as_admin)["admin"] is True
    assert events(dbsession, "stopped impersonating") == [f"User {admin.id} stopped impersonating {alice.id}"]
    assert dbsession.scalar(select(WebSession).where(WebSession.user_id == alice.id)) is None


def test_stop_impersonate_url_and_switching_users(as_admin, admin, alice, bob):
    as_admin.post(f"/vidjil/default/impersonate?id={alice.id}")
    as_admin.post(f"/vidjil/default/impersonate?id={bob.id}")  # alice cannot impersonate: the admin does
    assert whoami(as_admin)["id"] == bob.id
    assert as_admin.post("/vidjil/default/stop_impersonate").json_body == {"redirect": "reload"}
    assert whoami(as_admin)["id"] == admin.id


def test_impersonated_users_rights_apply(as_admin, alice):
    as_admin.post(f"/vidjil/default/impersonate?id={alice.id}")
    assert denied(as_admin.post("/vidjil/user/index"))


def test_from_an_admin_page_the_browser_is_sent_home(as_admin, alice):
    response = as_admin.post(f"/vidjil/default/impersonate?id={alice.id}&next=/vidjil/admin/index")
    assert response.json_body["redirect"].endswith("/vidjil/default/home")


def test_users_without_the_right_cannot_impersonate(as_alice, alice, bob, dbsession):
    assert denied(as_alice.post(f"/vidjil/default/impersonate?id={bob.id}"))
    assert whoami(as_alice)["id"] == alice.id
    assert not events(dbsession, "impersonating")
    assert as_alice.post("/vidjil/default/impersonate?id=0").json_body == {"redirect": "reload"}
    assert whoami(as_alice)["id"] == alice.id


def test_impersonating_nobody_is_an_error(as_admin, admin):
    assert as_admin.post("/vidjil/default/impersonate?id=99999").json_body["success"] == "false"
    assert whoami(as_admin)["id"] == admin.id


def test_impersonation_from_another_site_is_refused(as_admin, admin, alice):
    """W23: a forged request cannot switch the admin's session."""
    as_admin.post(f"/vidjil/default/impersonate?id={alice.id}", headers={"Origin": "https://evil.example"},
                  status=403)
    assert whoami(as_admin)["id"] == admin.id


def test_an_impersonator_cannot_change_the_users_password(as_admin, alice, dbsession):
    """W29: changing a password as oneself needs the current one, which the impersonator lacks."""
    from admin_helpers import submit

    as_admin.post(f"/vidjil/default/impersonate?id={alice.id}")
    before = alice.password
    response = submit(as_admin, "/vidjil/user/edit", "/vidjil/user/edit_form",
                      {"id": alice.id, "first_name": "Alice", "last_name": "Martin", "email": alice.email,
                       "password": "Taken-over-1", "confirm_password": "Taken-over-1"}, {"id": alice.id})
    assert response.json_body["success"] == "false"
    dbsession.refresh(alice)
    assert alice.password == before


def test_anonymous_visitors_cannot_impersonate(testapp, alice):
    assert "login" in testapp.post(f"/vidjil/default/impersonate?id={alice.id}").json_body["redirect"]
