"""`admin/index|monitor|showlog`, `log/index` and `my_account/index`: the panel's overview pages."""
from __future__ import annotations

import json
from dataclasses import asdict

from pyramid.response import Response
from pyramid.view import view_config

from .. import legacy
from ..health import check_health
from ..sample_sets.display import parse_filter
from ..security import ADMIN
from . import logs, services, usage, user_log
from .contexts import parse_id

T = "vidjil_pyramid:templates/"


def _log_dir(request) -> str:
    return request.registry.settings["vidjil.log_dir"]


@view_config(route_name="admin.index", permission=ADMIN, safe=True)
def admin_index(request):
    """Counts, the job queue and a health summary; nothing about the host (W27)."""
    report = check_health(request.registry.settings, request.registry["db_engine"], request.registry.get("broker"))
    return legacy.page(request, T + "admin/index.jinja2", {
        "message": "Admin",
        "counts": services.row_counts(request.dbsession),
        "monitor": services.job_monitor(request.dbsession),
        "health": [asdict(line) for line in services.health_summary(report)],
        "logs": logs.available_logs(_log_dir(request)),
        "log_titles": logs.LOG_FILES,
        "_results_list": request.registry.introspector.get("routes", "results_file.index") is not None,
    })


@view_config(route_name="admin.monitor", permission=ADMIN, safe=True)
def monitor(request):
    """Worker and task counters for external monitoring; admins only (W6)."""
    data = services.job_monitor(request.dbsession)
    if request.wants_json:
        return legacy.json_response(data)
    text = (f"workers\nALL={data['worker']}\ntasks\nQUEUED={data['queued']}\nASSIGNED={data['assigned']}\n"
            f"RUNNING={data['running']}\nLAST_RESULTS={data['last_results']}...\n")
    return Response(text, content_type="text/plain", charset="utf-8")


@view_config(route_name="admin.showlog", permission=ADMIN, safe=True)
def showlog(request):
    """One of the allowed log files (W28), newest lines first, escaped by the template (W24)."""
    name = request.params.get("file")
    log_format = request.params.get("format") or ""
    search = (request.params.get("filter") or "")[:200]
    try:
        if log_format == "raw":
            values = {"raw": logs.raw_log(_log_dir(request), name), "lines": []}
        else:
            lines = logs.read_log(_log_dir(request), name, search, parse=bool(log_format))
            values = {"raw": None, "lines": [asdict(line) for line in lines]}
    except logs.LogError as exc:
        return legacy.error(str(exc))
    return legacy.page(request, T + "admin/showlog.jinja2",
                       {"file": name, "format": log_format, "filter": search, **values})


@view_config(route_name="log.index", safe=True)
def log_index(request):
    """The `user_log` rows the user may read (all of them for admins), escaped by the template."""
    table = request.params.get("table") or "all"
    if table not in user_log.TABLE_CHOICES:
        table = "all"
    record_id = parse_id(request.params.get("id")) if table != "all" else None
    perms = request.permissions
    rows = user_log.log_rows(request.dbsession, perms, table, record_id)
    return legacy.page(request, T + "log/index.jinja2", {
        "query": [asdict(row) for row in rows],
        "table": table, "id": record_id or 0,
        "tables": list(user_log.TABLE_CHOICES),
        "data_list": user_log.record_choices(request.dbsession, perms, table),
    })


def _requested_group_ids(request) -> list[int] | None:
    """Group ids asked for by the group list (`group_ids`, or `data={"group_ids": [...]}` from the
    browser's "group stats" button); None when none were given or they are malformed."""
    values = request.params.getall("group_ids") + request.params.getall("group_ids[]")
    if not values and request.params.get("data"):
        try:
            data = json.loads(request.params["data"])
        except ValueError:
            return None
        found = data.get("group_ids") if isinstance(data, dict) else None
        values = [str(v) for v in found] if isinstance(found, list) else []
    ids = [parse_id(str(v)) for v in values]
    if not ids or None in ids:
        return None
    return list(dict.fromkeys(ids))


@view_config(route_name="my_account.index", safe=True)
def my_account_index(request):
    """Usage per group: the user's groups and their parents; admins may ask for any groups."""
    perms = request.permissions
    own = sorted(perms.group_ids | perms.parent_ids)
    requested = _requested_group_ids(request)
    if requested is not None:
        group_ids = requested if perms.is_admin else [g for g in requested if g in own]
    else:
        group_ids = own
    search = (request.params.get("filter") or "")[:200]
    _, tags = parse_filter(search)
    groups = usage.group_usage(request.dbsession, perms, group_ids, tags)
    return legacy.page(request, T + "my_account/index.jinja2", {
        "filter": search,
        "group_ids": group_ids,
        "involved_group_ids": own,
        "groups": [{**asdict(g), "total_sets": g.total_sets} for g in groups],
        "kinds": list(usage.KINDS.values()),
    })
