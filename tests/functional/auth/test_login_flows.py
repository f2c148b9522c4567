"""Both client eras log in, out, and ask who they are (issue 2)."""
import datetime as dt

import pytest
from sqlalchemy import select

from factories import make_user
from vidjil_pyramid.auth.models import AuthEvent, User, WebSession
from webclient import form_key, login, logout, web2py_login

PASSWORD = "Secret-123"


@pytest.fixture
def admin(initial_data):
    return make_user(initial_data, email="admin@lab.test", admin=True, first_name="Ada", last_name="Min")


@pytest.fixture
def alice(initial_data):
    return make_user(initial_data, email="alice@lab.test", first_name="Alice", last_name="Martin")


def whoami(testapp):
    return testapp.get("/vidjil/default/whoami").json_body


@pytest.mark.parametrize("who", ["admin", "alice"])
def test_py4web_flow_logs_in_and_out(testapp, who, request):
    user = request.getfixturevalue(who)
    response = login(testapp, user.email, PASSWORD)
    assert response.content_type == "text/html"  # JSON as text: the browser parses it itself
    assert response.json_body["redirect"] == "/vidjil/default/home.html"
    assert response.json_body["user_id"] == user.id
    me = whoami(testapp)
    assert me["id"] == user.id and me["email"] == user.email
    assert me["admin"] is (who == "admin")
    assert {"password", "reset_password_key", "registration_key"}.isdisjoint(me)
    logout(testapp)
    assert whoami(testapp) == {}


def test_web2py_flow_answers_303_to_next_and_sets_the_session(testapp, alice):
    response = web2py_login(testapp, alice.email, PASSWORD, next_url="/vidjil/sample_set/all?page=0&type=patient")
    assert response.status_int == 303
    assert response.location.endswith("/vidjil/sample_set/all?page=0&type=patient")
    assert whoami(testapp)["id"] == alice.id
    response = testapp.get("/vidjil/default/user/logout")
    assert response.status_int == 303 and response.location.endswith("/vidjil/default/index")
    assert whoami(testapp) == {}


def test_web2py_login_form_has_the_fields_the_browser_binds(testapp):
    page = testapp.get("/vidjil/default/user/login", {"_next": "/vidjil/sample_set/all"})
    html = page.html
    form = html.find("form", id="login_form")
    assert form["action"] == "#" and form["method"] == "post"
    for element_id in ("auth_user_email__row", "auth_user_password__row", "submit_record__row",
                       "auth_user_email", "auth_user_password", "db_header", "db_content"):
        assert html.find(id=element_id) is not None, element_id
    hidden = {i["name"]: i["value"] for i in form.find_all("input", type="hidden")}
    assert hidden["_formname"] == "login" and hidden["_next"] == "/vidjil/sample_set/all" and hidden["_formkey"]
    assert html.find(id="logout_button") is None  # anonymous


def test_py4web_login_page_is_what_the_api_client_scrapes(testapp):
    html = testapp.get("/vidjil/auth/login").html
    assert html.find(id="login__label") is not None
    assert html.find("form", id="data_form")["action"] == "DB_ADDRESS/auth/submit"
    for element_id in ("login", "password", "submit_login", "login_messages"):
        assert html.find(id=element_id) is not None
    assert any(i.get("name", "").startswith("_") for i in html.find_all("input"))


def test_wrong_password_fails_like_the_original(testapp, alice):
    response = web2py_login(testapp, alice.email, "wrong-password")
    assert response.status_int == 303 and response.location.endswith("/vidjil/default/user/login")
    assert whoami(testapp) == {}
    response = login(testapp, alice.email, "wrong-password", expect_success=False)
    assert "Invalid Credentials" in response.text
    assert whoami(testapp) == {}
    response = login(testapp, "nobody@lab.test", PASSWORD, expect_success=False)
    assert "Invalid Credentials" in response.text


def test_login_needs_a_valid_form_key(testapp, alice):
    response = testapp.post("/vidjil/auth/submit", {"login": alice.email, "password": PASSWORD,
                                                    "_formkey": "1.2.forged"})
    assert response.json_body["error"] and whoami(testapp) == {}
    response = testapp.post("/vidjil/default/user/login", {"email": alice.email, "password": PASSWORD,
                                                           "_formname": "login", "_formkey": "1.2.forged"})
    assert response.status_int == 303 and whoami(testapp) == {}
    testapp.post("/vidjil/default/user/login", {"email": alice.email, "password": PASSWORD})
    assert whoami(testapp) == {}


def test_whoami_lists_groups_where_the_user_can_create(testapp, alice):
    login(testapp, alice.email, PASSWORD)
    me = whoami(testapp)
    assert me["first_name"] == "Alice" and me["last_name"] == "Martin"
    assert [g["role"] for g in me["groups"]] == ["user_%04d" % alice.id]
    assert set(me["groups"][0]) == {"id", "role", "description"}
    as_json = testapp.get("/vidjil/default/whoami.json").json_body
    assert as_json["ignored_fields"] == [] and "password" not in as_json


def test_anonymous_whoami_is_the_original_empty_answer(testapp):
    assert testapp.get("/vidjil/default/whoami.json").json_body == {"ignored_fields": []}
    assert testapp.get("/vidjil/default/whoami").json_body == {}


def test_web2py_hash_is_upgraded_to_argon2_at_first_login(testapp, dbsession, alice):
    alice.password = "pbkdf2(1000,20,sha512)$0123456789abcdef$468322864e8aaf0949db2d8e8e2fc0ed2f23aadc"
    dbsession.flush()
    login(testapp, alice.email, "password123")
    dbsession.refresh(alice)
    assert alice.password.startswith("$argon2id$")
    logout(testapp)
    login(testapp, alice.email, "password123")
    assert whoami(testapp)["id"] == alice.id


def test_login_is_case_insensitive_on_the_email(testapp, alice):
    login(testapp, "ALICE@Lab.Test", PASSWORD)
    assert whoami(testapp)["id"] == alice.id


def test_session_cookie_is_new_at_login_httponly_and_lax(testapp, dbsession, alice):
    testapp.set_cookie("session_id_vidjil", "planted-by-an-attacker")
    response = login(testapp, alice.email, PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=604800" in cookie
    assert "planted-by-an-attacker" not in cookie
    token = testapp.cookies["session_id_vidjil"]
    assert dbsession.scalar(select(WebSession.id).where(WebSession.id == token)) is None  # only a digest is kept


def test_cookie_is_secure_behind_https(testapp, alice):
    page = testapp.get("/vidjil/auth/login", extra_environ={"wsgi.url_scheme": "https"})
    response = testapp.post("/vidjil/auth/submit", {"login": alice.email, "password": PASSWORD,
                                                    "_formkey": form_key(page.text)},
                            extra_environ={"wsgi.url_scheme": "https"})
    assert "Secure" in response.headers["Set-Cookie"]


def test_logout_really_ends_the_session_even_for_a_copied_cookie(testapp, alice):
    login(testapp, alice.email, PASSWORD)
    stolen = testapp.cookies["session_id_vidjil"]
    logout(testapp)
    testapp.set_cookie("session_id_vidjil", stolen)
    assert whoami(testapp) == {}


def test_idle_sessions_expire(testapp, dbsession, alice):
    login(testapp, alice.email, PASSWORD)
    for row in dbsession.scalars(select(WebSession).where(WebSession.user_id == alice.id)):
        row.last_seen = dt.datetime.now() - dt.timedelta(days=8)
    dbsession.flush()
    assert whoami(testapp) == {}


def test_repeated_failures_slow_down_without_locking_out(testapp, dbsession, alice):
    for _ in range(5):
        login(testapp, alice.email, "wrong-password", expect_success=False)
    response = login(testapp, alice.email, PASSWORD, expect_success=False)
    assert "too many failed logins" in response.json_body["error"]
    # once the wait is over, the right password works again
    for event in dbsession.scalars(select(AuthEvent).where(AuthEvent.user_id == alice.id)):
        event.time_stamp -= dt.timedelta(seconds=5)
    dbsession.flush()
    login(testapp, alice.email, PASSWORD)
    assert whoami(testapp)["id"] == alice.id


def test_open_redirects_are_refused(testapp, alice):
    response = web2py_login(testapp, alice.email, PASSWORD, next_url="https://evil.example/phish")
    assert response.location.endswith("/vidjil/default/home")
    logout(testapp)
    response = web2py_login(testapp, alice.email, PASSWORD, next_url="https://app.vidjil.test/?x=1")
    assert response.location == "https://app.vidjil.test/?x=1"  # an allowed origin


def test_registration_is_for_admins_only(testapp, dbsession, admin, alice):
    """W13: a logged-in non-admin cannot create accounts."""
    login(testapp, alice.email, PASSWORD)
    response = testapp.get("/vidjil/default/user/register")
    assert response.json_body == {"message": "you need to be admin and logged to add new users"}
    logout(testapp)
    login(testapp, admin.email, PASSWORD)
    page = testapp.get("/vidjil/default/user/register")
    response = testapp.post("/vidjil/default/user/register", {
        "first_name": "New", "last_name": "Person", "email": "new@lab.test", "password": "short",
        "password_two": "short", "_formkey": form_key(page.text)})
    assert "at least 8 characters" in response.text
    response = testapp.post("/vidjil/default/user/register", {
        "first_name": "New", "last_name": "Person", "email": "new@lab.test", "password": "long-enough",
        "password_two": "long-enough", "_formkey": form_key(page.text)})
    assert response.json_body["redirect"] == "back"
    assert dbsession.scalar(select(User.id).where(User.email == "new@lab.test")) is not None


def test_logged_in_fragment_shows_the_user_and_the_logout_button(testapp, alice):
    login(testapp, alice.email, PASSWORD)
    html = testapp.get("/vidjil/default/help").html
    assert html.find(id="db_auth_name").get_text(strip=True) == "Alice Martin"
    assert html.find(id="logout_button")["onclick"] == "db.logout();"


def test_an_empty_post_opens_the_login_page_as_the_browser_does(testapp):
    """db.call() POSTs an empty text/plain body to every panel URL, the login page included."""
    response = testapp.post("/vidjil/default/user/login?_next=%2Fvidjil%2Fsample_set%2Fall",
                            headers={"Content-Type": "text/plain"})
    assert response.status_int == 200
    form = response.html.find("form", id="login_form")
    assert form.find("input", attrs={"name": "_next"})["value"] == "/vidjil/sample_set/all"
