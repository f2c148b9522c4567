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
