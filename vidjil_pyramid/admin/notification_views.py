"""`notification/*`: the news page (everybody) and writing news (admins)."""
from __future__ import annotations

from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config

from .. import legacy
from ..security import ADMIN
from . import notifications as service
from .contexts import parse_id
from .models import Notification
from .safe_markdown import render_markdown
from .view_helpers import checked_form, with_form_key

FORM = "notification"
T = "vidjil_pyramid:templates/notification/"


def _notification_dict(row: Notification) -> dict:
    return {
        "id": row.id, "title": row.title, "message_content": row.message_content,
        "message_type": row.message_type, "priority": row.priority, "creator": row.creator,
        "expiration": row.expiration.isoformat() if row.expiration else "",
        "creation_datetime": row.creation_datetime.strftime("%Y-%m-%d %H:%M:%S") if row.creation_datetime else "",
    }


def _notification(request) -> Notification | None:
    notification_id = parse_id(request.params.get("id"))
    return request.dbsession.get(Notification, notification_id) if notification_id else None


@view_config(route_name="notification.index", permission=NO_PERMISSION_REQUIRED)
def index(request):
    """The news list; with `id`, that news item rendered, and marked read unless `redirected`."""
    selected = _notification(request)
    user_id = request.authenticated_userid
    if selected is not None and user_id is not None and "redirected" not in request.params:
        service.mark_read(request.dbsession, user_id, selected.id)
    rows = service.all_notifications(request.dbsession)
    return legacy.page(request, T + "index.jinja2", {
        "message": "News",
        "query": _notification_dict(selected) if selected else None,
        "notifications": [_notification_dict(row) for row in rows],
        "_selected_html": render_markdown(selected.message_content) if selected else None,
        "_rendered": {row.id: render_markdown(row.message_content) for row in rows},
        "_is_admin": user_id is not None and request.permissions.is_admin,
    })


def _form_page(request, notification: Notification | None):
    values = {
        "message": "edit notification" if notification else "add notification",
        "notification": _notification_dict(notification) if notification else None,
        "message_types": service.MESSAGE_TYPES, "priorities": service.PRIORITIES,
    }
    template = "edit.jinja2" if notification else "add.jinja2"
    return legacy.page(request, T + template, with_form_key(request, FORM, values))


def _saved(notification_id: int, message: str):
    return legacy.json_text({"redirect": "notification/index", "args": {"id": notification_id, "redirected": True},
                             "message": message})


@view_config(route_name="notification.add", permission=ADMIN, safe=True)
def add(request):
    return _form_page(request, None)


@view_config(route_name="notification.add_form", permission=ADMIN)
def add_form(request):
    refused = checked_form(request, FORM)
    if refused:
        return refused
    try:
        row = service.create_notification(request.dbsession, service.NotificationForm.from_params(request.params),
                                          request.authenticated_userid)
    except service.NotificationError as exc:
        return legacy.error(str(exc))
    return _saved(row.id, "notification added")


@view_config(route_name="notification.edit", permission=ADMIN, safe=True)
def edit(request):
    notification = _notification(request)
    if notification is None:
        return legacy.error("no such notification")
    return _form_page(request, notification)


@view_config(route_name="notification.edit_form", permission=ADMIN)
def edit_form(request):
    refused = checked_form(request, FORM)
    if refused:
        return refused
    notification = _notification(request)
    if notification is None:
        return legacy.error("no such notification")
    try:
        service.update_notification(request.dbsession, notification,
                                    service.NotificationForm.from_params(request.params))
    except service.NotificationError as exc:
        return legacy.error(str(exc))
    return _saved(notification.id, "notification updated")


@view_config(route_name="notification.delete", permission=ADMIN)
def delete(request):
    notification = _notification(request)
    if notification is None:
        return legacy.error("no such notification")
    notification_id = notification.id
    service.delete_notification(request.dbsession, notification)
    return legacy.json_text({"redirect": "notification/index", "success": "true",
                             "message": f"notification {notification_id} deleted"})
