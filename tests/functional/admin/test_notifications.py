"""`notification/*`: the news page for everybody, writing news for admins, Markdown shown safely."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from admin_helpers import denied, submit
from vidjil_pyramid.admin.models import Notification
from vidjil_pyramid.auth.models import UserPreference
from webclient import login, logout

FORM = {"title": "Maintenance", "message_content": "The server will be **down** on Sunday.",
        "message_type": "header", "priority": "urgent", "expiration": "2099-01-01"}


def add(testapp, **fields):
    return submit(testapp, "/vidjil/notification/add", "/vidjil/notification/add_form", {**FORM, **fields})


@pytest.fixture
def news(dbsession, admin):
    row = Notification(title="Welcome", message_content="Hello <script>alert(1)</script> *all*",
                       message_type="login", priority="info", expiration=dt.date(2099, 6, 30), creator=admin.id,
                       creation_datetime=dt.datetime(2024, 1, 2, 3, 4, 5))
    dbsession.add(row)
    dbsession.flush()
    return row


def active_ids(testapp) -> list[int]:
    return [n["notification"]["id"] for n in testapp.get("/vidjil/notification/get_active_notifications").json_body]


def test_admin_adds_news(as_admin, admin, dbsession):
    form = as_admin.post("/vidjil/notification/add").html.find("form", id="data_form")
    assert form["action"] == "DB_ADDRESS/notification/add_form"
    for name in ("message_type", "priority", "title", "message_content", "expiration"):
        assert form.find(attrs={"name": name}) is not None, name
    assert [o["value"] for o in form.find("select", attrs={"name": "message_type"}).find_all("option")] == ["login", "header"]
    response = add(as_admin)
    row = dbsession.scalar(select(Notification).where(Notification.title == "Maintenance"))
    assert response.json_body == {"redirect": "notification/index", "args": {"id": row.id, "redirected": True},
                                  "message": "notification added"}
    assert (row.creator, row.expiration, row.priority) == (admin.id, dt.date(2099, 1, 1), "urgent")
    assert row.id in active_ids(as_admin)


@pytest.mark.parametrize("fields, error", [
    ({"title": ""}, "title needed"), ({"message_content": ""}, "message content needed"),
    ({"message_type": "popup"}, "type needed"), ({"priority": "high"}, "priority needed"),
    ({"expiration": ""}, "expiration date required"), ({"expiration": "01/02/2099"}, "wrong format"),
    ({"expiration": "2099-02-30"}, "no such day"),
])
def test_invalid_news_are_refused(as_admin, dbsession, fields, error):
    response = add(as_admin, **fields)
    assert response.json_body["success"] == "false" and error in response.json_body["message"]
    assert dbsession.scalar(select(Notification.id)) is None


def test_writing_news_is_for_admins(as_alice, news, dbsession):
    """Transcript unauthorized-notification-add: `{"message": "access denied"}`."""
    for url in ("add", f"edit?id={news.id}", f"delete?id={news.id}"):
        assert denied(as_alice.post(f"/vidjil/notification/{url}")), url
    assert denied(as_alice.post("/vidjil/notification/add_form", FORM))
    assert dbsession.get(Notification, news.id) is not None


def test_news_page_renders_markdown_without_trusting_it(testapp, news):
    """W24: the news text is escaped before its Markdown is turned into HTML."""
    response = testapp.post(f"/vidjil/notification/index?id={news.id}")
    html = response.html
    assert html.find("h3", id="page_news").text == "Welcome"
    block = html.find("div", class_="info_block")
    assert block.find("em").text == "all"
    assert "<script>" not in response.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in str(block)
    assert html.find(id=f"notification_line_{news.id}") is not None
    assert html.find(id=f"notification_edit_{news.id}") is None  # anonymous: no admin column


def test_opening_news_marks_it_read(as_alice, alice, news, dbsession):
    assert news.id in active_ids(as_alice)
    as_alice.post(f"/vidjil/notification/index?id={news.id}&redirected=true")
    assert news.id in active_ids(as_alice)  # shown after saving it, not read yet
    as_alice.post(f"/vidjil/notification/index?id={news.id}")
    as_alice.post(f"/vidjil/notification/index?id={news.id}")
    assert news.id not in active_ids(as_alice)
    marks = dbsession.scalars(select(UserPreference).where(UserPreference.user_id == alice.id)).all()
    assert [(m.preference, m.val) for m in marks] == [("mail", str(news.id))]
    as_alice.post("/vidjil/notification/index")  # the list alone marks nothing (§9.20)
    assert len(dbsession.scalars(select(UserPreference).where(UserPreference.user_id == alice.id)).all()) == 1


def test_editing_news_shows_it_again_to_everybody(testapp, alice, admin, news, dbsession):
    login(testapp, alice.email, "Secret-123")
    testapp.post(f"/vidjil/notification/index?id={news.id}")
    assert news.id not in active_ids(testapp)
    logout(testapp)
    login(testapp, admin.email, "Secret-123")
    form = testapp.post(f"/vidjil/notification/edit?id={news.id}").html.find("form", id="data_form")
    assert form["action"] == "DB_ADDRESS/notification/edit_form"
    assert form.find(id="notification_id")["value"] == str(news.id)
    assert form.find(id="notification_title")["value"] == "Welcome"
    response = submit(testapp, "/vidjil/notification/edit", "/vidjil/notification/edit_form",
                      {**FORM, "id": news.id}, {"id": news.id})
    assert response.json_body == {"redirect": "notification/index", "args": {"id": news.id, "redirected": True},
                                  "message": "notification updated"}
    dbsession.refresh(news)
    assert news.title == "Maintenance"
    logout(testapp)
    login(testapp, alice.email, "Secret-123")
    assert news.id in active_ids(testapp)


def test_admin_deletes_news(as_admin, news, dbsession):
    html = as_admin.post("/vidjil/notification/index").html
    assert "notification/delete" in html.find(id=f"notification_delete_{news.id}")["onclick"]
    assert html.find(id="add_notification_button") is not None
    response = as_admin.post(f"/vidjil/notification/delete?id={news.id}")
    assert response.json_body == {"redirect": "notification/index", "success": "true",
                                  "message": f"notification {news.id} deleted"}
    assert dbsession.get(Notification, news.id) is None
    assert as_admin.post("/vidjil/notification/delete?id=99999").json_body["success"] == "false"
