"""Looking for processes a job may have left behind."""
from __future__ import annotations

import time
from pathlib import Path


def _state_and_group(pid: int) -> tuple[str, int] | None:
    try:
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[2])


def live_members(pgid: int) -> list[int]:
    """Processes of a group that are alive (a zombie is dead, only not yet reaped by init)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            found = _state_and_group(int(entry.name))
            if found and found[1] == pgid and found[0] != "Z":
                members.append(int(entry.name))
    return members


def group_is_gone(pgid: int, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while live_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not live_members(pgid)


def process_is_gone(pid: int, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        found = _state_and_group(pid)
        if found is None or found[0] == "Z":
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def wait_for_lines(path: Path, count: int = 1, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = [line for line in path.read_text().splitlines() if line.strip()]
            if len(lines) >= count:
                return lines
        time.sleep(0.02)
    raise AssertionError(f"{path}: fewer than {count} lines after {timeout} s")
