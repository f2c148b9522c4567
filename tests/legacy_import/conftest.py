"""Fixtures of the legacy import tests: a MariaDB server for sources (and MariaDB
targets), throw-away databases named `vidjil_li_*` (all dropped at the end of
the session), the web2py fixture A, and imports of it into SQLite and MariaDB.

The fixture imports are made once per session and per target kind through the
real command (`vidjil-server legacy-import --from-dump ...`); tests that change
the imported data restore what they changed.
"""
from __future__ import annotations

import tarfile
from pathlib import Path

import pytest
from li_support import DUMP_A, FIXTURE_A, Databases, ImportedServer, import_fixture_a, server_url
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@pytest.fixture(scope="session")
def databases():
    server = server_url()
    try:
        probe = create_engine(server)
        with probe.connect() as connection:
            connection.execute(text("SELECT 1"))
        probe.dispose()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"MariaDB does not answer at {make_url(server).render_as_string()}: {exc.__class__.__name__}")
    found = Databases(server)
    yield found
    found.close()


@pytest.fixture(scope="session")
def fixture_a() -> Path:
    if not DUMP_A.is_file():
        pytest.skip(f"fixture A not found in {FIXTURE_A}")
    return FIXTURE_A


@pytest.fixture(scope="session")
def old_files(fixture_a, tmp_path_factory) -> Path:
    """The upload, result and source folders of fixture A's server, unpacked."""
    root = tmp_path_factory.mktemp("web2py-A-files")
    with tarfile.open(fixture_a / "legacy-web2py-A-files.tar.gz") as archive:
        archive.extractall(root, filter="tar")
    return root / "A"


@pytest.fixture(scope="session", params=["sqlite", "mariadb"])
def imported_a(request, databases, old_files, tmp_path_factory) -> ImportedServer:
    """Fixture A imported by `vidjil-server legacy-import --from-dump` into SQLite and MariaDB."""
    directory = tmp_path_factory.mktemp(f"imported-{request.param}")
    return import_fixture_a(request.param, databases, old_files, directory)


