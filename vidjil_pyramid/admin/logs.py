"""The log viewer of the admin panel: a fixed list of files in the log directory.

The request names a file of `LOG_FILES`, never a path: the original opened
`DIR_LOG + <parameter>`, so `../` reached any readable file (W28). Only the end
of a file is read, so a huge log cannot exhaust memory. Lines are returned as
plain text; the template escapes them (W24). Knows nothing of HTTP.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

# file name in `vidjil.log_dir` -> what it holds (the only files the viewer opens)
LOG_FILES = {
    "vidjil.log": "web server",
    "vidjil-debug.log": "web server (debug)",
    "consumers.log": "job consumers",
    "fuse.log": "fuse service",
    "access.log": "front-end access log",
    "error.log": "front-end error log",
}
MAX_LINES = 500
TAIL_BYTES = 4 << 20  # at most the last 4 MiB of a file are read
RAW_BYTES = 512 << 10  # the raw view shows at most the last 512 KiB

# `2024-02-01 12:01:28,367 INFO  [vidjil_pyramid.views] message` (etc/*.ini formatter)
_OURS = re.compile(r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})[,.]\d+ +([A-Z]+) +\[([^\]]*)\] ?(.*)$")
# `[11889] 2015-02-01 12:01:28,367     INFO - default.py:312 1.2.3.4/user/x <x> message` (web2py era)
_WEB2PY = re.compile(r"^\[\d+\] (\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})[,.]\d+ +([A-Z]+) - (\S+) ?(.*)$")


class LogError(ValueError):
    """A log the viewer will not show; the message says why."""


@dataclass(frozen=True)
class LogLine:
    date: str
    time: str
    level: str
    source: str
    message: str


def log_path(log_dir: str, name: str | None) -> Path:
    """The path of an allowed log file; LogError for any other name (W28)."""
    if name not in LOG_FILES:
        raise LogError("unknown log file")
    directory = Path(log_dir).resolve()
    path = (directory / name).resolve()
    if path.parent != directory:
        raise LogError("unknown log file")
    if not path.is_file():
        raise LogError(f"{name} does not exist (yet)")
    return path


def available_logs(log_dir: str) -> list[str]:
    """The allowed log files that exist, in the order of `LOG_FILES`."""
    found = []
    for name in LOG_FILES:
        try:
            log_path(log_dir, name)
        except LogError:
            continue
        found.append(name)
    return found


def _tail(path: Path, size: int) -> str:
    with open(path, "rb") as stream:
        stream.seek(0, os.SEEK_END)
        length = stream.tell()
        stream.seek(max(0, length - size))
        data = stream.read(size)
    text = data.decode("utf-8", "replace")
    if length > size and "\n" in text:
        text = text.split("\n", 1)[1]  # drop the partial first line
    return text


def raw_log(log_dir: str, name: str | None) -> str:
    return _tail(log_path(log_dir, name), RAW_BYTES)


def parse_line(line: str) -> LogLine:
    """Date, time, level, source and message of our log format or the web2py one; else the line as message."""
    for pattern in (_OURS, _WEB2PY):
        match = pattern.match(line)
        if match:
            return LogLine(*match.groups())
    return LogLine("", "", "", "", line)


def matches(line: str, search: str) -> bool:
    """Every word of the search appears in the line (case-insensitive); `-word` excludes it."""
    lowered = line.lower()
    for word in search.lower().split():
        if word.startswith("-") and len(word) > 1:
            if word[1:] in lowered:
                return False
        elif word not in lowered:
            return False
    return True


def read_log(log_dir: str, name: str | None, search: str = "", parse: bool = True) -> list[LogLine]:
    """The newest matching lines first, at most MAX_LINES."""
    lines: list[LogLine] = []
    for line in reversed(_tail(log_path(log_dir, name), TAIL_BYTES).splitlines()):
        if not line.strip() or (search and not matches(line, search)):
            continue
        lines.append(parse_line(line) if parse else LogLine("", "", "", "", line))
        if len(lines) >= MAX_LINES:
            break
    return lines
