"""Groups: listing, creating, renaming, deleting, members, owners and sample-set rights.

Write-side rules of the original (schema-auth §7.4), with its bugs fixed:

* a new group gets `create, read, admin, upload, save` on sample sets; with a parent,
  it is attached to the parent's own parents if the parent is itself a child (the
  hierarchy stays one level deep), and each parent gets `('admin','auth_group',new)`;
  without a parent, the original's malformed row (group id in `table_name`) is not written;
* making a user "owner" of a group gives their personal group `('admin','auth_group',G)`
  as the original did, plus the `('access','auth_group',G)` row without which the
  permission service (like the original's) never lets them manage it;
* role names that would hand out rights (`admin`, `public`, a personal `user_<n>`),
  or that already exist, are refused: a group manager renaming their group `admin`
  would otherwise make its members administrators.

Who may do what is decided by the permission service before these are called.
Knows nothing of HTTP.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from ..files.models import SampleSetMembership, SequenceFile
from ..sample_sets.models import GroupTag, SampleSet
from .models import AuthEvent, Group, GroupAssoc, Membership, Permission, User
from .services import ADMIN_ROLE, PUBLIC_ROLE, add_membership, grant, revoke

SET_RIGHTS = ("create", "read", "admin", "upload", "run", "save", "anon")
DEFAULT_GROUP_RIGHTS = ("create", "read", "admin", "upload", "save")
# Letters of the group list, for the rights shown there (ordered by right name).
RIGHT_LETTERS = {"admin": "e", "anon": "a", "create": "c", "run": "r", "save": "s", "upload": "u"}
SPECIAL_ROLES = (ADMIN_ROLE, PUBLIC_ROLE)
ROLE_MAX = 512
_PERSONAL_ROLE = re.compile(r"^user_\d+$", re.IGNORECASE)


class GroupError(ValueError):
    """A change to a group that cannot be made; the message says why."""


def is_personal_role(role: str | None) -> bool:
    return bool(role and _PERSONAL_ROLE.match(role))


def is_protected(group: Group) -> bool:
    """`admin`, `public` and personal groups: their role carries meaning and must not change."""
    return group.role in SPECIAL_ROLES or is_personal_role(group.role)


def personal_group_id(db: Session, user_id: int) -> int | None:
    """The user's personal group: `user_0005`, or the pre-2018.06 `user_5`."""
    for role in ("user_%04d" % user_id, "user_%d" % user_id):
        found = db.scalar(select(Group.id).join(Membership, Membership.group_id == Group.id)
                          .where(Group.role == role, Membership.user_id == user_id).order_by(Group.id).limit(1))
        if found is not None:
            return found
    return None


# --- listing ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class GroupRow:
    id: int
    role: str
    description: str
    count: int
    access: str
    parents: str


def group_rows(db: Session, group_ids: list[int] | None = None) -> list[GroupRow]:
    """Groups (all of them, or these) with member count, right letters and parent ids; by role."""
    query = select(Group.id, Group.role, Group.description).order_by(Group.role, Group.id)
    if group_ids is not None:
        query = query.where(Group.id.in_(group_ids))
    groups = db.execute(query).all()
    ids = [gid for gid, _, _ in groups]
    if not ids:
        return []
    counts = dict(db.execute(select(Membership.group_id, func.count(func.distinct(Membership.user_id)))
                             .where(Membership.group_id.in_(ids)).group_by(Membership.group_id)).all())
    rights: dict[int, set[str]] = {}
    for gid, name in db.execute(select(Permission.group_id, Permission.name).where(
            Permission.group_id.in_(ids), Permission.table_name == "sample_set", Permission.record_id == 0)):
        rights.setdefault(gid, set()).add(name)
    parents: dict[int, list[str]] = {}
    for child, parent in db.execute(select(GroupAssoc.second_group_id, GroupAssoc.first_group_id)
                                    .where(GroupAssoc.second_group_id.in_(ids)).order_by(GroupAssoc.id)):
        parents.setdefault(child, []).append(str(parent))
    return [
        GroupRow(id=gid, role=role or "", description=description or "", count=counts.get(gid, 0),
                 access="".join(RIGHT_LETTERS[r] for r in sorted(rights.get(gid, ())) if r in RIGHT_LETTERS),
                 parents=", ".join(parents.get(gid, [])))
        for gid, role, description in groups
    ]


def groups_reached_by(db: Session, group_ids: frozenset[int]) -> list[int]:
    """Groups that these groups hold an `access` row on: the only ones a non-admin may manage."""
    if not group_ids:
        return []
    return list(db.scalars(select(Permission.record_id).where(
        Permission.group_id.in_(group_ids), Permission.name == "access", Permission.table_name == "auth_group",
        Permission.record_id > 0).distinct()))


def group_rights(db: Session, group_id: int) -> set[str]:
    return set(db.scalars(select(Permission.name).where(
        Permission.group_id == group_id, Permission.table_name == "sample_set", Permission.record_id == 0)))


# --- writing ---------------------------------------------------------------------------------

def checked_role(db: Session, role: str | None, group_id: int | None = None) -> str:
    """A new role name, refused when empty, too long, meaningful or already used."""
    role = (role or "").strip()
    if not role:
        raise GroupError("group name needed")
    if len(role) > ROLE_MAX:
        raise GroupError(f"group name too long (at most {ROLE_MAX} characters)")
    if role.lower() in SPECIAL_ROLES or is_personal_role(role):
        raise GroupError(f"'{role}' is a reserved group name")
    taken = db.scalar(select(Group.id).where(func.lower(Group.role) == role.lower(), Group.id != (group_id or 0))
                      .limit(1))
    if taken is not None:
        raise GroupError(f"a group named '{role}' already exists")
    return role


def create_group(db: Session, creator_id: int, role: str | None, description: str | None,
                 parent_id: int | None) -> Group:
    """A new group with the creator as member and the default sample-set rights."""
    role = checked_role(db, role)
    if parent_id is not None and db.get(Group, parent_id) is None:
        raise GroupError(f"no parent group {parent_id}")
    group = Group(role=role, description=description or "")
    db.add(group)
    db.flush()
    add_membership(db, creator_id, group.id)
    if parent_id is not None:
        grand_parents = list(db.scalars(select(GroupAssoc.first_group_id)
                                        .where(GroupAssoc.second_group_id == parent_id).order_by(GroupAssoc.id)))
        for parent in dict.fromkeys(grand_parents or [parent_id]):
            db.add(GroupAssoc(first_group_id=parent, second_group_id=group.id))
            grant(db, parent, "admin", "auth_group", group.id)
    for right in DEFAULT_GROUP_RIGHTS:
        grant(db, group.id, right)
    db.flush()
    return group


def update_group(db: Session, group: Group, role: str | None, description: str | None) -> None:
    """Rename a group and change its description; special and personal groups keep their role."""
    wanted = (role or "").strip()
    if wanted != (group.role or ""):
        if is_protected(group):
            raise GroupError(f"the group '{group.role}' cannot be renamed")
        group.role = checked_role(db, wanted, group.id)
    group.description = description or ""
    db.flush()


def delete_group(db: Session, group: Group) -> None:
    """Delete a group with its memberships, rights, hierarchy links, tag links, and rows about it."""
    if is_protected(group):
        raise GroupError(f"the group '{group.role}' cannot be deleted")
    gid = group.id
    db.execute(delete(Membership).where(Membership.group_id == gid))
    db.execute(delete(Permission).where(or_(
        Permission.group_id == gid,
        (Permission.table_name == "auth_group") & (Permission.record_id == gid))))
    db.execute(delete(GroupAssoc).where(or_(GroupAssoc.first_group_id == gid, GroupAssoc.second_group_id == gid)))
    db.execute(delete(GroupTag).where(GroupTag.group_id == gid))
    db.delete(group)
    db.flush()


def set_right(db: Session, group: Group, right: str, enabled: bool) -> None:
    """Give or take one sample-set right (record 0) of a group."""
    if right not in SET_RIGHTS:
        raise GroupError(f"unknown right '{right}'")
    if enabled:
        grant(db, group.id, right)
    else:
        revoke(db, group.id, right)
    db.flush()


def _user(db: Session, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise GroupError(f"no user {user_id}")
    return user


def add_member(db: Session, group: Group, user_id: int) -> None:
    _user(db, user_id)
    add_membership(db, user_id, group.id)
    db.flush()


def remove_member(db: Session, group: Group, user_id: int) -> None:
    """End a membership; the admin group always keeps a member, and personal groups their user."""
    _user(db, user_id)
    if is_personal_role(group.role) and personal_group_id(db, user_id) == group.id:
        raise GroupError("a user cannot leave their personal group")
    if group.role == ADMIN_ROLE:
        others = db.scalar(select(func.count(Membership.id)).where(
            Membership.group_id == group.id, Membership.user_id != user_id))
        if not others:
            raise GroupError("the admin group must keep at least one member")
    db.execute(delete(Membership).where(Membership.group_id == group.id, Membership.user_id == user_id))
    db.flush()


def set_owner(db: Session, group: Group, user_id: int, owner: bool) -> None:
    """Let a user manage a group through their personal group, or stop them."""
    _user(db, user_id)
    personal = personal_group_id(db, user_id)
    if personal is None:
        raise GroupError(f"user {user_id} has no personal group")
    if owner:
        grant(db, personal, "admin", "auth_group", group.id)
        grant(db, personal, "access", "auth_group", group.id)
    else:
        revoke(db, personal, "admin", "auth_group", group.id)
        revoke(db, personal, "access", "auth_group", group.id)
    db.flush()


# --- one group's page ------------------------------------------------------------------------

@dataclass(frozen=True)
class MemberRow:
    user_id: int
    name: str
    email: str
    last_login: str  # "YYYY-MM-DD HH:MM:SS", or "-" if never
    owner: bool
    sets_created: int
    file_count: int
    file_size: int


def members(db: Session, group_id: int) -> list[MemberRow]:
    """The group's members, with what they created in the sets the group reaches."""
    users = db.execute(select(User.id, User.first_name, User.last_name, User.email)
                       .join(Membership, Membership.user_id == User.id)
                       .where(Membership.group_id == group_id).distinct().order_by(User.id)).all()
    ids = [uid for uid, _, _, _ in users]
    if not ids:
        return []
    reaching = [group_id, *db.scalars(select(GroupAssoc.first_group_id).where(GroupAssoc.second_group_id == group_id))]
    group_sets = select(Permission.record_id).where(
        Permission.group_id.in_(reaching), Permission.name == "access", Permission.table_name == "sample_set",
        Permission.record_id > 0).correlate(None)
    created = dict(db.execute(select(SampleSet.creator, func.count(SampleSet.id))
                              .where(SampleSet.creator.in_(ids), SampleSet.id.in_(group_sets))
                              .group_by(SampleSet.creator)).all())
    files = {uid: (count, size or 0) for uid, count, size in db.execute(
        select(SequenceFile.provider, func.count(func.distinct(SequenceFile.id)), func.sum(SequenceFile.size_file))
        .where(SequenceFile.provider.in_(ids), SequenceFile.id.in_(
            select(SampleSetMembership.sequence_file_id).where(SampleSetMembership.sample_set_id.in_(group_sets))))
        .group_by(SequenceFile.provider))}
    logins = dict(db.execute(select(AuthEvent.user_id, func.max(AuthEvent.time_stamp)).where(
        AuthEvent.user_id.in_(ids), AuthEvent.origin == "auth", AuthEvent.description.like("%Logged-in"))
        .group_by(AuthEvent.user_id)).all())
    owners = set(db.scalars(
        select(Membership.user_id).join(Permission, Permission.group_id == Membership.group_id)
        .join(Group, Group.id == Membership.group_id)
        .where(Membership.user_id.in_(ids), Permission.name == "access", Permission.table_name == "auth_group",
               Permission.record_id == group_id, Group.role.like("user\\_%", escape="\\"))))
    return [MemberRow(user_id=uid, name=f"{first or ''} {last or ''}".strip(), email=email or "",
                      last_login=_when(logins.get(uid)), owner=uid in owners, sets_created=created.get(uid, 0),
                      file_count=files.get(uid, (0, 0))[0], file_size=int(files.get(uid, (0, 0))[1]))
            for uid, first, last, email in users]


def _when(moment: dt.datetime | str | None) -> str:
    """Seconds are enough on screen."""
    if isinstance(moment, dt.datetime):
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return str(moment)[:19] if moment else "-"


def user_choices(db: Session) -> list[tuple[int, str]]:
    """(id, "First Last") of every account, for the invite list."""
    return [(uid, f"{first or ''} {last or ''}".strip()) for uid, first, last in
            db.execute(select(User.id, User.first_name, User.last_name).order_by(User.id))]
