"""`vidjil-server consumer ...` and `vidjil-server sweeper`."""
from __future__ import annotations

from vidjil_pyramid import cli


def test_the_job_commands_are_registered():
    parser = cli.build_parser()
    args = parser.parse_args(["consumer", "analysis", "--data-dir", "/tmp/x"])
    assert args.kind == "analysis" and args.data_dir_sub == "/tmp/x"
    assert parser.parse_args(["sweeper", "--once"]).once


def test_separate_consumers_need_rabbitmq(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("VIDJIL_BROKER_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no etc/development.ini here: the embedded default (memory://)
    for command in (["consumer", "fuse"], ["sweeper", "--once"]):
        assert cli.main(["--data-dir", str(tmp_path / "data"), *command]) == 2
        assert "memory://" in capsys.readouterr().err


def test_an_unknown_broker_url_is_a_clean_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VIDJIL_BROKER_URL", "redis://127.0.0.1")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--data-dir", str(tmp_path / "data"), "consumer", "analysis"]) == 2
    assert "unsupported vidjil.broker_url" in capsys.readouterr().err
