"""Requests as the browser sends them, and the answers the tests look for."""
from __future__ import annotations

from urllib.parse import urlencode

from webclient import form_key


def submit(testapp, page_url: str, form_url: str, data: dict, page_params: dict | None = None):
    """Open a form page as the browser does, then post its fields with the page's `_formkey`."""
    page = testapp.post(page_url + _query(page_params))
    return testapp.post(form_url, {**data, "_formkey": form_key(page.text)})


def _query(params: dict | None) -> str:
    return "?" + urlencode(params) if params else ""


def denied(response) -> bool:
    return response.json_body == {"message": "access denied"}


def asks_login(response) -> bool:
    return "/vidjil/default/user/login" in response.json_body.get("redirect", "")
