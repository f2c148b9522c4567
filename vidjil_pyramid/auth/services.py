"""Accounts and groups: creation, passwords, memberships. Knows nothing of HTTP."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import passwords
from .models import Group, Membership, Permission, User

ADMIN_ROLE = "admin"
PUBLIC_ROLE = "public"
# Rights given to a new user's personal group on its own sample sets (web2py 2019.03+).
DEFAULT_USER_RIGHTS = ("create", "read", "admin", "upload", "save", "anon")
SET_RIGHTS = ("create", "read", "admin", "upload", "run", "save", "anon")


class AccountError(ValueError):
    """A request about an account that cannot be honoured; the message says why."""


def normalise_email(email: str | None) -> str:
    return (email or "").strip().lower()


def find_user_by_email(db: Session, email: str) -> User | None:
    wanted = normalise_email(email)
    if not wanted:
        return None
    return db.scalars(
        select(User).where(func.lower(User.email) == wanted).order_by(User.id).limit(1)
    ).first()


def group_by_role(db: Session, role: str) -> Group | None:
    return db.scalars(select(Group).where(Group.role == role).order_by(Group.id).limit(1)).first()


def personal_role(user_id: int) -> str:
    return "user_%04d" % user_id


def add_membership(db: Session, user_id: int, group_id: int) -> None:
    exists = db.scalar(
        select(Membership.id).where(Membership.user_id == user_id, Membership.group_id == group_id)
    )
    if exists is None:
        db.add(Membership(user_id=user_id, group_id=group_id))


def grant(db: Session, group_id: int, name: str, table_name: str = "sample_set", record_id: int = 0) -> None:
    """Add a permission row unless the same one is already there."""
    exists = db.scalar(
        select(Permission.id).where(
            Permission.group_id == group_id, Permission.name == name,
            Permission.table_name == table_name, Permission.record_id == record_id,
        ).limit(1)
    )
    if exists is None:
        db.add(Permission(group_id=group_id, name=name, table_name=table_name, record_id=record_id))


def revoke(db: Session, group_id: int, name: str, table_name: str = "sample_set", record_id: int = 0) -> int:
    rows = db.scalars(
        select(Permission).where(
            Permission.group_id == group_id, Permission.name == name,
            Permission.table_name == table_name, Permission.record_id == record_id,
        )
    ).all()
    for row in rows:
        db.delete(row)
    return len(rows)


@dataclass
class NewUser:
    email: str
    first_name: str
    last_name: str
    password: str
    admin: bool = False


def create_user(db: Session, new: NewUser) -> User:
    """Create an account the way an admin's registration does (personal group, rights, public)."""
    email = normalise_email(new.email)
    if "@" not in email:
        raise AccountError("a valid e-mail address is needed")
    if not (new.first_name or "").strip() or not (new.last_name or "").strip():
        raise AccountError("first name and last name are needed")
    reason = passwords.check_new_password(new.password)
    if reason:
        raise AccountError(reason)
    if find_user_by_email(db, email) is not None:
        raise AccountError(f"an account with the e-mail {email} already exists")

    user = User(
        email=email, first_name=new.first_name.strip(), last_name=new.last_name.strip(),
        password=passwords.hash_password(new.password),
        registration_key="", reset_password_key="", registration_id="",
    )
    db.add(user)
    db.flush()
    personal = Group(
        role=personal_role(user.id),
        description="Group of user %04d - %s %s" % (user.id, user.first_name, user.last_name),
    )
    db.add(personal)
    db.flush()
    add_membership(db, user.id, personal.id)
    for right in DEFAULT_USER_RIGHTS:
        grant(db, personal.id, right)
    public = group_by_role(db, PUBLIC_ROLE)
    if public is not None:
        add_membership(db, user.id, public.id)
    if new.admin:
        admin = group_by_role(db, ADMIN_ROLE)
        if admin is None:
            raise AccountError("the database has no admin group: run `vidjil-server initdb` first")
        add_membership(db, user.id, admin.id)
    db.flush()
    return user


def set_password(db: Session, user: User, password: str) -> None:
    reason = passwords.check_new_password(password)
    if reason:
        raise AccountError(reason)
    user.password = passwords.hash_password(password)
    user.reset_password_key = ""
    db.flush()


def user_group_ids(db: Session, user_id: int) -> list[int]:
    return list(db.scalars(select(Membership.group_id).where(Membership.user_id == user_id)))


def is_admin(db: Session, user_id: int) -> bool:
    return db.scalar(
        select(Group.id).join(Membership, Membership.group_id == Group.id)
        .where(Membership.user_id == user_id, Group.role == ADMIN_ROLE).limit(1)
    ) is not None
