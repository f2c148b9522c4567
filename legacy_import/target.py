"""The database we import into: is it fit, create its schema, remember progress.

Progress is kept in a table of the importer's own, `legacy_import_state`,
created in the target with plain SQLAlchemy Core (it is not one of the
server's models and no migration knows it). One row per finished phase is
written in the same transaction as the phase's rows, so a phase is either fully
imported and marked done, or not at all: a re-run skips what is done and never
duplicates anything. The row of phase `run` holds the source fingerprint and
whether the whole import is complete.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import (Column, DateTime, MetaData, String, Table, Text, func, inspect, select,
                        update)
from sqlalchemy.engine import Connection, Engine

from vidjil_pyramid.db.schema import ForeignDatabaseError, upgrade
from vidjil_pyramid.models import metadata as our_metadata

from .tables import IMPORTED_TABLES

STATE_TABLE = "legacy_import_state"
RUN = "run"
RUNNING, COMPLETE, DONE = "running", "complete", "done"

state_metadata = MetaData()
state_table = Table(
    STATE_TABLE, state_metadata,
    Column("phase", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("source_fingerprint", String(64)),
    Column("started_at", DateTime),
    Column("finished_at", DateTime),
    Column("details", Text),
)


class TargetRefused(RuntimeError):
    """The target must not receive this import; the message says why and what to do."""


@dataclass
class TargetState:
    """What we found in the target before starting."""

    kind: str  # "empty", "empty-schema" (our tables, no rows), "resume"
    done_phases: dict[str, dict]


def _data_counts(connection: Connection) -> dict[str, int]:
    present = set(inspect(connection).get_table_names())
    counts = {}
    for name in IMPORTED_TABLES:
        if name in present:
            n = connection.scalar(select(func.count()).select_from(our_metadata.tables[name]))
            if n:
                counts[name] = int(n)
    return counts


def assess(engine: Engine, fingerprint: str) -> TargetState:
    """Decide whether the target can receive this import, without changing it."""
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        if not tables:
            return TargetState("empty", {})
        if "alembic_version" not in tables:
            raise TargetRefused(
                "the target database holds tables that vidjil-server did not create "
                f"({', '.join(sorted(tables)[:5])}...): give an empty database "
                "(the web2py database itself must be the source, never the target)")
        if STATE_TABLE in tables:
            rows = {row.phase: row for row in connection.execute(select(state_table))}
            run = rows.get(RUN)
            if run is not None:
                if run.source_fingerprint != fingerprint:
                    raise TargetRefused(
                        "the target holds an import of a different source "
                        f"({'complete' if run.status == COMPLETE else 'unfinished'}, started "
                        f"{run.started_at:%Y-%m-%d %H:%M}); the source changed since, or this is "
                        "another server: give an empty database to import it")
                if run.status == COMPLETE:
                    raise TargetRefused(
                        f"this source was already imported into the target (finished "
                        f"{run.finished_at:%Y-%m-%d %H:%M}); nothing to do. To import again, "
                        "give an empty database")
                done = {name: json.loads(row.details or "{}") for name, row in rows.items()
                        if name != RUN and row.status == DONE}
                return TargetState("resume", done)
        counts = _data_counts(connection)
        if counts:
            listed = ", ".join(f"{n} {name}" for name, n in sorted(counts.items())[:4])
            raise TargetRefused(
                f"the target already holds data ({listed}...): the import only goes into an "
                "empty database (do not run `initdb` first: the imported rows are the initial data)")
        return TargetState("empty-schema", {})


def prepare(engine: Engine, fingerprint: str, options: dict) -> str | None:
    """Create or upgrade our schema and the state table; record the run. Returns the revision."""
    try:
        revision = upgrade(engine)
    except ForeignDatabaseError as exc:
        raise TargetRefused(str(exc)) from None
    state_metadata.create_all(engine)
    with engine.begin() as connection:
        exists = connection.scalar(select(state_table.c.phase).where(state_table.c.phase == RUN))
        if exists is None:
            connection.execute(state_table.insert().values(
                phase=RUN, status=RUNNING, source_fingerprint=fingerprint,
                started_at=dt.datetime.now(), details=json.dumps(options),
            ))
    return revision


def mark_phase_done(connection: Connection, phase: str, details: dict) -> None:
    connection.execute(state_table.insert().values(
        phase=phase, status=DONE, finished_at=dt.datetime.now(), details=json.dumps(details, default=str),
    ))


def mark_complete(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(update(state_table).where(state_table.c.phase == RUN)
                           .values(status=COMPLETE, finished_at=dt.datetime.now()))
