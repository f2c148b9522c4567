"""User accounts as the users page and the profile form see them. Knows nothing of HTTP.

Profile changes follow the rules of W29: a new password has at least 8
characters, and whoever changes their *own* password must give the current one
(an admin resetting somebody else's password need not, and that user's other
sessions are then closed).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..auth import passwords
from ..auth.models import AuthEvent, Group, Membership, User, WebSession
from ..auth.services import find_user_by_email, normalise_email
from ..files.models import SequenceFile
from ..sample_sets.models import PATIENT, DETAIL_MODELS

SORTS = ("id", "files", "patients", "login")
NAME_MAX = 128
EMAIL_MAX = 512
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountFormError(ValueError):
    """A profile form that cannot be saved; the message lists every problem."""


@dataclass(frozen=True)
class UserRow:
    id: int
    first_name: str
    last_name: str
    email: str
    access: str  # 'c' when the user may create sets
    groups: str  # ids of the user's groups
    first_login: str
    last_login: str
    created: int  # patients created
    files: int
    size: int


def user_rows(db: Session, can_create: dict[int, bool], sort: str = "id", reverse: bool = False) -> list[UserRow]:
    """Every account with its groups, logins and uploads, in a constant number of queries."""
    users = db.execute(select(User.id, User.first_name, User.last_name, User.email).order_by(User.id)).all()
    groups: dict[int, list[int]] = {}
    for uid, gid in db.execute(select(Membership.user_id, Membership.group_id).order_by(Membership.group_id)):
        groups.setdefault(uid, []).append(gid)
    patient = DETAIL_MODELS[PATIENT]
    created = dict(db.execute(select(patient.creator, func.count(patient.id)).group_by(patient.creator)).all())
    files = {uid: (count, size or 0) for uid, count, size in db.execute(
        select(SequenceFile.provider, func.count(SequenceFile.id), func.sum(SequenceFile.size_file))
        .group_by(SequenceFile.provider))}
    logins = {uid: (first, last) for uid, first, last in db.execute(
        select(AuthEvent.user_id, func.min(AuthEvent.time_stamp), func.max(AuthEvent.time_stamp))
        .where(AuthEvent.origin == "auth", AuthEvent.description.like("%Logged-in"))
        .group_by(AuthEvent.user_id))}
    rows = [
        UserRow(id=uid, first_name=first or "", last_name=last or "", email=email or "",
                access="c" if can_create.get(uid) else "",
                groups=" ".join(str(g) for g in sorted(set(groups.get(uid, [])))),
                first_login=_when(logins[uid][0]) if uid in logins else "-",
                last_login=_when(logins[uid][1]) if uid in logins else "-",
                created=created.get(uid, 0), files=files.get(uid, (0, 0))[0], size=int(files.get(uid, (0, 0))[1]))
        for uid, first, last, email in users
    ]
    keys = {"files": lambda r: r.size, "patients": lambda r: r.created, "login": lambda r: r.last_login}
    if sort in keys:
        rows.sort(key=keys[sort], reverse=reverse)
    return rows


def _when(moment: dt.datetime | str | None) -> str:
    """Seconds are enough on screen (SQLite may hand back text)."""
    if isinstance(moment, dt.datetime):
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return str(moment)[:19] if moment else "-"


@dataclass(frozen=True)
class ProfileForm:
    first_name: str
    last_name: str
    email: str
    password: str
    confirm_password: str
    current_password: str

    @classmethod
    def from_params(cls, params) -> "ProfileForm":
        return cls(first_name=(params.get("first_name") or "").strip(),
                   last_name=(params.get("last_name") or "").strip(),
                   email=(params.get("email") or "").strip(),
                   password=params.get("password") or "",
                   confirm_password=params.get("confirm_password") or "",
                   current_password=params.get("current_password") or "")


def update_profile(db: Session, user: User, form: ProfileForm, by_self: bool,
                   keep_session_id: str | None = None, client_ip: str | None = None) -> bool:
    """Save names, e-mail and (if given) a new password; True if the password changed.

    `by_self`: the user edits their own account, so a password change needs the current one.
    Every other session of the user ends when their password changes.
    """
    errors: list[str] = []
    if not form.first_name:
        errors.append("first name needed")
    if not form.last_name:
        errors.append("last name needed")
    if len(form.first_name) > NAME_MAX or len(form.last_name) > NAME_MAX:
        errors.append(f"names are at most {NAME_MAX} characters long")
    email = normalise_email(form.email)
    if not email:
        errors.append("email cannot be empty")
    elif len(email) > EMAIL_MAX or not _EMAIL.match(email):
        errors.append("incorrect email format")
    else:
        other = find_user_by_email(db, email)
        if other is not None and other.id != user.id:
            errors.append("another account already uses this email")
    if form.password:
        if form.password != form.confirm_password:
            errors.append("password fields must match")
        reason = passwords.check_new_password(form.password)
        if reason:
            errors.append(reason)
        if by_self and not passwords.verify_password(user.password, form.current_password):
            errors.append("the current password is needed to change it, and it is not that")
    if errors:
        raise AccountFormError(", ".join(errors))

    user.first_name, user.last_name, user.email = form.first_name, form.last_name, email
    if not form.password:
        db.flush()
        return False
    user.password = passwords.hash_password(form.password)
    user.reset_password_key = ""
    for session in db.scalars(select(WebSession).where(WebSession.user_id == user.id)):
        if session.id != keep_session_id:
            db.delete(session)
    db.add(AuthEvent(time_stamp=dt.datetime.now(), client_ip=client_ip, user_id=user.id, origin="auth",
                     description=f"User {user.id} Password changed"))
    db.flush()
    return True


def user_groups(db: Session, user_id: int) -> list[tuple[int, str]]:
    """(id, role) of the user's groups."""
    return list(db.execute(select(Group.id, Group.role).join(Membership, Membership.group_id == Group.id)
                           .where(Membership.user_id == user_id).distinct().order_by(Group.role)).all())
