"""Shared fixtures: one schema per test run (made by Alembic), one rolled-back
transaction per test, and a WebTest app wired to that transaction.

The database is SQLite by default; set VIDJIL_TEST_DATABASE_URL to run the same
suite on MariaDB (`.ci/run` does both).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import transaction
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
# Tests run with --import-mode=importlib (test files may share a base name); the
# helper modules beside them (factories, webclient, <domain>_helpers...) are made
# importable by putting every test folder on the path.
for folder in sorted({p.parent for p in (ROOT / "tests").rglob("*.py")}, reverse=True):
    sys.path.insert(0, str(folder))
# ...and the repository itself first, so that a test folder named like a package
# (tests/legacy_import, tests/unit/fuse_rpc) never hides the real one.
sys.path.insert(0, str(ROOT))

from vidjil_pyramid.db import make_engine  # noqa: E402
from vidjil_pyramid.db.schema import drop_all_tables, upgrade  # noqa: E402


def pytest_report_header(config):
    return "vidjil database: " + os.environ.get("VIDJIL_TEST_DATABASE_URL", "sqlite (temporary file)")


def _database_url(tmp_dir: Path) -> str:
    return os.environ.get("VIDJIL_TEST_DATABASE_URL") or f"sqlite:///{tmp_dir}/test.sqlite"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    return _database_url(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="session")
def engine(database_url):
    engine = make_engine({"sqlalchemy.url": database_url})
    drop_all_tables(engine)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine):
    with engine.connect() as connection:
        outer = connection.begin()
        yield connection
        outer.rollback()


@pytest.fixture
def dbsession(connection) -> Session:
    """A session whose work is rolled back after the test, commits included."""
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield session
    session.close()


@pytest.fixture
def data_dir(tmp_path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def app_settings(engine, data_dir, database_url) -> dict:
    from vidjil_pyramid.settings import build_settings

    return build_settings(
        {}, data_dir=str(data_dir),
        overrides={
            "sqlalchemy.url": database_url,
            "vidjil.secret": "test-secret",
            "vidjil.allowed_origins": "https://app.vidjil.test",
            "vidjil.engine": engine,
        },
        environ={},
    )


@pytest.fixture
def app(app_settings):
    from vidjil_pyramid import main

    return main({}, **app_settings)


@pytest.fixture
def tm():
    manager = transaction.TransactionManager(explicit=True)
    manager.begin()
    manager.doom()  # the test's outer transaction is rolled back anyway
    yield manager
    manager.abort()


@pytest.fixture
def testapp(app, dbsession, tm):
    import webtest

    return webtest.TestApp(
        app,
        extra_environ={
            "HTTP_HOST": "vidjil.test",
            "app.dbsession": dbsession,
            "tm.active": True,
            "tm.manager": tm,
        },
    )


@pytest.fixture
def initial_data(dbsession):
    from vidjil_pyramid.admin.initial_data import insert_initial_data

    insert_initial_data(dbsession)
    dbsession.flush()
    return dbsession


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing():
    """argon2id at its lowest cost: tests make hundreds of accounts (production keeps the defaults)."""
    from argon2 import PasswordHasher

    from vidjil_pyramid.auth import passwords

    original = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    passwords._hasher = original
