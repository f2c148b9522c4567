"""Lists of sample sets (the patients/runs/sets pages, their JSON forms, the set picker).

A page costs a fixed number of statements whatever the number of sets: one for
the rows (filtered, sorted and paged in SQL, restricted by the permission
service's accessible-ids subquery), then one per kind of aggregate over the
ids of that page (files, fused configs, sharing groups, admin right,
anonymisation). Nothing here is asked per set.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from ..admin.models import Config
from ..auth.models import Group, Permission, User
from ..auth.permissions import Permissions
from ..auth.services import ADMIN_ROLE, PUBLIC_ROLE
from ..files.models import SampleSetMembership, SequenceFile
from ..results.models import FusedFile
from .display import id_string, patient_display_name, patient_name, set_name
from .models import DETAIL_MODELS, GENERIC, PATIENT, RUN, SET_TYPES, SampleSet, Tag, TagRef

PAGE_SIZE = 50
# Sets whose ids go into one IN (...) list; unpaged (API) listings are split in such chunks.
ID_CHUNK = 500
SORT_KEYS = ("name", "birth", "run_date", "info", "confs", "groups", "creator", "file_count")
AUTOCOMPLETE_DEFAULT_LIMIT = 10
AUTOCOMPLETE_MAX_LIMIT = 200
ACCESS = "access"


@dataclass(frozen=True)
class ListQuery:
    """What the user asked for: one type, an optional page, filter words and tags, a sort."""

    sample_type: str = GENERIC
    page: int | None = None
    words: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    sort: str | None = None
    reverse: bool = False
    sample_set_id: int | None = None


@dataclass(frozen=True)
class FusedConfig:
    """A config with a fused result for a set: a link that opens the browser on it."""

    id: int
    name: str


@dataclass
class SetRow:
    """One line of a set list: the detail row as the viewer may see it, plus aggregates."""

    sample_type: str
    id: int
    sample_set_id: int
    info: str
    creator: str | None
    name: str
    display_name: str
    first_name: str | None = None
    last_name: str | None = None
    birth: dt.date | None = None
    run_date: dt.date | None = None
    file_count: int = 0
    size: int = 0
    configs: list[FusedConfig] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    can_modify: bool = False

    def as_json(self) -> dict[str, Any]:
        """The keys `api_vidjil.py` and the transcripts know, plus the aggregates by name."""
        data: dict[str, Any] = {
            "id": self.id, "sample_set_id": self.sample_set_id, "info": self.info,
            "creator": self.creator, "file_count": self.file_count, "size_file": self.size,
            "name": self.name if self.sample_type != PATIENT else self.display_name,
            "confs": [{"id": c.id, "name": c.name} for c in self.configs],
            "groups": self.groups,
        }
        if self.sample_type == PATIENT:
            data.update(first_name=self.first_name, last_name=self.last_name, birth=self.birth)
        elif self.sample_type == RUN:
            data.update(run_date=self.run_date)
        return data


@dataclass
class SetListing:
    query: ListQuery
    rows: list[SetRow]
    has_next: bool
    admin_set_ids: list[int]

    @property
    def file_count(self) -> int:
        return sum(row.file_count for row in self.rows)

    @property
    def size(self) -> int:
        return sum(row.size for row in self.rows)


# ----------------------------------------------------------------------------- filters and order

def _contains(column, word: str):
    return column.icontains(word, autoescape=True)


def _name_matches(detail, sample_type: str, word: str, identity_ids):
    """Patients match on their full names only where the viewer may see them (§7.6)."""
    if sample_type != PATIENT:
        return _contains(detail.name, word)
    return or_(
        and_(detail.sample_set_id.in_(identity_ids),
             or_(_contains(detail.first_name, word), _contains(detail.last_name, word))),
        _contains(func.substr(detail.last_name, 1, 3), word),
    )


def _word_matches(detail, sample_type: str, word: str, identity_ids):
    """One word of the search box must appear in a name, the info, a fused config, a sharing
    group, the creator's name, or be the set id."""
    conditions = [
        _name_matches(detail, sample_type, word, identity_ids),
        _contains(detail.info, word),
        _contains(User.last_name, word),
        exists(select(FusedFile.id).join(Config, Config.id == FusedFile.config_id).where(
            FusedFile.sample_set_id == detail.sample_set_id, _contains(Config.name, word))),
        exists(select(Permission.id).join(Group, Group.id == Permission.group_id).where(
            Permission.name == ACCESS, Permission.table_name == "sample_set",
            Permission.record_id == detail.sample_set_id, _contains(Group.role, word))),
    ]
    if word.isdigit() and int(word) < 2**31:
        conditions.append(detail.sample_set_id == int(word))
    return or_(*conditions)


def _has_tag(detail, sample_type: str, tag: str):
    return exists(select(TagRef.id).join(Tag, Tag.id == TagRef.tag_id).where(
        TagRef.table_name == sample_type, TagRef.record_id == detail.id,
        func.lower(Tag.name) == tag.lower()))


def _sort_columns(detail, sample_type: str, sort: str | None) -> list:
    if sort == "name":
        return [detail.last_name, detail.first_name] if sample_type == PATIENT else [detail.name]
    if sort == "birth" and sample_type == PATIENT:
        return [detail.birth]
    if sort == "run_date" and sample_type == RUN:
        return [detail.run_date]
    if sort == "info":
        return [detail.info]
    if sort == "creator":
        return [User.last_name]
    if sort == "file_count":
        return [select(func.count(SampleSetMembership.id))
                .where(SampleSetMembership.sample_set_id == detail.sample_set_id).scalar_subquery()]
    if sort == "confs":
        return [select(func.min(Config.name)).join(FusedFile, FusedFile.config_id == Config.id)
                .where(FusedFile.sample_set_id == detail.sample_set_id).scalar_subquery()]
    if sort == "groups":
        return [select(func.min(Group.role)).join(Permission, Permission.group_id == Group.id)
                .where(Permission.name == ACCESS, Permission.table_name == "sample_set",
                       Permission.record_id == detail.sample_set_id).scalar_subquery()]
    return []


def _rows_statement(perms: Permissions, query: ListQuery):
    detail = DETAIL_MODELS[query.sample_type]
    identity_ids = perms.accessible_sample_set_ids_query("anon")
    statement = (
        select(detail, User.last_name.label("creator_name"))
        .outerjoin(User, User.id == detail.creator)
        .where(detail.sample_set_id.in_(perms.accessible_sample_set_ids_query("read")))
    )
    if query.sample_set_id is not None:
        statement = statement.where(detail.sample_set_id == query.sample_set_id)
    for word in query.words:
        statement = statement.where(_word_matches(detail, query.sample_type, word, identity_ids))
    for tag in query.tags:
        statement = statement.where(_has_tag(detail, query.sample_type, tag))
    sort_columns = _sort_columns(detail, query.sample_type, query.sort)
    if sort_columns:
        order = [c.desc() if query.reverse else c.asc() for c in sort_columns] + [detail.id.desc()]
    else:
        order = [detail.id.asc() if query.reverse else detail.id.desc()]
    statement = statement.order_by(*order)
    if query.page is not None:
        statement = statement.offset(query.page * PAGE_SIZE).limit(PAGE_SIZE + 1)
    return statement


# ----------------------------------------------------------------------------- aggregates

def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), ID_CHUNK):
        yield list(ids[start:start + ID_CHUNK])


def file_totals(db: Session, set_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """(number of samples, bytes) per set."""
    totals: dict[int, tuple[int, int]] = {}
    for chunk in _chunks(set_ids):
        for set_id, count, size in db.execute(
            select(SampleSetMembership.sample_set_id, func.count(func.distinct(SequenceFile.id)),
                   func.coalesce(func.sum(SequenceFile.size_file), 0))
            .join(SequenceFile, SequenceFile.id == SampleSetMembership.sequence_file_id)
            .where(SampleSetMembership.sample_set_id.in_(chunk))
            .group_by(SampleSetMembership.sample_set_id)
        ):
            totals[set_id] = (int(count or 0), int(size or 0))
    return totals


def fused_configs(db: Session, set_ids: Sequence[int]) -> dict[int, list[FusedConfig]]:
    """Configs that have a fused result for each set, by config name."""
    found: dict[int, list[FusedConfig]] = {}
    for chunk in _chunks(set_ids):
        for set_id, config_id, name in db.execute(
            select(FusedFile.sample_set_id, Config.id, Config.name)
            .join(Config, Config.id == FusedFile.config_id)
            .where(FusedFile.sample_set_id.in_(chunk), FusedFile.fused_file.is_not(None))
            .distinct().order_by(Config.name, Config.id)
        ):
            found.setdefault(set_id, []).append(FusedConfig(config_id, name or ""))
    return found


def sharing_groups(db: Session, set_ids: Sequence[int]) -> dict[int, list[str]]:
    """Roles of the groups holding access to each set (the `admin` group left out)."""
    found: dict[int, list[str]] = {}
    for chunk in _chunks(set_ids):
        for set_id, role in db.execute(
            select(Permission.record_id, Group.role).join(Group, Group.id == Permission.group_id)
            .where(Permission.name == ACCESS, Permission.table_name == "sample_set",
                   Permission.record_id.in_(chunk), Group.role != ADMIN_ROLE)
            .distinct().order_by(Group.role)
        ):
            found.setdefault(set_id, []).append(role or "")
    return found


def permitted_among(db: Session, perms: Permissions, set_ids: Sequence[int], action: str) -> set[int]:
    """Which of these sets the user may act on (`admin`, `anon`...): one statement per chunk."""
    allowed: set[int] = set()
    subquery = perms.accessible_sample_set_ids_query(action)
    for chunk in _chunks(set_ids):
        allowed.update(db.scalars(select(SampleSet.id).where(SampleSet.id.in_(chunk), SampleSet.id.in_(subquery))))
    return allowed


# ----------------------------------------------------------------------------- the lists

def list_sets(db: Session, perms: Permissions, query: ListQuery) -> SetListing:
    """The sets of one type the user may read, as the list page shows them."""
    results = db.execute(_rows_statement(perms, query)).all()
    has_next = query.page is not None and len(results) > PAGE_SIZE
    results = results[:PAGE_SIZE] if query.page is not None else results
    set_ids = [detail.sample_set_id for detail, _creator in results]
    totals = file_totals(db, set_ids)
    configs = fused_configs(db, set_ids)
    groups = sharing_groups(db, set_ids)
    admin_ids = permitted_among(db, perms, set_ids, "admin")
    identity_ids = permitted_among(db, perms, set_ids, "anon") if query.sample_type == PATIENT else set()
    rows = [
        _row(query.sample_type, detail, creator, identity_ids, perms.is_admin,
             totals.get(detail.sample_set_id, (0, 0)), configs.get(detail.sample_set_id, []),
             groups.get(detail.sample_set_id, []), detail.sample_set_id in admin_ids)
        for detail, creator in results
    ]
    return SetListing(query=query, rows=rows, has_next=has_next,
                      admin_set_ids=[row.sample_set_id for row in rows if row.can_modify])


def _row(sample_type: str, detail, creator: str | None, identity_ids: set[int], viewer_is_admin: bool,
         totals: tuple[int, int], configs: list[FusedConfig], groups: list[str], can_modify: bool) -> SetRow:
    set_id = detail.sample_set_id
    row = SetRow(sample_type=sample_type, id=detail.id, sample_set_id=set_id, info=detail.info or "",
                 creator=creator, name="", display_name="", file_count=totals[0], size=totals[1],
                 configs=configs, groups=groups, can_modify=can_modify)
    if sample_type == PATIENT:
        may_see = set_id in identity_ids
        row.name = patient_name(detail.first_name, detail.last_name, may_see)
        row.display_name = patient_display_name(set_id, detail.first_name, detail.last_name, may_see, viewer_is_admin)
        # Without the `anon` right the JSON forms carry no more of the identity than the page.
        row.first_name = detail.first_name if may_see else ""
        row.last_name = detail.last_name if may_see else (detail.last_name or "")[:3]
        row.birth = detail.birth
    else:
        row.name = row.display_name = set_name(sample_type, detail)
        if sample_type == RUN:
            row.run_date = detail.run_date
    return row


def neighbour_set_id(db: Session, perms: Permissions, sample_set_id: int, forward: bool) -> int | None:
    """The next (or previous) readable set of the same type, for the set page's arrows."""
    sample_type = db.scalar(select(SampleSet.sample_type).where(SampleSet.id == sample_set_id))
    if sample_type is None:
        return None
    statement = select(SampleSet.id).where(
        SampleSet.sample_type == sample_type,
        SampleSet.id.in_(perms.accessible_sample_set_ids_query("read")),
        SampleSet.id > sample_set_id if forward else SampleSet.id < sample_set_id,
    ).order_by(SampleSet.id.asc() if forward else SampleSet.id.desc()).limit(1)
    return db.scalar(statement)


def viewer_groups(db: Session, perms: Permissions) -> tuple[list[int], bool]:
    """Group ids whose tags the viewer's inputs offer (admins: every group), and whether the
    viewer belongs to more than one group besides `public` (lists then show groups and creators)."""
    if perms.is_admin:
        return sorted(db.scalars(select(Group.id))), True
    own = perms.group_ids
    ids = sorted(own | perms.parent_ids)
    lab_groups = db.scalar(select(func.count(Group.id)).where(Group.id.in_(own), Group.role != PUBLIC_ROLE)) if own else 0
    return ids, (lab_groups or 0) > 1


# ----------------------------------------------------------------------------- the set picker

def picker_entries(db: Session, perms: Permissions, text: str) -> list[dict[str, Any]]:
    """Sets the user may modify whose name matches `text`, as `{name: <id string>, id, type}`.

    An empty text gives the latest few of each type; matching on patient names
    follows the same anonymisation rule as the lists.
    """
    text = (text or "").strip()
    limit = AUTOCOMPLETE_MAX_LIMIT if text else AUTOCOMPLETE_DEFAULT_LIMIT
    modifiable = perms.accessible_sample_set_ids_query("admin")
    identity_subquery = perms.accessible_sample_set_ids_query("anon")
    entries: list[dict[str, Any]] = []
    for sample_type in (PATIENT, RUN, GENERIC):
        detail = DETAIL_MODELS[sample_type]
        statement = select(detail).where(detail.sample_set_id.in_(modifiable))
        if text:
            matches = [_name_matches(detail, sample_type, text, identity_subquery)]
            if text.isdigit() and int(text) < 2**31:
                matches.append(detail.sample_set_id == int(text))
            statement = statement.where(or_(*matches))
        details = db.scalars(statement.order_by(detail.sample_set_id.desc()).limit(limit)).all()
        identity_ids = (permitted_among(db, perms, [d.sample_set_id for d in details], "anon")
                        if sample_type == PATIENT and details else set())
        for d in details:
            name = set_name(sample_type, d, d.sample_set_id in identity_ids)
            date = d.birth if sample_type == PATIENT else d.run_date if sample_type == RUN else None
            entries.append({"name": id_string(sample_type, d.sample_set_id, name, date),
                            "id": d.sample_set_id, "type": sample_type})
    return entries


def set_titles(db: Session, perms: Permissions, set_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """(type, plain name) of the given sets, patients anonymised as the viewer must see them."""
    wanted = sorted(set(set_ids))
    if not wanted:
        return {}
    titles: dict[int, tuple[str, str]] = {}
    types = dict(db.execute(select(SampleSet.id, SampleSet.sample_type).where(SampleSet.id.in_(wanted))).all())
    identity_ids = permitted_among(db, perms, [i for i, t in types.items() if t == PATIENT], "anon")
    for sample_type in SET_TYPES:
        ids = [i for i, t in types.items() if t == sample_type]
        if not ids:
            continue
        detail = DETAIL_MODELS[sample_type]
        for d in db.scalars(select(detail).where(detail.sample_set_id.in_(ids))):
            titles.setdefault(d.sample_set_id, (sample_type, set_name(sample_type, d, d.sample_set_id in identity_ids)))
    return titles
