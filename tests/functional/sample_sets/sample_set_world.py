"""Shared values and helpers of the set page tests (a uniquely named module, unlike conftest)."""
from __future__ import annotations

import json

LAB_RIGHTS = ("create", "read", "admin", "upload", "run", "save", "anon")
NASTY_FIRST = 'Zoé "Z" <b>'
NASTY_LAST = "<script>alert('x')</script>Ñuñez"
NASTY_INFO = "follow-up <img src=x onerror=alert(1)> \"quoted\" 'single' #MRD"


def body(response):
    """The JSON the browser parses itself from a text/html answer."""
    return json.loads(response.text)
