"""The log viewer service: allow-listed files only (W28), tails, parsing and search."""
import pytest

from vidjil_pyramid.admin import logs


@pytest.fixture
def log_dir(tmp_path):
    (tmp_path / "vidjil.log").write_text("".join(f"2024-02-01 12:00:{i:02d},000 INFO  [app] line {i}\n" for i in range(60)))
    (tmp_path.parent / "outside.log").write_text("secret")
    return tmp_path


@pytest.mark.parametrize("name", ["../outside.log", "outside.log", "/etc/passwd", "", None, "vidjil.log\x00"])
def test_only_allowed_names(log_dir, name):
    with pytest.raises(logs.LogError):
        logs.log_path(str(log_dir), name)


def test_a_symlink_out_of_the_directory_is_refused(log_dir):
    (log_dir / "consumers.log").symlink_to(log_dir.parent / "outside.log")
    with pytest.raises(logs.LogError):
        logs.read_log(str(log_dir), "consumers.log")
    assert logs.available_logs(str(log_dir)) == ["vidjil.log"]


def test_newest_lines_first_parsed_and_limited(log_dir, monkeypatch):
    monkeypatch.setattr(logs, "MAX_LINES", 5)
    lines = logs.read_log(str(log_dir), "vidjil.log")
    assert [line.message for line in lines] == [f"line {i}" for i in range(59, 54, -1)]
    assert lines[0] == logs.LogLine("2024-02-01", "12:00:59", "INFO", "app", "line 59")


def test_only_the_tail_of_a_big_file_is_read(log_dir, monkeypatch):
    monkeypatch.setattr(logs, "TAIL_BYTES", 100)
    lines = logs.read_log(str(log_dir), "vidjil.log")
    assert 0 < len(lines) < 3 and lines[0].message == "line 59"
    assert all(line.date for line in lines)  # the cut first line was dropped


def test_search_words_and_exclusions(log_dir):
    assert logs.matches("Job 12 FAILED on worker", "failed job")
    assert not logs.matches("Job 12 failed", "job -failed")
    lines = logs.read_log(str(log_dir), "vidjil.log", "LINE -12:00:5")
    assert len(lines) == 50 and lines[0].message == "line 49"


def test_web2py_lines_and_unknown_lines():
    web2py = logs.parse_line("[11889] 2015-02-01 12:01:28,367     INFO - default.py:312 1.2.3.4 hello there")
    assert web2py == logs.LogLine("2015-02-01", "12:01:28", "INFO", "default.py:312", "1.2.3.4 hello there")
    assert logs.parse_line("free text").message == "free text"
