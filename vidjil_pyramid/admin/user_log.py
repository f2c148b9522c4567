"""The `user_log` audit table as one user may read it (`log/index`).

Admins read every row. Others read rows about objects they may use: sample sets
they can view (era-C rows on `sample_set`, era-B rows on the patient/run/generic
detail row of such a set), configs and pre-processes they may use. Patient names
are anonymised like everywhere else. Knows nothing of HTTP.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, and_, false, or_, select
from sqlalchemy.orm import Session

from ..auth.models import User, UserLog
from ..sample_sets.display import patient_display_name
from ..sample_sets.models import DETAIL_MODELS, GENERIC, PATIENT, RUN, SET_TYPES, SampleSet

TABLE_CHOICES = ("all", PATIENT, RUN, GENERIC)
MAX_ROWS = 500
MAX_CHOICES = 2000


@dataclass(frozen=True)
class LogRow:
    user: str
    table_name: str
    message: str
    name: str
    created: dt.datetime | None


def _visible(perms) -> object:
    """The SQL condition selecting the rows a non-admin user may read."""
    readable_sets = perms.accessible_sample_set_ids_query("read")
    conditions = [and_(UserLog.table_name == "sample_set", UserLog.record_id.in_(readable_sets))]
    for sample_type in SET_TYPES:
        detail = DETAIL_MODELS[sample_type]
        conditions.append(and_(UserLog.table_name == sample_type, UserLog.record_id.in_(
            select(detail.id).where(detail.sample_set_id.in_(readable_sets)).correlate(None))))
    conditions.append(and_(UserLog.table_name == "config",
                           UserLog.record_id.in_(perms.accessible_config_ids_query())))
    conditions.append(and_(UserLog.table_name == "pre_process",
                           UserLog.record_id.in_(perms.accessible_pre_process_ids_query())))
    return or_(*conditions)


def _identity_visible(db: Session, perms, set_ids: set[int]) -> set[int]:
    """Among these sets, those whose patients the user may see by name (one query)."""
    if not set_ids:
        return set()
    return set(db.scalars(select(SampleSet.id).where(
        SampleSet.id.in_(set_ids), SampleSet.id.in_(perms.accessible_sample_set_ids_query("anon")))))


def _detail_names(db: Session, perms, wanted: dict[str, set[int]]) -> dict[tuple[str, int], str]:
    """Display names of detail rows (patients anonymised), keyed by (table, detail id)."""
    names: dict[tuple[str, int], str] = {}
    patients = []
    if wanted.get(PATIENT):
        patients = db.execute(select(DETAIL_MODELS[PATIENT].id, DETAIL_MODELS[PATIENT].sample_set_id,
                                     DETAIL_MODELS[PATIENT].first_name, DETAIL_MODELS[PATIENT].last_name)
                              .where(DETAIL_MODELS[PATIENT].id.in_(wanted[PATIENT]))).all()
    identified = _identity_visible(db, perms, {set_id for _, set_id, _, _ in patients if set_id})
    for detail_id, set_id, first, last in patients:
        names[(PATIENT, detail_id)] = patient_display_name(set_id, first, last, set_id in identified, perms.is_admin)
    for table in (RUN, GENERIC):
        if wanted.get(table):
            model = DETAIL_MODELS[table]
            for detail_id, name in db.execute(select(model.id, model.name).where(model.id.in_(wanted[table]))):
                names[(table, detail_id)] = name or ""
    return names


def log_rows(db: Session, perms, table: str = "all", record_id: int | None = None) -> list[LogRow]:
    """The newest MAX_ROWS rows the user may read, optionally about one table / record."""
    query: Select = select(UserLog, User.first_name, User.last_name).outerjoin(User, User.id == UserLog.user_id)
    if not perms.is_admin:
        query = query.where(_visible(perms) if perms.user_id is not None else false())
    if table != "all":
        query = query.where(UserLog.table_name == table)
    if record_id:
        query = query.where(UserLog.record_id == record_id)
    rows = db.execute(query.order_by(UserLog.created.desc(), UserLog.id.desc()).limit(MAX_ROWS)).all()
    wanted: dict[str, set[int]] = {}
    for entry, _, _ in rows:
        if entry.table_name in SET_TYPES and entry.record_id:
            wanted.setdefault(entry.table_name, set()).add(entry.record_id)
    names = _detail_names(db, perms, wanted)
    return [LogRow(user=f"{first or ''} {last or ''}".strip(), table_name=entry.table_name or "",
                   message=entry.msg or "", name=names.get((entry.table_name, entry.record_id), ""),
                   created=entry.created)
            for entry, first, last in rows]


def record_choices(db: Session, perms, table: str) -> list[tuple[int, str]]:
    """(detail id, display name) of the patients/runs/sets the user may read, sorted by name."""
    if table not in SET_TYPES:
        return []
    model = DETAIL_MODELS[table]
    readable = perms.accessible_sample_set_ids_query("read")
    ids = list(db.scalars(select(model.id).where(model.sample_set_id.in_(readable))
                          .order_by(model.id.desc()).limit(MAX_CHOICES)))
    names = _detail_names(db, perms, {table: set(ids)})
    return sorted(((i, names.get((table, i), "")) for i in ids), key=lambda pair: (pair[1].lower(), pair[0]))
