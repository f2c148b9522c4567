"""`vidjil-server` commands on the embedded default (a SQLite file in the data directory)."""
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from vidjil_pyramid.admin.models import Config
from vidjil_pyramid.auth.models import Group, User
from vidjil_pyramid.cli import main
from vidjil_pyramid.sample_sets.models import SampleSet


def run(*argv):
    return main(list(argv))


def count(data_dir, model):
    engine = create_engine(f"sqlite:///{data_dir}/vidjil.sqlite")
    with Session(engine) as session:
        value = session.scalar(select(func.count()).select_from(model))
    engine.dispose()
    return value


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for var in ("VIDJIL_DATABASE_URL", "VIDJIL_DATA_DIR", "VIDJIL_BROKER_URL", "VIDJIL_SECRET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # no etc/development.ini here: the embedded default


def test_initdb_is_idempotent(tmp_path, capsys):
    assert run("--data-dir", str(tmp_path), "initdb") == 0
    assert count(tmp_path, Config) == 8 and count(tmp_path, Group) == 2
    assert run("--data-dir", str(tmp_path), "initdb") == 0
    assert count(tmp_path, Config) == 8 and count(tmp_path, Group) == 2
    assert "0 configs" in capsys.readouterr().out


def test_user_add_passwd_list(tmp_path, capsys):
    d = str(tmp_path)
    run("--data-dir", d, "initdb")
    assert run("--data-dir", d, "user", "add", "--email", "Bob@Lab.test", "--first-name", "Bob",
               "--last-name", "Durand", "--password", "bob-password") == 0
    assert run("user", "add", "--data-dir", d, "--email", "root@lab.test", "--first-name", "Root",
               "--last-name", "Admin", "--admin") == 0
    out = capsys.readouterr().out
    assert "password: " in out  # generated and printed once
    assert run("--data-dir", d, "user", "add", "--email", "bob@lab.test", "--first-name", "B",
               "--last-name", "D", "--password", "another-pw") == 2  # duplicate, case-insensitive
    assert run("--data-dir", d, "user", "add", "--email", "c@lab.test", "--first-name", "C",
               "--last-name", "D", "--password", "short") == 2
    assert "at least 8 characters" in capsys.readouterr().err
    assert run("--data-dir", d, "user", "passwd", "bob@lab.test", "--password", "new-password") == 0
    assert run("--data-dir", d, "user", "passwd", "nobody@lab.test", "--password", "new-password") == 2
    capsys.readouterr()
    assert run("--data-dir", d, "user", "list") == 0
    listing = capsys.readouterr().out
    assert "bob@lab.test" in listing and "root@lab.test" in listing and "[admin]" in listing
    assert count(tmp_path, User) == 2


def test_demo_data_is_made_once_and_kept(tmp_path):
    from vidjil_pyramid.cli import Context, build_parser, initialise
    from vidjil_pyramid.demo import prepare_demo

    args = build_parser().parse_args(["--data-dir", str(tmp_path), "demo"])
    ctx = Context(args)
    initialise(ctx, quiet=True)
    with ctx.session() as db:
        first = prepare_demo(db, ctx.settings, "a@b.c", "Secret-123")
    with ctx.session() as db:
        second = prepare_demo(db, ctx.settings, "a@b.c", None)
    assert "kept" in second.data_note and "unchanged" in second.password_note and first.email == "a@b.c"
    assert count(tmp_path, SampleSet) == 3
    assert len(list((tmp_path / "uploads").iterdir())) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, seconds: float) -> bytes:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_demo_command_serves_and_restarts_on_the_same_data(tmp_path):
    port = _free_port()
    command = [sys.executable, "-m", "vidjil_pyramid.cli", "demo", "--port", str(port),
               "--data-dir", str(tmp_path), "--admin-email", "a@b.c", "--admin-password", "Secret-123"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDJIL_")}
    for _ in range(2):
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        try:
            body = _wait_for(f"http://127.0.0.1:{port}/vidjil/default/whoami", 20)
            assert body == b"{}"
            assert time.monotonic() - started < 20
        finally:
            process.terminate()
            output = process.communicate(timeout=10)[0].decode()
        assert "a@b.c" in output
    assert count(tmp_path, SampleSet) == 3  # restart kept the data and added nothing
