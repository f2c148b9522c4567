"""Helpers of the legacy import tests: the MariaDB server, throw-away `vidjil_li_*` databases,
fixture A, running `vidjil-server` in-process. (A module of its own, since modules named
`conftest` of different folders clash on import.)"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # legacy_import, also when the editable install predates it

SHARED = Path(os.environ.get("VIDJIL_SHARED_DIR", ROOT.parent / "shared"))
FIXTURE_A = SHARED / "fixtures" / "web2py-A"
DUMP_A = FIXTURE_A / "legacy-web2py-A.sql"
OLD_FILE_SOURCE = "/srv/vidjil/src"  # FILE_SOURCE of the server that made fixture A
DEFAULT_SERVER = "mysql+pymysql://root@127.0.0.1/"


def server_url() -> str:
    """The MariaDB server of the test run (the one of VIDJIL_TEST_DATABASE_URL when it is MySQL)."""
    configured = os.environ.get("VIDJIL_TEST_DATABASE_URL", "")
    if configured.startswith("mysql"):
        return make_url(configured).set(database=None).render_as_string(hide_password=False)
    return DEFAULT_SERVER


def target_kind() -> str:
    """Target of the tests that do not compare both: the run's database kind."""
    return "mariadb" if os.environ.get("VIDJIL_TEST_DATABASE_URL", "").startswith("mysql") else "sqlite"


class Databases:
    """Creates `vidjil_li_<purpose>_<random>` databases and drops them all at the end."""

    def __init__(self, server: str):
        self.server = server
        self.engine = create_engine(server + ("&" if "?" in server else "?") + "charset=utf8mb4")
        self.created: list[str] = []

    def create(self, purpose: str) -> str:
        name = f"vidjil_li_{purpose}_{secrets.token_hex(4)}"
        with self.engine.begin() as connection:
            connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        self.created.append(name)
        return make_url(self.server).set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.engine.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        if name in self.created:
            self.created.remove(name)

    def scratch_names(self) -> set[str]:
        with self.engine.connect() as connection:
            return {row[0] for row in connection.execute(text("SHOW DATABASES LIKE 'vidjil\\_li\\_%'"))}

    def close(self) -> None:
        for name in list(self.created):
            with self.engine.begin() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        self.created.clear()
        self.engine.dispose()


def target_url_for(kind: str, databases: Databases, directory: Path, purpose: str) -> str:
    if kind == "mariadb":
        return databases.create(purpose)
    return f"sqlite:///{directory}/{purpose}.sqlite"


def write_ini(path: Path, **settings: str) -> Path:
    lines = ["[app:main]", "use = egg:vidjil-pyramid"] + [f"{k} = {v}" for k, v in settings.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def clean_environment():
    """No VIDJIL_* variable of the developer's shell may steer a command run by a test."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("VIDJIL_") and k != "VIDJIL_TEST_DATABASE_URL"}
    for key in saved:
        del os.environ[key]
    try:
        yield
    finally:
        os.environ.update(saved)


def run_cli(argv: list[str]) -> tuple[int, str]:
    """Run `vidjil-server ARGV` in this process; (exit code, what it printed)."""
    from vidjil_pyramid import cli

    out = io.StringIO()
    with clean_environment(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.main(argv)
    return code, out.getvalue()


@dataclass
class ImportedServer:
    kind: str
    target_url: str
    data_dir: Path
    ini: Path
    file_source: Path
    report: dict
    output: str

    def settings(self, **overrides) -> dict:
        from vidjil_pyramid.settings import build_settings

        return build_settings({}, data_dir=str(self.data_dir), overrides={
            "sqlalchemy.url": self.target_url, "vidjil.secret": "test-secret",
            "vidjil.file_source": str(self.file_source), **overrides}, environ={})

    def engine(self):
        from vidjil_pyramid.db import make_engine

        return make_engine({"sqlalchemy.url": self.target_url})


def import_fixture_a(kind: str, databases: Databases, old_files: Path, directory: Path) -> ImportedServer:
    target = target_url_for(kind, databases, directory, "fixture")
    data_dir = directory / "data"
    ini = write_ini(directory / "server.ini", **{
        "sqlalchemy.url": target, "vidjil.file_source": str(old_files / "src"), "vidjil.secret": "test-secret"})
    report_path = directory / "report.json"
    argv = ["--config", str(ini), "--data-dir", str(data_dir), "legacy-import",
            "--from-dump", str(DUMP_A), "--scratch", databases.server,
            "--uploads", str(old_files / "upload" / "uploads"), "--results", str(old_files / "result" / "results"),
            "--file-source", OLD_FILE_SOURCE, "--report", str(report_path)]
    code, output = run_cli(argv)
    assert code == 0, output
    return ImportedServer(kind, target, data_dir, ini, old_files / "src",
                          json.loads(report_path.read_text()), output)


def dump_row_counts(dump: Path) -> dict[str, int]:
    """Rows per table in a mysqldump made with one INSERT per row (as fixture A is)."""
    counts: dict[str, int] = {}
    pattern = re.compile(r"^INSERT INTO `(\w+)` \(.*?\) VALUES \(")
    for line in dump.read_text(encoding="utf-8").splitlines():
        match = pattern.match(line)
        if match:
            assert line.rstrip().endswith(");") and "),(" not in line, "one row per INSERT expected"
            counts[match.group(1)] = counts.get(match.group(1), 0) + 1
    return counts


def credentials(fixture: Path) -> list[tuple[int, str, str]]:
    """(id, e-mail, password) of CREDENTIALS.txt."""
    found = []
    for line in (fixture / "CREDENTIALS.txt").read_text().splitlines():
        match = re.match(r"^\s+(\d+)\s+(\S+@\S+)\s+(\S+)\s", line)
        if match:
            found.append((int(match.group(1)), match.group(2), match.group(3)))
    return found
