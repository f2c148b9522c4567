"""Running a program: time limit and stop kill the whole process group; exit codes are kept."""
from __future__ import annotations

import time
from pathlib import Path

from consumers.process import Deadline, run_program
from job_processes import group_is_gone, process_is_gone

# a parent that starts a grandchild and waits for it, like a wrapper script around vidjil-algo
FAMILY = ["sh", "-c", "sleep 30 & echo $! > grandchild.pid; echo $$ > leader.pid; wait"]


def wait_for_file(path: Path, timeout: float = 5) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


def test_exit_code_and_log(tmp_path):
    outcome = run_program(["sh", "-c", "echo out; echo err >&2; exit 3"], log_path=tmp_path / "p.log", cwd=tmp_path,
                          deadline=Deadline(10))
    assert outcome.exit_code == 3 and not outcome.succeeded
    text = (tmp_path / "p.log").read_text()
    assert "out" in text and "err" in text and "exit code 3" in text


def test_stdout_can_go_to_a_file(tmp_path):
    outcome = run_program(["sh", "-c", "echo data; echo note >&2"], log_path=tmp_path / "p.log", cwd=tmp_path,
                          deadline=Deadline(10), stdout_path=tmp_path / "result")
    assert outcome.succeeded
    assert (tmp_path / "result").read_text() == "data\n"
    assert "note" in (tmp_path / "p.log").read_text()


def test_time_limit_kills_the_whole_group(tmp_path):
    started = time.monotonic()
    outcome = run_program(FAMILY, log_path=tmp_path / "p.log", cwd=tmp_path, deadline=Deadline(1), grace=0.5)
    assert outcome.timed_out and time.monotonic() - started < 10
    leader = int(wait_for_file(tmp_path / "leader.pid"))
    assert group_is_gone(leader)
    assert process_is_gone(int(wait_for_file(tmp_path / "grandchild.pid")))


def test_stop_kills_the_whole_group(tmp_path):
    stop_at = time.monotonic() + 0.7
    outcome = run_program(FAMILY, log_path=tmp_path / "p.log", cwd=tmp_path, deadline=Deadline(60),
                          should_stop=lambda: time.monotonic() > stop_at, poll_interval=0.1, grace=0.5)
    assert outcome.stopped and not outcome.timed_out
    assert group_is_gone(int(wait_for_file(tmp_path / "leader.pid")))
    assert process_is_gone(int(wait_for_file(tmp_path / "grandchild.pid")))


def test_a_finished_program_leaves_no_background_child(tmp_path):
    outcome = run_program(["sh", "-c", "sleep 30 & echo $! > grandchild.pid"], log_path=tmp_path / "p.log",
                          cwd=tmp_path, deadline=Deadline(10))
    assert outcome.exit_code == 0
    grandchild = int(wait_for_file(tmp_path / "grandchild.pid"))
    deadline = time.monotonic() + 5
    while not process_is_gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_is_gone(grandchild)


def test_a_missing_program_is_reported(tmp_path):
    outcome = run_program(["/nonexistent/vidjil-algo"], log_path=tmp_path / "p.log", cwd=tmp_path, deadline=Deadline(5))
    assert outcome.exit_code is None
    assert "cannot start" in (tmp_path / "p.log").read_text()
