"""Admin-facing and news views.

The pages themselves live in `config_views`, `pre_process_views`,
`notification_views` and `panel_views` (found by the app's scan); this module
keeps the notification poll and declares every route of the domain.
"""
from __future__ import annotations

from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config

from .. import legacy
from .contexts import ConfigContext, PreProcessContext, PreProcessLogContext
from .notifications import active_notifications, as_legacy_dict


@view_config(route_name="notification.get_active_notifications", permission=NO_PERMISSION_REQUIRED, safe=True)
def get_active_notifications(request):
    """Polled by every browser every 5 minutes: unread, unexpired news of the user."""
    rows = active_notifications(request.dbsession, request.authenticated_userid)
    return legacy.json_text([as_legacy_dict(row) for row in rows])


CONFIG_PAGES = ["index", "add", "add_form", "edit", "edit_form", "confirm", "delete", "permission",
                "change_permission"]
NOTIFICATION_PAGES = ["index", "add", "add_form", "edit", "edit_form", "delete"]


def includeme(config) -> None:
    config.add_legacy_routes("notification", ["get_active_notifications"])
    config.add_legacy_routes("notification", NOTIFICATION_PAGES)
    config.add_legacy_routes("config", ["index"])
    config.add_legacy_routes("config", CONFIG_PAGES[1:], factory=ConfigContext)
    config.add_legacy_routes("pre_process", ["index"])
    config.add_legacy_routes("pre_process", CONFIG_PAGES[1:], factory=PreProcessContext)
    config.add_legacy_routes("pre_process", ["info"], factory=PreProcessLogContext)
    config.add_legacy_routes("admin", ["index", "monitor", "showlog"])
    config.add_legacy_routes("log", ["index"])
    config.add_legacy_routes("my_account", ["index"])
