"""Login sessions kept in the database (so that logout really ends them).

The cookie carries a random token; the table keeps its SHA-256. A session
expires after `vidjil.session_max_age` seconds without a request (one week,
as the original).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .models import WebSession

COOKIE_NAME = "session_id_vidjil"
# Write `last_seen` at most this often, to keep read-only requests read-only.
TOUCH_EVERY = dt.timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def open_session(db: Session, user_id: int, client_ip: str | None, impersonator_id: int | None = None) -> str:
    """Create a session and return the token to put in the cookie."""
    token = secrets.token_urlsafe(32)
    now = dt.datetime.now()
    db.add(WebSession(id=_digest(token), user_id=user_id, impersonator_id=impersonator_id,
                      created_at=now, last_seen=now, client_ip=(client_ip or "")[:64], data="{}"))
    db.flush()
    return token


def find_session(db: Session, token: str | None, max_age: int) -> WebSession | None:
    if not token or len(token) > 128:
        return None
    row = db.get(WebSession, _digest(token))
    if row is None:
        return None
    now = dt.datetime.now()
    if now - row.last_seen > dt.timedelta(seconds=max_age):
        db.delete(row)
        db.flush()
        return None
    if now - row.last_seen > TOUCH_EVERY:
        row.last_seen = now
    return row


def close_session(db: Session, token: str | None) -> None:
    if token:
        db.execute(delete(WebSession).where(WebSession.id == _digest(token)))


def close_user_sessions(db: Session, user_id: int) -> int:
    """End every session of a user (password change by an admin)."""
    return db.execute(delete(WebSession).where(WebSession.user_id == user_id)).rowcount or 0


def purge_expired(db: Session, max_age: int) -> int:
    limit = dt.datetime.now() - dt.timedelta(seconds=max_age)
    return db.execute(delete(WebSession).where(WebSession.last_seen < limit)).rowcount or 0


def session_data(row: WebSession) -> dict[str, Any]:
    try:
        return json.loads(row.data or "{}")
    except ValueError:
        return {}


def user_session_ids(db: Session, user_id: int) -> list[str]:
    return list(db.scalars(select(WebSession.id).where(WebSession.user_id == user_id)))
