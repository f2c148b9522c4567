"""How each analysis program is invoked: argument vectors built from a config, never a shell.

A config's `command` is admin-written text; it is split once with `shlex` into
arguments (quotes group words, nothing else is interpreted), and the server's own
paths are added as separate arguments. A `;`, `|` or `$(...)` in a config is thus
just an odd argument handed to the program (W21).
"""
from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

STAND_IN = "stand-in"


class ProgramError(ValueError):
    """The job cannot be run as configured (missing program, malformed command)."""


@dataclass(frozen=True)
class AnalysisInput:
    """What a program needs to know about one analysis."""

    sequence_path: Path        # the sample's reads (absolute)
    data_file: str             # its stored name (what `samples.original_names` records)
    filename: str              # the name the user uploaded
    out_dir: Path              # the job's working folder (exists, empty)
    basename: str              # `000042`
    command: str               # config.command
    grep_reads: str | None
    settings: dict


@dataclass
class Invocation:
    """Steps to run in order (each must exit 0), then the file to store as the result."""

    steps: list[list[str]]
    log_path: Path
    result_path: Path
    stored_as: str                               # original name given to the stored result
    remove_after: dict[int, list[Path]] = field(default_factory=dict)  # step index -> files to delete
    finish: Callable[[Path, list[list[str]]], None] | None = None    # patches the result in place
    copy_from: Path | None = None                # program `none`: the result is the input itself
    is_vidjil_json: bool = True                  # checked before storing


def split_command(command: str | None) -> list[str]:
    """A config's command as arguments; quotes group words, nothing is interpreted."""
    try:
        return shlex.split(command or "", comments=False, posix=True)
    except ValueError as exc:
        raise ProgramError(f"the config's command cannot be read: {exc}") from None


def executable(settings: dict, key: str, what: str) -> list[str]:
    """The argv prefix of a configured program; `stand-in` is our own vidjil-algo stand-in."""
    value = str(settings.get(key) or "").strip()
    if not value:
        raise ProgramError(f"{what} is not installed on this server (setting {key})")
    if value == STAND_IN:
        return [sys.executable, "-m", "consumers.stand_in_algo"]
    return [value]


def build_invocation(program: str, job: AnalysisInput) -> Invocation:
    from . import igrec, mixcr, none, vidjil

    builders = {"vidjil": vidjil.build, "mixcr": mixcr.build, "igrec": igrec.build, "none": none.build}
    if program not in builders:
        raise ProgramError(f"unknown program '{program}'")
    return builders[program](job)
