"""Throw-away databases on a MySQL/MariaDB server, and loading a mysqldump into one.

`--from-dump` loads the dump into a scratch database (never into an existing
one), reads it as the source, then drops it. `--dry-run` imports into a scratch
database of the target's kind so the real target is left untouched.

Loading streams the dump line by line through a filter that removes what could
reach another database (`USE`, `CREATE DATABASE`, `DROP DATABASE`) and the
client-only sandbox line of recent mariadb-dump, and server-wide settings (`SET @@GLOBAL...`). mysqldump escapes newlines
inside strings, so a statement always ends at a line ending with the delimiter.
The `mariadb`/`mysql` client runs the statements when installed (fastest); a
built-in loader (pymysql) does otherwise.
"""
from __future__ import annotations

import contextlib
import gzip
import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import IO, Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

SCRATCH_PREFIX = "vidjil_li_scratch_"
# Statements left out: they would reach another database, or change the whole server's settings.
_LEFT_OUT = re.compile(rb"^\s*(CREATE\s+DATABASE\b|CREATE\s+SCHEMA\b|DROP\s+DATABASE\b|DROP\s+SCHEMA\b"
                       rb"|SET\s+@@GLOBAL\.|SET\s+@@SESSION\.SQL_LOG_BIN\b)", re.IGNORECASE)
_USE = re.compile(rb"^\s*USE\s", re.IGNORECASE)
_SANDBOX = re.compile(rb"^/\*M?!999999\\-")
_DELIMITER = re.compile(rb"^\s*DELIMITER\s+(\S+)", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9_]+$")


class DumpError(RuntimeError):
    """The dump cannot be loaded; the message says why."""


def is_mysql(url: str | URL) -> bool:
    return make_url(url).get_backend_name() in ("mysql", "mariadb")


def server_url(url: str | URL) -> URL:
    """The same server, no database selected."""
    parsed = make_url(url)
    query = dict(parsed.query)
    query.setdefault("charset", "utf8mb4")
    return parsed.set(database=None, query=query)


class ScratchDatabase:
    """A database created on a MySQL server for the duration of a `with` block."""

    def __init__(self, url: str | URL, prefix: str = SCRATCH_PREFIX):
        if not is_mysql(url):
            raise DumpError(f"a scratch database needs a MySQL/MariaDB server, not {make_url(url).get_backend_name()}")
        self.server = server_url(url)
        self.name = prefix + secrets.token_hex(6)
        if not _NAME.match(self.name):
            raise DumpError(f"invalid scratch database name {self.name!r}")
        self.url = self.server.set(database=self.name)

    def _execute(self, statement: str) -> None:
        engine = create_engine(self.server)
        try:
            with engine.begin() as connection:
                connection.execute(text(statement))
        finally:
            engine.dispose()

    def __enter__(self) -> "ScratchDatabase":
        try:
            self._execute(f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4")
        except Exception as exc:  # noqa: BLE001 - reported in one line
            raise DumpError(f"cannot create a scratch database on {self.server.render_as_string()}: "
                            f"{getattr(exc, 'orig', exc)}") from None
        return self

    def drop(self) -> None:
        self._execute(f"DROP DATABASE IF EXISTS `{self.name}`")

    def __exit__(self, *_exc) -> None:
        self.drop()


@contextlib.contextmanager
def _open_dump(path: Path) -> Iterator[IO[bytes]]:
    with open(path, "rb") as raw:
        magic = raw.read(2)
        raw.seek(0)
        if magic == b"\x1f\x8b":
            with gzip.open(raw, "rb") as unzipped:
                yield unzipped
        else:
            yield raw


def filtered_lines(stream: IO[bytes]) -> Iterator[bytes]:
    """The dump's lines minus the statements that would select, create or drop a database or
    set server-wide variables (a left-out statement may span lines: up to the one ending in ';')."""
    uses = 0
    skipping = False
    for line in stream:
        if skipping:
            skipping = not line.rstrip().endswith(b";")
            continue
        if _SANDBOX.match(line):
            continue
        if _USE.match(line):
            uses += 1
            if uses > 1:
                raise DumpError("the dump holds several databases: dump only the Vidjil database "
                                "(mysqldump <options> <database> > file.sql)")
            continue
        if _LEFT_OUT.match(line):
            skipping = not line.rstrip().endswith(b";")
            continue
        yield line


def statements(lines: Iterator[bytes]) -> Iterator[bytes]:
    """Whole statements from dump lines (comments dropped, DELIMITER honoured)."""
    delimiter = b";"
    pending: list[bytes] = []
    for line in lines:
        stripped = line.strip()
        if not pending:
            if not stripped or stripped.startswith(b"--") or stripped.startswith(b"#"):
                continue
            match = _DELIMITER.match(stripped)
            if match:
                delimiter = match.group(1)
                continue
        pending.append(line)
        if stripped.endswith(delimiter):
            statement = b"".join(pending).strip()
            pending = []
            yield statement[: len(statement) - len(delimiter)]
    if pending and b"".join(pending).strip():
        raise DumpError("the dump ends in the middle of a statement (truncated file?)")


def _client_program() -> str | None:
    for name in ("mariadb", "mysql"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _load_with_client(program: str, url: URL, lines: Iterator[bytes]) -> None:
    argv = [program, "--batch", "--binary-mode", "--default-character-set=utf8mb4"]
    if url.host:
        argv.append(f"--host={url.host}")
    if url.port:
        argv.append(f"--port={url.port}")
    if url.username:
        argv.append(f"--user={url.username}")
    socket = url.query.get("unix_socket")
    if socket:
        argv.append(f"--socket={socket}")
    argv.append(str(url.database))
    env = dict(os.environ)
    env.pop("MYSQL_PWD", None)
    if url.password:
        env["MYSQL_PWD"] = str(url.password)  # never on the command line
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env=env)
    assert process.stdin is not None and process.stderr is not None
    try:
        for line in lines:
            process.stdin.write(line)
        process.stdin.close()
    except BrokenPipeError:
        pass
    except BaseException:
        process.kill()
        process.wait()
        raise
    errors = process.stderr.read().decode("utf-8", "replace").strip()
    if process.wait() != 0:
        raise DumpError(f"loading the dump failed: {errors.splitlines()[-1] if errors else 'client error'}")


def _load_with_pymysql(url: URL, lines: Iterator[bytes]) -> None:
    import pymysql

    connection = pymysql.connect(
        host=url.host or "localhost", port=url.port or 3306, user=url.username or "",
        password=url.password or "", database=url.database, charset="utf8mb4",
        unix_socket=url.query.get("unix_socket"), autocommit=True,
    )
    try:
        with connection.cursor() as cursor:
            for statement in statements(lines):
                try:
                    cursor.execute(statement)  # bytes go to the server as they are
                except pymysql.MySQLError as exc:
                    raise DumpError(f"loading the dump failed: {exc.args[-1]} "
                                    f"(statement starting {statement[:80]!r})") from None
    finally:
        connection.close()


def load_dump(path: str | Path, url: str | URL, loader: str = "auto") -> str:
    """Run the dump's statements in the database of `url`; returns the loader used."""
    path = Path(path)
    if not path.is_file():
        raise DumpError(f"dump file not found: {path}")
    parsed = make_url(url)
    program = _client_program() if loader in ("auto", "client") else None
    if loader == "client" and program is None:
        raise DumpError("no mariadb/mysql client program on the PATH")
    with _open_dump(path) as stream:
        lines = filtered_lines(stream)
        if program is not None:
            _load_with_client(program, parsed, lines)
            return "client"
        _load_with_pymysql(parsed, lines)
        return "builtin"
