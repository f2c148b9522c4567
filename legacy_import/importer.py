"""`vidjil-server legacy-import`: a whole web2py Vidjil server, ids preserved.

Flow: open the source read-only (loading a dump into a scratch database first
when given one) -> check the target (empty, or an unfinished import of the
same source) -> create our schema -> one transaction per phase (tables.PHASES),
each marked done in the same transaction -> files -> counters, checks, report.

Within a phase, foreign-key checks are off while rows are copied, then broken
references are repaired (dropped or cleared, counted) and verified before the
commit, so no phase can commit a dangling reference. A dry run does all of it
in a throw-away database of the target's kind and only checks the files.
"""
from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.engine import Connection, Engine, make_url
from tqdm import tqdm

from vidjil_pyramid.db import make_engine
from vidjil_pyramid.models import metadata

from . import eras
from .accounts import account_summary, visibility
from .convert import converter_for
from .files import COPY, FileMover, FileOptions, stored_names
from .report import Notice, Report, TableCount
from .scratch import ScratchDatabase, is_mysql, load_dump
from .source import LegacySource, SourceError, masked, open_source_engine
from .tables import (DROP, IMPORTED_TABLES, LEGACY_TABLES, OWN_TABLES, PHASES, SET_TYPES,
                     TableSpec, tables_without_rule)
from .target import TargetRefused, TargetState, assess, mark_complete, mark_phase_done, prepare

DEFAULT_BATCH = 5000
# The report lists the sets each user sees (one query per user): enough to compare with the
# old server, bounded so that a server with thousands of accounts is not slowed down.
VISIBILITY_USERS = 200


class LegacyImportError(RuntimeError):
    """The import cannot go on; the message says why (shown in one line)."""


@dataclass
class ImportOptions:
    source_url: str | None = None
    dump: Path | None = None
    scratch_url: str | None = None
    uploads: list[Path] = field(default_factory=list)
    results: list[Path] = field(default_factory=list)
    files_mode: str = COPY
    dry_run: bool = False
    batch_size: int = DEFAULT_BATCH
    checksums: bool = True
    old_file_source: Path | None = None
    dump_loader: str = "auto"
    progress: bool | None = None  # None: when stdout is a terminal


def _bar(enabled: bool, total: int | None, desc: str, unit: str = "rows"):
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=False, file=sys.stdout)


# ---------------------------------------------------------------------- one phase's account

class PhaseLog:
    """What one phase did; stored with the phase's done-mark so a resumed run reports it too."""

    def __init__(self, name: str):
        self.name = name
        self.tables: dict[str, TableCount] = {}
        self.notices: list[Notice] = []
        self.permissions: dict[str, int] = {}
        self.seconds = 0.0

    def table(self, name: str) -> TableCount:
        return self.tables.setdefault(name, TableCount())

    def warn(self, table: str, count: int, message: str) -> None:
        if count:
            self.notices.append(Notice(table, int(count), message))

    def to_json(self) -> dict[str, Any]:
        return {"tables": {k: asdict(v) for k, v in self.tables.items()},
                "warnings": [asdict(n) for n in self.notices],
                "permissions": self.permissions, "seconds": self.seconds}

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> "PhaseLog":
        log = cls(name)
        log.tables = {k: TableCount(**v) for k, v in data.get("tables", {}).items()}
        log.notices = [Notice(**n) for n in data.get("warnings", [])]
        log.permissions = dict(data.get("permissions", {}))
        log.seconds = float(data.get("seconds", 0.0))
        return log

    def merge_into(self, report: Report, resumed: bool) -> None:
        report.tables.update(self.tables)
        report.warnings.extend(self.notices)
        report.permissions.update(self.permissions)
        report.phases.append({"phase": self.name, "seconds": round(self.seconds, 3),
                              "resumed": resumed})


# ---------------------------------------------------------------------- foreign keys

@contextlib.contextmanager
def _foreign_keys_off(connection: Connection) -> Iterator[None]:
    """Checks off for this connection only; every phase repairs and verifies its own references."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    else:
        connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
    connection.commit()
    try:
        yield
    finally:
        if connection.in_transaction():
            connection.rollback()
        if dialect == "sqlite":
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        else:
            connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")
        connection.commit()


def _broken(spec_table, reference):
    """Rows whose reference points to no row (NULL excluded)."""
    column = spec_table.c[reference.column]
    parent = metadata.tables[reference.table]
    return column.is_not(None) & ~exists().where(parent.c.id == column)


# ---------------------------------------------------------------------- the importer

class Importer:
    def __init__(self, source: LegacySource, engine: Engine, options: ImportOptions, report: Report,
                 state: TargetState):
        self.source = source
        self.engine = engine
        self.options = options
        self.report = report
        self.state = state
        self.show_progress = sys.stdout.isatty() if options.progress is None else options.progress
        self._tag_names: dict[str, int] = {}
        self._tag_remap: dict[int, int] = {}
        self._unknown_types: Counter = Counter()

    # ---- copying

    def _column_plan(self, target_table, source_name: str, log: PhaseLog):
        plan = []
        for column in target_table.columns:
            present = self.source.has_column(source_name, column.name)
            fallback = None
            if not column.nullable and not column.primary_key and column.default is not None \
                    and column.default.is_scalar:
                fallback = column.default.arg
            plan.append((column.name, column.name if present else None, converter_for(column), fallback))
        ours = {c.name for c in target_table.columns}
        for extra in self.source.columns.get(source_name, []):
            if extra not in ours:
                log.warn(target_table.name, self.source.count(source_name),
                         f"values of column {source_name}.{extra} not carried over (no such column today)")
        return plan

    def _adjust(self, table_name: str, row: dict) -> str | None:
        """Per-table adjustments of a converted row; returns a reason to leave it out."""
        if table_name == "tag":
            key = (row.get("name") or "").casefold()
            kept = self._tag_names.get(key)
            if kept is not None:
                self._tag_remap[row["id"]] = kept
                return "tag name already present with another case (its uses now point to the first one)"
            self._tag_names[key] = row["id"]
        elif table_name in ("group_tag", "tag_ref") and self._tag_remap:
            row["tag_id"] = self._tag_remap.get(row["tag_id"], row["tag_id"])
        elif table_name == "sample_set" and row.get("sample_type") not in SET_TYPES:
            self._unknown_types[row.get("sample_type")] += 1
        return None

    def copy_table(self, connection: Connection, spec: TableSpec, log: PhaseLog) -> None:
        target_table = metadata.tables[spec.name]
        count = log.table(spec.name)
        source_name = eras.source_table_for(self.source, spec.name)
        if source_name is None:
            return
        if source_name != spec.name:
            log.warn(spec.name, self.source.count(source_name),
                     f"rows read from the legacy table {source_name} (release before 2014.10)")
        count.source = self.source.count(source_name)
        plan = self._column_plan(target_table, source_name, log)
        columns = self.source.readable_columns(source_name, [src for _, src, _, _ in plan if src])
        position = {name: i for i, name in enumerate(columns)}
        steps = [(name, position.get(src) if src else None, convert, fallback)
                 for name, src, convert, fallback in plan]
        problems: Counter = Counter()
        left_out: Counter = Counter()
        self._unknown_types = Counter()
        insert = target_table.insert()
        with _bar(self.show_progress, count.source, spec.name) as bar:
            for batch in self.source.batches(source_name, columns, self.options.batch_size):
                rows = []
                for raw in batch:
                    row = {}
                    for name, index, convert, fallback in steps:
                        if index is None:
                            value = None
                        else:
                            value, problem = convert(raw[index])
                            if problem:
                                problems[(name, problem)] += 1
                        row[name] = fallback if value is None and fallback is not None else value
                    reason = (spec.skip(row) if spec.skip else None) or self._adjust(spec.name, row)
                    if reason:
                        left_out[reason] += 1
                        continue
                    rows.append(row)
                if rows:
                    connection.execute(insert, rows)
                bar.update(len(batch))
        for reason, n in left_out.items():
            count.dropped += n
            log.warn(spec.name, n, f"rows left out: {reason}")
        for (column_name, problem), n in sorted(problems.items()):
            log.warn(spec.name, n, f"{column_name}: {problem}")
        for kind, n in self._unknown_types.items():
            log.warn(spec.name, n, f"sets of unknown sample_type {kind!r} kept (not listed by the pages)")

    def repair(self, connection: Connection, spec: TableSpec, log: PhaseLog) -> None:
        """Broken references: drop the row or clear the reference (per tables.py), counted."""
        t = metadata.tables[spec.name]
        count = log.table(spec.name)
        for reference in spec.references:
            column = t.c[reference.column]
            if reference.policy == DROP:
                gone = connection.execute(delete(t).where(column.is_(None))).rowcount or 0
                count.dropped += gone
                log.warn(spec.name, gone, f"rows dropped: {reference.column} is empty")
                gone = connection.execute(delete(t).where(_broken(t, reference))).rowcount or 0
                count.dropped += gone
                log.warn(spec.name, gone, f"rows dropped: {reference.column} points to a missing "
                                          f"{reference.table} row")
            else:
                cleared = connection.execute(update(t).where(_broken(t, reference))
                                             .values({reference.column: None})).rowcount or 0
                log.warn(spec.name, cleared, f"{reference.column} cleared: it pointed to a missing "
                                             f"{reference.table} row")

    def verify(self, connection: Connection, specs: list[TableSpec]) -> None:
        for spec in specs:
            t = metadata.tables[spec.name]
            for reference in spec.references:
                n = connection.scalar(select(func.count()).select_from(t).where(_broken(t, reference)))
                if n:
                    raise LegacyImportError(f"{n} rows of {spec.name} still point to missing "
                                            f"{reference.table} rows after repair")

    # ---- hooks after a phase's tables are copied and repaired

    def _after_sample_sets(self, connection: Connection, log: PhaseLog) -> None:
        if not eras.has_sample_sets(self.source):
            added = eras.give_patients_sets(connection)
            log.table("sample_set").added += added
            log.warn("sample_set", added, "sets created for patients of a release without sample sets "
                                          "(each set has its patient's id)")
        for name in SET_TYPES:
            t = metadata.tables[name]
            orphans = connection.scalar(select(func.count()).select_from(t).where(t.c.sample_set_id.is_(None)))
            log.warn(name, orphans or 0, "rows without a sample set kept (not listed by the pages, "
                                         "as on the old server)")

    def _after_samples(self, connection: Connection, log: PhaseLog) -> None:
        if not eras.has_sample_sets(self.source):
            added = eras.memberships_from_patients(connection)
            log.table("sample_set_membership").added += added
            log.warn("sample_set_membership", added, "memberships created from sequence_file.patient_id")
        sf, m = metadata.tables["sequence_file"], metadata.tables["sample_set_membership"]
        alone = connection.scalar(select(func.count()).select_from(sf).where(
            ~exists().where(m.c.sequence_file_id == sf.c.id)))
        log.warn("sequence_file", alone or 0, "samples in no sample set (kept; reachable by admins only)")

    def _after_results(self, connection: Connection, log: PhaseLog) -> None:
        if not eras.has_sample_sets(self.source):
            linked = eras.link_files_to_patient_sets(connection)
            log.warn("fused_file", linked, "fused/analysis files linked to their patient's new set")

    def _after_permissions(self, connection: Connection, log: PhaseLog) -> None:
        from_b = eras.access_from_era_b(connection)
        access_a, actions_a, merged = eras.rights_from_era_a(connection)
        configs_a = eras.config_rights_from_era_a(connection)
        added = from_b + access_a + actions_a + configs_a
        log.table("auth_permission").added += added
        log.permissions.update({
            "access_rows_added_from_era_b": from_b,
            "access_rows_added_from_era_a": access_a,
            "action_rows_added_from_era_a": actions_a,
            "config_rows_added_from_era_a": configs_a,
        })
        log.warn("auth_permission", from_b, "era-C access rows added for era-B rows "
                                            "('access', patient|run|generic, detail id); originals kept")
        log.warn("auth_permission", access_a + actions_a,
                 "rows added for era-A per-patient rights; originals kept")
        log.warn("auth_permission", merged, "groups had different era-A rights on different patients: "
                                            "they now hold all of them on each")
        log.warn("auth_permission", configs_a, "rows added for era-A per-config rights")

    # ---- phases

    def run_phases(self) -> None:
        missing = tables_without_rule()
        if missing:
            raise LegacyImportError(f"no import rule for the tables {', '.join(missing)} "
                                    "(legacy_import/tables.py must be completed)")
        with self.engine.connect() as connection, _foreign_keys_off(connection):
            for phase, specs in PHASES:
                done = self.state.done_phases.get(phase)
                if done is not None:
                    PhaseLog.from_json(phase, done).merge_into(self.report, resumed=True)
                    continue
                log = PhaseLog(phase)
                started = time.monotonic()
                with connection.begin():
                    for spec in specs:
                        self.copy_table(connection, spec, log)
                    for spec in specs:
                        self.repair(connection, spec, log)
                    hook = getattr(self, f"_after_{phase}", None)
                    if hook is not None:
                        hook(connection, log)
                    self.verify(connection, specs)
                    for spec in specs:
                        log.table(spec.name).target = int(connection.scalar(
                            select(func.count()).select_from(metadata.tables[spec.name])) or 0)
                    log.seconds = time.monotonic() - started
                    mark_phase_done(connection, phase, log.to_json())
                log.merge_into(self.report, resumed=False)

    # ---- after the phases

    def fix_counters(self) -> None:
        """Next ids after the imported ones (MariaDB keeps a counter per table; SQLite uses max+1)."""
        if not is_mysql(self.engine.url):
            return
        with self.engine.connect() as connection:
            counters = dict(connection.exec_driver_sql(
                "SELECT table_name, auto_increment FROM information_schema.tables "
                "WHERE table_schema = DATABASE()").all())
            for name in IMPORTED_TABLES:
                highest = int(connection.scalar(select(func.max(metadata.tables[name].c.id))) or 0)
                if highest and int(counters.get(name) or 0) <= highest:
                    connection.exec_driver_sql(f"ALTER TABLE `{name}` AUTO_INCREMENT = {highest + 1}")
            connection.commit()

    def check_integrity(self) -> None:
        with self.engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise LegacyImportError(f"{len(broken)} broken references in the target after import")
            else:
                for _, specs in PHASES:
                    self.verify(connection, specs)

    def summarise(self) -> None:
        with self.engine.connect() as connection:
            self.report.permissions.update(eras.permission_census(connection))
            passwords, users, can_log_in = account_summary(connection)
            self.report.passwords = passwords
            self.report.users = users
            self.report.visibility = visibility(connection, can_log_in[:VISIBILITY_USERS])
            if len(can_log_in) > VISIBILITY_USERS:
                users["visibility"] = f"sets per user computed for the first {VISIBILITY_USERS} users only"
            connection.rollback()

    def bring_files(self, settings: dict) -> None:
        o = self.options
        if not o.uploads and not o.results:
            self.report.files = {"requested": False}
            self.report.warn("files", 1, "no --uploads/--results given: files were not brought")
            return
        data_dir = Path(settings["vidjil.data_dir"])
        new_source = settings.get("vidjil.file_source") or None
        mover = FileMover(FileOptions(
            uploads=[Path(p) for p in o.uploads], results=[Path(p) for p in o.results],
            upload_dir=Path(settings["vidjil.upload_dir"]), results_dir=Path(settings["vidjil.results_dir"]),
            mode=o.files_mode, dry_run=o.dry_run, checksums=o.checksums and not o.dry_run,
            old_file_source=Path(o.old_file_source) if o.old_file_source else None,
            new_file_source=Path(new_source) if new_source else None,
            checksums_file=data_dir / "legacy-import-sha256.txt",
        ))
        with self.engine.connect() as connection:
            with _bar(self.show_progress, None, "files", unit="files") as bar:
                result = mover.run(stored_names(connection, o.batch_size), bar)
            connection.rollback()
        self.report.files = {"requested": True, **asdict(result)}
        self.report.warn("files", result.missing, "referenced files not found in --uploads/--results")
        self.report.warn("files", result.symlinks_dangling,
                         "symlinks (network samples) whose target is not there (mount the file source)")
        self.report.warn("files", result.refused,
                         "symlinks pointing outside the file source, not recreated (W20)")
        self.report.warn("files", result.conflicts, "files already in the data directory with other "
                                                    "content, left untouched")
        self.report.warn("files", result.invalid_names, "stored names that are not plain file names, ignored")


# ---------------------------------------------------------------------- whole run

def _describe_source(source: LegacySource, options: ImportOptions, loader: str | None) -> dict[str, Any]:
    tables_counts = {name: source.count(name) for name in sorted(source.columns)}
    unknown = {n: c for n, c in tables_counts.items()
               if n not in IMPORTED_TABLES and n not in LEGACY_TABLES and n not in OWN_TABLES}
    description = (f"dump {options.dump} (loaded with the {loader} loader)" if options.dump
                   else masked(options.source_url or ""))
    return {
        "description": description,
        "release": eras.guess_release(source),
        "tables": tables_counts,
        "legacy_tables": {n: tables_counts[n] for n in LEGACY_TABLES if n in tables_counts},
        "tables_not_imported": unknown,
    }


@contextlib.contextmanager
def _throwaway_target(real_url: str) -> Iterator[Engine]:
    """A database of the target's kind for a dry run, gone afterwards."""
    if is_mysql(real_url):
        with ScratchDatabase(real_url, prefix="vidjil_li_dryrun_") as scratch:
            engine = make_engine({"sqlalchemy.url": scratch.url.render_as_string(hide_password=False)})
            try:
                yield engine
            finally:
                engine.dispose()
        return
    if make_url(real_url).get_backend_name() != "sqlite":
        raise LegacyImportError("the target must be MariaDB/MySQL or SQLite")
    directory = tempfile.mkdtemp(prefix="vidjil_li_dryrun_")
    engine = make_engine({"sqlalchemy.url": f"sqlite:///{directory}/dry-run.sqlite"})
    try:
        yield engine
    finally:
        engine.dispose()
        shutil.rmtree(directory, ignore_errors=True)


def _real_target_verdict(url: str, engine: Engine, fingerprint: str) -> str:
    """What a real run would do with the target (a dry run only tells)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").exists():
        return "empty: the import would create the database and its schema"  # connecting would create it
    try:
        kind = assess(engine, fingerprint).kind
    except TargetRefused as exc:
        return f"REFUSED: {exc}"
    return {"empty": "empty: the import would create the schema",
            "empty-schema": "empty schema: the import would fill it",
            "resume": "an unfinished import of this source: it would be resumed"}[kind]


def _same_database(a: str, b: str) -> bool:
    x, y = make_url(a), make_url(b)
    return (x.get_backend_name(), x.host or "", x.port or 0, x.database) == \
        (y.get_backend_name(), y.host or "", y.port or 0, y.database)


def run_import(options: ImportOptions, settings: dict, engine: Engine | None = None) -> Report:
    """Import; returns the report (also when the target refused nothing was done: raises)."""
    if bool(options.source_url) == bool(options.dump):
        raise LegacyImportError("give the source with either --from URL or --from-dump FILE")
    target_url = str(settings["sqlalchemy.url"])
    if make_url(target_url).get_backend_name() not in ("sqlite", "mysql", "mariadb"):
        raise LegacyImportError("the target must be MariaDB/MySQL or SQLite")
    if options.source_url and _same_database(options.source_url, target_url):
        raise LegacyImportError("the source and the target are the same database")
    report = Report(dry_run=options.dry_run)
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        source_url, loader = options.source_url, None
        if options.dump:
            scratch_url = options.scratch_url or (target_url if is_mysql(target_url) else None)
            if not scratch_url:
                raise LegacyImportError("--from-dump needs a MySQL/MariaDB server to load the dump into: "
                                        "give --scratch mysql+pymysql://user:password@host/")
            scratch = stack.enter_context(ScratchDatabase(scratch_url))
            loader = load_dump(options.dump, scratch.url, options.dump_loader)
            source_url = scratch.url.render_as_string(hide_password=False)
        try:
            source = LegacySource(open_source_engine(str(source_url)))
        except SourceError:
            raise
        except Exception as exc:  # noqa: BLE001 - a connection problem, told in one line
            raise SourceError(f"cannot read the source: {getattr(exc, 'orig', exc)}") from None
        stack.callback(source.close)
        fingerprint = source.fingerprint()
        report.source = _describe_source(source, options, loader)
        report.source["fingerprint"] = fingerprint
        for name, count in report.source["legacy_tables"].items():
            report.warn(name, count, f"rows of a legacy table not imported: {LEGACY_TABLES[name]}")
        for name, count in report.source["tables_not_imported"].items():
            report.warn(name, count, "rows of a table unknown to Vidjil not imported")

        real_engine = engine or make_engine(settings)
        if engine is None:
            stack.callback(real_engine.dispose)
        if options.dry_run:
            verdict = _real_target_verdict(target_url, real_engine, fingerprint)
            target_engine = stack.enter_context(_throwaway_target(target_url))
            state = TargetState("empty", {})
            report.target = {"description": f"{masked(target_url)} (untouched: dry run in a throw-away "
                                             f"database)", "real_target": verdict}
        else:
            target_engine = real_engine
            state = assess(target_engine, fingerprint)
            report.target = {"description": masked(target_url), "state": state.kind}
        report.target["revision"] = prepare(target_engine, fingerprint, {
            "dump": str(options.dump) if options.dump else None,
            "source": masked(options.source_url) if options.source_url else None,
        })

        importer = Importer(source, target_engine, options, report, state)
        importer.run_phases()
        importer.fix_counters()
        importer.check_integrity()
        importer.bring_files(settings)
        importer.summarise()
        if not options.dry_run:
            mark_complete(target_engine)
    report.seconds = time.monotonic() - started
    return report
