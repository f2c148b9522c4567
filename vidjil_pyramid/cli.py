"""`vidjil-server`: run, initialise and administer a Vidjil server.

Every command reads the same settings (ini file, then environment, then
`--data-dir`), so commands given the same data directory act on the same data.
"""
from __future__ import annotations

import argparse
import contextlib
import getpass
import importlib
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from .settings import build_settings, read_ini

DEFAULT_CONFIG = "etc/development.ini"
# Packages that add their own subcommands: each has `register(subparsers)`.
PLUGIN_COMMANDS = ("legacy_import.cli", "consumers.cli", "fuse_rpc.service_cli")
# Commands handed their raw arguments (they have their own parser).
PASSTHROUGH = {"fuse": "fuse_rpc.cli"}


class CliError(Exception):
    """A failure to report in one line, without a traceback."""


class Context:
    """What a command needs: settings, an engine, transactional sessions."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        ini: dict = {}
        config_path = args.config or DEFAULT_CONFIG
        if os.path.exists(config_path):
            ini = read_ini(config_path)
            self.config_path = os.path.abspath(config_path)
        elif args.config:
            raise CliError(f"configuration file not found: {args.config}")
        self.settings = build_settings(ini, data_dir=args.data_dir)
        self.settings["vidjil.settings_built"] = True
        self._engine = None

    config_path: str | None = None
    @property
    def engine(self):
        if self._engine is None:
            from .db import make_engine

            self._engine = make_engine(self.settings)
            self.settings["vidjil.engine"] = self._engine
        return self._engine

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends normally, else rolled back."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session


# --- commands --------------------------------------------------------------------------------

def initialise(ctx: Context, quiet: bool = False) -> None:
    from .admin.initial_data import insert_initial_data
    from .db.schema import ForeignDatabaseError, upgrade

    try:
        revision = upgrade(ctx.engine)
    except ForeignDatabaseError as exc:
        raise CliError(str(exc)) from None
    with ctx.session() as db:
        added = insert_initial_data(db)
    if not quiet:
        print(f"schema at revision {revision}; initial data added: "
              + ", ".join(f"{n} {k}" for k, n in added.items()))


def cmd_initdb(ctx: Context) -> int:
    initialise(ctx)
    return 0


def _read_password(given: str | None, prompt: bool) -> tuple[str, bool]:
    """(password, generated?)."""
    if given:
        return given, False
    if prompt and sys.stdin.isatty():
        first = getpass.getpass("New password: ")
        if first != getpass.getpass("Repeat it: "):
            raise CliError("the two passwords differ")
        return first, False
    return secrets.token_urlsafe(12), True


def cmd_user_add(ctx: Context) -> int:
    from .auth.services import AccountError, NewUser, create_user

    a = ctx.args
    password, generated = _read_password(a.password, prompt=True)
    try:
        with ctx.session() as db:
            user = create_user(db, NewUser(email=a.email, first_name=a.first_name, last_name=a.last_name,
                                           password=password, admin=a.admin))
            line = f"user {user.id} <{user.email}> created" + (" (admin)" if a.admin else "")
    except AccountError as exc:
        raise CliError(str(exc)) from None
    print(line)
    if generated:
        print(f"password: {password}")
    return 0


def cmd_user_passwd(ctx: Context) -> int:
    from .auth.services import AccountError, find_user_by_email, set_password
    from .auth.sessions import close_user_sessions

    password, generated = _read_password(ctx.args.password, prompt=True)
    try:
        with ctx.session() as db:
            user = find_user_by_email(db, ctx.args.email)
            if user is None:
                raise CliError(f"no user with the e-mail {ctx.args.email}")
            set_password(db, user, password)
            ended = close_user_sessions(db, user.id)
    except AccountError as exc:
        raise CliError(str(exc)) from None
    print(f"password of {user.email} changed; {ended} open session(s) ended")
    if generated:
        print(f"password: {password}")
    return 0


def cmd_user_list(ctx: Context) -> int:
    from .auth.models import Group, Membership, User

    with ctx.session() as db:
        users = db.scalars(select(User).order_by(User.id)).all()
        roles: dict[int, list[str]] = {}
        for user_id, role in db.execute(select(Membership.user_id, Group.role)
                                        .join(Group, Group.id == Membership.group_id)):
            roles.setdefault(user_id, []).append(role or "")
    print(f"{'id':>5}  {'e-mail':<32} {'name':<28} groups")
    for user in users:
        groups = sorted(roles.get(user.id, []))
        flag = " [admin]" if "admin" in groups else ""
        print(f"{user.id:>5}  {user.email or '':<32} {user.full_name[:28]:<28} {', '.join(groups)}{flag}")
    return 0


def make_app(ctx: Context):
    from . import main

    ctx.engine  # share one engine between the app and the command
    return main({}, **ctx.settings)


def serve_app(app, settings: dict, host: str, port: int) -> None:
    import tempfile

    import waitress

    # Request bodies over the in-memory buffer are spooled to the data volume, not /tmp.
    tmp_dir = Path(settings["vidjil.tmp_dir"])
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tempfile.tempdir = str(tmp_dir)
    waitress.serve(
        app, host=host, port=port,
        threads=int(settings.get("vidjil.threads", 8)),
        # a little over the upload limit, so that the application (not waitress) refuses
        # a too-large upload, with a message the browser shows
        max_request_body_size=int(settings.get("vidjil.max_upload_bytes", 20_000_000_000)) + (1 << 20),
        recv_bytes=int(settings.get("vidjil.recv_bytes", 1 << 20)),  # 1 MiB socket reads: 2 GB received in ~0.7 s here
        channel_timeout=int(settings.get("vidjil.channel_timeout", 1800)),
        ident="vidjil",
    )


def cmd_serve(ctx: Context) -> int:
    app = make_app(ctx)
    host = ctx.args.host or ctx.settings.get("vidjil.host", "127.0.0.1")
    port = ctx.args.port or int(ctx.settings.get("vidjil.port", 6543))
    runtime = None
    if str(ctx.settings.get("vidjil.broker_url", "")).startswith("memory:"):
        # the in-process queue: the jobs run in threads of this process
        source_root = Path(__file__).resolve().parents[1]
        if (source_root / "consumers").is_dir() and str(source_root) not in sys.path:
            sys.path.append(str(source_root))  # a checkout installed (editable) before consumers/ existed
        try:
            from consumers.runtime import start_in_process
        except ImportError:
            raise CliError("the `consumers` package is not installed (reinstall with `pip install -e .`)") from None
        runtime = start_in_process(app, ctx.settings, ctx.engine)
    print(f"Vidjil server on http://{host}:{port}/vidjil/"
          + (" (jobs run in this process)" if runtime else ""), flush=True)
    try:
        serve_app(app, ctx.settings, host, port)
    finally:
        if runtime is not None:
            runtime.stop(timeout=5)
    return 0


def cmd_demo(ctx: Context) -> int:
    from .demo import prepare_demo

    source_root = Path(__file__).resolve().parents[1]
    if (source_root / "consumers").is_dir() and str(source_root) not in sys.path:
        sys.path.append(str(source_root))  # a checkout installed (editable) before consumers/ existed
    try:
        from consumers.runtime import start_in_process
    except ImportError:
        raise CliError("the `consumers` package is not installed (reinstall with `pip install -e .`)") from None
    if not ctx.settings.get("vidjil.algo_path"):
        # no vidjil-algo configured: the demo's analyses use the stand-in (never for real samples)
        ctx.settings["vidjil.algo_path"] = "stand-in"
    ctx.settings["vidjil.broker_url"] = "memory://"
    initialise(ctx, quiet=True)
    with ctx.session() as db:
        summary = prepare_demo(db, ctx.settings, ctx.args.admin_email, ctx.args.admin_password)
    app = make_app(ctx)
    runtime = start_in_process(app, ctx.settings, ctx.engine)
    url = f"http://{ctx.args.host}:{ctx.args.port}/vidjil/"
    print(f"Vidjil demo server: {url}")
    print(f"  data directory: {ctx.settings['vidjil.data_dir']}")
    print(f"  admin login:    {summary.email}")
    print(f"  admin password: {summary.password_note}")
    print(f"  demo data:      {summary.data_note}")
    print(f"  analyses:       {ctx.settings['vidjil.algo_path']} (in-process queue)")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        serve_app(app, ctx.settings, ctx.args.host, ctx.args.port)
    finally:
        if runtime is not None:
            runtime.stop(timeout=5)
    return 0


# --- parser ----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vidjil-server", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help=f"ini file (default {DEFAULT_CONFIG} when it exists)")
    parser.add_argument("--data-dir", help="data directory (default ./vidjil-data, or VIDJIL_DATA_DIR)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def add(name: str, func: Callable[[Context], int], help: str, parent=sub):
        p = parent.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    def data_dir_option(p):
        # accepted after the command too: `vidjil-server demo --data-dir D`
        p.add_argument("--data-dir", dest="data_dir_sub", help=argparse.SUPPRESS)

    p = add("demo", cmd_demo, "run a self-contained demo server (SQLite, in-process queue, demo data)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=6543)
    p.add_argument("--admin-email", default="admin@vidjil.local")
    p.add_argument("--admin-password")
    data_dir_option(p)

    p = add("initdb", cmd_initdb, "create or upgrade the schema and add the initial data")
    data_dir_option(p)

    p = add("serve", cmd_serve, "serve the web application with waitress")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    data_dir_option(p)

    user = sub.add_parser("user", help="manage accounts").add_subparsers(dest="user_command", metavar="ACTION")
    user.required = True
    p = add("add", cmd_user_add, "create an account", parent=user)
    p.add_argument("--email", required=True)
    p.add_argument("--first-name", required=True)
    p.add_argument("--last-name", required=True)
    p.add_argument("--admin", action="store_true")
    p.add_argument("--password", help="at least 8 characters (asked, or generated and printed, when absent)")
    data_dir_option(p)
    p = add("passwd", cmd_user_passwd, "set a user's password and end their sessions", parent=user)
    p.add_argument("email")
    p.add_argument("--password")
    data_dir_option(p)
    p = add("list", cmd_user_list, "list accounts", parent=user)
    data_dir_option(p)

    sub.add_parser("fuse", help="merge .vidjil results (see `vidjil-server fuse --help`)", add_help=False)

    for module_name in PLUGIN_COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # that part of the server is not installed
            raise
        module.register(sub, add)
    return parser


def _split_passthrough(argv: list[str]) -> tuple[list[str], str | None, list[str]]:
    """Global options, the passthrough command (if any) and its own arguments."""
    takes_value = {"--config", "--data-dir"}
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in takes_value:
            i += 2
            continue
        if token.startswith("-"):
            i += 1
            continue
        if token in PASSTHROUGH:
            return argv[:i], token, argv[i + 1:]
        break
    return argv, None, []


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    global_args, passthrough, rest = _split_passthrough(argv)
    if passthrough:
        return importlib.import_module(PASSTHROUGH[passthrough]).main(rest)

    args = build_parser().parse_args(argv)
    if getattr(args, "data_dir_sub", None):
        args.data_dir = args.data_dir_sub
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        ctx = Context(args)
        return int(args.func(ctx) or 0)
    except CliError as exc:
        print(f"vidjil-server: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
