"""``--pre`` / ``--post``: run site scripts on each input, or on the fused output.

A command is one or more steps joined by ``&&``; each step is a script name
found in the scripts directory, with optional arguments, called as
``<script> <args> -i <input> -o <output>``.  As in the original, a step may not
contain a path separator, so only the administrator's scripts can be run.
Unlike the original (``os.system``), no shell is involved and a failing step
stops the fuse with an error instead of producing an empty file.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from typing import Callable

from .errors import FuseError, FuseUsageError

SCRIPTS_DIR_VARIABLE = "VIDJIL_FUSE_SCRIPTS_DIR"


def scripts_directory(explicit: str | None) -> str:
    """The directory holding pre/post-process scripts (option, then environment)."""
    directory = explicit or os.environ.get(SCRIPTS_DIR_VARIABLE)
    if not directory:
        raise FuseUsageError(f"--pre/--post need a scripts directory: give --scripts-dir or set {SCRIPTS_DIR_VARIABLE}")
    if not os.path.isdir(directory):
        raise FuseUsageError(f"scripts directory {directory!r} does not exist")
    return directory


def parse_steps(command: str) -> list[list[str]]:
    """Split ``"a.py -x 1 && b.sh"`` into argument lists, refusing paths."""
    steps = []
    for step in command.split("&&"):
        step = step.strip()
        if not step:
            raise FuseUsageError(f"empty step in pre/post-process command {command!r}")
        if os.sep in step:
            raise FuseUsageError(f"pre/post-process step {step!r}: no {os.sep!r} allowed")
        try:
            steps.append(shlex.split(step))
        except ValueError as exc:
            raise FuseUsageError(f"pre/post-process step {step!r}: {exc}") from None
    return steps


def run_steps(command: str, directory: str, input_path: str, log: Callable[[str], None]) -> str:
    """Run every step on ``input_path``; return the path of the last output (a temporary file).

    Intermediate outputs are removed; the caller removes the returned file.
    """
    current = os.path.abspath(input_path)
    produced: list[str] = []
    try:
        for program, *arguments in parse_steps(command):
            handle, output = tempfile.mkstemp(suffix=".vidjil", prefix="fuse-step-")
            os.close(handle)
            produced.append(output)
            call = [os.path.join(directory, program), *arguments, "-i", current, "-o", output]
            log("pre/post-process: " + " ".join(shlex.quote(part) for part in call))
            try:
                completed = subprocess.run(call)
            except OSError as exc:
                raise FuseError(f"pre/post-process step {program!r} cannot be run: {exc.strerror or exc}") from None
            if completed.returncode != 0:
                raise FuseError(f"pre/post-process step {program!r} failed with exit status {completed.returncode}")
            current = output
        return current
    finally:
        for path in produced[:-1] if produced and current == produced[-1] else produced:
            try:
                os.unlink(path)
            except OSError:
                pass
