"""What is copied, table by table and phase by phase, and what happens to broken references.

Every table of our schema except `vidjil_session` comes from the table of the
same name in the source, column by column (by name). Phases follow the foreign
keys, so each phase only refers to rows of earlier phases or of itself.

A reference that points nowhere (a row deleted in the old server whose
dependants survived, possible with the foreign-key actions of old releases) is
either cleared (`NULL`) or, where the row means nothing without it, the row is
dropped. Both are counted and reported, never fatal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from vidjil_pyramid.models import metadata

DROP, CLEAR = "drop", "clear"

# References whose loss makes the row meaningless (also dropped when NULL).
_DROP_WHEN_BROKEN = {
    ("auth_membership", "user_id"), ("auth_membership", "group_id"),
    ("group_assoc", "first_group_id"), ("group_assoc", "second_group_id"),
    ("auth_cas", "user_id"),
    ("auth_permission", "group_id"),
    ("sample_set_membership", "sample_set_id"), ("sample_set_membership", "sequence_file_id"),
    ("results_file", "sequence_file_id"),
    ("scheduler_run", "task_id"), ("scheduler_task_deps", "task_child"),
    ("group_tag", "group_id"), ("group_tag", "tag_id"), ("tag_ref", "tag_id"),
    ("user_preference", "user_id"),
}

# Sample-set types that later web2py releases ignore: one-file sets of 2016.02-2016.08
# and the transient type of an admin repair action of that time.
LEGACY_SET_TYPES = ("sequence_file", "old")
SET_TYPES = ("patient", "run", "generic")


@dataclass(frozen=True)
class Reference:
    column: str
    table: str
    policy: str


@dataclass
class TableSpec:
    name: str
    # rows to leave out: a function of the converted row giving the reason, or None to keep it
    skip: Callable[[dict], str | None] | None = None
    references: list[Reference] = field(default_factory=list)


def _references(table_name: str) -> list[Reference]:
    found = []
    for fk in sorted(metadata.tables[table_name].foreign_keys, key=lambda f: f.parent.name):
        key = (table_name, fk.parent.name)
        found.append(Reference(fk.parent.name, fk.column.table.name, DROP if key in _DROP_WHEN_BROKEN else CLEAR))
    return found


def _skip_legacy_sets(row: dict) -> str | None:
    if row.get("sample_type") in LEGACY_SET_TYPES:
        return f"legacy sample_type '{row['sample_type']}' (ignored by web2py since 2016.07)"
    return None


def _spec(name: str, skip=None) -> TableSpec:
    return TableSpec(name, skip=skip, references=_references(name))


# Phase name -> tables, in an order where references point backwards.
PHASES: list[tuple[str, list[TableSpec]]] = [
    ("accounts", [_spec("auth_user"), _spec("auth_group"), _spec("auth_membership"),
                  _spec("group_assoc"), _spec("auth_cas")]),
    ("configs", [_spec("classification"), _spec("config"), _spec("pre_process")]),
    ("sample_sets", [_spec("sample_set", skip=_skip_legacy_sets), _spec("patient"), _spec("run"),
                     _spec("generic")]),
    ("samples", [_spec("sequence_file"), _spec("sample_set_membership")]),
    ("jobs", [_spec("scheduler_task"), _spec("scheduler_run"), _spec("scheduler_worker"),
              _spec("scheduler_task_deps")]),
    ("results", [_spec("results_file"), _spec("fused_file"), _spec("analysis_file")]),
    ("permissions", [_spec("auth_permission")]),
    ("tags", [_spec("tag"), _spec("group_tag"), _spec("tag_ref")]),
    ("logs", [_spec("notification"), _spec("user_preference"), _spec("user_log"), _spec("auth_event")]),
]

IMPORTED_TABLES = [spec.name for _, specs in PHASES for spec in specs]
# Ours only: never in a web2py database.
OWN_TABLES = ("vidjil_session", "alembic_version")

# Tables older releases left behind and that no later release read.
LEGACY_TABLES = {
    "data_file": "results of releases 2014.07-2014.10 (replaced by results_file)",
    "standard_file": "an unused table of 2014 releases",
}

# Stored file names: (table, column, directory kind).
FILE_COLUMNS = [
    ("sequence_file", "data_file", "uploads"),
    ("sequence_file", "data_file2", "uploads"),
    ("sequence_file", "pre_process_file", "results"),
    ("results_file", "data_file", "results"),
    ("fused_file", "fused_file", "results"),
    ("analysis_file", "analysis_file", "results"),
]


def tables_without_rule() -> list[str]:
    """Our tables that are neither imported nor ours only: a new model must get a rule here
    before imports can run, rather than being silently left out of them."""
    return sorted(set(metadata.tables) - set(IMPORTED_TABLES) - set(OWN_TABLES))
