"""The set page (`sample_set/index`): its samples, their current results and job statuses.

Everything is read in a fixed number of statements: the samples, the current
result of each for the chosen config, the statuses of their tasks (one call to
the jobs service), the other readable sets sharing them, the fused results.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from ..admin.models import Classification, Config
from ..auth.models import User
from ..auth.permissions import Permissions
from ..files.models import PreProcess, SampleSetMembership, SequenceFile
from ..jobs.services import statuses_for_tasks
from ..results.models import AnalysisFile, FusedFile, ResultsFile
from .display import format_date, set_name
from .listing import permitted_among, set_titles
from .models import GENERIC, PATIENT, RUN
from .services import load_set

NO_CONFIG = -1
_UNSAFE_FILE_CHARS = re.compile(r"[^\w .()+-]+")
PREPROCESSING_FLAGS = ("RUN", "WAIT")
BUSY_STATUSES = ("QUEUED", "ASSIGNED", "RUNNING")
LAUNCHABLE_STATUSES = ("", "FAILED")


def columns_of(row: Any, model: type) -> dict[str, Any]:
    """A model row as the `{column: value}` dict web2py's JSON views gave (all None without a row)."""
    return {attr.key: (getattr(row, attr.key) if row is not None else None) for attr in inspect(model).column_attrs}


@dataclass(frozen=True)
class SharedSet:
    id: int
    sample_type: str
    title: str


@dataclass
class SampleLine:
    """One sample of the set, with its current result for the chosen config."""

    sequence_file: SequenceFile
    membership: SampleSetMembership
    result: ResultsFile | None
    status: str
    shared_sets: list[SharedSet]
    provider_name: str | None
    pre_process_name: str | None

    @property
    def displayed_status(self) -> str:
        if self.sequence_file.pre_process_flag in PREPROCESSING_FLAGS:
            return "PREPROCESSING"
        return self.status

    @property
    def pre_process_pending(self) -> bool:
        """A pre-process is chosen and has not produced the file to analyse yet."""
        if self.sequence_file.pre_process_id is None:
            return False
        return self.sequence_file.pre_process_flag in (None, "RUN", "WAIT", "FAILED")

    @property
    def launchable(self) -> bool:
        """Has data, is not already being analysed, and is not waiting for its pre-process."""
        return (self.sequence_file.data_file is not None and self.status not in BUSY_STATUSES
                and not self.pre_process_pending)

    def as_json(self) -> dict[str, Any]:
        result = columns_of(self.result, ResultsFile)
        result["status"] = self.status
        return {
            "sequence_file": columns_of(self.sequence_file, SequenceFile),
            "sample_set_membership": columns_of(self.membership, SampleSetMembership),
            "results_file": result,
            "list_share_set": [{"title": s.title, "sample_type": s.sample_type, "id": s.id} for s in self.shared_sets],
        }


@dataclass
class ConfigGroup:
    """Configs of one classification, as an `<optgroup>` of the config selector."""

    name: str
    info: str
    configs: list[Config]


@dataclass
class SetPage:
    sample_set_id: int
    sample_type: str
    name: str
    filename: str
    label: str
    info: str
    config: Config | None
    lines: list[SampleLine]
    pre_processes: dict[int, str]
    classification: list[ConfigGroup]
    fused_results: list[tuple[int, str]]
    fused_file: FusedFile | None
    analysis_files: list[AnalysisFile]
    can_modify: bool
    can_upload: bool
    can_process: bool
    can_use_config: bool
    can_run_each: bool
    viewer_is_admin: bool

    @property
    def config_id(self) -> int:
        return self.config.id if self.config is not None else NO_CONFIG

    @property
    def has_shared_sets(self) -> bool:
        return any(line.shared_sets for line in self.lines)

    @property
    def fused_filename(self) -> str:
        return f"{self.filename}_{self.config.name}.vidjil" if self.fused_file is not None and self.config else ""

    @property
    def analysis_filename(self) -> str:
        return f"{self.filename}_{self.config.name}.analysis" if self.config is not None and self.analysis_files else ""

    @property
    def can_run_all(self) -> bool:
        """`run_all_request` needs the run right and the use of the config."""
        return self.can_process and self.can_use_config and self.config is not None

    @property
    def unanalysed_file_ids(self) -> list[int]:
        return [line.sequence_file.id for line in self.lines if line.status in LAUNCHABLE_STATUSES]

    def as_json(self, http_origin: str) -> dict[str, Any]:
        return {
            "query": [line.as_json() for line in self.lines],
            "has_shared_sets": self.has_shared_sets,
            "pre_process_list": {str(k): v for k, v in self.pre_processes.items()},
            "config_id": self.config_id,
            "config": self.config is not None,
            "info": {"name": self.name, "filename": self.filename, "label": self.label, "info": self.info},
            "can_modify": self.can_modify,
            "can_upload": self.can_upload,
            "fused_count": 1 if self.fused_file is not None else 0,
            "fused_file": [columns_of(self.fused_file, FusedFile)] if self.fused_file is not None else [],
            "fused_filename": self.fused_filename,
            "analysis_count": len(self.analysis_files) if self.config is not None else 0,
            "analysis_file": [columns_of(a, AnalysisFile) for a in self.analysis_files] if self.config else [],
            "analysis_filename": self.analysis_filename,
            "sample_type": self.sample_type,
            "classification": [
                {"name": g.name, "info": g.info,
                 "configs": [{"id": c.id, "name": c.name, "info": c.info, "program": c.program} for c in g.configs]}
                for g in self.classification
            ],
            "http_origin": http_origin,
        }


def parse_config_param(value: str | None) -> int | None:
    """`None`/`-1`/absent → None (let the page choose); a number → that config id."""
    value = (value or "").strip()
    if value.lstrip("-").isdigit() and int(value) > 0 and int(value) < 2**31:
        return int(value)
    return None


def _choose_config(db: Session, sample_set_id: int, requested: str | None) -> Config | None:
    """The requested config, or with `-1` the config of the set's most recent fused result."""
    config_id = parse_config_param(requested)
    if config_id is not None:
        return db.get(Config, config_id)
    if (requested or "").strip() != "-1":
        return None
    chosen = db.scalar(
        select(FusedFile.config_id).where(FusedFile.sample_set_id == sample_set_id, FusedFile.config_id.is_not(None),
                                          FusedFile.fused_file.is_not(None))
        .order_by(FusedFile.fuse_date.desc(), FusedFile.config_id).limit(1))
    return db.get(Config, chosen) if chosen is not None else None


def config_groups(db: Session, perms: Permissions) -> list[ConfigGroup]:
    """The configs this user may use, grouped by classification (unclassified last)."""
    configs = db.scalars(select(Config).where(Config.id.in_(perms.accessible_config_ids_query()))
                         .order_by(Config.name, Config.id)).all()
    classes = db.scalars(select(Classification).order_by(Classification.id)).all()
    groups = [ConfigGroup(c.name or "", c.info or "", [cfg for cfg in configs if cfg.classification == c.id])
              for c in classes]
    known = {c.id for c in classes}
    groups = [g for g in groups if g.configs]
    groups.append(ConfigGroup("–", "", [cfg for cfg in configs if cfg.classification not in known]))
    return groups


def _label(sample_type: str, detail) -> str:
    date = detail.birth if sample_type == PATIENT else detail.run_date if sample_type == RUN else None
    id_label = getattr(detail, "id_label", None) or ""
    return f"{id_label} ({format_date(date)})".strip() if date is not None else id_label


def _file_stem(sample_type: str, sample_set_id: int, detail, may_see_identity: bool) -> str:
    """A name for downloaded results of this set (never more of a patient than the viewer sees),
    reduced to characters that are safe in a file name."""
    if sample_type == PATIENT:
        stem = set_name(PATIENT, detail, may_see_identity) or f"patient_{sample_set_id}"
    elif sample_type == RUN:
        date = f"_{format_date(detail.run_date)}" if detail.run_date else ""
        stem = f"run_{detail.name or sample_set_id}{date}"
    else:
        stem = detail.name or f"sample_set_{sample_set_id}"
    return _UNSAFE_FILE_CHARS.sub("_", stem).strip() or f"sample_set_{sample_set_id}"


def set_display_name(perms: Permissions, sample_type: str, detail) -> str:
    """The name a page title shows (patients anonymised, admins see the set id)."""
    if sample_type == PATIENT:
        return perms.display_name_patient(detail.sample_set_id, detail.first_name, detail.last_name)
    return set_name(sample_type, detail)


def build_set_page(db: Session, perms: Permissions, sample_set_id: int, requested_config: str | None) -> SetPage:
    sample_set, detail = load_set(db, sample_set_id)
    sample_type = sample_set.sample_type
    may_see_identity = sample_type == PATIENT and perms.can_view_info(sample_set_id)
    name = set_display_name(perms, sample_type, detail)
    config = _choose_config(db, sample_set_id, requested_config)

    rows = db.execute(
        select(SequenceFile, SampleSetMembership, User.last_name)
        .join(SampleSetMembership, SampleSetMembership.sequence_file_id == SequenceFile.id)
        .outerjoin(User, User.id == SequenceFile.provider)
        .where(SampleSetMembership.sample_set_id == sample_set_id)
        .order_by(SequenceFile.id, SampleSetMembership.id)
    ).all()
    seen: set[int] = set()
    rows = [r for r in rows if not (r[0].id in seen or seen.add(r[0].id))]
    file_ids = [r[0].id for r in rows]

    results: dict[int, ResultsFile] = {}
    if config is not None and file_ids:
        for result in db.scalars(
            select(ResultsFile).where(ResultsFile.sequence_file_id.in_(file_ids), ResultsFile.config_id == config.id,
                                      ResultsFile.hidden.is_(False))
            .order_by(ResultsFile.sequence_file_id, ResultsFile.run_date.desc(), ResultsFile.id.desc())
        ):
            results.setdefault(result.sequence_file_id, result)
    task_ids = [r.scheduler_task_id for r in results.values() if r.scheduler_task_id]
    statuses = statuses_for_tasks(db, task_ids) if task_ids else {}

    shared: dict[int, list[int]] = {}
    if file_ids:
        for file_id, other_id in db.execute(
            select(SampleSetMembership.sequence_file_id, SampleSetMembership.sample_set_id)
            .where(SampleSetMembership.sequence_file_id.in_(file_ids),
                   SampleSetMembership.sample_set_id.is_not(None),
                   SampleSetMembership.sample_set_id != sample_set_id)
            .distinct().order_by(SampleSetMembership.sample_set_id)
        ):
            shared.setdefault(file_id, []).append(other_id)
    readable = permitted_among(db, perms, sorted({i for ids in shared.values() for i in ids}), "read")
    titles = set_titles(db, perms, readable)

    pre_process_ids = {r[0].pre_process_id for r in rows if r[0].pre_process_id}
    pre_processes = dict(db.execute(select(PreProcess.id, PreProcess.name).where(PreProcess.id.in_(pre_process_ids)))
                         .all()) if pre_process_ids else {}

    lines = []
    for sequence_file, membership, provider in rows:
        result = results.get(sequence_file.id)
        status = statuses.get(result.scheduler_task_id, "") if result is not None and result.scheduler_task_id else ""
        lines.append(SampleLine(
            sequence_file=sequence_file, membership=membership, result=result, status=status or "",
            shared_sets=[SharedSet(i, *titles[i]) for i in shared.get(sequence_file.id, []) if i in titles],
            provider_name=provider, pre_process_name=pre_processes.get(sequence_file.pre_process_id)))

    fused_results = [(cid, cname or "") for cid, cname in db.execute(
        select(Config.id, Config.name).join(FusedFile, FusedFile.config_id == Config.id)
        .where(FusedFile.sample_set_id == sample_set_id, FusedFile.fused_file.is_not(None))
        .distinct().order_by(Config.name, Config.id))]
    fused_file = None
    analysis_files: list[AnalysisFile] = []
    if config is not None:
        fused_file = db.scalars(select(FusedFile).where(FusedFile.sample_set_id == sample_set_id,
                                                        FusedFile.config_id == config.id,
                                                        FusedFile.fused_file.is_not(None))
                                .order_by(FusedFile.fuse_date.desc(), FusedFile.id.desc()).limit(1)).first()
        analysis_files = list(db.scalars(select(AnalysisFile).where(AnalysisFile.sample_set_id == sample_set_id)
                                         .order_by(AnalysisFile.analyze_date.desc(), AnalysisFile.id.desc())))

    can_process = perms.can_process_sample_set(sample_set_id)
    can_use_config = config is not None and perms.can_use_config(config.id)
    return SetPage(
        sample_set_id=sample_set_id, sample_type=sample_type, name=name,
        filename=_file_stem(sample_type, sample_set_id, detail, may_see_identity),
        label=_label(sample_type, detail) if sample_type != GENERIC else "", info=detail.info or "",
        config=config, lines=lines, pre_processes=pre_processes,
        classification=config_groups(db, perms) if can_process else [],
        fused_results=fused_results, fused_file=fused_file, analysis_files=analysis_files,
        can_modify=perms.can_modify_sample_set(sample_set_id),
        can_upload=perms.can_upload_sample_set(sample_set_id),
        can_process=can_process, can_use_config=can_use_config,
        can_run_each=config is not None and perms.can_run(sample_set_id, config.id),
        viewer_is_admin=perms.is_admin,
    )

