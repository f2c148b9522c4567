"""Rules every URL follows: web2py URL quirks, JSON as text, CORS allow-list,
cross-site refusals (W23), errors without tracebacks, health, client log."""
import datetime as dt
import logging

import pytest
import webtest

from factories import make_user
from vidjil_pyramid import make_config
from vidjil_pyramid.admin.models import Notification
from vidjil_pyramid.auth.models import UserPreference
from webclient import login

ALLOWED = "https://app.vidjil.test"


def test_home_is_json_text_and_tolerates_the_url_quirks(testapp):
    for url in ("/vidjil/default/home", "/vidjil/default/home.html", "/vidjil//default/home",
                "/vidjil/vidjil/default/home"):
        response = testapp.post(url, headers={"Content-Type": "text/plain"})
        assert response.content_type == "text/html", url
        assert "redirect" in response.json_body, url


def test_function_less_url_means_index(testapp):
    assert "Vidjil browser" in testapp.get("/vidjil/default").text
    assert "Vidjil browser" in testapp.get("/vidjil/").text


def test_unknown_urls_answer_404_with_the_original_body(testapp):
    for url in ("/vidjil/nothing/here", "/vidjil/default/nothing", "/elsewhere"):
        response = testapp.get(url, status=404)
        assert response.text == "404"


def test_cors_only_for_allowed_origins(testapp):
    response = testapp.get("/vidjil/default/whoami", headers={"Origin": ALLOWED})
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    response = testapp.get("/vidjil/default/whoami", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_preflight_answers_allowed_origins_only(testapp):
    headers = {"Access-Control-Request-Method": "POST"}
    ok = testapp.options("/vidjil/sample_set/all", headers={**headers, "Origin": ALLOWED})
    assert ok.headers["Access-Control-Allow-Origin"] == ALLOWED
    testapp.options("/vidjil/sample_set/all", headers={**headers, "Origin": "https://evil.example"}, status=403)


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Referer": "https://evil.example/page"},
])
def test_state_changing_requests_from_other_sites_are_refused(testapp, headers):
    """W23: a page on another site cannot make a logged-in browser change anything."""
    response = testapp.post("/vidjil/auth/logout", headers=headers, status=403)
    assert response.json_body["success"] == "false"


@pytest.mark.parametrize("headers", [
    {"Origin": ALLOWED},
    {"Origin": "http://vidjil.test"},
    {"Sec-Fetch-Site": "same-origin"},
    {},  # the API client and curl send neither Origin nor Sec-Fetch-Site
])
def test_state_changing_requests_from_trusted_places_pass(testapp, headers):
    testapp.post("/vidjil/auth/logout", headers=headers, status=200)


def test_responses_are_not_cached_and_not_sniffed(testapp):
    response = testapp.get("/vidjil/default/whoami")
    assert "no-store" in response.headers["Cache-Control"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_server_errors_show_no_traceback(app_settings, dbsession, tm, caplog):
    config = make_config(dict(app_settings))

    def broken(request):
        raise RuntimeError("secret detail of the failure")

    config.add_route("broken", "/vidjil/test/broken")
    config.add_view(broken, route_name="broken", permission="__no_permission_required__")
    testapp = webtest.TestApp(config.make_wsgi_app(), extra_environ={
        "HTTP_HOST": "vidjil.test", "app.dbsession": dbsession, "tm.active": True, "tm.manager": tm})
    with caplog.at_level(logging.ERROR):
        response = testapp.get("/vidjil/test/broken", status=500)
    assert response.text == "Server error"
    assert "secret detail" in caplog.text


def test_health_reports_database_broker_and_disk(testapp):
    report = testapp.get("/vidjil/health").json_body
    assert report["ok"] and report["database"]["ok"] and report["broker"]["ok"] and report["disk"]["ok"]
    assert testapp.get("/_health").json_body["ok"]


def test_health_is_503_when_the_broker_is_unreachable(app_settings, dbsession, tm):
    from vidjil_pyramid import main

    settings = {**app_settings, "vidjil.broker_url": "amqp://guest:guest@127.0.0.1:1/"}
    testapp = webtest.TestApp(main({}, **settings), extra_environ={
        "HTTP_HOST": "vidjil.test", "app.dbsession": dbsession, "tm.active": True, "tm.manager": tm})
    report = testapp.get("/vidjil/health", status=503).json_body
    assert report["ok"] is False and report["broker"]["ok"] is False


def test_checkssl_script(testapp):
    assert testapp.get("/vidjil/static/js/checkSSL.js").text.strip() == "sslCertTrusted = true;"


def test_logger_accepts_anonymous_messages_as_one_escaped_line(testapp, caplog):
    """W24: client messages cannot forge log lines."""
    with caplog.at_level(logging.INFO, logger="vidjil.client"):
        response = testapp.post("/vidjil/default/logger", {"lvl": "30", "msg": "line1\nFAKE <b>entry</b>"})
    assert response.status_int == 200 and response.body == b""
    record = [r for r in caplog.records if r.name == "vidjil.client"][-1]
    assert record.levelno == 30 and "\n" not in record.getMessage()


def test_logger_is_rate_limited(testapp, caplog):
    with caplog.at_level(logging.INFO, logger="vidjil.client"):
        for i in range(80):
            testapp.post("/vidjil/default/logger", {"msg": f"m{i}"})
    assert 0 < len([r for r in caplog.records if r.name == "vidjil.client"]) <= 60


def test_active_notifications_are_real_rows_minus_expired_and_read(testapp, dbsession, initial_data):
    alice = make_user(dbsession, email="alice@lab.test")
    rows = [
        Notification(title="Maintenance", message_content="down **Sunday**", message_type="header",
                     priority="urgent", expiration=dt.date.today() + dt.timedelta(days=3),
                     creation_datetime=dt.datetime(2026, 1, 2, 3, 4, 5), creator=1),
        Notification(title="Old", message_content="gone", message_type="login", priority="info",
                     expiration=dt.date.today() - dt.timedelta(days=1), creation_datetime=dt.datetime.now()),
        Notification(title="Read", message_content="seen", message_type="login", priority="info",
                     expiration=None, creation_datetime=dt.datetime.now()),
    ]
    dbsession.add_all(rows)
    dbsession.flush()
    dbsession.add(UserPreference(user_id=alice.id, preference="mail", val=str(rows[2].id)))
    dbsession.flush()
    anonymous = testapp.get("/vidjil/notification/get_active_notifications")
    assert anonymous.content_type == "text/html"
    assert [n["notification"]["title"] for n in anonymous.json_body] == ["Maintenance", "Read"]
    first = anonymous.json_body[0]
    assert first["notification"]["creation_datetime"] == "2026-01-02 03:04:05"
    assert first["user_preference"] == {"val": None}
    login(testapp, alice.email, "Secret-123")
    titles = [n["notification"]["title"] for n in testapp.get("/vidjil/notification/get_active_notifications").json_body]
    assert titles == ["Maintenance"]
