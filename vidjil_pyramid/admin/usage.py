"""The "usage" page (`my_account/index`): what each group holds and did in the last 30 days.

For every group: its sample-set rights, how many patients, runs and sets it
reaches through its own `access` rows (and how many samples they hold), the
statuses of their analyses started in the last 30 days, its most used sample
tags, and the results fused and analyses saved recently. A tag filter narrows
everything but the tag list to sets holding a sample with one of the tags.
A constant number of queries, whatever the number of groups or sets.
Knows nothing of HTTP.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ..admin.models import Config
from ..auth.models import Group, Permission
from ..files.models import SampleSetMembership
from ..jobs.models import SchedulerTask
from ..results.models import AnalysisFile, FusedFile, ResultsFile
from ..sample_sets.display import patient_display_name
from ..sample_sets.models import DETAIL_MODELS, GENERIC, PATIENT, RUN, SampleSet, Tag, TagRef

PERIOD = dt.timedelta(days=30)
LIST_SIZE = 50
TAGS_PER_GROUP = 20
KINDS = {PATIENT: "patient", RUN: "run", GENERIC: "set"}  # sample_type -> label used by the page


@dataclass
class SetUsage:
    sample_type: str
    num_sets: int = 0
    num_samples: int = 0
    num_jobs: int = 0
    statuses: str = ""  # first letter of each job status, newest first (at most LIST_SIZE)


@dataclass(frozen=True)
class SetLink:
    sample_set_id: int
    sample_type: str
    name: str
    config_id: int | None = None
    config_name: str = ""


@dataclass
class GroupUsage:
    group_id: int
    role: str
    permissions: str = ""
    sets: dict[str, SetUsage] = field(default_factory=dict)  # keyed by KINDS labels
    tags: list[tuple[str, int]] = field(default_factory=list)  # (tag name, samples tagged)
    fuses: list[SetLink] = field(default_factory=list)
    analyses: list[SetLink] = field(default_factory=list)

    @property
    def total_sets(self) -> int:
        return sum(usage.num_sets for usage in self.sets.values())


def _reached(group_ids: list[int]) -> Select:
    """(group id, set id, set type) of the sets each group reaches with its own access rows."""
    return (select(Permission.group_id, SampleSet.id.label("set_id"), SampleSet.sample_type)
            .join(SampleSet, SampleSet.id == Permission.record_id)
            .where(Permission.group_id.in_(group_ids), Permission.name == "access",
                   Permission.table_name == "sample_set", Permission.record_id > 0))


def _tagged_sets(tags: list[str]) -> Select:
    """Sets holding a sample tagged with one of the tags (case-insensitive)."""
    return (select(SampleSetMembership.sample_set_id)
            .join(TagRef, (TagRef.record_id == SampleSetMembership.sequence_file_id)
                  & (TagRef.table_name == "sequence_file"))
            .join(Tag, Tag.id == TagRef.tag_id)
            .where(func.upper(Tag.name).in_([t.upper() for t in tags])).correlate(None))


def _set_names(db: Session, perms, wanted: set[tuple[int, str]]) -> dict[int, str]:
    """Display names of sets (patients anonymised as everywhere), in one query per set type."""
    names: dict[int, str] = {}
    by_type: dict[str, set[int]] = {}
    for set_id, sample_type in wanted:
        by_type.setdefault(sample_type, set()).add(set_id)
    if by_type.get(PATIENT):
        identified = set(db.scalars(select(SampleSet.id).where(
            SampleSet.id.in_(by_type[PATIENT]), SampleSet.id.in_(perms.accessible_sample_set_ids_query("anon")))))
        patient = DETAIL_MODELS[PATIENT]
        for set_id, first, last in db.execute(select(patient.sample_set_id, patient.first_name, patient.last_name)
                                              .where(patient.sample_set_id.in_(by_type[PATIENT]))):
            names[set_id] = patient_display_name(set_id, first, last, set_id in identified, perms.is_admin)
    for sample_type in (RUN, GENERIC):
        if by_type.get(sample_type):
            model = DETAIL_MODELS[sample_type]
            for set_id, name in db.execute(select(model.sample_set_id, model.name)
                                           .where(model.sample_set_id.in_(by_type[sample_type]))):
                names[set_id] = name or ""
    return names


def group_usage(db: Session, perms, group_ids: list[int], tags: list[str] | None = None,
                now: dt.datetime | None = None) -> list[GroupUsage]:
    """Usage of each group, the busiest groups first."""
    since = (now or dt.datetime.now()) - PERIOD
    groups = {gid: GroupUsage(gid, role or "") for gid, role in db.execute(
        select(Group.id, Group.role).where(Group.id.in_(group_ids)).order_by(Group.id))}
    if not groups:
        return []
    ids = list(groups)
    for usage in groups.values():
        usage.sets = {label: SetUsage(sample_type) for sample_type, label in KINDS.items()}

    for gid, name in db.execute(select(Permission.group_id, Permission.name).where(
            Permission.group_id.in_(ids), Permission.table_name == "sample_set", Permission.record_id == 0)
            .order_by(Permission.name)):
        groups[gid].permissions = " ".join(filter(None, [groups[gid].permissions, name]))

    reached = _reached(ids)
    if tags:
        reached = reached.where(SampleSet.id.in_(_tagged_sets(tags)))
    reached = reached.subquery()

    for gid, sample_type, num_sets in db.execute(
            select(reached.c.group_id, reached.c.sample_type, func.count(func.distinct(reached.c.set_id)))
            .group_by(reached.c.group_id, reached.c.sample_type)):
        if sample_type in KINDS:
            groups[gid].sets[KINDS[sample_type]].num_sets = num_sets
    for gid, sample_type, num_samples in db.execute(
            select(reached.c.group_id, reached.c.sample_type,
                   func.count(func.distinct(SampleSetMembership.sequence_file_id)))
            .join(SampleSetMembership, SampleSetMembership.sample_set_id == reached.c.set_id)
            .group_by(reached.c.group_id, reached.c.sample_type)):
        if sample_type in KINDS:
            groups[gid].sets[KINDS[sample_type]].num_samples = num_samples

    jobs = db.execute(
        select(reached.c.group_id, reached.c.sample_type, SchedulerTask.id, SchedulerTask.status,
               SchedulerTask.start_time)
        .join(SampleSetMembership, SampleSetMembership.sample_set_id == reached.c.set_id)
        .join(ResultsFile, ResultsFile.sequence_file_id == SampleSetMembership.sequence_file_id)
        .join(SchedulerTask, SchedulerTask.id == ResultsFile.scheduler_task_id)
        .where(SchedulerTask.start_time >= since)
        .distinct().order_by(SchedulerTask.start_time.desc(), SchedulerTask.id.desc()))
    seen_jobs: set[tuple[int, str, int]] = set()
    for gid, sample_type, task_id, status, _ in jobs:
        if sample_type not in KINDS or (gid, sample_type, task_id) in seen_jobs:
            continue
        seen_jobs.add((gid, sample_type, task_id))
        usage = groups[gid].sets[KINDS[sample_type]]
        usage.num_jobs += 1
        if len(usage.statuses) < LIST_SIZE:
            usage.statuses += (status or "?")[0]

    readable = perms.accessible_sample_set_ids_query("read")
    fuses = db.execute(
        select(reached.c.group_id, reached.c.set_id, reached.c.sample_type, Config.id, Config.name)
        .join(FusedFile, FusedFile.sample_set_id == reached.c.set_id)
        .join(Config, Config.id == FusedFile.config_id)
        .where(FusedFile.fuse_date >= since, reached.c.set_id.in_(readable))
        .distinct().order_by(reached.c.group_id, reached.c.set_id.desc(), Config.id)).all()
    analyses = db.execute(
        select(reached.c.group_id, reached.c.set_id, reached.c.sample_type)
        .join(AnalysisFile, AnalysisFile.sample_set_id == reached.c.set_id)
        .where(AnalysisFile.analyze_date > since, reached.c.set_id.in_(readable))
        .distinct().order_by(reached.c.group_id, reached.c.set_id.desc())).all()
    names = _set_names(db, perms, {(row[1], row[2]) for row in fuses} | {(row[1], row[2]) for row in analyses})
    for gid, set_id, sample_type, config_id, config_name in fuses:
        if len(groups[gid].fuses) < LIST_SIZE:
            groups[gid].fuses.append(SetLink(set_id, sample_type, names.get(set_id, ""), config_id, config_name or ""))
    for gid, set_id, sample_type in analyses:
        if len(groups[gid].analyses) < LIST_SIZE:
            groups[gid].analyses.append(SetLink(set_id, sample_type, names.get(set_id, "")))

    all_reached = _reached(ids).subquery()
    tag_counts = db.execute(
        select(all_reached.c.group_id, Tag.name, func.count(func.distinct(TagRef.id)).label("uses"))
        .join(SampleSetMembership, SampleSetMembership.sample_set_id == all_reached.c.set_id)
        .join(TagRef, (TagRef.record_id == SampleSetMembership.sequence_file_id)
              & (TagRef.table_name == "sequence_file"))
        .join(Tag, Tag.id == TagRef.tag_id)
        .group_by(all_reached.c.group_id, Tag.name)
        .order_by(func.count(func.distinct(TagRef.id)).desc(), Tag.name))
    for gid, name, uses in tag_counts:
        if name and len(groups[gid].tags) < TAGS_PER_GROUP:
            groups[gid].tags.append((name, uses))

    return sorted(groups.values(), key=lambda usage: (-usage.total_sets, usage.role))
