"""Admin-facing and news views."""
from __future__ import annotations

from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config

from .. import legacy
from .notifications import active_notifications, as_legacy_dict


@view_config(route_name="notification.get_active_notifications", permission=NO_PERMISSION_REQUIRED, safe=True)
def get_active_notifications(request):
    """Polled by every browser every 5 minutes: unread, unexpired news of the user."""
    rows = active_notifications(request.dbsession, request.authenticated_userid)
    return legacy.json_text([as_legacy_dict(row) for row in rows])


def includeme(config) -> None:
    config.add_legacy_routes("notification", ["get_active_notifications"])
