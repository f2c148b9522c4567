"""The permission service: the one place that decides every right of a user.

The rules are those of the legacy server (schema-auth.md §7): *action rows*
``(group, action, <any table>, 0)`` say what members of a group may do, *access
rows* ``(group, 'access', table, id)`` say which objects the group reaches, and
a group also reaches what its parents (``group_assoc``) reach. For a right on an
object, the **same** group must carry the action and reach the object. Members
of the ``admin`` group bypass every check except the one that reveals patient
identities.

One ``Permissions`` object serves one request: what it reads is cached for its
whole life (call ``clear_cache`` after writing permission rows in the same
request). It knows nothing of HTTP, so views, services, the CLI and consumers can
all ask the same questions.

Deliberate differences from the original, all on the safe or faithful side:

* every sample-set check, ``can_view_sample_set`` included, first requires the
  set to exist (the original let admins "view" missing sets);
* ``can_view_info`` also honours era-B access rows (``('access','patient',d)``),
  as the era-B code did, so imported old data keeps its visible names;
* the listing queries honour era-B access rows by mapping the detail row to its
  ``sample_set_id`` in SQL (the original list pages saw only era-C rows), so the
  lists agree with the per-set checks;
* the listing fast path of the original (a group holding ``(a, T, 0)`` and
  ``('access', T, 0)``) is replaced by the admin bypass, which is what it was
  used for; a non-admin group holding such rows gains nothing here, as in the
  per-set checks.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Iterable

from sqlalchemy import Select, and_, false, func, or_, select
from sqlalchemy.orm import Session

from ..admin.models import Config
from ..files.models import PreProcess, SampleSetMembership, SequenceFile
from ..sample_sets.models import DETAIL_MODELS, GENERIC, PATIENT, RUN, SET_TYPES, SampleSet
from .models import Group, GroupAssoc, Membership, Permission, User
from .services import ADMIN_ROLE, PUBLIC_ROLE
from ..params import parse_id as _as_id

ACCESS = "access"
SAMPLE_SET = "sample_set"

# Tables whose rows can be the object of a permission check, for the existence test EX.
_MODELS_BY_TABLE = {
    SAMPLE_SET: SampleSet,
    PATIENT: DETAIL_MODELS[PATIENT],
    RUN: DETAIL_MODELS[RUN],
    GENERIC: DETAIL_MODELS[GENERIC],
    "config": Config,
    "pre_process": PreProcess,
    "auth_group": Group,
    "auth_user": User,
    "sequence_file": SequenceFile,
}
# Tables whose access rows say "this group reaches this sample set" (era B: detail tables).
_SET_ACCESS_TABLES = (SAMPLE_SET, *SET_TYPES)


@dataclass(frozen=True)
class _SetRule:
    """How one right on a sample set is decided (one row of the decision table)."""

    actions: tuple[str, ...]  # era C: HAS(action, 'sample_set', S)
    legacy_actions: tuple[str, ...]  # era B: HAS(action, X, d) for the detail row d of type X
    legacy_types: tuple[str, ...]  # set types for which the era-B fallback is consulted
    admin_bypass: bool = True


_SET_RULES: dict[str, _SetRule] = {
    # legacy can_view(X, d) also accepts can_modify(X, d), hence 'admin' there.
    "read": _SetRule(("read",), ("read", "admin"), SET_TYPES),
    "admin": _SetRule(("admin",), ("admin",), SET_TYPES),
    "upload": _SetRule(("upload",), ("upload",), SET_TYPES),
    "run": _SetRule(("run",), ("run",), SET_TYPES),
    # the original had no era-B save check for generic sets
    "save": _SetRule(("save",), ("save",), (PATIENT, RUN)),
    # patient identities: never an admin bypass
    "anon": _SetRule(("anon",), ("anon",), SET_TYPES, admin_bypass=False),
}

_MISSING = object()


def _personal_roles(user_id: int) -> tuple[str, ...]:
    """Both namings of a personal group: 2018.06+ ``user_0005`` first, older ``user_5``."""
    return ("user_%04d" % user_id, "user_%d" % user_id)


class Permissions:
    """Every right of one user (``user_id=None``: anonymous, no right at all)."""

    def __init__(self, db: Session, user_id: int | None,
                 limited_accounts: frozenset[int] = frozenset()) -> None:
        self.db = db
        self.user_id = user_id
        self.limited_accounts = frozenset(limited_accounts)
        self._reach: dict[tuple[str, int], frozenset[int]] = {}
        self._rows: dict[tuple[str, int], object] = {}
        self._details: dict[tuple[str, int], tuple[int, ...]] = {}
        self._decisions: dict[tuple[str, int], bool] = {}

    def clear_cache(self) -> None:
        """Forget everything read so far (after this request changed memberships or rights)."""
        for name in ("_group_roles", "_parents_of", "_actions_of", "personal_group_id"):
            self.__dict__.pop(name, None)
        self._reach.clear()
        self._rows.clear()
        self._details.clear()
        self._decisions.clear()

    # ------------------------------------------------------------------ who the user is

    @cached_property
    def _group_roles(self) -> dict[int, str | None]:
        """D(U): the user's direct groups (existing ones only) with their roles."""
        if self.user_id is None:
            return {}
        rows = self.db.execute(
            select(Membership.group_id, Group.role)
            .join(Group, Group.id == Membership.group_id)
            .where(Membership.user_id == self.user_id)
        )
        return {group_id: role for group_id, role in rows}

    @property
    def group_ids(self) -> frozenset[int]:
        """D(U): groups the user is a direct member of."""
        return frozenset(self._group_roles)

    @property
    def is_admin(self) -> bool:
        """Member of a group whose role is exactly ``admin``: bypasses nearly every check."""
        return ADMIN_ROLE in self._group_roles.values()

    @cached_property
    def _parents_of(self) -> dict[int, tuple[int, ...]]:
        """Parents of each of the user's groups, in group_assoc order (the first parent first)."""
        if not self.group_ids:
            return {}
        parents: dict[int, list[int]] = {}
        rows = self.db.execute(
            select(GroupAssoc.second_group_id, GroupAssoc.first_group_id)
            .where(GroupAssoc.second_group_id.in_(self.group_ids), GroupAssoc.first_group_id.is_not(None))
            .order_by(GroupAssoc.id)
        )
        for child, parent in rows:
            if parent not in parents.setdefault(child, []):
                parents[child].append(parent)
        return {child: tuple(found) for child, found in parents.items()}

    @property
    def parent_ids(self) -> frozenset[int]:
        """Parents (through group_assoc) of the user's groups: their access rows are inherited."""
        return frozenset(p for parents in self._parents_of.values() for p in parents)

    @cached_property
    def _actions_of(self) -> dict[int, frozenset[str]]:
        """Action names each of the user's groups holds at record 0, whatever the table."""
        if not self.group_ids:
            return {}
        found: dict[int, set[str]] = {}
        rows = self.db.execute(
            select(Permission.group_id, Permission.name)
            .where(Permission.group_id.in_(self.group_ids), Permission.record_id == 0)
        )
        for group_id, name in rows:
            found.setdefault(group_id, set()).add(name)
        return {group_id: frozenset(names) for group_id, names in found.items()}

    def groups_with_action(self, action: str) -> frozenset[int]:
        """ACT(action): the user's groups holding the action at record 0 (table ignored)."""
        return frozenset(g for g, names in self._actions_of.items() if action in names)

    @cached_property
    def personal_group_id(self) -> int | None:
        """The user's personal group (``user_%04d``, or the pre-2018.06 ``user_<id>``)."""
        if self.user_id is None:
            return None
        by_role = {role: group_id for group_id, role in sorted(self._group_roles.items())}
        for role in _personal_roles(self.user_id):
            if role in by_role:
                return by_role[role]
        return None

    # ------------------------------------------------------------------ HAS and EX

    def _reaching_groups(self, table: str, record_id: int) -> frozenset[int]:
        """ACC(T, R): the user's groups that reach (T, R) directly or through a parent."""
        key = (table, record_id)
        if key not in self._reach:
            candidates = self.group_ids | self.parent_ids
            holders: set[int] = set()
            if candidates:
                holders = set(self.db.scalars(
                    select(Permission.group_id).where(
                        Permission.name == ACCESS, Permission.table_name == table,
                        Permission.record_id == record_id, Permission.group_id.in_(candidates),
                    )
                ))
            self._reach[key] = frozenset(
                g for g in self.group_ids
                if g in holders or any(p in holders for p in self._parents_of.get(g, ()))
            )
        return self._reach[key]

    def has(self, action: str, table: str, record_id: int) -> bool:
        """HAS(a, T, R): one group of the user carries the action and reaches (T, R).

        With R = 0 only the action matters. Action rows are table-agnostic; access
        rows are not. Parents lend their access rows, never their action rows.
        """
        if self.user_id is None:
            return False
        if record_id == 0:
            return bool(self.groups_with_action(action))
        record = _as_id(record_id)
        if record is None:
            return False
        acting = self.groups_with_action(action)
        return bool(acting) and bool(acting & self._reaching_groups(table, record))

    def _row(self, table: str, record_id: int) -> object:
        """Cached existence probe; for sample sets the value is the set's sample_type."""
        key = (table, record_id)
        if key not in self._rows:
            model = _MODELS_BY_TABLE[table]
            value = SampleSet.sample_type if model is SampleSet else model.id
            found = self.db.execute(select(value).where(model.id == record_id)).first()
            self._rows[key] = _MISSING if found is None else found[0]
        return self._rows[key]

    def exists(self, table: str, record_id: object) -> bool:
        """EX(T, R): the row exists (unknown tables never do)."""
        record = _as_id(record_id)
        if record is None or table not in _MODELS_BY_TABLE:
            return False
        return self._row(table, record) is not _MISSING

    # ------------------------------------------------------------------ generic object checks

    def can_modify(self, table: str, record_id: object) -> bool:
        """EX and (HAS(admin, T, R) or ADMIN)."""
        if self.user_id is None or not self.exists(table, record_id):
            return False
        return self.is_admin or self.has("admin", table, _as_id(record_id) or 0)

    def can_view(self, table: str, record_id: object) -> bool:
        """EX and (HAS(read, T, R) or can_modify(T, R) or ADMIN)."""
        if self.user_id is None or not self.exists(table, record_id):
            return False
        return self.is_admin or self.has("read", table, _as_id(record_id) or 0) or self.can_modify(table, record_id)

    # ------------------------------------------------------------------ sample sets

    def _detail_ids(self, sample_type: str, sample_set_id: int) -> tuple[int, ...]:
        key = (sample_type, sample_set_id)
        if key not in self._details:
            model = DETAIL_MODELS[sample_type]
            self._details[key] = tuple(self.db.scalars(
                select(model.id).where(model.sample_set_id == sample_set_id).order_by(model.id)
            ))
        return self._details[key]

    def _can_on_set(self, right: str, sample_set_id: object) -> bool:
        """Apply one sample-set rule: EX, admin bypass, era-C rows, then the era-B fallback."""
        set_id = _as_id(sample_set_id)
        if self.user_id is None or set_id is None:
            return False
        key = (right, set_id)
        if key not in self._decisions:
            self._decisions[key] = self._decide_on_set(_SET_RULES[right], set_id)
        return self._decisions[key]

    def _decide_on_set(self, rule: _SetRule, set_id: int) -> bool:
        sample_type = self._row(SAMPLE_SET, set_id)
        if sample_type is _MISSING:
            return False
        if rule.admin_bypass and self.is_admin:
            return True
        if any(self.has(action, SAMPLE_SET, set_id) for action in rule.actions):
            return True
        if sample_type not in rule.legacy_types:
            return False
        if not any(self.groups_with_action(action) for action in rule.legacy_actions):
            return False  # spare the detail-row query: no group could qualify
        return any(
            self.has(action, sample_type, detail_id)
            for detail_id in self._detail_ids(sample_type, set_id)
            for action in rule.legacy_actions
        )

    def can_view_sample_set(self, sample_set_id: object) -> bool:
        """See a set, its results, fused file and analyses."""
        return self._can_on_set("read", sample_set_id)

    def can_modify_sample_set(self, sample_set_id: object) -> bool:
        """Edit/delete a set, its files and its sharing."""
        return self._can_on_set("admin", sample_set_id)

    def can_upload_sample_set(self, sample_set_id: object) -> bool:
        """Add sequence files to a set."""
        return self._can_on_set("upload", sample_set_id)

    def can_process_sample_set(self, sample_set_id: object) -> bool:
        """Launch analyses on a set (``run`` is never a default right)."""
        return self._can_on_set("run", sample_set_id)

    def can_save_sample_set(self, sample_set_id: object) -> bool:
        """Save an analysis of a set."""
        return self._can_on_set("save", sample_set_id)

    def can_view_info(self, sample_set_id: object) -> bool:
        """See patient identities of a set: needs ``anon`` + access, even for admins."""
        return self._can_on_set("anon", sample_set_id)

    def can_create_sample_set(self) -> bool:
        """Create patients, runs and generic sets (``can_create_patient`` of the original)."""
        return self.user_id is not None and (self.is_admin or bool(self.groups_with_action("create")))

    def can_run(self, sample_set_id: object, config_id: object) -> bool:
        """What run_request needs: run and admin on the set, and the use of the config."""
        return (self.can_process_sample_set(sample_set_id)
                and self.can_modify_sample_set(sample_set_id)
                and self.can_use_config(config_id))

    # ------------------------------------------------------------------ configs, pre-processes, groups, users, files

    def can_create_config(self) -> bool:
        return self.user_id is not None and (self.is_admin or bool(self.groups_with_action("create_config")))

    def can_create_pre_process(self) -> bool:
        """Same ``create`` action as set creation, so every user with default rights can."""
        return self.user_id is not None and (self.is_admin or bool(self.groups_with_action("create")))

    def can_use_config(self, config_id: object) -> bool:
        return self.can_view("config", config_id)

    def can_modify_config(self, config_id: object) -> bool:
        return self.can_modify("config", config_id)

    def can_modify_pre_process(self, pre_process_id: object) -> bool:
        return self.can_modify("pre_process", pre_process_id)

    def can_modify_group(self, group_id: object) -> bool:
        """Rename, delete, invite/kick, owners. Needs an ``access`` row on the group (rare)."""
        return self.can_modify("auth_group", group_id)

    def can_view_group(self, group_id: object) -> bool:
        return self.can_view("auth_group", group_id)

    def can_modify_user(self, target_user_id: object) -> bool:
        """Admins edit anyone; others only themselves, unless theirs is a limited (shared) account."""
        if self.user_id is None:
            return False
        if self.is_admin:
            return True
        return _as_id(target_user_id) == self.user_id and self.user_id not in self.limited_accounts

    def can_modify_file(self, sequence_file_id: object) -> bool:
        """A sample is editable by whoever may modify any set that contains it."""
        file_id = _as_id(sequence_file_id)
        if self.user_id is None or not self.exists("sequence_file", file_id):
            return False
        if self.is_admin:
            return True
        set_ids = self.db.scalars(
            select(SampleSetMembership.sample_set_id)
            .join(SampleSet, SampleSet.id == SampleSetMembership.sample_set_id)
            .where(SampleSetMembership.sequence_file_id == file_id)
            .distinct()
        ).all()
        return any(self.can_modify_sample_set(set_id) for set_id in set_ids)

    def can_impersonate(self, target_user_id: object) -> bool:
        """web2py's table-specific check: ('impersonate','auth_user', target or 0) on a group of the user."""
        target = _as_id(target_user_id)
        if self.user_id is None or target is None or not self.group_ids:
            return False
        return self.db.scalar(
            select(Permission.id).where(
                Permission.group_id.in_(self.group_ids), Permission.name == "impersonate",
                Permission.table_name == "auth_user", Permission.record_id.in_((0, target)),
            ).limit(1)
        ) is not None

    # ------------------------------------------------------------------ listings (constant query count)

    def _granting_groups(self, actions: Iterable[str]) -> frozenset[int]:
        """Groups whose access rows count for these actions: ACT(actions) and their parents."""
        acting = frozenset().union(*(self.groups_with_action(a) for a in actions))
        return acting | frozenset(p for g in acting for p in self._parents_of.get(g, ()))

    @staticmethod
    def _nothing(model) -> Select:
        return select(model.id).where(false()).correlate(None)

    def _access_records(self, table: str, groups: frozenset[int]) -> Select:
        return select(Permission.record_id).where(
            Permission.name == ACCESS, Permission.table_name == table, Permission.group_id.in_(groups),
        ).correlate(None)

    def accessible_sample_set_ids_query(self, action: str = "read") -> Select:
        """A ``Select`` of the ids of existing sets the user may act on; use it as a subquery.

        Admins get every set (except for ``anon``, which has no bypass). Otherwise the
        ids come from access rows held by groups carrying the action, or by their
        parents. Era-B rows (``('access','patient'|'run'|'generic', d)``) are mapped
        to ``d.sample_set_id`` in SQL: the original list pages ignored them, we keep
        them so imported old data stays visible and lists agree with per-set checks.
        Building it reads at most three cached queries; running it is one statement.
        """
        rule = _SET_RULES.get(action, _SetRule((action,), (action,), SET_TYPES))
        if self.user_id is None:
            return self._nothing(SampleSet)
        if rule.admin_bypass and self.is_admin:
            return select(SampleSet.id).correlate(None)
        conditions = []
        era_c_groups = self._granting_groups(rule.actions)
        if era_c_groups:
            conditions.append(SampleSet.id.in_(self._access_records(SAMPLE_SET, era_c_groups)))
        legacy_groups = self._granting_groups(rule.legacy_actions)
        if legacy_groups:
            for sample_type in rule.legacy_types:
                detail = DETAIL_MODELS[sample_type]
                reached_details = (
                    select(detail.sample_set_id)
                    .where(detail.id.in_(self._access_records(sample_type, legacy_groups)))
                    .correlate(None)
                )
                conditions.append(and_(SampleSet.sample_type == sample_type, SampleSet.id.in_(reached_details)))
        if not conditions:
            return self._nothing(SampleSet)
        return select(SampleSet.id).where(or_(*conditions)).correlate(None)

    def accessible_sample_set_ids(self, action: str = "read") -> set[int]:
        """The ids of ``accessible_sample_set_ids_query``, fetched (one statement)."""
        return set(self.db.scalars(self.accessible_sample_set_ids_query(action)))

    def _accessible_object_ids_query(self, model, table: str) -> Select:
        """Objects of a non-set table the user may use: ``read`` or ``admin`` + access, or ADMIN."""
        if self.user_id is None:
            return self._nothing(model)
        if self.is_admin:
            return select(model.id).correlate(None)
        groups = self._granting_groups(("read", "admin"))
        if not groups:
            return self._nothing(model)
        return select(model.id).where(model.id.in_(self._access_records(table, groups))).correlate(None)

    def accessible_config_ids_query(self) -> Select:
        """A ``Select`` of the ids of configs the user may use (same rule as ``can_use_config``)."""
        return self._accessible_object_ids_query(Config, "config")

    def accessible_pre_process_ids_query(self) -> Select:
        """A ``Select`` of the ids of pre-processes the user may use (``read``/``admin`` + access)."""
        return self._accessible_object_ids_query(PreProcess, "pre_process")

    # ------------------------------------------------------------------ where new sets go

    def _creation_group_ids(self) -> list[int]:
        """Ids offered in the set-creation form, children replaced by their first parent."""
        if self.user_id is None:
            return []
        if self.is_admin:
            candidates = list(self.db.scalars(select(Group.id).order_by(Group.id)))
        else:
            candidates = sorted(g for g, role in self._group_roles.items() if role != PUBLIC_ROLE)
            if candidates:
                with_create = set(self.db.scalars(
                    select(Permission.group_id).where(
                        Permission.group_id.in_(candidates), Permission.name == "create",
                        Permission.table_name == SAMPLE_SET, Permission.record_id == 0,
                    )
                ))
                candidates = [g for g in candidates if g in with_create]
        if not candidates:
            return []
        if self.is_admin:
            first_parent: dict[int, int] = {}
            for child, parent in self.db.execute(
                select(GroupAssoc.second_group_id, GroupAssoc.first_group_id)
                .where(GroupAssoc.first_group_id.is_not(None)).order_by(GroupAssoc.id)
            ):
                first_parent.setdefault(child, parent)
        else:
            first_parent = {child: parents[0] for child, parents in self._parents_of.items() if parents}
        targets: list[int] = []
        for group_id in candidates:
            target = first_parent.get(group_id, group_id)
            if target not in targets:
                targets.append(target)
        return targets

    def groups_for_creation(self) -> list[Group]:
        """Groups the user may create sets in (their new set gets an access row for one of them)."""
        ids = self._creation_group_ids()
        if not ids:
            return []
        return list(self.db.scalars(select(Group).where(Group.id.in_(ids)).order_by(Group.id)))

    def default_creation_group_id(self) -> int | None:
        """The preselected group: the non-personal creation group owning the most access rows
        to sets (era B or C); ties go to the lowest id. Without any, the personal group."""
        personal = self.personal_group_id
        shared = [g for g in self._creation_group_ids() if g != personal]
        if not shared:
            return personal
        counts = dict(self.db.execute(
            select(Permission.group_id, func.count(Permission.id))
            .where(
                Permission.group_id.in_(shared), Permission.name == ACCESS,
                Permission.table_name.in_(_SET_ACCESS_TABLES), Permission.record_id > 0,
            )
            .group_by(Permission.group_id)
        ).all())
        return min(shared, key=lambda g: (-counts.get(g, 0), g))

    # ------------------------------------------------------------------ anonymisation

    def display_name_patient(self, sample_set_id: int, first_name: str | None, last_name: str | None) -> str:
        """A patient's name as this user may see it: full with ``anon``, else the first three
        letters of the last name; admins also see the set id (but no more of the name)."""
        last, first = last_name or "", first_name or ""
        name = f"{last} {first}" if self.can_view_info(sample_set_id) else last[:3]
        if self.is_admin:
            name += f" ({sample_set_id})"
        return name
