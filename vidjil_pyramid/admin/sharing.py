"""Which groups may use a config or a pre-process: the `access` rows on one object.

The permission pages list every group (except `admin`, which needs no row) with
what its members may do on sample sets, whether it reaches the object itself and
through which parent groups it also does. Toggling writes or removes the
`('access', <table>, <id>)` row of one group. Knows nothing of HTTP.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import Group, GroupAssoc, Permission, User
from ..auth.services import ADMIN_ROLE, grant, revoke

ACCESS = "access"
SHARABLE_TABLES = ("config", "pre_process")
_PERSONAL_ROLE = re.compile(r"^user_0*(\d+)$")


class SharingError(ValueError):
    """A sharing change that cannot be made; the message says why."""


@dataclass(frozen=True)
class SharingRow:
    group_id: int
    owner: str  # the group's role, or its user's name for a personal group
    rights: str  # the group's sample-set actions, comma-separated
    parent_access: str  # roles of the parents through which the group also reaches the object
    has_access: bool


def personal_group_owner_names(db: Session, roles: list[str]) -> dict[str, str]:
    """`user_0005` → `First Last` of user 5, for the personal groups among these roles."""
    user_ids = {role: int(m.group(1)) for role in roles if role and (m := _PERSONAL_ROLE.match(role))}
    if not user_ids:
        return {}
    names = {uid: f"{first or ''} {last or ''}".strip() for uid, first, last in db.execute(
        select(User.id, User.first_name, User.last_name).where(User.id.in_(set(user_ids.values()))))}
    return {role: names[uid] for role, uid in user_ids.items() if uid in names}


def sharing_table(db: Session, table_name: str, record_id: int) -> list[SharingRow]:
    """One row per non-admin group, in a constant number of queries."""
    groups = db.execute(select(Group.id, Group.role).where(Group.role != ADMIN_ROLE).order_by(Group.id)).all()
    owners = personal_group_owner_names(db, [role for _, role in groups])
    rights: dict[int, list[str]] = {}
    for group_id, name in db.execute(
        select(Permission.group_id, Permission.name)
        .where(Permission.table_name == "sample_set", Permission.record_id == 0).order_by(Permission.name)
    ):
        rights.setdefault(group_id, []).append(name)
    holders = set(db.scalars(select(Permission.group_id).where(
        Permission.name == ACCESS, Permission.table_name == table_name, Permission.record_id == record_id)))
    roles = dict(groups)
    parents: dict[int, list[int]] = {}
    for child, parent in db.execute(select(GroupAssoc.second_group_id, GroupAssoc.first_group_id)
                                    .order_by(GroupAssoc.id)):
        parents.setdefault(child, []).append(parent)
    return [
        SharingRow(
            group_id=group_id,
            owner=owners.get(role, role or ""),
            rights=", ".join(dict.fromkeys(rights.get(group_id, []))),
            parent_access=", ".join(roles.get(p) or str(p) for p in parents.get(group_id, []) if p in holders),
            has_access=group_id in holders,
        )
        for group_id, role in groups
    ]


def toggle_access(db: Session, table_name: str, record_id: int, group_id: int) -> tuple[bool, Group]:
    """Grant the group access to the object, or take it back; (granted now?, group)."""
    if table_name not in SHARABLE_TABLES:
        raise SharingError(f"{table_name} cannot be shared")
    group = db.get(Group, group_id)
    if group is None:
        raise SharingError(f"no group {group_id}")
    if revoke(db, group_id, ACCESS, table_name, record_id):
        db.flush()
        return False, group
    grant(db, group_id, ACCESS, table_name, record_id)
    db.flush()
    return True, group


def forget_object(db: Session, table_name: str, record_id: int) -> None:
    """Remove every permission row about a deleted object (the original left them dangling)."""
    for row in db.scalars(select(Permission).where(Permission.table_name == table_name,
                                                   Permission.record_id == record_id)):
        db.delete(row)
