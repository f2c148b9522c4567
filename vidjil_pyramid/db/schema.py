"""Create or upgrade the schema with Alembic, and tell what a database holds."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


class ForeignDatabaseError(RuntimeError):
    """The target holds tables we did not create (e.g. a web2py database)."""


def upgrade(engine: Engine) -> str | None:
    """Bring the schema to the newest revision; refuse a database we did not create."""
    with engine.begin() as connection:
        tables = set(inspect(connection).get_table_names())
        if tables and "alembic_version" not in tables:
            raise ForeignDatabaseError(
                "this database already holds tables that were not created by vidjil-server "
                f"({', '.join(sorted(tables)[:5])}...): use `vidjil-server legacy-import` "
                "to move a web2py database, or give an empty database"
            )
        command.upgrade(alembic_config(connection), "head")
        return current_revision(connection)


def drop_all_tables(engine: Engine) -> None:
    """Empty a scratch database (tests, benchmarks) so that it starts from a migration of nothing."""
    from sqlalchemy import text

    with engine.begin() as connection:
        names = inspect(connection).get_table_names()
        if connection.dialect.name in ("mysql", "mariadb"):
            connection.execute(text("SET FOREIGN_KEY_CHECKS=0"))
            for name in names:
                connection.execute(text(f"DROP TABLE `{name}`"))
            connection.execute(text("SET FOREIGN_KEY_CHECKS=1"))
        else:
            connection.execute(text("PRAGMA foreign_keys=OFF"))
            for name in names:
                connection.execute(text(f'DROP TABLE "{name}"'))
            connection.execute(text("PRAGMA foreign_keys=ON"))  # pooled: leave it as we found it
