"""What older releases did differently, and how their data is brought to today's rules.

schema-auth.md §4 lists the changes; the ones that need more than copying:

* before 2014.10 results were in `data_file` (no `results_file` table yet);
* before 2016.02 there were no sample sets: a patient's samples hung from
  `sequence_file.patient_id`. The 2016.02 release shipped an admin action that
  gave each patient a set, memberships and set-linked fused/analysis files; a
  database that never went through it gets the same treatment here, each new
  set taking its patient's id;
* permission rows of three generations: era A (≤ 2016.02) per-record action rows
  `('read'|'admin'|'anon', 'patient', <patient id>)` and per-record config rights,
  era B (2016.07-2018.01) `('access', 'patient'|'run'|'generic', <detail id>)`,
  era C (today) `('access', 'sample_set', <set id>)`. Older rows are kept and
  the era-C rows they imply are added, so today's rules (and list pages) give
  the same sets as the old server did.

All conversions run as set-based SQL in the target, so their cost does not
depend on memory.
"""
from __future__ import annotations

from sqlalchemy import and_, exists, func, insert, literal, select, update
from sqlalchemy.engine import Connection

from vidjil_pyramid.models import metadata

from .source import LegacySource

SET_ACTIONS = ("read", "admin", "anon", "upload", "run", "save")
CONFIG_ACTIONS = ("read", "admin")

_permission = metadata.tables["auth_permission"]


# ---------------------------------------------------------------------- releases

def guess_release(source: LegacySource) -> str:
    """The release range a database's structure matches (for the report)."""
    if not source.has_table("results_file"):
        return "2014.07-2014.09 (results in data_file)"
    if not source.has_column("patient", "creator"):
        return "2014.10-2014.11"
    if not source.has_table("sample_set"):
        return "2014.12-2015.12 (no sample sets)"
    if not source.has_table("run"):
        return "2016.02-2016.03 (sample sets, era-A permissions)"
    if not source.has_table("generic"):
        return "2016.07-2016.08"
    if not source.has_column("sequence_file", "network"):
        return "2017.03"
    if not source.has_table("tag"):
        return "2017.09"
    if not source.has_table("classification"):
        return "2018.02-2019.03"
    if not source.has_column("sequence_file", "pre_process_file"):
        return "2020.06-2021.04"
    return "2022.02 or later"


def source_table_for(source: LegacySource, target_table: str) -> str | None:
    """The source table feeding one of ours (None: nothing to read)."""
    if target_table == "results_file" and not source.has_table("results_file") and source.has_table("data_file"):
        return "data_file"
    return target_table if source.has_table(target_table) else None


def has_sample_sets(source: LegacySource) -> bool:
    return source.has_table("sample_set")


# ---------------------------------------------------------------------- pre-2016: sets from patients

def give_patients_sets(connection: Connection) -> int:
    """Each patient gets a sample set with the patient's id (sources without sample sets)."""
    patient, sample_set = metadata.tables["patient"], metadata.tables["sample_set"]
    added = connection.execute(insert(sample_set).from_select(
        ["id", "sample_type"], select(patient.c.id, literal("patient")).where(patient.c.sample_set_id.is_(None))
    )).rowcount
    connection.execute(update(patient).where(patient.c.sample_set_id.is_(None)).values(sample_set_id=patient.c.id))
    return int(added or 0)


def memberships_from_patients(connection: Connection) -> int:
    """Samples of a patient join the patient's set (sources without sample sets)."""
    sequence_file = metadata.tables["sequence_file"]
    membership = metadata.tables["sample_set_membership"]
    return int(connection.execute(insert(membership).from_select(
        ["sample_set_id", "sequence_file_id"],
        select(sequence_file.c.patient_id, sequence_file.c.id)
        .where(sequence_file.c.patient_id.is_not(None)).order_by(sequence_file.c.id),
    )).rowcount or 0)


def link_files_to_patient_sets(connection: Connection) -> int:
    """Fused and analysis files of a patient belong to the patient's set."""
    linked = 0
    for name in ("fused_file", "analysis_file"):
        t = metadata.tables[name]
        linked += int(connection.execute(
            update(t).where(t.c.sample_set_id.is_(None), t.c.patient_id.is_not(None))
            .values(sample_set_id=t.c.patient_id)
        ).rowcount or 0)
    return linked


# ---------------------------------------------------------------------- permissions

def _has_row(group_id, name, table_name, record_id):
    q = _permission.alias("existing")
    return exists().where(q.c.group_id == group_id, q.c.name == name,
                          q.c.table_name == table_name, q.c.record_id == record_id)


def _has_action(group_id, name):
    q = _permission.alias("existing")
    return exists().where(q.c.group_id == group_id, q.c.name == name, q.c.record_id == 0)


def _insert_rows(connection: Connection, rows: select) -> int:
    """Insert (group_id, name, table_name, record_id) rows given by a select, once each."""
    return int(connection.execute(insert(_permission).from_select(
        ["group_id", "name", "table_name", "record_id"], rows.distinct()
    )).rowcount or 0)


def access_from_era_b(connection: Connection) -> int:
    """('access', detail table, detail id) -> ('access', 'sample_set', its set id)."""
    added = 0
    for detail_name in ("patient", "run", "generic"):
        detail = metadata.tables[detail_name]
        p = _permission.alias("era_b")
        added += _insert_rows(connection, select(
            p.c.group_id, literal("access"), literal("sample_set"), detail.c.sample_set_id,
        ).join(detail, detail.c.id == p.c.record_id).where(
            p.c.name == "access", p.c.table_name == detail_name, p.c.record_id > 0,
            p.c.group_id.is_not(None), detail.c.sample_set_id.is_not(None),
            ~_has_row(p.c.group_id, "access", "sample_set", detail.c.sample_set_id),
        ))
    return added


def era_a_patient_rights(connection: Connection) -> dict[int, dict[int, set[str]]]:
    """group -> patient -> actions, for era-A per-patient rows."""
    found: dict[int, dict[int, set[str]]] = {}
    rows = connection.execute(select(_permission.c.group_id, _permission.c.record_id, _permission.c.name).where(
        _permission.c.table_name == "patient", _permission.c.record_id > 0,
        _permission.c.name.in_(SET_ACTIONS), _permission.c.group_id.is_not(None),
    ))
    for group_id, record_id, name in rows:
        found.setdefault(group_id, {}).setdefault(record_id, set()).add(name)
    return found


def rights_from_era_a(connection: Connection) -> tuple[int, int, int]:
    """Era-A per-record rows -> access rows + the group's action rows.

    Returns (access rows added, action rows added, groups whose rights were merged:
    a group holding different actions on different patients now holds all of them
    on each, the closest today's model can express).
    """
    rights = era_a_patient_rights(connection)
    merged = sum(1 for per_patient in rights.values() if len({frozenset(a) for a in per_patient.values()}) > 1)
    patient = metadata.tables["patient"]
    p = _permission.alias("era_a")
    access = _insert_rows(connection, select(
        p.c.group_id, literal("access"), literal("sample_set"), patient.c.sample_set_id,
    ).join(patient, patient.c.id == p.c.record_id).where(
        p.c.table_name == "patient", p.c.record_id > 0, p.c.name.in_(SET_ACTIONS),
        p.c.group_id.is_not(None), patient.c.sample_set_id.is_not(None),
        ~_has_row(p.c.group_id, "access", "sample_set", patient.c.sample_set_id),
    ))
    actions = _insert_rows(connection, select(
        p.c.group_id, p.c.name, literal("sample_set"), literal(0),
    ).where(
        p.c.table_name == "patient", p.c.record_id > 0, p.c.name.in_(SET_ACTIONS),
        p.c.group_id.is_not(None), ~_has_action(p.c.group_id, p.c.name),
    ))
    return access, actions, merged


def config_rights_from_era_a(connection: Connection) -> int:
    """Era-A ('read'|'admin', 'config', c) -> ('access', 'config', c) (+ the action at record 0)."""
    p = _permission.alias("era_a_config")
    added = _insert_rows(connection, select(
        p.c.group_id, literal("access"), literal("config"), p.c.record_id,
    ).where(
        p.c.table_name == "config", p.c.record_id > 0, p.c.name.in_(CONFIG_ACTIONS),
        p.c.group_id.is_not(None), ~_has_row(p.c.group_id, "access", "config", p.c.record_id),
    ))
    added += _insert_rows(connection, select(
        p.c.group_id, p.c.name, literal("config"), literal(0),
    ).where(
        p.c.table_name == "config", p.c.record_id > 0, p.c.name.in_(CONFIG_ACTIONS),
        p.c.group_id.is_not(None), ~_has_action(p.c.group_id, p.c.name),
    ))
    return added


def permission_census(connection: Connection) -> dict[str, int]:
    """How many rows of each generation the (imported) permission table holds."""
    p = _permission
    def count(*conditions) -> int:
        return int(connection.scalar(select(func.count()).select_from(p).where(and_(*conditions))) or 0)
    census = {
        "era_a_per_record_rows": count(p.c.table_name.in_(("patient", "config")), p.c.record_id > 0,
                                       p.c.name.in_(SET_ACTIONS)),
        "era_b_access_rows": count(p.c.name == "access", p.c.table_name.in_(("patient", "run", "generic")),
                                   p.c.record_id > 0),
        "era_c_access_rows": count(p.c.name == "access", p.c.table_name == "sample_set", p.c.record_id > 0),
        "action_rows": count(p.c.record_id == 0),
    }
    census.update(personal_group_naming(connection))
    return census


def personal_group_naming(connection: Connection) -> dict[str, int]:
    """Personal groups named `user_<n>` (before 2018.06) or `user_%04d` (since)."""
    group = metadata.tables["auth_group"]
    older = newer = 0
    for role in connection.scalars(select(group.c.role).where(group.c.role.like("user%"))):
        digits = (role or "")[5:]
        if not (role or "").startswith("user_") or not digits.isdigit():
            continue
        if len(digits) < 4:
            older += 1
        elif digits.startswith("0") or len(digits) == 4:
            newer += 1
    return {"personal_groups_user_n": older, "personal_groups_user_0000": newer}
