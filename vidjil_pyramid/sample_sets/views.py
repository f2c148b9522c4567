"""The database panel's set pages (`sample_set/*`) and the tag autocompletion (`tag/auto_complete`).

Views parse parameters, let their context and the permission service decide,
call the services and render. Read-only pages declare `safe=True`; the three
that change data (`submit`, `delete`, `change_permission`) keep the cross-site
origin check (W23).
"""
from __future__ import annotations

import html
import json
from typing import Any

from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy import select

from .. import legacy
from ..auth.models import Group
from ..auth.services import PUBLIC_ROLE, group_by_role
from . import services
from .contexts import (
    CREATE_OR_MODIFY, MODIFY, VIEW, SampleSetContext, SampleSetsContext, SetFormContext, SetPageContext,
    SharingContext, parse_id,
)
from .display import format_date, format_size, parse_filter
from .export import plan_export, stream_zip
from .listing import PAGE_SIZE, SORT_KEYS, ListQuery, list_sets, picker_entries, viewer_groups
from .models import GENERIC, PATIENT, SET_TYPES, SampleSet
from .set_page import build_set_page, config_groups, set_display_name
from .tags import tag_links, tags_for_groups

TEMPLATES = "vidjil_pyramid:templates/sample_set/"
TYPE_LABELS = {PATIENT: "patient", "run": "run", GENERIC: "set"}


class BadRequest(ValueError):
    """A parameter the page cannot work with; answered as a JSON error message."""


def _set_type(request, default: str = GENERIC) -> str:
    value = request.params.get("type") or default
    if value not in SET_TYPES:
        raise BadRequest(f"unknown set type: {html.escape(value)}")  # the browser shows messages as HTML
    return value


def _list_query(request, *, paged: bool = True) -> ListQuery:
    page = None
    raw_page = request.params.get("page")
    if paged and raw_page not in (None, ""):
        page = int(raw_page) if raw_page.isdigit() and int(raw_page) < 10**6 else 0
    words, tags = parse_filter(request.params.get("filter"))
    sort = request.params.get("sort")
    return ListQuery(sample_type=_set_type(request), page=page, words=tuple(words), tags=tuple(tags),
                     sort=sort if sort in SORT_KEYS else None, reverse=request.params.get("reverse") == "true")


def _http_origin(request) -> str:
    """The browser's origin, for links that open the browser on a result (trusted origins only)."""
    origin = request.headers.get("Origin")
    return origin.rstrip("/") + "/" if origin and legacy.is_trusted_origin(request, origin) else ""


def _server_url(request, path: str) -> str:
    """An absolute server URL (downloads are plain links, followed outside the panel)."""
    return f"{request.application_url}{legacy.PREFIX}/{path}"


def _has_route(request, name: str) -> bool:
    return request.registry.introspector.get("routes", name) is not None


def _helpers(request) -> dict[str, Any]:
    """What every set template uses to show values."""
    return {"format_size": format_size, "format_date": format_date, "tag_links": tag_links,
            "server_url": lambda path: _server_url(request, path), "has_route": lambda name: _has_route(request, name)}


def _bad_request(exc: Exception):
    return legacy.error(str(exc))


# ----------------------------------------------------------------------------- lists

def _listing_values(request, query: ListQuery) -> dict[str, Any]:
    perms = request.permissions
    listing = list_sets(request.dbsession, perms, query)
    group_ids, shows_groups = viewer_groups(request.dbsession, perms)
    return {
        "query": [row.as_json() for row in listing.rows],
        "group_ids": group_ids,
        "admin_permissions": listing.admin_set_ids,
        "isAdmin": perms.is_admin,
        "reverse": query.reverse,
        "step": PAGE_SIZE if query.page is not None else len(listing.rows),
        "page": query.page or 0,
        "_listing": listing,
        "_shows_groups": shows_groups or perms.is_admin,
        "_can_create": perms.can_create_sample_set(),
        "_filter": request.params.get("filter") or "",
        "_sort": query.sort,
        "_type_label": TYPE_LABELS[query.sample_type],
        **{"_" + k: v for k, v in _helpers(request).items()},
    }


@view_config(route_name="sample_set.all", safe=True)
def all_sets(request):
    """The patients, runs or sets the user may read, 50 per page."""
    try:
        query = _list_query(request)
    except BadRequest as exc:
        return _bad_request(exc)
    return legacy.page(request, TEMPLATES + "all.jinja2", _listing_values(request, query))


@view_config(route_name="sample_set.samples", safe=True)
def samples(request):
    """The API form of the list."""
    try:
        query = _list_query(request)
    except BadRequest as exc:
        return _bad_request(exc)
    values = _listing_values(request, query)
    return legacy.json_response({k: values[k] for k in ("group_ids", "step", "page")} | {"samples": values["query"]})


@view_config(route_name="sample_set.samplesetById", permission=VIEW, safe=True)
def sampleset_by_id(request):
    """One set as a list row (`api_vidjil.getSetById`): `[]` when it is not of the asked type."""
    set_id = request.context.sample_set_id
    actual_type = request.dbsession.scalar(select(SampleSet.sample_type).where(SampleSet.id == set_id))
    asked = request.params.get("type") or actual_type
    if asked not in SET_TYPES or asked != actual_type:
        return legacy.json_response([])
    listing = list_sets(request.dbsession, request.permissions, ListQuery(sample_type=asked, sample_set_id=set_id))
    return legacy.json_response([row.as_json() for row in listing.rows])


@view_config(route_name="sample_set.stats", safe=True)
def stats(request):
    """Sets to tick for a result export (devel mode page)."""
    try:
        query = _list_query(request, paged=False)
    except BadRequest as exc:
        return _bad_request(exc)
    values = _listing_values(request, query)
    values["_config_groups"] = config_groups(request.dbsession, request.permissions)
    return legacy.page(request, TEMPLATES + "stats.jinja2", values)


@view_config(route_name="sample_set.auto_complete", safe=True)
def auto_complete(request):
    """The upload form's set picker: sets the user may modify whose name matches the typed text."""
    try:
        keys = json.loads(request.params["keys"])
        text = keys[0] if isinstance(keys, list) and keys else None
    except (KeyError, ValueError, TypeError):
        return legacy.error("missing group ids")
    if text is not None and not isinstance(text, str):
        return legacy.error("invalid search text")
    text = text or ""
    return legacy.json_text({text: picker_entries(request.dbsession, request.permissions, text)})


# ----------------------------------------------------------------------------- one set

@view_config(route_name="sample_set.index", permission=VIEW, safe=True)
def set_index(request):
    """The set page: samples, results for the chosen config, statuses, run buttons."""
    set_id = request.context.sample_set_id
    try:
        set_page = build_set_page(request.dbsession, request.permissions, set_id, request.params.get("config_id"))
    except services.SampleSetError as exc:
        return _bad_request(exc)
    http_origin = _http_origin(request)
    values = set_page.as_json(http_origin)
    values.update({"_page": set_page, "_origin": http_origin, "_is_admin": request.permissions.is_admin,
                   **{"_" + k: v for k, v in _helpers(request).items()}})
    return legacy.page(request, TEMPLATES + "index.jinja2", values)


def _form_values(request, *, sample_type: str, lines: list[dict[str, Any] | None], editing: bool,
                 groups: list[dict[str, Any]], master_group: int | None, message: str) -> dict[str, Any]:
    group_ids, _shows = viewer_groups(request.dbsession, request.permissions)
    sets: dict[str, list] = {t: [] for t in SET_TYPES}
    sets[sample_type] = lines
    return {"message": message, "groups": groups, "group_ids": group_ids, "master_group": master_group,
            "sets": sets, "isEditing": editing}


def _creation_groups(request) -> list[dict[str, Any]]:
    perms = request.permissions
    personal = perms.personal_group_id
    return [{"id": g.id, "name": "Personal Group" if g.id == personal else (g.role or str(g.id))}
            for g in perms.groups_for_creation()]


def _detail_values(sample_type: str, detail) -> dict[str, Any]:
    values = {name: getattr(detail, name) for name in services.FIELDS[sample_type]}
    for name in services.DATE_FIELDS:
        if name in values:
            values[name] = format_date(values[name])
    values = {k: ("" if v is None else v) for k, v in values.items()}
    return {**values, "id": detail.id, "sample_set_id": detail.sample_set_id, "error": []}


@view_config(route_name="sample_set.form", permission=CREATE_OR_MODIFY, safe=True)
def form(request):
    """The create form (one empty line of the asked type) or the edit form of one set."""
    db, perms = request.dbsession, request.permissions
    if request.context.editing:
        try:
            sample_set, detail = services.load_set(db, request.context.sample_set_id)
        except services.SampleSetError as exc:
            return _bad_request(exc)
        owner = services.owner_group_id(db, sample_set.id)
        role = db.scalar(select(Group.role).where(Group.id == owner)) if owner else None
        groups = [{"id": owner, "name": role or ""}] if owner else []
        values = _form_values(request, sample_type=sample_set.sample_type,
                              lines=[_detail_values(sample_set.sample_type, detail)], editing=True,
                              groups=groups, master_group=owner, message=f"edit {sample_set.sample_type}")
    else:
        try:
            sample_type = _set_type(request)
        except BadRequest as exc:
            return _bad_request(exc)
        values = _form_values(request, sample_type=sample_type, lines=[None], editing=False,
                              groups=_creation_groups(request), master_group=perms.default_creation_group_id(),
                              message=f"add {sample_type}")
    return legacy.page(request, TEMPLATES + "form.jinja2", values)


@view_config(route_name="sample_set.submit")
def submit(request):
    """Create or edit sets, several lines at once; all or nothing."""
    raw = request.params.get("data")
    if not raw:
        return legacy.error("missing form data")
    try:
        submission = services.parse_submission(json.loads(raw))
    except (ValueError, RecursionError) as exc:
        message = str(exc) if isinstance(exc, services.SampleSetError) else "invalid form data"
        return legacy.error(message)
    perms = request.permissions
    if not submission.items:
        values = _form_values(request, sample_type=GENERIC, lines=[], editing=False, groups=_creation_groups(request),
                              master_group=perms.default_creation_group_id(), message="form is empty")
        return legacy.page(request, TEMPLATES + "form.jinja2", values)
    outcome = services.save_submission(request.dbsession, perms, request.identity.id, submission)
    if outcome.ok:
        return legacy.json_text(outcome.redirect())
    editing = all(item.sample_set_id is not None for item in submission.items)
    values = _form_values(request, sample_type=GENERIC, lines=[], editing=editing, groups=_creation_groups(request),
                          master_group=submission.group_id, message="an error occurred")
    for item in submission.items:
        values["sets"][item.sample_type].append(item.as_form_values())
    if editing and not values["groups"]:
        values["groups"] = [{"id": submission.group_id, "name": ""}] if submission.group_id else []
    return legacy.page(request, TEMPLATES + "form.jinja2", values)


@view_config(route_name="sample_set.confirm", permission=MODIFY, safe=True)
def confirm(request):
    """What deleting the set would remove, with the buttons to go on or cancel."""
    db = request.dbsession
    set_id = request.context.sample_set_id
    try:
        plan = services.plan_deletion(db, set_id)
        sample_set, detail = services.load_set(db, set_id)
    except services.SampleSetError as exc:
        return _bad_request(exc)
    return legacy.page(request, TEMPLATES + "confirm.jinja2", {
        "message": "confirm sample_set deletion", "sample_set_id": set_id, "sample_type": sample_set.sample_type,
        "name": set_display_name(request.permissions, sample_set.sample_type, detail),
        "file_count": len(plan.exclusive_file_ids), "shared_file_count": len(plan.shared_file_ids),
        "result_count": plan.result_count,
    })


@view_config(route_name="sample_set.delete", permission=MODIFY)
def delete(request):
    """Delete the set and the samples found only in it (their files stay on disk)."""
    set_id = request.context.sample_set_id
    try:
        plan = services.delete_set(request.dbsession, set_id)
    except services.SampleSetError:
        return legacy.json_text({"message": "An error occured. This sample_set may have already been deleted"})
    return legacy.json_text({"redirect": "sample_set/all", "args": {"type": plan.sample_type, "page": 0},
                             "success": "true", "message": f"sample set ({set_id}) deleted"})


@view_config(route_name="sample_set.permission", permission=MODIFY, safe=True)
def permission(request):
    """Which groups reach the set; ticking a box shares it, unticking stops sharing."""
    db = request.dbsession
    set_id = request.context.sample_set_id
    try:
        sample_set, detail = services.load_set(db, set_id)
    except services.SampleSetError as exc:
        return _bad_request(exc)
    rows = services.sharing_rows(db, request.permissions, set_id)
    return legacy.page(request, TEMPLATES + "permission.jinja2", {
        "sample_set_id": set_id, "sample_type": sample_set.sample_type,
        "name": set_display_name(request.permissions, sample_set.sample_type, detail),
        "query": [{"id": r.group_id, "role": r.role, "owner": r.owner, "perms": r.permissions,
                   "parent_access": r.access_from, "read": r.has_access} for r in rows],
        "_type_label": TYPE_LABELS[sample_set.sample_type],
    })


@view_config(route_name="sample_set.change_permission", permission=MODIFY)
def change_permission(request):
    """Share the set with a group, or stop sharing it."""
    group_id = parse_id(request.params.get("group_id"))
    if group_id is None:
        return legacy.json_text({"message": "incomplete request : missing group_id, "})
    try:
        granted, role = services.toggle_access(request.dbsession, request.permissions,
                                               request.context.sample_set_id, group_id)
    except services.SampleSetError as exc:
        return legacy.json_text({"message": str(exc)})
    verb = "granted" if granted else "deleted"
    # the browser shows messages as HTML: the group name is escaped (W24)
    return legacy.json_text({"message": f"access 'access' {verb} to '{html.escape(role)}'"})


@view_config(route_name="sample_set.result_files", permission=VIEW, safe=True)
def result_files(request):
    """The results of the chosen sets as a zip, streamed; every set id must be readable."""
    raw_config = (request.params.get("config_id") or "-1").strip()
    if raw_config == "-1":
        config_id = None
    else:
        config_id = parse_id(raw_config)
        if config_id is None:
            return legacy.error("invalid config id")
    plan = plan_export(request.dbsession, request.permissions, request.registry.settings["vidjil.results_dir"],
                       request.context.sample_set_ids, config_id)
    response = Response(app_iter=stream_zip(plan), content_type="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{plan.filename}"'
    return response


# ----------------------------------------------------------------------------- tags

@view_config(route_name="tag.auto_complete", safe=True)
def tag_auto_complete(request):
    """Tags offered in `#` autocompletion: those of the caller's groups and of `public` only (W5)."""
    try:
        keys = json.loads(request.params["keys"])
        if not isinstance(keys, list):
            raise ValueError(keys)
    except (KeyError, ValueError, TypeError):
        return legacy.error("missing group ids")
    wanted = [parse_id(k) for k in keys]
    allowed_ids, _shows = viewer_groups(request.dbsession, request.permissions)
    allowed = set(allowed_ids)
    group_ids = [g for g in wanted if g is not None and g in allowed]
    public = group_by_role(request.dbsession, PUBLIC_ROLE)
    tags = tags_for_groups(request.dbsession, group_ids, public.id if public else None)
    return legacy.json_text({str(g): tags[g] for g in group_ids})


# Routes whose views act on particular sets get the context that names them.
ROUTE_CONTEXTS = {
    "samplesetById": SampleSetContext,
    "index": SetPageContext,
    "form": SetFormContext,
    "confirm": SampleSetContext,
    "delete": SampleSetContext,
    "permission": SampleSetContext,
    "change_permission": SharingContext,
    "result_files": SampleSetsContext,
}


def includeme(config) -> None:
    config.add_legacy_routes("sample_set", ["all", "samples", "stats", "auto_complete", "submit"])
    for function, context in ROUTE_CONTEXTS.items():
        config.add_legacy_routes("sample_set", [function], factory=context)
    config.add_legacy_routes("tag", ["auto_complete"])
