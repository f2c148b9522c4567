"""Checking credentials, with failed attempts slowed down (never a lock-out).

Failures are recorded as `auth_event` rows, so that every web process and
worker sees the same count. After `max_failures` failures within the window
for one account or one address, each further attempt must wait twice as long
as the previous one (capped), whether the password is right or not.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from . import passwords
from .models import AuthEvent, User
from .services import find_user_by_email

WINDOW = dt.timedelta(minutes=15)
MAX_WAIT_SECONDS = 900
INVALID = "Invalid Credentials"


@dataclass
class LoginResult:
    user: User | None
    error: str | None = None


def _recent_failures(db: Session, user_id: int | None, client_ip: str | None) -> tuple[int, dt.datetime | None]:
    since = dt.datetime.now() - WINDOW
    who = []
    if user_id is not None:
        who.append(AuthEvent.user_id == user_id)
    if client_ip:
        who.append(AuthEvent.client_ip == client_ip)
    if not who:
        return 0, None
    count, last = db.execute(
        select(func.count(AuthEvent.id), func.max(AuthEvent.time_stamp)).where(
            AuthEvent.origin == "auth", AuthEvent.description.like("%Login failed%"),
            AuthEvent.time_stamp >= since, or_(*who),
        )
    ).one()
    return int(count or 0), last


def wait_seconds(failures: int, last_failure: dt.datetime | None, max_failures: int) -> int:
    if failures < max_failures or last_failure is None:
        return 0
    wait = min(2 ** (failures - max_failures + 1), MAX_WAIT_SECONDS)
    elapsed = (dt.datetime.now() - last_failure).total_seconds()
    return max(0, int(wait - elapsed + 0.999))


def authenticate(db: Session, email: str | None, password: str | None, client_ip: str | None,
                 max_failures: int = 5) -> LoginResult:
    user = find_user_by_email(db, email or "")
    failures, last = _recent_failures(db, user.id if user else None, client_ip)
    wait = wait_seconds(failures, last, max_failures)
    if wait:
        return LoginResult(None, f"too many failed logins: try again in {wait} seconds")

    if user is None or not user.is_active or not passwords.verify_password(user.password, password):
        db.add(AuthEvent(
            time_stamp=dt.datetime.now(), client_ip=client_ip, user_id=user.id if user else None,
            origin="auth",
            description=f"User {user.id} Login failed" if user else "Login failed",
        ))
        db.flush()
        return LoginResult(None, INVALID)

    if passwords.needs_rehash(user.password):
        user.password = passwords.hash_password(password or "")
    db.add(AuthEvent(time_stamp=dt.datetime.now(), client_ip=client_ip, user_id=user.id,
                     origin="auth", description=f"User {user.id} Logged-in"))
    db.flush()
    return LoginResult(user)


def record_logout(db: Session, user_id: int, client_ip: str | None) -> None:
    db.add(AuthEvent(time_stamp=dt.datetime.now(), client_ip=client_ip, user_id=user_id,
                     origin="auth", description=f"User {user_id} Logged-out"))
