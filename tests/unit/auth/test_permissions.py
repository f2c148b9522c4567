"""The permission service against the decision table of schema-auth.md §7.3.

`test_decision_table` has one case per row of the table: each builds the fewest
rows that grant the right, and a close situation that must not.
"""
from __future__ import annotations

import itertools
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import pytest
from factories import make_config, make_group, make_sequence_file, make_set, make_user
from sqlalchemy import delete, event, select

from vidjil_pyramid.admin.models import Config
from vidjil_pyramid.auth.models import Group, GroupAssoc, Membership, Permission, User
from vidjil_pyramid.auth.permissions import Permissions
from vidjil_pyramid.auth.services import ADMIN_ROLE, PUBLIC_ROLE, grant, group_by_role
from vidjil_pyramid.files.models import PreProcess
from vidjil_pyramid.sample_sets.models import SampleSet

_emails = itertools.count(1)


# ----------------------------------------------------------------------------- helpers

def perms(db, user, **kwargs) -> Permissions:
    """A fresh service, as one request would build it."""
    return Permissions(db, user.id if user is not None else None, **kwargs)


def bare_user(db, *groups: Group) -> User:
    """An account with no personal group and no default right: only the given memberships."""
    user = User(email=f"bare{next(_emails)}@lab.test", first_name="Bare", last_name="User",
                registration_key="")
    db.add(user)
    db.flush()
    for group in groups:
        db.add(Membership(user_id=user.id, group_id=group.id))
    db.flush()
    return user


def lab_user(db, rights=(), *, parent: Group | None = None) -> tuple[User, Group]:
    """A registered user (personal group with default rights, member of public) in a lab group."""
    user = make_user(db)
    lab = make_group(db, rights=rights, parent=parent, members=[user])
    return user, lab


def admin_user(db) -> User:
    return make_user(db, admin=True)


def public_group(db) -> Group:
    return group_by_role(db, PUBLIC_ROLE)


def make_pre_process(db) -> PreProcess:
    row = PreProcess(name="merge", command="flash2 &file1& &file2&", info="")
    db.add(row)
    db.flush()
    return row


def missing_id(db, model) -> int:
    """An id no row of the table has (as left by a deletion)."""
    return (db.scalar(select(model.id).order_by(model.id.desc()).limit(1)) or 0) + 1000


@contextmanager
def count_statements(db):
    """Count the SQL statements sent to the database inside the block."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    bind = db.get_bind()
    event.listen(bind, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(bind, "before_cursor_execute", record)


# ----------------------------------------------------------------------------- the decision table

Situations = tuple[Callable[[], bool], Callable[[], bool]]


@dataclass(frozen=True)
class Row:
    """One row of §7.3: `build` returns (a check that must pass, one that must fail)."""

    id: str
    build: Callable[..., Situations]


def view_sample_set(db) -> Situations:
    user, lab = lab_user(db, ["read"])
    shared, _ = make_set(db, groups=[lab])
    # same user; the set is reached by a group that lacks `read`, while the personal group
    # has `read` but no access: the same group must carry the action and reach the set
    no_read = make_group(db, rights=["upload"], members=[user])
    other, _ = make_set(db, groups=[no_read])
    return (lambda: perms(db, user).can_view_sample_set(shared.id),
            lambda: perms(db, user).can_view_sample_set(other.id))


def view_generic(db) -> Situations:
    # can_view(T, R) also accepts can_modify(T, R): `admin` without `read` is enough
    modifier, lab = lab_user(db, ["admin"])
    outsider, other_lab = lab_user(db, ["upload"])
    _, run = make_set(db, "run")
    grant(db, lab.id, "access", "run", run.id)
    grant(db, other_lab.id, "access", "run", run.id)
    db.flush()
    return (lambda: perms(db, modifier).can_view("run", run.id),
            lambda: perms(db, outsider).can_view("run", run.id))


def modify_sample_set(db) -> Situations:
    owner, lab = lab_user(db, ["admin"])
    reader, reading_lab = lab_user(db, ["read"])
    sample_set, _ = make_set(db, groups=[lab, reading_lab])
    return (lambda: perms(db, owner).can_modify_sample_set(sample_set.id),
            lambda: perms(db, reader).can_modify_sample_set(sample_set.id))


def modify_generic(db) -> Situations:
    user, lab = lab_user(db, ["admin"])
    _, patient = make_set(db, "patient")
    grant(db, lab.id, "access", "patient", patient.id)
    gone = missing_id(db, type(patient))
    grant(db, lab.id, "access", "patient", gone)  # dangling row: EX is false
    db.flush()
    return (lambda: perms(db, user).can_modify("patient", patient.id),
            lambda: perms(db, user).can_modify("patient", gone))


def modify_file(db) -> Situations:
    user, lab = lab_user(db, ["read"])
    owning_lab = make_group(db, rights=["admin"], members=[user])
    readable, _ = make_set(db, groups=[lab])
    owned, _ = make_set(db, groups=[owning_lab])
    in_both = make_sequence_file(db, sets=[readable, owned])
    read_only = make_sequence_file(db, sets=[readable])
    return (lambda: perms(db, user).can_modify_file(in_both.id),
            lambda: perms(db, user).can_modify_file(read_only.id))


def upload_sample_set(db) -> Situations:
    uploader, lab = lab_user(db, ["upload"])
    owner, owning_lab = lab_user(db, ["read", "admin"])
    sample_set, _ = make_set(db, groups=[lab, owning_lab])
    return (lambda: perms(db, uploader).can_upload_sample_set(sample_set.id),
            lambda: perms(db, owner).can_upload_sample_set(sample_set.id))


def run_request(db) -> Situations:
    config = db.scalar(select(Config).order_by(Config.id).limit(1))  # shared with public
    runner, lab = lab_user(db, ["run", "admin"])
    run_only, run_lab = lab_user(db, ["run", "read"])  # can process, cannot modify
    sample_set, _ = make_set(db, groups=[lab, run_lab])
    return (lambda: perms(db, runner).can_run(sample_set.id, config.id),
            lambda: perms(db, run_only).can_run(sample_set.id, config.id))


def save_sample_set(db) -> Situations:
    saver, lab = lab_user(db, ["save"])
    sample_set, _ = make_set(db, "generic", groups=[lab])
    # era-B save rows count for patients and runs only, never for generic sets
    legacy_set, legacy_generic = make_set(db, "generic")
    grant(db, lab.id, "access", "generic", legacy_generic.id)
    db.flush()
    return (lambda: perms(db, saver).can_save_sample_set(sample_set.id),
            lambda: perms(db, saver).can_save_sample_set(legacy_set.id))


def view_info(db) -> Situations:
    user, lab = lab_user(db, ["anon"])
    admin = admin_user(db)
    sample_set, _ = make_set(db, groups=[lab])
    return (lambda: perms(db, user).can_view_info(sample_set.id),
            lambda: perms(db, admin).can_view_info(sample_set.id))  # no admin bypass


def create_sample_set(db) -> Situations:
    creating = make_group(db)
    grant(db, creating.id, "create", "config", 0)  # action rows ignore the table
    db.flush()
    return (lambda: perms(db, bare_user(db, creating)).can_create_sample_set(),
            lambda: perms(db, bare_user(db, public_group(db))).can_create_sample_set())


def create_config(db) -> Situations:
    allowed = make_group(db)
    grant(db, allowed.id, "create_config", "config", 0)
    db.flush()
    return (lambda: perms(db, bare_user(db, allowed)).can_create_config(),
            lambda: perms(db, make_user(db)).can_create_config())  # default rights lack it


def create_pre_process(db) -> Situations:
    return (lambda: perms(db, make_user(db)).can_create_pre_process(),  # `create` is enough
            lambda: perms(db, bare_user(db, public_group(db))).can_create_pre_process())


def use_config(db) -> Situations:
    shared = db.scalar(select(Config).order_by(Config.id).limit(1))
    private = make_config(db)
    user = make_user(db)
    return (lambda: perms(db, user).can_use_config(shared.id),
            lambda: perms(db, user).can_use_config(private.id))


def modify_config(db) -> Situations:
    user, lab = lab_user(db, ["admin"])
    own = make_config(db, groups=[lab])
    shared = db.scalar(select(Config).order_by(Config.id).limit(1))  # public: read only
    return (lambda: perms(db, user).can_modify_config(own.id),
            lambda: perms(db, user).can_modify_config(shared.id))


def modify_pre_process(db) -> Situations:
    editor, lab = lab_user(db, ["admin"])
    reader, reading_lab = lab_user(db, ["read"])
    pre_process = make_pre_process(db)
    grant(db, lab.id, "access", "pre_process", pre_process.id)
    grant(db, reading_lab.id, "access", "pre_process", pre_process.id)
    db.flush()
    return (lambda: perms(db, editor).can_modify_pre_process(pre_process.id),
            lambda: perms(db, reader).can_modify_pre_process(pre_process.id))


def modify_group(db) -> Situations:
    managed = make_group(db)
    manager, managing_lab = lab_user(db, ["admin"])
    grant(db, managing_lab.id, "access", "auth_group", managed.id)
    # an "owner" row as web2py writes it: ('admin','auth_group',G) but no access row
    owner = make_user(db)
    personal = owner_personal_group(db, owner)
    grant(db, personal.id, "admin", "auth_group", managed.id)
    db.flush()
    return (lambda: perms(db, manager).can_modify_group(managed.id),
            lambda: perms(db, owner).can_modify_group(managed.id))


def owner_personal_group(db, user) -> Group:
    return db.scalar(select(Group).where(Group.role == "user_%04d" % user.id))


def view_group(db) -> Situations:
    viewed = make_group(db)
    viewer, lab = lab_user(db, ["read"])
    grant(db, lab.id, "access", "auth_group", viewed.id)
    db.flush()
    member = make_user(db, groups=[viewed])  # membership alone is not enough
    return (lambda: perms(db, viewer).can_view_group(viewed.id),
            lambda: perms(db, member).can_view_group(viewed.id))


def modify_user(db) -> Situations:
    user = make_user(db)
    return (lambda: perms(db, user).can_modify_user(user.id),
            lambda: perms(db, user, limited_accounts=frozenset({user.id})).can_modify_user(user.id))


def impersonate(db) -> Situations:
    target = make_user(db)
    allowed = make_group(db)
    grant(db, allowed.id, "impersonate", "auth_user", target.id)
    wrong_table = make_group(db)
    grant(db, wrong_table.id, "impersonate", "sample_set", 0)  # table-specific check
    db.flush()
    return (lambda: perms(db, bare_user(db, allowed)).can_impersonate(target.id),
            lambda: perms(db, bare_user(db, wrong_table)).can_impersonate(target.id))


def admin_only_screens(db) -> Situations:
    admin = admin_user(db)
    look_alike = make_group(db, role="Admins", rights=["admin", "read", "create"])
    return (lambda: perms(db, admin).is_admin,
            lambda: perms(db, bare_user(db, look_alike)).is_admin)


DECISION_TABLE = [
    Row("view-sample-set", view_sample_set),
    Row("view-generic-object", view_generic),
    Row("modify-sample-set", modify_sample_set),
    Row("modify-generic-object", modify_generic),
    Row("modify-file", modify_file),
    Row("upload-sample-set", upload_sample_set),
    Row("run-request", run_request),
    Row("save-sample-set", save_sample_set),
    Row("view-info-no-admin-bypass", view_info),
    Row("create-sample-set", create_sample_set),
    Row("create-config", create_config),
    Row("create-pre-process", create_pre_process),
    Row("use-config", use_config),
    Row("modify-config", modify_config),
    Row("modify-pre-process", modify_pre_process),
    Row("modify-group", modify_group),
    Row("view-group", view_group),
    Row("modify-user", modify_user),
    Row("impersonate", impersonate),
    Row("admin-only-screens", admin_only_screens),
]


@pytest.mark.parametrize("row", DECISION_TABLE, ids=[row.id for row in DECISION_TABLE])
def test_decision_table(initial_data, row):
    granted, refused = row.build(initial_data)
    assert granted() is True
    assert refused() is False


# ----------------------------------------------------------------------------- building blocks

def test_has_at_record_zero_only_needs_the_action(initial_data):
    db = initial_data
    user = bare_user(db, make_group(db, rights=["upload"]))
    p = perms(db, user)
    assert p.has("upload", "anything", 0)
    assert not p.has("run", "sample_set", 0)


def test_identity_properties(initial_data):
    db = initial_data
    parent = make_group(db)
    user, lab = lab_user(db, ["read"], parent=parent)
    p = perms(db, user)
    public = public_group(db)
    assert lab.id in p.group_ids and public.id in p.group_ids
    assert isinstance(p.group_ids, frozenset)
    assert p.parent_ids == frozenset({parent.id})
    assert p.user_id == user.id and not p.is_admin
    assert p.personal_group_id == owner_personal_group(db, user).id


def test_results_are_cached_for_the_life_of_the_object(initial_data):
    db = initial_data
    user, lab = lab_user(db, ["read"])
    sample_set, _ = make_set(db, groups=[lab])
    p = perms(db, user)
    assert p.can_view_sample_set(sample_set.id)
    with count_statements(db) as statements:
        assert p.can_view_sample_set(sample_set.id)
        assert p.is_admin is False
    assert statements == []
    grant(db, lab.id, "admin")  # written during the same request
    db.flush()
    assert not p.can_modify_sample_set(sample_set.id)  # the lab's actions were already read
    p.clear_cache()
    assert p.can_modify_sample_set(sample_set.id)


# ----------------------------------------------------------------------------- hierarchy

def test_child_members_inherit_the_parents_access_rows(initial_data):
    db = initial_data
    parent = make_group(db)
    user, child = lab_user(db, ["read", "admin"], parent=parent)
    sample_set, _ = make_set(db, groups=[parent])
    p = perms(db, user)
    assert p.can_view_sample_set(sample_set.id)
    assert p.can_modify_sample_set(sample_set.id)
    assert sample_set.id in p.accessible_sample_set_ids("read")


def test_parents_action_rows_are_not_inherited(initial_data):
    db = initial_data
    parent = make_group(db, rights=["read", "admin", "upload", "run", "save", "anon"])
    user, child = lab_user(db, [], parent=parent)
    via_parent, _ = make_set(db, groups=[parent])
    via_child, _ = make_set(db, groups=[child])
    p = perms(db, user)
    for set_id in (via_parent.id, via_child.id):
        assert not p.can_view_sample_set(set_id)
        assert not p.can_modify_sample_set(set_id)
        assert not p.can_upload_sample_set(set_id)
        assert not p.can_process_sample_set(set_id)
        assert not p.can_save_sample_set(set_id)
        assert not p.can_view_info(set_id)
    assert p.accessible_sample_set_ids("read") == set()


def test_nothing_flows_from_child_to_parent(initial_data):
    db = initial_data
    parent_member, parent = lab_user(db, ["read", "admin"])
    child = make_group(db, rights=["read", "admin"], parent=parent)
    sample_set, _ = make_set(db, groups=[child])
    p = perms(db, parent_member)
    assert not p.can_view_sample_set(sample_set.id)
    assert not p.can_modify_sample_set(sample_set.id)
    assert sample_set.id not in p.accessible_sample_set_ids("read")


# ----------------------------------------------------------------------------- special groups

def test_sharing_with_public_makes_a_set_readable_by_everyone_but_nothing_more(initial_data):
    db = initial_data
    sample_set, _ = make_set(db, groups=[public_group(db)], last_name="Martin", first_name="Anne")
    anyone = make_user(db)  # default rights on the personal group, member of public
    p = perms(db, anyone)
    assert p.can_view_sample_set(sample_set.id)
    assert sample_set.id in p.accessible_sample_set_ids("read")
    assert not p.can_modify_sample_set(sample_set.id)
    assert not p.can_upload_sample_set(sample_set.id)
    assert not p.can_process_sample_set(sample_set.id)
    assert not p.can_save_sample_set(sample_set.id)
    assert not p.can_view_info(sample_set.id)
    assert p.display_name_patient(sample_set.id, "Anne", "Martin") == "Mar"
    assert sample_set.id not in p.accessible_sample_set_ids("admin")


def test_admin_bypasses_everything_but_patient_identities(initial_data):
    db = initial_data
    admin = admin_user(db)
    stranger = make_user(db)
    sample_set, _ = make_set(db)  # no access row for anybody
    sequence_file = make_sequence_file(db, sets=[sample_set])
    config = make_config(db)
    pre_process = make_pre_process(db)
    group = make_group(db)
    p = perms(db, admin)
    assert p.is_admin
    assert p.can_view_sample_set(sample_set.id)
    assert p.can_modify_sample_set(sample_set.id)
    assert p.can_upload_sample_set(sample_set.id)
    assert p.can_process_sample_set(sample_set.id)
    assert p.can_save_sample_set(sample_set.id)
    assert p.can_run(sample_set.id, config.id)
    assert p.can_create_sample_set() and p.can_create_config() and p.can_create_pre_process()
    assert p.can_use_config(config.id) and p.can_modify_config(config.id)
    assert p.can_modify_pre_process(pre_process.id)
    assert p.can_modify_group(group.id) and p.can_view_group(group.id)
    assert p.can_modify_user(stranger.id)
    assert p.can_modify_file(sequence_file.id)
    assert sample_set.id in p.accessible_sample_set_ids("admin")
    assert config.id in set(db.scalars(p.accessible_config_ids_query()))
    assert not p.can_view_info(sample_set.id)
    assert sample_set.id not in p.accessible_sample_set_ids("anon")


def test_admin_bypass_does_not_invent_missing_objects(initial_data):
    db = initial_data
    p = perms(db, admin_user(db))
    gone = missing_id(db, SampleSet)
    assert not p.can_view_sample_set(gone)
    assert not p.can_modify_sample_set(gone)
    assert not p.can_use_config(missing_id(db, Config))
    assert not p.can_modify_file(999_999)


# ----------------------------------------------------------------------------- era-B legacy rows

@pytest.mark.parametrize("sample_type", ["patient", "run", "generic"])
def test_era_b_access_rows_on_detail_tables_still_count(initial_data, sample_type):
    db = initial_data
    user, lab = lab_user(db, ["read", "admin", "upload", "run", "anon"])
    sample_set, detail = make_set(db, sample_type)
    grant(db, lab.id, "access", sample_type, detail.id)
    db.flush()
    p = perms(db, user)
    assert p.can_view_sample_set(sample_set.id)
    assert p.can_modify_sample_set(sample_set.id)
    assert p.can_upload_sample_set(sample_set.id)
    assert p.can_process_sample_set(sample_set.id)
    assert p.can_view_info(sample_set.id)
    # listings map the detail row back to its set (a deliberate improvement)
    assert p.accessible_sample_set_ids("read") == {sample_set.id}
    assert p.accessible_sample_set_ids("run") == {sample_set.id}


def test_era_b_save_counts_for_patients_and_runs(initial_data):
    db = initial_data
    user, lab = lab_user(db, ["save"])
    patient_set, patient = make_set(db, "patient")
    run_set, run = make_set(db, "run")
    grant(db, lab.id, "access", "patient", patient.id)
    grant(db, lab.id, "access", "run", run.id)
    db.flush()
    p = perms(db, user)
    assert p.can_save_sample_set(patient_set.id) and p.can_save_sample_set(run_set.id)
    assert p.accessible_sample_set_ids("save") == {patient_set.id, run_set.id}


def test_era_b_view_accepts_admin_on_the_detail_row(initial_data):
    db = initial_data
    user, lab = lab_user(db, ["admin"])
    sample_set, patient = make_set(db, "patient")
    grant(db, lab.id, "access", "patient", patient.id)
    db.flush()
    p = perms(db, user)
    assert p.can_view_sample_set(sample_set.id)
    assert p.accessible_sample_set_ids("read") == {sample_set.id}


def test_era_b_row_of_another_type_does_not_reach_the_set(initial_data):
    db = initial_data
    user, lab = lab_user(db, ["read"])
    run_set, _ = make_set(db, "run")
    _, patient = make_set(db, "patient")
    # a patient row pointing at a run set: the legacy check only looks at the set's own type
    patient.sample_set_id = run_set.id
    grant(db, lab.id, "access", "patient", patient.id)
    db.flush()
    p = perms(db, user)
    assert not p.can_view_sample_set(run_set.id)
    assert run_set.id not in p.accessible_sample_set_ids("read")


def test_era_a_per_record_action_rows_are_not_understood(initial_data):
    db = initial_data
    group = make_group(db)
    user = bare_user(db, group)
    sample_set, patient = make_set(db, "patient")
    grant(db, group.id, "read", "patient", patient.id)
    grant(db, group.id, "admin", "patient", patient.id)
    db.flush()
    p = perms(db, user)
    assert not p.can_view_sample_set(sample_set.id)
    assert not p.can_modify_sample_set(sample_set.id)


# ----------------------------------------------------------------------------- dangling rows

def test_dangling_access_rows_for_deleted_sets(initial_data):
    db = initial_data
    user, lab = lab_user(db, ["read", "admin", "upload", "run", "save", "anon"])
    gone = missing_id(db, SampleSet)
    grant(db, lab.id, "access", "sample_set", gone)
    db.flush()
    p = perms(db, user)
    assert p.has("read", "sample_set", gone)  # the row itself is still there
    assert not p.exists("sample_set", gone)
    for check in (p.can_view_sample_set, p.can_modify_sample_set, p.can_upload_sample_set,
                  p.can_process_sample_set, p.can_save_sample_set, p.can_view_info):
        assert check(gone) is False
    assert gone not in p.accessible_sample_set_ids("read")


def test_deleting_a_set_leaves_its_rows_but_removes_the_right(initial_data):
    db = initial_data
    user, lab = lab_user(db, ["read"])
    sample_set, _ = make_set(db, "generic", groups=[lab])
    set_id = sample_set.id
    assert perms(db, user).can_view_sample_set(set_id)
    db.execute(delete(SampleSet).where(SampleSet.id == set_id))
    db.expunge_all()
    assert db.scalar(select(Permission.id).where(Permission.record_id == set_id,
                                                 Permission.table_name == "sample_set"))
    assert not perms(db, user).can_view_sample_set(set_id)


# ----------------------------------------------------------------------------- anonymous

def test_anonymous_user_gets_nothing_and_costs_nothing(initial_data):
    db = initial_data
    sample_set, _ = make_set(db, groups=[public_group(db)])
    config = db.scalar(select(Config).order_by(Config.id).limit(1))
    p = Permissions(db, None)
    with count_statements(db) as statements:
        assert p.group_ids == frozenset() and p.parent_ids == frozenset() and not p.is_admin
        assert not p.has("read", "sample_set", 0)
        assert not p.can_view_sample_set(sample_set.id)
        assert not p.can_modify_sample_set(sample_set.id)
        assert not p.can_view_info(sample_set.id)
        assert not p.can_create_sample_set() and not p.can_create_config()
        assert not p.can_create_pre_process()
        assert not p.can_use_config(config.id)
        assert not p.can_modify_user(1) and not p.can_impersonate(1)
        assert not p.can_modify_file(1)
        assert p.groups_for_creation() == [] and p.default_creation_group_id() is None
        query = p.accessible_sample_set_ids_query()
    assert statements == []
    assert list(db.scalars(query)) == []
    assert list(db.scalars(p.accessible_config_ids_query())) == []


# ----------------------------------------------------------------------------- listings

def test_listing_returns_the_reachable_sets(initial_data):
    db = initial_data
    parent = make_group(db)
    user, lab = lab_user(db, ["read", "admin"], parent=parent)
    reader_lab = make_group(db, rights=["read"], members=[user])
    own, _ = make_set(db, groups=[lab])
    inherited, _ = make_set(db, "run", groups=[parent])
    read_only, _ = make_set(db, "generic", groups=[reader_lab])
    make_set(db)  # nobody's
    make_set(db, groups=[make_group(db, rights=["read"])])  # another lab's
    p = perms(db, user)
    assert p.accessible_sample_set_ids("read") == {own.id, inherited.id, read_only.id}
    assert p.accessible_sample_set_ids("admin") == {own.id, inherited.id}
    assert p.accessible_sample_set_ids("run") == set()
    # usable as a subquery on the same table
    listed = set(db.scalars(select(SampleSet.id).where(SampleSet.id.in_(p.accessible_sample_set_ids_query()))))
    assert listed == {own.id, inherited.id, read_only.id}
    # each listed set passes the per-set check, and the reverse
    for set_id in db.scalars(select(SampleSet.id)):
        assert p.can_view_sample_set(set_id) == (set_id in listed)


def test_admin_listing_returns_every_set(initial_data):
    db = initial_data
    sets = [make_set(db)[0].id for _ in range(3)]
    p = perms(db, admin_user(db))
    assert set(sets) <= p.accessible_sample_set_ids()
    assert p.accessible_sample_set_ids() == set(db.scalars(select(SampleSet.id)))


def _listing_cost(db, n_sets: int) -> tuple[int, int]:
    """Statements spent building and running the list query for a user reaching n sets."""
    user, lab = lab_user(db, ["read"], parent=make_group(db))
    for index in range(n_sets):
        make_set(db, ("patient", "run", "generic")[index % 3], groups=[lab])
    p = perms(db, user)
    with count_statements(db) as statements:
        ids = set(db.scalars(select(SampleSet.id).where(SampleSet.id.in_(p.accessible_sample_set_ids_query()))))
    return len(statements), len(ids)


def test_listing_cost_does_not_grow_with_the_number_of_sets(initial_data):
    few_statements, few = _listing_cost(initial_data, 5)
    many_statements, many = _listing_cost(initial_data, 50)
    assert (few, many) == (5, 50)
    assert few_statements == many_statements
    assert many_statements <= 4


def test_config_listing_matches_can_use_config(initial_data):
    db = initial_data
    user, lab = lab_user(db, ["admin"])
    own = make_config(db, groups=[lab])
    private = make_config(db)
    public_configs = set(db.scalars(
        select(Permission.record_id).where(Permission.group_id == public_group(db).id,
                                           Permission.name == "access", Permission.table_name == "config")))
    p = perms(db, user)
    usable = set(db.scalars(p.accessible_config_ids_query()))
    assert usable == public_configs | {own.id}
    assert private.id not in usable
    for config_id in db.scalars(select(Config.id)):
        assert p.can_use_config(config_id) == (config_id in usable)


def test_pre_process_listing(initial_data):
    db = initial_data
    user, lab = lab_user(db, ["read"])
    shared = make_pre_process(db)
    hidden = make_pre_process(db)
    grant(db, lab.id, "access", "pre_process", shared.id)
    db.flush()
    usable = set(db.scalars(perms(db, user).accessible_pre_process_ids_query()))
    assert shared.id in usable and hidden.id not in usable


# ----------------------------------------------------------------------------- creation groups

def test_groups_for_creation(initial_data):
    db = initial_data
    user = make_user(db)
    personal = owner_personal_group(db, user)
    parent = make_group(db)
    child = make_group(db, rights=["create"], parent=parent, members=[user])
    busy = make_group(db, rights=["create"], members=[user])
    no_create = make_group(db, rights=["read"], members=[user])
    for _ in range(2):
        make_set(db, groups=[busy])
    make_set(db, groups=[parent])
    p = perms(db, user)
    offered = [g.id for g in p.groups_for_creation()]
    assert offered == sorted([personal.id, parent.id, busy.id])  # child replaced by parent
    assert no_create.id not in offered and child.id not in offered
    assert public_group(db).id not in offered
    assert p.default_creation_group_id() == busy.id


def test_default_creation_group_falls_back_to_the_personal_group(initial_data):
    db = initial_data
    user = make_user(db)
    p = perms(db, user)
    assert [g.id for g in p.groups_for_creation()] == [p.personal_group_id]
    assert p.default_creation_group_id() == p.personal_group_id


def test_creation_groups_need_the_create_row_on_sample_set(initial_data):
    db = initial_data
    elsewhere = make_group(db)
    grant(db, elsewhere.id, "create", "config", 0)  # table-specific here, unlike ACT
    db.flush()
    p = perms(db, bare_user(db, elsewhere))
    assert p.can_create_sample_set()
    assert p.groups_for_creation() == []


def test_admins_may_create_in_every_group(initial_data):
    db = initial_data
    group = make_group(db)
    p = perms(db, admin_user(db))
    offered = {g.id for g in p.groups_for_creation()}
    assert group.id in offered
    assert group_by_role(db, ADMIN_ROLE).id in offered


def test_pre_2018_personal_group_naming_is_recognised(initial_data):
    db = initial_data
    user = bare_user(db)
    old_style = make_group(db, role="user_%d" % user.id, rights=["create"], members=[user])
    assert perms(db, user).personal_group_id == old_style.id
    assert perms(db, user).default_creation_group_id() == old_style.id


# ----------------------------------------------------------------------------- anonymisation

def test_display_name_patient(initial_data):
    db = initial_data
    allowed, lab = lab_user(db, ["read", "anon"])
    reader, reading_lab = lab_user(db, ["read"])
    admin = admin_user(db)
    sample_set, _ = make_set(db, groups=[lab, reading_lab])
    assert perms(db, allowed).display_name_patient(sample_set.id, "John", "Doe") == "Doe John"
    assert perms(db, reader).display_name_patient(sample_set.id, "John", "Doe") == "Doe"
    assert perms(db, reader).display_name_patient(sample_set.id, "Anne", "Martin") == "Mar"
    assert perms(db, admin).display_name_patient(sample_set.id, "Anne", "Martin") == f"Mar ({sample_set.id})"
    grant(db, group_by_role(db, ADMIN_ROLE).id, "anon")  # anon + access: admins see names too
    grant(db, group_by_role(db, ADMIN_ROLE).id, "access", "sample_set", sample_set.id)
    db.flush()
    assert perms(db, admin).display_name_patient(sample_set.id, "Anne", "Martin") == f"Martin Anne ({sample_set.id})"
    assert perms(db, reader).display_name_patient(sample_set.id, None, None) == ""


def test_impersonation_on_record_zero_covers_everyone(initial_data):
    db = initial_data
    admin = admin_user(db)  # install rows: ('impersonate','auth_user',0) on admin
    target = make_user(db)
    assert perms(db, admin).can_impersonate(target.id)
    assert not perms(db, target).can_impersonate(admin.id)


def test_can_modify_user_others(initial_data):
    db = initial_data
    user, other = make_user(db), make_user(db)
    assert not perms(db, user).can_modify_user(other.id)


def test_group_assoc_rows_are_read_from_the_database(initial_data):
    db = initial_data
    parent = make_group(db)
    user, child = lab_user(db, ["read"])
    sample_set, _ = make_set(db, groups=[parent])
    assert not perms(db, user).can_view_sample_set(sample_set.id)
    db.add(GroupAssoc(first_group_id=parent.id, second_group_id=child.id))
    db.flush()
    assert perms(db, user).can_view_sample_set(sample_set.id)
