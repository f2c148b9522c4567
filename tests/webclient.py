"""Logging in through the real flows, as the clients do."""
from __future__ import annotations

import re

_FORMKEY = re.compile(r'name="_formkey" type="hidden" value="([^"]+)"')


def form_key(page_text: str) -> str:
    match = _FORMKEY.search(page_text)
    assert match, "no _formkey in the page"
    return match.group(1)


def login(testapp, email: str, password: str, *, expect_success: bool = True):
    """The API client's flow: GET auth/login, POST auth/submit with the hidden fields."""
    page = testapp.get("/vidjil/auth/login")
    response = testapp.post("/vidjil/auth/submit", {
        "login": email, "email": email, "password": password, "remember_me": "on",
        "_formkey": form_key(page.text), "_formname": "login",
    })
    if expect_success:
        assert response.json_body.get("error") is None, response.text
    return response


def web2py_login(testapp, email: str, password: str, next_url: str = "/vidjil/default/home"):
    """The web2py browser flow: GET default/user/login, POST the #login_form."""
    page = testapp.get("/vidjil/default/user/login", {"_next": next_url})
    return testapp.post("/vidjil/default/user/login", {
        "email": email, "password": password, "_next": next_url,
        "_formkey": form_key(page.text), "_formname": "login",
    })


def logout(testapp):
    return testapp.post("/vidjil/auth/logout")
