"""The panel menu of every fragment: only entries whose page this server has."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MenuItem:
    id: str
    route: str
    onclick: str
    label: str
    css: str = "button"
    admin_only: bool = False


MENU = (
    MenuItem("db_page_patient", "sample_set.all", "db.call('sample_set/all', {'type': 'patient', 'page': 0});",
             "patients", "button button_token patient_token"),
    MenuItem("db_page_run", "sample_set.all", "db.call('sample_set/all', {'type': 'run', 'page': 0});",
             "runs", "button button_token run_token"),
    MenuItem("db_page_set", "sample_set.all", "db.call('sample_set/all', {'type': 'generic', 'page': 0});",
             "sets", "button button_token generic_token"),
    MenuItem("db_page_usage", "my_account.index", "db.call('my_account/index');", "usage"),
    MenuItem("db_page_processes", "my_account.jobs", "db.call('my_account/jobs');", "processes"),
    MenuItem("db_page_news", "notification.index", "db.call('notification/index');", "news"),
    MenuItem("", "log.index", "db.call('log/index');", "log"),
    MenuItem("db_page_preprocess", "pre_process.index", "db.call('pre_process/index');", "pre-process", admin_only=True),
    MenuItem("db_page_configs", "config.index", "db.call('config/index');", "configs", admin_only=True),
    MenuItem("db_page_groups", "group.index", "db.call('group/index');", "groups", admin_only=True),
    MenuItem("db_page_users", "user.index", "db.call('user/index');", "users", admin_only=True),
    MenuItem("db_page_admin", "admin.index", "db.call('admin/index');", "admin", admin_only=True),
)


def menu_for(request) -> list[MenuItem]:
    introspector = request.registry.introspector
    is_admin = request.identity is not None and request.permissions.is_admin
    return [item for item in MENU
            if introspector.get("routes", item.route) is not None and (is_admin or not item.admin_only)]


def add_layout_globals(event) -> None:
    request = event.get("request")
    if request is None:
        return
    event.setdefault("identity", request.identity)
    event.setdefault("menu", menu_for(request))
