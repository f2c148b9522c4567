"""Signed form tokens (`_formkey`) for the forms the server renders.

They need no server-side state, so the login form of an anonymous visitor can
carry one too. A token is bound to a form name and, when logged in, to the session.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time

MAX_AGE = 24 * 3600


def _sign(secret: str, *parts: str) -> str:
    return hmac.new(secret.encode(), "|".join(parts).encode(), hashlib.sha256).hexdigest()[:32]


def make_form_key(secret: str, form: str, binding: str = "") -> str:
    stamp = str(int(time.time()))
    nonce = secrets.token_hex(8)
    return f"{stamp}.{nonce}.{_sign(secret, form, binding, stamp, nonce)}"


def check_form_key(secret: str, form: str, key: str | None, binding: str = "", max_age: int = MAX_AGE) -> bool:
    try:
        stamp, nonce, signature = (key or "").split(".")
        age = time.time() - int(stamp)
    except ValueError:
        return False
    if not 0 <= age <= max_age:
        return False
    return hmac.compare_digest(signature, _sign(secret, form, binding, stamp, nonce))
