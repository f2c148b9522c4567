"""Creating, editing, sharing and deleting sample sets. Knows nothing of HTTP.

Writes are all-or-nothing: a submission is validated entirely (fields, rights,
target group) before the first row is written, so a refused line never leaves
its valid neighbours half-saved; the caller's transaction does the rest.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..auth.models import Group, GroupAssoc, Permission, User
from ..auth.permissions import Permissions
from ..auth.services import ADMIN_ROLE, grant, revoke
from ..files.models import SampleSetMembership, SequenceFile
from ..results.models import AnalysisFile, FusedFile, ResultsFile
from ..results.services import delete_results_of_files
from .models import DETAIL_MODELS, GENERIC, PATIENT, RUN, SET_TYPES, SampleSet, TagRef
from .tags import register_tags

ACCESS = "access"
SAMPLE_SET = "sample_set"
# Editable fields of each kind of set, in form order.
FIELDS: dict[str, tuple[str, ...]] = {
    PATIENT: ("id_label", "first_name", "last_name", "birth", "info"),
    RUN: ("id_label", "name", "run_date", "info", "sequencer", "pcr"),
    GENERIC: ("name", "info"),
}
REQUIRED: dict[str, tuple[str, ...]] = {PATIENT: ("first_name", "last_name"), RUN: ("name",), GENERIC: ("name",)}
NAME_FIELDS: dict[str, tuple[str, ...]] = {PATIENT: ("first_name", "last_name"), RUN: ("name",), GENERIC: ("name",)}
DATE_FIELDS = ("birth", "run_date")
MAX_STRING = 512
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PERSONAL_ROLE = re.compile(r"^user_(\d+)$")


class SampleSetError(ValueError):
    """A request about sets that cannot be honoured; the message says why."""


# ----------------------------------------------------------------------------- submissions

@dataclass
class SetItem:
    """One line of the create/edit form, as typed, with what went wrong with it."""

    sample_type: str
    values: dict[str, str]
    sample_set_id: int | None = None
    errors: list[str] = field(default_factory=list)

    def as_form_values(self) -> dict[str, Any]:
        return {**self.values, "sample_set_id": self.sample_set_id or "", "error": self.errors}


@dataclass
class Submission:
    group_id: int | None
    items: list[SetItem]


@dataclass
class SubmitOutcome:
    items: list[SetItem]
    saved: list[tuple[str, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(item.errors for item in self.items)

    def redirect(self) -> dict[str, Any]:
        """The browser's next page: the set itself for one line, else the list of the main type."""
        message = "successfully added/edited set(s)"
        if len(self.saved) == 1:
            return {"redirect": "sample_set/index", "args": {"id": self.saved[0][1]}, "message": message}
        counts = {t: sum(1 for s, _ in self.saved if s == t) for t in SET_TYPES}
        main_type = max(SET_TYPES, key=lambda t: (counts[t], -SET_TYPES.index(t)))
        return {"redirect": "sample_set/all", "args": {"type": main_type, "page": 0}, "message": message}


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or isinstance(value, (list, dict)):
        raise SampleSetError("form values must be text")
    return str(value)


def parse_submission(data: Any) -> Submission:
    """The JSON the form (or the API client) posts: `{group, patient: [...], run: [...], generic: [...]}`.

    `null` lines (removed from the form) are skipped; anything not shaped like a
    form is refused as a whole.
    """
    if not isinstance(data, dict):
        raise SampleSetError("invalid form data")
    raw_group = data.get("group")
    group_id: int | None = None
    if raw_group not in (None, ""):
        try:
            group_id = int(_as_text(raw_group))
        except ValueError:
            raise SampleSetError("invalid group") from None
    items: list[SetItem] = []
    for sample_type in SET_TYPES:
        lines = data.get(sample_type)
        if lines is None:
            continue
        if not isinstance(lines, list):
            raise SampleSetError(f"invalid {sample_type} list")
        for line in lines:
            if line is None:
                continue
            if not isinstance(line, dict):
                raise SampleSetError(f"invalid {sample_type} line")
            values = {name: _as_text(line.get(name)) for name in FIELDS[sample_type]}
            raw_id = _as_text(line.get("sample_set_id")).strip()
            item = SetItem(sample_type, values)
            if raw_id:
                if not raw_id.isdigit() or not 0 < int(raw_id) < 2**31:
                    raise SampleSetError("invalid sample_set_id")
                item.sample_set_id = int(raw_id)
            items.append(item)
    return Submission(group_id, items)


def _field_errors(item: SetItem) -> list[str]:
    errors: list[str] = []
    values = item.values
    for name in REQUIRED[item.sample_type]:
        if not values[name].strip():
            errors.append(f"{name.replace('_', ' ')} needed")
    for name in DATE_FIELDS:
        value = values.get(name, "").strip()
        if name in values and value:
            try:
                if not _DATE.match(value) or dt.date.fromisoformat(value).year < 1000:
                    raise ValueError(value)
            except ValueError:
                errors.append("date (wrong format)")
    if any("|" in values[name] for name in NAME_FIELDS[item.sample_type]):
        errors.append("illegal character '|' in name")
    for name, value in values.items():
        if name != "info" and len(value) > MAX_STRING:
            errors.append(f"{name.replace('_', ' ')} too long")
    return errors


def creation_group_ids(perms: Permissions) -> set[int]:
    """Groups a new set may be given to: those offered by the form, and the user's own groups
    holding `create` (what `whoami` lists to the API client)."""
    return {g.id for g in perms.groups_for_creation()} | set(perms.groups_with_action("create"))


def check_submission(db: Session, perms: Permissions, submission: Submission) -> None:
    """Fill each item's errors: fields, then the right to edit that set or to create one."""
    creatable_groups: set[int] | None = None
    for item in submission.items:
        item.errors = _field_errors(item)
        if item.sample_set_id is not None:
            sample_type = db.scalar(select(SampleSet.sample_type).where(SampleSet.id == item.sample_set_id))
            if not perms.can_modify_sample_set(item.sample_set_id):
                item.errors.append("permission denied")
            elif sample_type != item.sample_type:
                item.errors.append(f"set {item.sample_set_id} is not a {item.sample_type}")
        elif not perms.can_create_sample_set():
            item.errors.append("permission denied")
        else:
            if creatable_groups is None:
                creatable_groups = creation_group_ids(perms)
            if submission.group_id is None or submission.group_id not in creatable_groups:
                item.errors.append("you cannot create sets in this group")


def _column_values(item: SetItem) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in item.values.items():
        if name in DATE_FIELDS:
            values[name] = dt.date.fromisoformat(value.strip()) if value.strip() else None
        elif name in NAME_FIELDS[item.sample_type]:
            values[name] = value.strip()
        else:
            values[name] = value
    return values


def owner_group_id(db: Session, sample_set_id: int) -> int | None:
    """The group a set's tags belong to: the first one given access to it."""
    return db.scalar(
        select(Permission.group_id).where(
            Permission.name == ACCESS, Permission.table_name == SAMPLE_SET, Permission.record_id == sample_set_id,
        ).order_by(Permission.id).limit(1)
    )


def save_submission(db: Session, perms: Permissions, user_id: int, submission: Submission) -> SubmitOutcome:
    """Create or edit every line, or nothing when any line is refused."""
    check_submission(db, perms, submission)
    outcome = SubmitOutcome(items=submission.items)
    if not outcome.ok:
        return outcome
    for item in submission.items:
        model = DETAIL_MODELS[item.sample_type]
        values = _column_values(item)
        if item.sample_set_id is not None:
            detail = db.scalars(select(model).where(model.sample_set_id == item.sample_set_id)
                                .order_by(model.id).limit(1)).first()
            if detail is None:
                detail = model(sample_set_id=item.sample_set_id, creator=user_id)
                db.add(detail)
            info_changed = (detail.info or "") != values.get("info", "")
            for name, value in values.items():
                setattr(detail, name, value)
            db.flush()
            if info_changed:
                register_tags(db, detail.info, item.sample_type, detail.id, owner_group_id(db, item.sample_set_id))
            outcome.saved.append((item.sample_type, item.sample_set_id))
        else:
            sample_set = SampleSet(sample_type=item.sample_type, creator=user_id)
            db.add(sample_set)
            db.flush()
            detail = model(sample_set_id=sample_set.id, creator=user_id, **values)
            db.add(detail)
            grant(db, submission.group_id, ACCESS, SAMPLE_SET, sample_set.id)
            db.flush()
            register_tags(db, detail.info, item.sample_type, detail.id, submission.group_id)
            item.sample_set_id = sample_set.id
            outcome.saved.append((item.sample_type, sample_set.id))
    return outcome


# ----------------------------------------------------------------------------- one set

def load_set(db: Session, sample_set_id: int) -> tuple[SampleSet, Any]:
    """The set and its detail row; SampleSetError when either is missing."""
    sample_set = db.get(SampleSet, sample_set_id)
    if sample_set is None or sample_set.sample_type not in DETAIL_MODELS:
        raise SampleSetError("this sample set does not exist (any more)")
    model = DETAIL_MODELS[sample_set.sample_type]
    detail = db.scalars(select(model).where(model.sample_set_id == sample_set_id).order_by(model.id).limit(1)).first()
    if detail is None:
        raise SampleSetError("this sample set has no description")
    return sample_set, detail


@dataclass(frozen=True)
class DeletionPlan:
    """What deleting a set removes: samples found in no other set, and their results."""

    sample_type: str
    sample_set_id: int
    exclusive_file_ids: tuple[int, ...]
    shared_file_ids: tuple[int, ...]
    result_count: int


def plan_deletion(db: Session, sample_set_id: int) -> DeletionPlan:
    sample_set, _detail = load_set(db, sample_set_id)
    file_ids = sorted(set(db.scalars(
        select(SampleSetMembership.sequence_file_id).where(
            SampleSetMembership.sample_set_id == sample_set_id, SampleSetMembership.sequence_file_id.is_not(None)))))
    shared = set(db.scalars(
        select(SampleSetMembership.sequence_file_id).where(
            SampleSetMembership.sequence_file_id.in_(file_ids),
            SampleSetMembership.sample_set_id.is_not(None),
            SampleSetMembership.sample_set_id != sample_set_id))) if file_ids else set()
    exclusive = tuple(f for f in file_ids if f not in shared)
    results = len(db.scalars(select(ResultsFile.id).where(ResultsFile.sequence_file_id.in_(exclusive))).all()) \
        if exclusive else 0
    return DeletionPlan(sample_set.sample_type, sample_set_id, exclusive, tuple(sorted(shared)), results)


def delete_set(db: Session, sample_set_id: int) -> DeletionPlan:
    """Delete a set, the samples that belonged only to it and their results.

    Files on disk are kept (as the original did). Samples shared with other sets
    stay, with their results, so no other set's fused result changes and no
    re-fuse is needed. The set's access rows go too: left dangling, they would
    grant a future set that reuses the id (SQLite reuses the highest id).
    """
    plan = plan_deletion(db, sample_set_id)
    exclusive = list(plan.exclusive_file_ids)
    detail_model = DETAIL_MODELS[plan.sample_type]
    detail_ids = list(db.scalars(select(detail_model.id).where(detail_model.sample_set_id == sample_set_id)))
    if exclusive:
        delete_results_of_files(db, exclusive)
        db.execute(delete(TagRef).where(TagRef.table_name == "sequence_file", TagRef.record_id.in_(exclusive)))
        db.execute(delete(SampleSetMembership).where(SampleSetMembership.sequence_file_id.in_(exclusive)))
        db.execute(delete(SequenceFile).where(SequenceFile.id.in_(exclusive)))
    db.execute(delete(SampleSetMembership).where(SampleSetMembership.sample_set_id == sample_set_id))
    if detail_ids:
        if plan.sample_type == PATIENT:
            # legacy link from samples to patients: cascading it would delete shared samples
            for model in (SequenceFile, FusedFile, AnalysisFile):
                db.execute(update(model).where(model.patient_id.in_(detail_ids)).values(patient_id=None))
        db.execute(delete(TagRef).where(TagRef.table_name == plan.sample_type, TagRef.record_id.in_(detail_ids)))
        db.execute(delete(Permission).where(Permission.table_name == plan.sample_type,
                                            Permission.record_id.in_(detail_ids)))
        db.execute(delete(detail_model).where(detail_model.id.in_(detail_ids)))
    db.execute(delete(Permission).where(Permission.table_name == SAMPLE_SET, Permission.record_id == sample_set_id))
    # fused results and saved analyses stay (their files too), detached as the schema's SET NULL does
    for model in (FusedFile, AnalysisFile):
        db.execute(update(model).where(model.sample_set_id == sample_set_id).values(sample_set_id=None))
    db.execute(delete(SampleSet).where(SampleSet.id == sample_set_id))
    db.expire_all()
    return plan


# ----------------------------------------------------------------------------- sharing

@dataclass
class SharingRow:
    group_id: int
    role: str
    owner: str
    permissions: list[str]
    access_from: list[str]
    has_access: bool


def shareable_group_ids(db: Session, perms: Permissions, sample_set_id: int) -> list[int]:
    """Groups whose access to the set this user may see and toggle.

    Admins: every group but `admin`. Others: their own groups and parents, and the
    groups that already share the set — never the whole directory of groups (W11).
    """
    if perms.is_admin:
        return list(db.scalars(select(Group.id).where(Group.role != ADMIN_ROLE).order_by(Group.id)))
    holders = set(db.scalars(select(Permission.group_id).where(
        Permission.name == ACCESS, Permission.table_name == SAMPLE_SET, Permission.record_id == sample_set_id)))
    candidates = (set(perms.group_ids) | set(perms.parent_ids) | holders) - {None}
    if not candidates:
        return []
    return list(db.scalars(select(Group.id).where(Group.id.in_(candidates), Group.role != ADMIN_ROLE)
                           .order_by(Group.id)))


def sharing_rows(db: Session, perms: Permissions, sample_set_id: int) -> list[SharingRow]:
    """The permission page: who reaches the set, and through which parent."""
    group_ids = shareable_group_ids(db, perms, sample_set_id)
    if not group_ids:
        return []
    groups = db.scalars(select(Group).where(Group.id.in_(group_ids)).order_by(Group.id)).all()
    holders = set(db.scalars(select(Permission.group_id).where(
        Permission.name == ACCESS, Permission.table_name == SAMPLE_SET, Permission.record_id == sample_set_id)))
    actions: dict[int, list[str]] = {}
    for group_id, name in db.execute(
        select(Permission.group_id, Permission.name).where(
            Permission.group_id.in_(group_ids), Permission.table_name == SAMPLE_SET, Permission.record_id == 0,
        ).distinct().order_by(Permission.name)
    ):
        actions.setdefault(group_id, []).append(name)
    parents: dict[int, list[int]] = {}
    for child, parent in db.execute(select(GroupAssoc.second_group_id, GroupAssoc.first_group_id)
                                    .where(GroupAssoc.second_group_id.in_(group_ids)).order_by(GroupAssoc.id)):
        parents.setdefault(child, []).append(parent)
    parent_roles = dict(db.execute(select(Group.id, Group.role).where(
        Group.id.in_({p for ps in parents.values() for p in ps}))).all()) if parents else {}
    owners = _personal_group_owners(db, [g.role or "" for g in groups])
    return [
        SharingRow(
            group_id=group.id, role=group.role or "", owner=owners.get(group.role or "", group.role or ""),
            permissions=actions.get(group.id, []),
            access_from=[parent_roles.get(p, str(p)) for p in parents.get(group.id, []) if p in holders],
            has_access=group.id in holders,
        )
        for group in groups
    ]


def _personal_group_owners(db: Session, roles: list[str]) -> dict[str, str]:
    """`user_0005` → the name of user 5."""
    user_ids = {int(m.group(1)): role for role in roles if (m := _PERSONAL_ROLE.match(role))}
    if not user_ids:
        return {}
    names = db.execute(select(User.id, User.first_name, User.last_name).where(User.id.in_(user_ids))).all()
    return {user_ids[uid]: f"{first or ''} {last or ''}".strip() for uid, first, last in names}


def toggle_access(db: Session, perms: Permissions, sample_set_id: int, group_id: int) -> tuple[bool, str]:
    """Give or take back a group's access to a set; (granted?, group role)."""
    if group_id not in shareable_group_ids(db, perms, sample_set_id):
        raise SampleSetError("access denied")
    role = db.scalar(select(Group.role).where(Group.id == group_id)) or ""
    if revoke(db, group_id, ACCESS, SAMPLE_SET, sample_set_id):
        db.flush()
        return False, role
    grant(db, group_id, ACCESS, SAMPLE_SET, sample_set_id)
    db.flush()
    return True, role
