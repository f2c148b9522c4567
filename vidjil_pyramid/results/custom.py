"""Comparing chosen samples: the selection page `sample_set/custom` and the merged data
`default/get_custom_data` (fused by the fuse service, see `comparison.FuseConnector`).

Thin: parse, let the context and the permission service decide, call `comparison`, answer.
"""
from __future__ import annotations

import logging

from markupsafe import escape
from pyramid.view import view_config

from fuse_rpc.client import FuseServiceError, FuseServiceUnavailable
from fuse_rpc.service import FAULT_NOT_FOUND, FAULT_TIMEOUT

from .. import legacy
from ..sample_sets.display import format_date, format_size, parse_filter
from ..sample_sets.listing import viewer_groups
from ..sample_sets.set_page import config_groups, set_display_name
from ..sample_sets.tags import tag_links
from .comparison import (
    CANNOT_FUSE, COMPARE_TOP, ComparisonError, FuseConnector, compared_results, comparison_document,
    comparison_rows, fuse_inputs, parse_result_ids, set_details,
)
from .contexts import VIEW, parse_id

log = logging.getLogger(__name__)

TEMPLATE = "vidjil_pyramid:templates/sample_set/custom.jinja2"
CONNECTOR_KEY = "vidjil.fuse_connector"
TYPE_LABELS = {"patient": "patient", "run": "run", "generic": "set"}


def _text(value: object) -> str:
    """Text for a message: the browser shows messages as HTML (W24)."""
    return str(escape(str(value)))


class CompareContext:
    """The set a comparison page is restricted to (`id`), or none: every readable set."""

    def __init__(self, request):
        self.request = request
        raw = request.params.get("id")
        self.set_given = raw not in (None, "")
        self.sample_set_id = parse_id(raw) if self.set_given else None

    def permits(self, request, permission: str) -> bool:
        if permission != VIEW:
            return False
        if not self.set_given:
            return True
        return self.sample_set_id is not None and request.permissions.can_view_sample_set(self.sample_set_id)


def fuse_connector(request) -> FuseConnector:
    return request.registry[CONNECTOR_KEY]


@view_config(route_name="default.get_custom_data", safe=True)
def get_custom_data(request):
    """The chosen results merged into one document, each sample named after its set."""
    prefix = "default/get_custom_data : "
    values = request.params.getall("custom")
    if not values:
        return legacy.error(prefix + "no file selected, ")
    try:
        result_ids = parse_result_ids(values)
        compared = compared_results(request.dbsession, request.permissions, result_ids,
                                    parse_id(request.params.get("sample_set_id")))
    except ComparisonError as exc:
        return legacy.error(prefix + _text(exc))
    try:
        client = fuse_connector(request).client()
        names, pre_processes = fuse_inputs(compared)
        fused = client.fuse(names, pre_processes, {"top": COMPARE_TOP})
    except FuseServiceUnavailable as exc:
        log.warning("custom comparison of %s: %s", result_ids, exc)
        return legacy.error(CANNOT_FUSE)
    except FuseServiceError as exc:
        log.error("custom comparison of %s failed: %s", result_ids, exc)
        if exc.code == FAULT_TIMEOUT:
            reason = "the comparison took too long"
        elif exc.code == FAULT_NOT_FOUND:
            reason = "a result file is missing"
        else:
            reason = "the fuse of these results failed"
        return legacy.error(prefix + reason)
    try:
        document = comparison_document(fused, compared)
    except ComparisonError as exc:
        log.error("custom comparison of %s: %s", result_ids, exc)
        return legacy.error(prefix + _text(exc))
    log.info("user %s compared results %s", request.identity.id, result_ids)
    return legacy.json_text(document)


@view_config(route_name="sample_set.custom", permission=VIEW, safe=True)
def custom(context: CompareContext, request):
    """Results to tick for a comparison: of one set, or of every set the user may read."""
    db, perms = request.dbsession, request.permissions
    config_id = parse_id(request.params.get("config_id"))
    filter_text = request.params.get("filter") or ""
    words, tags = parse_filter(filter_text)
    checked = [i for i in (parse_id(v) for v in request.params.getall("custom_list")) if i is not None]
    listing = comparison_rows(db, perms, sample_set_id=context.sample_set_id, config_id=config_id,
                              words=words, tags=tags, checked_ids=checked)
    heading_set = None
    if context.sample_set_id is not None:
        sample_type, detail = set_details(db, [context.sample_set_id]).get(context.sample_set_id, (None, None))
        if detail is not None:
            heading_set = f"{TYPE_LABELS.get(sample_type, sample_type)} {set_display_name(perms, sample_type, detail)}"
    group_ids, _shows_groups = viewer_groups(db, perms)
    can_choose_config = perms.is_admin or bool(perms.groups_with_action("run"))
    return legacy.page(request, TEMPLATE, {
        "query": [row.as_json() for row in listing.rows],
        "matching": listing.matching,
        "sample_set_id": context.sample_set_id,
        "config_id": config_id if config_id is not None else -1,
        "filter": filter_text,
        "group_ids": group_ids,
        "_rows": listing.rows,
        "_heading_set": heading_set,
        "_config_groups": config_groups(db, perms) if can_choose_config else None,
        "_format_size": format_size,
        "_format_date": format_date,
        "_tag_links": tag_links,
        "_has_route": lambda name: request.registry.introspector.get("routes", name) is not None,
    })


def includeme(config) -> None:
    config.add_legacy_routes("default", ["get_custom_data"])
    config.add_legacy_routes("sample_set", ["custom"], factory=CompareContext)
    config.registry[CONNECTOR_KEY] = FuseConnector(config.registry.settings)
