"""Small pieces shared by the administration and account views."""
from __future__ import annotations

from markupsafe import escape

from .. import legacy
from ..auth.views import form_key, form_key_is_valid

FORM_EXPIRED = "the form has expired, please reload it"


def html_text(value: object) -> str:
    """User text placed in a JSON `message`: the browser shows messages as HTML (W24)."""
    return str(escape("" if value is None else value))


def checked_form(request, form_name: str):
    """None when the posted `_formkey` is ours and fresh, else the refusal to answer."""
    if form_key_is_valid(request, form_name):
        return None
    return legacy.error(FORM_EXPIRED)


def with_form_key(request, form_name: str, values: dict) -> dict:
    """Page values plus the `_formkey` of the form the page renders (left out of JSON answers)."""
    return {**values, "_formkey": form_key(request, form_name)}


def toggle_access_answer(request, table: str, object_id: int):
    """`<table>/change_permission`: toggle one group's `access` row on a config or pre-process."""
    from ..params import parse_id
    from .sharing import SharingError, toggle_access

    group_id = parse_id(request.params.get("group_id"))
    if group_id is None:
        return legacy.error("incomplete request : missing group_id")
    try:
        granted, group = toggle_access(request.dbsession, table, object_id, group_id)
    except SharingError as exc:
        return legacy.error(str(exc))
    verb = "granted" if granted else "deleted"
    return legacy.json_text({"message": f"c{object_id}: access 'access' {verb} to '{html_text(group.role)}'"})
