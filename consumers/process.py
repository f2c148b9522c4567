"""Running one program: an argument vector (never a shell), a time limit, a stop switch.

The program gets its own session (process group), so a timeout or a stop kills it
*and everything it started* (`os.killpg`), and on Linux it is killed if the thread
that launched it dies (PR_SET_PDEATHSIG): a consumer killed with SIGKILL leaves no
program behind to write into a folder a retry is using.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_libc = None
if hasattr(os, "killpg"):
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError:  # pragma: no cover - not Linux
        _libc = None


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


# Our own Python programs (`consumers.stand_in_algo`, `fuse_rpc`) must import from here whatever the cwd.
PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])


def program_environment(extra: dict | None = None) -> dict:
    """The environment of a job's programs: ours, with this code importable, plus `extra`."""
    env = dict(os.environ)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if PACKAGE_ROOT not in paths:
        env["PYTHONPATH"] = os.pathsep.join([PACKAGE_ROOT, *paths])
    env.update(extra or {})
    return env


@dataclass
class ProcessOutcome:
    exit_code: int | None
    timed_out: bool = False
    stopped: bool = False
    seconds: float = 0.0

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.stopped


class Deadline:
    """A job's time budget, shared by its successive programs (analysis, then fuses)."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + max(0.0, float(seconds))

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.end


def kill_group(process: subprocess.Popen, grace: float = 3.0) -> None:
    """SIGTERM the program's whole group, then SIGKILL what is left after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        except PermissionError:  # pragma: no cover - the group changed hands
            break
        try:
            process.wait(timeout=wait)
            if sig == signal.SIGTERM:
                # the leader is gone; its children may not be
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            break
        except subprocess.TimeoutExpired:
            continue


def run_program(argv: Sequence[str], *, log_path: Path, cwd: Path, deadline: Deadline,
                should_stop: Callable[[], bool] = lambda: False, stdout_path: Path | None = None,
                poll_interval: float = 0.5, env: dict | None = None, grace: float = 3.0) -> ProcessOutcome:
    """Run `argv` with stderr (and stdout, unless `stdout_path`) appended to `log_path`."""
    argv = [str(a) for a in argv]
    if not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError("empty command")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(log_path, "ab") as log_file:
        log_file.write(("$ " + " ".join(_quote(a) for a in argv) + "\n").encode())
        log_file.flush()
        stdout = open(stdout_path, "wb") if stdout_path else log_file
        try:
            process = subprocess.Popen(
                argv, cwd=str(cwd), stdin=subprocess.DEVNULL, stdout=stdout, stderr=log_file,
                start_new_session=True, preexec_fn=_die_with_parent, close_fds=True,
                env=env if env is not None else program_environment(),
            )
        except OSError as exc:
            log_file.write(f"cannot start {argv[0]}: {exc}\n".encode())
            return ProcessOutcome(exit_code=None, seconds=0.0)
        finally:
            if stdout_path:
                stdout.close()
        outcome = ProcessOutcome(exit_code=None)
        try:
            while True:
                try:
                    outcome.exit_code = process.wait(timeout=min(poll_interval, max(deadline.remaining(), 0.01)))
                    break
                except subprocess.TimeoutExpired:
                    pass
                if deadline.expired():
                    outcome.timed_out = True
                elif should_stop():
                    outcome.stopped = True
                if outcome.timed_out or outcome.stopped:
                    kill_group(process, grace)
                    outcome.exit_code = process.poll()
                    break
        except BaseException:
            kill_group(process, 0.5)
            raise
        finally:
            # whatever the leader did, nothing it started may outlive the job
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        outcome.seconds = time.monotonic() - started
        reason = "timed out" if outcome.timed_out else "stopped" if outcome.stopped else f"exit code {outcome.exit_code}"
        log_file.write(f"# {reason} after {outcome.seconds:.1f} s\n".encode())
    return outcome


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
