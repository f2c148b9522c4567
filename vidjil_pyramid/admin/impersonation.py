"""Impersonation: an admin acting as another user, recorded in `auth_event`.

The session row carries the impersonator (`vidjil_session.impersonator_id`): a new
session is opened for the target, and stopping reopens one for the impersonator,
so the impersonator's own session never lingers while they act as someone else.
This module only decides the rows; the views open and close the sessions.
Knows nothing of HTTP.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import AuthEvent, User


def impersonation_choices(db: Session, real_user_id: int) -> list[tuple[int, str]]:
    """(id, "First Last") of the accounts one may switch to: every active account but one's own."""
    rows = db.execute(select(User.id, User.first_name, User.last_name, User.registration_key)
                      .where(User.id != real_user_id).order_by(User.id))
    return [(uid, f"{first or ''} {last or ''}".strip()) for uid, first, last, key in rows if not (key or "").strip()]


def active_user(db: Session, user_id: int | None) -> User | None:
    user = db.get(User, user_id) if user_id else None
    return user if user is not None and user.is_active else None


def record_start(db: Session, impersonator_id: int, target_id: int, client_ip: str | None) -> None:
    db.add(AuthEvent(time_stamp=dt.datetime.now(), client_ip=client_ip, user_id=impersonator_id, origin="auth",
                     description=f"User {impersonator_id} is impersonating {target_id}"))


def record_stop(db: Session, impersonator_id: int, target_id: int, client_ip: str | None) -> None:
    db.add(AuthEvent(time_stamp=dt.datetime.now(), client_ip=client_ip, user_id=impersonator_id, origin="auth",
                     description=f"User {impersonator_id} stopped impersonating {target_id}"))
