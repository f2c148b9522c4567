"""The original migrator's archives: `vidjil-server export` and `vidjil-server import`.

An archive moves some sample sets between servers (old web2py ones or ours),
with new ids on the receiving side (schema-auth.md §10):

    <archive>/export.json     rows keyed by their old ids (see below)
    <archive>/files/<name>    results, fused, analysis and pre-process side files
    <archive>/config.json     old config id -> {"description": ..., "link_local": id here}
    <archive>/pprocess.json   the same for pre-processes

`export.json` holds `patient`/`run`/`generic` (detail rows, creator 1),
`sequence_file` (provider 1, no patient_id), `membership`, `results_file`,
`scheduler_task` (no uuid), `scheduler_run`, `analysis_file` and `fused_file`,
every row without its id, dates as text, booleans as JSON booleans. Sequence
files themselves are not in archives (copy them by hand, names are kept).

On import, GROUP_ID gets access to every imported set. Differences from the
original importer, all refusing to guess: an unmapped id is kept only if that
row exists here (else cleared, and reported), memberships and results whose
set or sample is not in the archive are left out (the original attached them
to whatever row had that id here), `fused_file.sequence_file_list` is renumbered,
and only the era-C access row is written.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vidjil_pyramid.admin.models import Config
from vidjil_pyramid.auth.models import Group, Permission, User
from vidjil_pyramid.auth.services import grant
from vidjil_pyramid.files.models import PreProcess, SampleSetMembership, SequenceFile
from vidjil_pyramid.files.storage import is_valid_stored_name
from vidjil_pyramid.jobs.models import SchedulerRun, SchedulerTask
from vidjil_pyramid.results.models import AnalysisFile, FusedFile, ResultsFile
from vidjil_pyramid.sample_sets.models import DETAIL_MODELS, SET_TYPES, SampleSet

from .convert import converter_for
from .files import sha256_of

EXPORT_FILE, CONFIG_FILE, PRE_PROCESS_FILE, FILES_DIR = "export.json", "config.json", "pprocess.json", "files"
# Stored names copied with an archive: (export.json key, column).
ARCHIVED_FILES = (("results_file", "data_file"), ("analysis_file", "analysis_file"),
                  ("fused_file", "fused_file"), ("sequence_file", "pre_process_file"))


class MigratorError(RuntimeError):
    """The archive cannot be written or read; the message says why."""


# ---------------------------------------------------------------------- values

def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _row(obj, **forced) -> dict[str, Any]:
    """A model row as the original wrote it: every column but the id (and uuid)."""
    data = {c.name: _json_value(getattr(obj, c.key)) for c in obj.__table__.columns
            if c.name not in ("id", "uuid")}
    data.update(forced)
    return data


# ---------------------------------------------------------------------- export

@dataclass
class ExportResult:
    path: Path
    counts: dict[str, int] = field(default_factory=dict)
    files_copied: int = 0
    files_missing: list[str] = field(default_factory=list)
    unknown_ids: list[int] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"archive written to {self.path}"]
        lines += [f"  {name}: {n}" for name, n in self.counts.items()]
        lines.append(f"  files copied: {self.files_copied}")
        if self.files_missing:
            lines.append(f"  files missing in the results directory: {len(self.files_missing)}")
            lines += [f"    {name}" for name in self.files_missing[:20]]
        if self.unknown_ids:
            lines.append(f"  ids not found (skipped): {', '.join(map(str, self.unknown_ids))}")
        lines.append(f"  edit {CONFIG_FILE} and {PRE_PROCESS_FILE} (link_local) before importing elsewhere")
        return "\n".join(lines)


def _sets_for_groups(db: Session, group_ids: list[int]) -> dict[str, list]:
    known = set(db.scalars(select(Group.id).where(Group.id.in_(group_ids))))
    unknown = [g for g in group_ids if g not in known]
    if unknown:
        raise MigratorError(f"no group with id {', '.join(map(str, unknown))}")
    reached = select(Permission.record_id).where(
        Permission.name == "access", Permission.table_name == "sample_set", Permission.group_id.in_(group_ids))
    found = {}
    for sample_type in SET_TYPES:
        model = DETAIL_MODELS[sample_type]
        found[sample_type] = list(db.scalars(
            select(model).where(model.sample_set_id.in_(reached)).order_by(model.id)))
    return found


def export_archive(db: Session, path: Path, results_dir: Path, *, sample_type: str | None = None,
                   detail_ids: list[int] | None = None, group_ids: list[int] | None = None) -> ExportResult:
    """Write an archive of the given patients/runs/sets (detail ids) or of what groups reach."""
    if (path / EXPORT_FILE).exists():
        raise MigratorError(f"{path} already holds an archive ({EXPORT_FILE}): give a new directory")
    result = ExportResult(path)
    data: dict[str, Any] = {}
    if group_ids:
        chosen = _sets_for_groups(db, group_ids)
    else:
        if sample_type not in SET_TYPES:
            raise MigratorError(f"unknown set type {sample_type!r}")
        model = DETAIL_MODELS[sample_type]
        rows = list(db.scalars(select(model).where(model.id.in_(detail_ids or [])).order_by(model.id)))
        result.unknown_ids = sorted(set(detail_ids or []) - {r.id for r in rows})
        if not rows:
            raise MigratorError(f"no {sample_type} with id {', '.join(map(str, detail_ids or []))}")
        chosen = {sample_type: rows}

    set_ids: list[int] = []
    for kind, rows in chosen.items():
        data[kind] = {str(r.id): _row(r, creator=1) for r in rows}
        set_ids += [r.sample_set_id for r in rows if r.sample_set_id is not None]

    pairs = db.execute(
        select(SampleSetMembership, SequenceFile)
        .join(SequenceFile, SequenceFile.id == SampleSetMembership.sequence_file_id)
        .where(SampleSetMembership.sample_set_id.in_(set_ids)).order_by(SampleSetMembership.id)
    ).all()
    data["sequence_file"] = {str(sf.id): _row(sf, provider=1, patient_id=None) for _, sf in pairs}
    data["membership"] = {str(m.id): {"sample_set_id": m.sample_set_id, "sequence_file_id": m.sequence_file_id}
                          for m, _ in pairs}
    file_ids = sorted({sf.id for _, sf in pairs})
    results = list(db.scalars(select(ResultsFile).where(ResultsFile.sequence_file_id.in_(file_ids))
                              .order_by(ResultsFile.id)))
    data["results_file"] = {str(r.id): _row(r) for r in results}
    task_ids = sorted({r.scheduler_task_id for r in results if r.scheduler_task_id is not None})
    data["scheduler_task"] = {str(t.id): _row(t) for t in db.scalars(
        select(SchedulerTask).where(SchedulerTask.id.in_(task_ids)).order_by(SchedulerTask.id))}
    data["scheduler_run"] = {str(r.id): _row(r) for r in db.scalars(
        select(SchedulerRun).where(SchedulerRun.task_id.in_(task_ids)).order_by(SchedulerRun.id))}
    data["analysis_file"] = {str(a.id): _row(a) for a in db.scalars(
        select(AnalysisFile).where(AnalysisFile.sample_set_id.in_(set_ids)).order_by(AnalysisFile.id))}
    fused = list(db.scalars(select(FusedFile).where(FusedFile.sample_set_id.in_(set_ids)).order_by(FusedFile.id)))
    data["fused_file"] = {str(f.id): _row(f) for f in fused}

    config_ids = sorted({r.config_id for r in results if r.config_id} | {f.config_id for f in fused if f.config_id})
    pre_ids = sorted({sf.pre_process_id for _, sf in pairs if sf.pre_process_id})
    configs = {str(c.id): {"description": _row(c), "link_local": c.id} for c in db.scalars(
        select(Config).where(Config.id.in_(config_ids)).order_by(Config.id))}
    pre_processes = {str(p.id): {"description": _row(p), "link_local": p.id} for p in db.scalars(
        select(PreProcess).where(PreProcess.id.in_(pre_ids)).order_by(PreProcess.id))}

    files_dir = path / FILES_DIR
    files_dir.mkdir(parents=True, exist_ok=True)
    for key, column in ARCHIVED_FILES:
        for row in data[key].values():
            name = row.get(column)
            if not name:
                continue
            source = results_dir / name
            if not is_valid_stored_name(name) or not source.is_file():
                result.files_missing.append(name)
                continue
            shutil.copyfile(source, files_dir / name)
            result.files_copied += 1

    _write_json(path / CONFIG_FILE, configs)
    _write_json(path / PRE_PROCESS_FILE, pre_processes)
    _write_json(path / EXPORT_FILE, data)  # last: an archive with export.json is complete
    result.counts = {key: len(value) for key, value in data.items()}
    return result


def _write_json(path: Path, data: Any) -> None:
    partial = path.with_name("." + path.name + ".part")
    partial.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(partial, path)


# ---------------------------------------------------------------------- import

@dataclass
class ImportResult:
    dry_run: bool
    counts: Counter = field(default_factory=Counter)
    sample_set_ids: dict[int, int] = field(default_factory=dict)
    files_copied: int = 0
    warnings: Counter = field(default_factory=Counter)

    def warn(self, message: str, n: int = 1) -> None:
        self.warnings[message] += n

    def summary(self) -> str:
        head = "DRY RUN, nothing kept: would import" if self.dry_run else "imported"
        lines = [f"{head}: " + ", ".join(f"{n} {t}" for t, n in self.counts.items())]
        if self.sample_set_ids:
            lines.append("  sample sets (old -> new): " + ", ".join(
                f"{old}->{new}" for old, new in sorted(self.sample_set_ids.items())))
        lines.append(f"  files copied: {self.files_copied}")
        for message, n in self.warnings.items():
            lines.append(f"  warning: {n} x {message}")
        return "\n".join(lines)


def _load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MigratorError(f"{what} not found: {path}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise MigratorError(f"{what} is not valid JSON ({path}): {exc}") from None


def _load_mapping(path: Path | None, default: Path, what: str) -> dict[int, int]:
    """old id -> id here, from a config.json / pprocess.json (entries with a falsy link_local ignored)."""
    if path is None:
        if not default.exists():
            return {}
        path = default
    raw = _load_json(path, what)
    if not isinstance(raw, dict):
        raise MigratorError(f"{what} must be a JSON object keyed by the old ids: {path}")
    mapping = {}
    for key, entry in raw.items():
        local = entry.get("link_local") if isinstance(entry, dict) else None
        if not local:
            continue
        try:
            mapping[int(key)] = int(local)
        except (TypeError, ValueError):
            raise MigratorError(f"{what}: invalid entry {key!r} -> {local!r}") from None
    return mapping


class _Archive:
    """The rows of an export.json, converted to our columns' types."""

    def __init__(self, data: dict, result: ImportResult):
        self.data = data
        self.result = result

    def rows(self, key: str, model) -> list[tuple[int, dict]]:
        section = self.data.get(key) or {}
        if not isinstance(section, dict):
            raise MigratorError(f"export.json: '{key}' must be an object keyed by ids")
        columns = {c.name: c for c in model.__table__.columns if c.name not in ("id",)}
        converted = []
        for old_id, raw in section.items():
            try:
                old = int(old_id)
            except ValueError:
                raise MigratorError(f"export.json: '{key}' has a non-numeric id {old_id!r}") from None
            if not isinstance(raw, dict):
                raise MigratorError(f"export.json: '{key}' row {old_id} is not an object")
            row = {}
            for name, value in raw.items():
                column = columns.get(name)
                if column is None:
                    self.result.warn(f"{key}.{name}: values not carried over (no such column here)")
                    continue
                value, problem = converter_for(column)(value)
                if problem:
                    self.result.warn(f"{key}.{name}: {problem}")
                row[name] = value
            converted.append((old, row))
        return sorted(converted)


class _Importer:
    def __init__(self, db: Session, archive: _Archive, result: ImportResult, configs: dict[int, int],
                 pre_processes: dict[int, int]):
        self.db = db
        self.archive = archive
        self.result = result
        self.maps: dict[str, dict[int, int]] = {"config": configs, "pre_process": pre_processes,
                                                "sample_set": {}, "sequence_file": {}, "scheduler_task": {}}
        self._existing: dict[type, set[int]] = {}

    def _exists(self, model, record_id: int) -> bool:
        known = self._existing.setdefault(model, set())
        if record_id not in known and self.db.get(model, record_id) is not None:
            known.add(record_id)
        return record_id in known

    def _local(self, kind: str, model, old_id: int | None) -> int | None:
        """The id here for an archived reference: mapped, else kept if it exists here, else None."""
        if old_id is None:
            return None
        mapped = self.maps[kind].get(old_id)
        if mapped is not None:
            return mapped
        if kind in ("config", "pre_process") and self._exists(model, old_id):
            self.result.warn(f"{kind} {old_id} not in the mapping file: kept as the {kind} {old_id} here")
            return old_id
        self.result.warn(f"{kind} {old_id} neither mapped nor present here: reference cleared")
        return None

    def _user(self, user_id: int | None) -> int | None:
        if user_id is None or self._exists(User, user_id):
            return user_id
        self.result.warn(f"user {user_id} does not exist here: creator/provider cleared")
        return None

    def _add(self, obj) -> int:
        self.db.add(obj)
        self.db.flush()
        self.result.counts[obj.__tablename__] += 1
        return obj.id

    def run(self, group_id: int) -> None:
        a, db = self.archive, self.db
        for configured, model in (("config", Config), ("pre_process", PreProcess)):
            for old, local in self.maps[configured].items():
                if not self._exists(model, local):
                    raise MigratorError(f"the {configured} mapping sends {old} to {local}, "
                                        f"but there is no {configured} {local} here")
        for sample_type in SET_TYPES:
            if sample_type not in a.data:
                continue
            model = DETAIL_MODELS[sample_type]
            for _, row in a.rows(sample_type, model):
                new_set = self._add(SampleSet(sample_type=sample_type))
                old_set = row.pop("sample_set_id", None)
                if old_set is not None:
                    self.maps["sample_set"][old_set] = new_set
                    self.result.sample_set_ids[old_set] = new_set
                row["creator"] = self._user(row.get("creator"))
                self._add(model(**row, sample_set_id=new_set))
                grant(db, group_id, "access", "sample_set", new_set)
        for old, row in a.rows("sequence_file", SequenceFile):
            row.update(patient_id=None, provider=self._user(row.get("provider")),
                       pre_process_id=self._local("pre_process", PreProcess, row.get("pre_process_id")))
            self.maps["sequence_file"][old] = self._add(SequenceFile(**row))
        for _, row in a.rows("membership", SampleSetMembership):
            set_id = self.maps["sample_set"].get(row.get("sample_set_id"))
            file_id = self.maps["sequence_file"].get(row.get("sequence_file_id"))
            if set_id is None or file_id is None:
                self.result.warn("memberships naming a set or sample outside the archive left out")
                continue
            self._add(SampleSetMembership(sample_set_id=set_id, sequence_file_id=file_id))
        for old, row in a.rows("scheduler_task", SchedulerTask):
            row.pop("uuid", None)  # a new one here, as the original did
            self.maps["scheduler_task"][old] = self._add(SchedulerTask(**row))
        for _, row in a.rows("scheduler_run", SchedulerRun):
            task = self.maps["scheduler_task"].get(row.get("task_id"))
            if task is None:
                self.result.warn("scheduler runs of a task outside the archive left out")
                continue
            self._add(SchedulerRun(**{**row, "task_id": task}))
        for _, row in a.rows("results_file", ResultsFile):
            sequence_file = self.maps["sequence_file"].get(row.get("sequence_file_id"))
            if sequence_file is None:
                self.result.warn("results of a sample outside the archive left out")
                continue
            row.update(sequence_file_id=sequence_file,
                       scheduler_task_id=self.maps["scheduler_task"].get(row.get("scheduler_task_id")),
                       config_id=self._local("config", Config, row.get("config_id")))
            self._add(ResultsFile(**row))
        for _, row in a.rows("analysis_file", AnalysisFile):
            row.update(patient_id=None, config_id=None,
                       sample_set_id=self.maps["sample_set"].get(row.get("sample_set_id")))
            self._add(AnalysisFile(**row))
        for _, row in a.rows("fused_file", FusedFile):
            row.update(patient_id=None, sample_set_id=self.maps["sample_set"].get(row.get("sample_set_id")),
                       config_id=self._local("config", Config, row.get("config_id")),
                       sequence_file_list=self._renumber(row.get("sequence_file_list")))
            self._add(FusedFile(**row))

    def _renumber(self, listing: str | None) -> str | None:
        """`12_15_` -> the same samples' new ids (ids outside the archive kept)."""
        if not listing:
            return listing
        parts = []
        for token in listing.split("_"):
            if token.isdigit():
                token = str(self.maps["sequence_file"].get(int(token), int(token)))
            parts.append(token)
        return "_".join(parts)


def _archived_names(data: dict) -> list[str]:
    names = []
    for key, column in ARCHIVED_FILES:
        for row in (data.get(key) or {}).values():
            if isinstance(row, dict) and row.get(column):
                names.append(row[column])
    return names


def _copy_files(archive: Path, results_dir: Path, names: list[str], result: ImportResult,
                created: list[Path]) -> None:
    """Copy the archive's files in, listing in `created` the paths made (removed if a later one fails)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    for name in dict.fromkeys(names):
        source, target = archive / FILES_DIR / name, results_dir / name
        if not source.is_file():
            result.warn("files named in export.json but absent from the archive")
            continue
        if target.exists():
            if target.is_file() and sha256_of(target) == sha256_of(source):
                continue
            raise MigratorError(f"{target} already exists with other content")
        partial = target.with_name("." + name + ".part")
        shutil.copyfile(source, partial)
        os.replace(partial, target)
        created.append(target)
        result.files_copied += 1


def import_archive(db: Session, archive: Path, *, group_id: int, results_dir: Path,
                   config_map: Path | None = None, pre_process_map: Path | None = None,
                   dry_run: bool = False) -> ImportResult:
    """Import an archive in the caller's transaction (all or nothing); `group_id` gets access."""
    data = _load_json(archive / EXPORT_FILE, "export.json")
    if not isinstance(data, dict):
        raise MigratorError("export.json must hold a JSON object")
    if db.get(Group, group_id) is None:
        raise MigratorError(f"no group with id {group_id} here: create it first (groups page)")
    result = ImportResult(dry_run=dry_run)
    configs = _load_mapping(config_map, archive / CONFIG_FILE, "config mapping")
    pre_processes = _load_mapping(pre_process_map, archive / PRE_PROCESS_FILE, "pre-process mapping")
    names = _archived_names(data)
    for name in names:
        if not is_valid_stored_name(name):
            raise MigratorError(f"export.json names a file that is not a plain file name: {name!r}")
    savepoint = db.begin_nested()
    created: list[Path] = []
    try:
        _Importer(db, _Archive(data, result), result, configs, pre_processes).run(group_id)
        db.flush()
        if dry_run:
            savepoint.rollback()
            return result
        _copy_files(archive, results_dir, names, result, created)
        savepoint.commit()
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        for path in created:
            path.unlink(missing_ok=True)
        raise
    return result
