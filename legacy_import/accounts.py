"""Who will be able to log in after the import, and what they will see.

Passwords are copied as they are: the login code verifies every web2py format
and rehashes with argon2id at the first successful login. Here we only tell
which stored values are in a format it knows, and which accounts can log in
(active, with an e-mail address no account of a lower id already uses, since
the login looks the lowest id up).
"""
from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from vidjil_pyramid.auth.models import User
from vidjil_pyramid.auth.permissions import Permissions
from vidjil_pyramid.sample_sets.models import SET_TYPES, SampleSet

_PBKDF2 = re.compile(r"^pbkdf2\((\d+),(\d+),(\w+)\)$")
_DIGESTS = {"md5", "sha1", "sha224", "sha256", "sha384", "sha512"}
_UNSALTED = {32: "md5", 40: "sha1", 56: "sha224", 64: "sha256", 96: "sha384", 128: "sha512"}
_HEX = re.compile(r"^[0-9a-fA-F]+$")


def password_format(stored: str | None) -> str | None:
    """The name of a stored password's format, or None when the login cannot verify it."""
    if not stored:
        return None
    if stored.startswith("$argon2"):
        return "argon2"
    if "$" not in stored:
        algorithm = _UNSALTED.get(len(stored))
        return f"{algorithm} (unsalted)" if algorithm and _HEX.match(stored) else None
    parts = stored.split("$")
    if len(parts) != 3:
        return None
    algorithm, _salt, digest = parts
    if not _HEX.match(digest or ""):
        return None
    match = _PBKDF2.match(algorithm)
    if match:
        iterations, length, name = int(match[1]), int(match[2]), match[3]
        if name in _DIGESTS and iterations >= 1 and 0 < length <= 512:
            return algorithm
        return None
    if algorithm in _DIGESTS:
        return f"{algorithm} (salted)"
    return None


def _inactive_reason(registration_key: str | None) -> str | None:
    key = (registration_key or "").strip()
    if not key:
        return None
    if key.startswith("pending"):
        return "account awaiting approval (registration_key 'pending')"
    if key in ("disabled", "blocked"):
        return f"account {key}"
    return "account awaiting e-mail verification (registration_key set)"


def account_summary(connection: Connection, batch_size: int = 5000) -> tuple[dict[str, Any], dict[str, Any], list[int]]:
    """(password formats, users summary, ids of users who can log in)."""
    formats: dict[str, int] = {}
    cannot: list[dict[str, Any]] = []
    can_log_in: list[int] = []
    first_owner: dict[str, int] = {}
    total = 0
    last = 0
    while True:
        rows = connection.execute(
            select(User.id, User.email, User.password, User.registration_key)
            .where(User.id > last).order_by(User.id).limit(batch_size)
        ).all()
        if not rows:
            break
        for user_id, email, password, registration_key in rows:
            total += 1
            kind = password_format(password)
            formats[kind or "unknown"] = formats.get(kind or "unknown", 0) + 1
            wanted = (email or "").strip().lower()
            reason = None
            if not wanted:
                reason = "no e-mail address"
            elif wanted in first_owner:
                reason = f"e-mail address already used by user {first_owner[wanted]} (the login finds that one)"
            else:
                first_owner[wanted] = user_id
            reason = reason or _inactive_reason(registration_key)
            if reason is None and kind is None:
                reason = "password in an unknown format (reset it with `vidjil-server user passwd`)"
            if reason:
                cannot.append({"id": user_id, "email": email, "reason": reason})
            else:
                can_log_in.append(user_id)
        last = rows[-1][0]
    users = {"total": total, "can_log_in": len(can_log_in), "cannot_log_in": cannot}
    return {"formats": formats, "known": total - formats.get("unknown", 0)}, users, can_log_in


def visibility(connection: Connection, user_ids: list[int]) -> dict[str, dict[str, int]]:
    """Sets each user can see, per type, under today's permission rules."""
    seen: dict[str, dict[str, int]] = {}
    with Session(bind=connection) as db:
        for user_id in user_ids:
            permissions = Permissions(db, user_id)
            email = db.scalar(select(User.email).where(User.id == user_id)) or str(user_id)
            counts = dict(db.execute(
                select(SampleSet.sample_type, func.count())
                .where(SampleSet.id.in_(permissions.accessible_sample_set_ids_query("read")),
                       SampleSet.sample_type.in_(SET_TYPES))
                .group_by(SampleSet.sample_type)
            ).all())
            seen[email] = {t: int(counts.get(t, 0)) for t in SET_TYPES}
    return seen
