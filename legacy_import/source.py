"""Reading a web2py Vidjil database of any release, without ever writing to it.

Tables and columns are discovered, never assumed (web2py migrations add columns
at the end, rebuild others and leave old tables behind), and rows are read by
column name in id order, one batch at a time (keyset pagination), so memory
stays flat whatever the size of the database.

MySQL/MariaDB sources are read inside one read-only transaction with a
consistent snapshot: every table is seen as it was when the import started,
and any write would be refused by the server. SQLite sources (web2py's own
default) are opened read-only.
"""
from __future__ import annotations

import hashlib
from typing import Iterator, Sequence

from sqlalchemy import column, create_engine, func, inspect, select, table
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import DBAPIError


class SourceError(RuntimeError):
    """The source cannot be read as a web2py Vidjil database."""


def masked(url: str | URL) -> str:
    """A URL safe to print: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def _read_only_sqlite_url(url: URL) -> str:
    path = url.database or ""
    if not path or path == ":memory:":
        raise SourceError("an in-memory SQLite database cannot be a source")
    return f"sqlite:///file:{path}?mode=ro&uri=true"


def open_source_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return create_engine(_read_only_sqlite_url(parsed))
    if parsed.get_backend_name() not in ("mysql", "mariadb"):
        raise SourceError(f"unsupported source database {parsed.get_backend_name()!r}: "
                          "give a mysql+pymysql:// URL (or a SQLite file)")
    if not parsed.database:
        raise SourceError("the source URL names no database")
    query = dict(parsed.query)
    query.setdefault("charset", "utf8mb4")
    return create_engine(parsed.set(query=query), pool_pre_ping=True)


class LegacySource:
    """One read-only view of a web2py database for the whole import."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.dialect = engine.dialect.name
        self.connection: Connection = engine.connect()
        if self.dialect in ("mysql", "mariadb"):
            self._begin_snapshot()
        self.columns: dict[str, list[str]] = self._discover()
        if "auth_user" not in self.columns:
            self.close()
            raise SourceError("the source holds no auth_user table: it is not a web2py Vidjil database")
        self._counts: dict[str, int] = {}

    def _begin_snapshot(self) -> None:
        """One consistent, read-only view of every table (servers older than MySQL 5.6.5 know no
        READ ONLY transactions: they get the snapshot alone, and we still only ever SELECT)."""
        try:
            self.connection.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
            self.connection.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        except DBAPIError:
            self.connection.rollback()
            self.connection.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT")

    def _discover(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        if self.dialect in ("mysql", "mariadb"):
            rows = self.connection.exec_driver_sql(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = DATABASE() ORDER BY table_name, ordinal_position"
            )
            for table_name, column_name in rows:
                found.setdefault(str(table_name), []).append(str(column_name))
        else:
            inspector = inspect(self.connection)
            for table_name in inspector.get_table_names():
                found[table_name] = [c["name"] for c in inspector.get_columns(table_name)]
        return found

    def close(self) -> None:
        try:
            self.connection.rollback()
        finally:
            self.connection.close()
            self.engine.dispose()

    # ------------------------------------------------------------------ structure

    def has_table(self, name: str) -> bool:
        return name in self.columns

    def has_column(self, table_name: str, column_name: str) -> bool:
        return column_name in self.columns.get(table_name, ())

    def count(self, table_name: str) -> int:
        if table_name not in self.columns:
            return 0
        if table_name not in self._counts:
            self._counts[table_name] = int(self.connection.scalar(
                select(func.count()).select_from(table(table_name))
            ) or 0)
        return self._counts[table_name]

    def max_id(self, table_name: str) -> int:
        if not self.has_column(table_name, "id"):
            return 0
        return int(self.connection.scalar(select(func.max(column("id"))).select_from(table(table_name))) or 0)

    def fingerprint(self) -> str:
        """Identifies the source's content (tables, their columns, row counts and last ids),
        so that an unfinished import is resumed only from the same data."""
        digest = hashlib.sha256()
        for name in sorted(self.columns):
            digest.update(f"{name}:{','.join(self.columns[name])}:{self.count(name)}:"
                          f"{self.max_id(name)};".encode())
        return digest.hexdigest()

    # ------------------------------------------------------------------ rows

    def readable_columns(self, table_name: str, wanted: Sequence[str]) -> list[str]:
        """The wanted columns the table has, `id` first (rows of `batches` follow this order)."""
        present = [c for c in wanted if self.has_column(table_name, c) and c != "id"]
        return ["id", *present]

    def batches(self, table_name: str, columns: Sequence[str], batch_size: int) -> Iterator[list[tuple]]:
        """Rows of `table_name` in id order as tuples of `columns` (from `readable_columns`),
        `batch_size` rows at a time."""
        source_table = table(table_name, *[column(c) for c in columns])
        id_column = source_table.c.id
        last_id = None
        while True:
            query = select(*source_table.c).order_by(id_column).limit(batch_size)
            if last_id is not None:
                query = query.where(id_column > last_id)
            rows = self.connection.execute(query).all()
            if not rows:
                return
            yield [tuple(row) for row in rows]
            last_id = rows[-1][0]
            if len(rows) < batch_size:
                return
