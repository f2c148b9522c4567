"""The fuse service: custom comparisons of stored results over XML-RPC.

The web process asks it to merge a few chosen results (``default/get_custom_data``)
so that a long fuse never runs inside a request thread of the web server itself.
Unlike the original service, which ran whatever shell string it was sent, without
authentication (W22), this one:

* answers only callers that present the shared token (derived from the server's
  secret, compared in constant time);
* takes *typed* arguments: the stored names of the results (and of their
  pre-process files), each of which must be a plain file directly inside the
  configured results directory, and options from a short allow-list;
* builds the fuse's argument vector itself and runs it without a shell, in its
  own process group, killed with all its children when the time limit is reached;
* serves calls in threads, at most ``max_concurrent`` fuses at a time;
* returns the merged document as JSON text: nothing is left on disk.

It imports nothing from the web application.
"""
from __future__ import annotations

import hmac
import json
import logging
import os
import shlex
import shutil
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any, Sequence
from xmlrpc.client import Fault
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

from .stats import AVAILABLE_AXES

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 6544
DEFAULT_TIME_LIMIT = 1200.0  # seconds: what the browser waits for a comparison (20 min)
MAX_INPUTS = 100
MAX_DISTRIBUTIONS = 50
MAX_TOP = 1_000_000
MAX_STORED_NAME = 400
MAX_REQUEST_BYTES = 1 << 20  # a call names at most a hundred files: far below this
MAX_OUTPUT_BYTES = 512 << 20
_TOKEN_PURPOSE = b"vidjil fuse-rpc token v1"
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[1])

# Fault codes, HTTP-like so that logs read naturally.
FAULT_INVALID = 400  # bad names or options
FAULT_REFUSED = 401  # missing or wrong token
FAULT_NOT_FOUND = 404  # a named file is not in the results directory
FAULT_FAILED = 500  # the fuse failed, or its output is unusable
FAULT_BUSY = 503  # no free slot within the time limit
FAULT_TIMEOUT = 504  # the fuse did not end within the time limit


def service_token(secret: str) -> str:
    """The token callers present: derived from the server's secret, so the secret itself
    never travels and the token is good for nothing else."""
    if not secret:
        raise ValueError("the fuse service needs a shared secret (vidjil.secret)")
    return hmac.new(secret.encode("utf-8"), _TOKEN_PURPOSE, sha256).hexdigest()


def resolve_stored(directory: str | Path, name: object) -> Path:
    """The path of a stored file directly inside ``directory``, or a Fault.

    A stored name is a bare file name: no separator, no leading dot, no comma
    (fuse reads ``result,pre_process`` pairs), no control character; the file
    must exist, be a regular file, and really be inside the directory once links
    are followed.
    """
    if not isinstance(name, str) or not name or len(name) > MAX_STORED_NAME:
        raise Fault(FAULT_INVALID, "a stored file name must be a non-empty string of at most "
                                   f"{MAX_STORED_NAME} characters")
    if ("/" in name or "\\" in name or "," in name or name.startswith(".")
            or any(ord(c) < 32 or ord(c) == 127 for c in name)):
        raise Fault(FAULT_INVALID, f"not a stored file name: {name!r}")
    root = Path(directory).resolve()
    path = root / name
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise Fault(FAULT_NOT_FOUND, f"no stored file named {name!r}") from None
    if real.parent != root or not real.is_file():
        raise Fault(FAULT_NOT_FOUND, f"no stored file named {name!r}")
    return real


def option_arguments(options: object) -> list[str]:
    """The fuse options of a call as command-line arguments; only known options and values.

    ``top``: an integer (clones kept per input, 100 when absent, as the original's
    comparisons); ``distributions``: a list of axis lists (or of ``"axis1,axis2"``
    strings) among the fuse's axes; ``overlaps``, ``no_clones``: booleans.
    """
    if not isinstance(options, dict):
        raise Fault(FAULT_INVALID, "options must be a struct")
    unknown = sorted(set(options) - {"top", "distributions", "overlaps", "no_clones"})
    if unknown:
        raise Fault(FAULT_INVALID, f"unknown option(s): {', '.join(map(str, unknown))}")
    top = options.get("top", 100)
    if isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= MAX_TOP:
        raise Fault(FAULT_INVALID, f"top must be an integer between 0 and {MAX_TOP}")
    arguments = ["-t", str(top)]
    distributions = options.get("distributions", [])
    if not isinstance(distributions, list) or len(distributions) > MAX_DISTRIBUTIONS:
        raise Fault(FAULT_INVALID, f"distributions must be a list of at most {MAX_DISTRIBUTIONS} axis lists")
    known = set(AVAILABLE_AXES)
    for axes in distributions:
        if isinstance(axes, str):
            axes = axes.split(",")
        if (not isinstance(axes, list) or not axes
                or not all(isinstance(axis, str) and axis in known for axis in axes)):
            raise Fault(FAULT_INVALID, f"unknown distribution axes: {axes!r} "
                                       f"(known: {', '.join(dict.fromkeys(AVAILABLE_AXES))})")
        arguments += ["-d", ",".join(axes)]
    for flag, argument in (("overlaps", "--overlaps"), ("no_clones", "--no-clones")):
        value = options.get(flag, False)
        if not isinstance(value, bool):
            raise Fault(FAULT_INVALID, f"{flag} must be a boolean")
        if value:
            arguments.append(argument)
    return arguments


def default_program() -> list[str]:
    """Our fuse, run by the interpreter of this process."""
    return [sys.executable, "-m", "fuse_rpc"]


def program_from_setting(value: str | None) -> list[str]:
    """`vidjil.fuse_program` (shared with the consumers), else our own fuse."""
    value = (value or "").strip()
    return shlex.split(value) if value else default_program()


def _kill_group(process: subprocess.Popen) -> None:
    """Kill a fuse and everything it started (it leads its own process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _log_tail(path: Path, limit: int = 600) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


@dataclass(frozen=True)
class FuseInputs:
    """A validated call: the fuse's input arguments and option arguments."""

    inputs: list[str]
    options: list[str]


class FuseService:
    """What the XML-RPC methods do; usable without a server (tests, embedding)."""

    def __init__(self, results_dir: str | Path, secret: str, *, time_limit: float = DEFAULT_TIME_LIMIT,
                 work_dir: str | Path | None = None, program: Sequence[str] | None = None,
                 max_concurrent: int | None = None, max_output_bytes: int = MAX_OUTPUT_BYTES):
        self.results_dir = Path(results_dir)
        if not self.results_dir.is_dir():
            raise ValueError(f"the results directory {self.results_dir} does not exist")
        self._token = service_token(secret).encode("ascii")
        if not time_limit or time_limit <= 0:
            raise ValueError("the time limit must be a positive number of seconds")
        self.time_limit = float(time_limit)
        self.work_dir = Path(work_dir) if work_dir else Path(tempfile.gettempdir()) / "vidjil-fuse-rpc"
        self.program = list(program) if program else default_program()
        self.max_output_bytes = max_output_bytes
        self._slots = threading.BoundedSemaphore(max(1, max_concurrent or os.cpu_count() or 1))
        self._running: set[subprocess.Popen] = set()
        self._running_lock = threading.Lock()

    # ------------------------------------------------------------------ checks

    def check_token(self, token: object) -> None:
        given = token.encode("utf-8") if isinstance(token, str) else b""
        # compare_digest takes the same time whatever the first differing byte
        if not hmac.compare_digest(given, self._token):
            raise Fault(FAULT_REFUSED, "refused: missing or wrong secret")

    def validate(self, stored_result_names: object, pre_process_names: object, options: object) -> FuseInputs:
        if not isinstance(stored_result_names, list) or not stored_result_names:
            raise Fault(FAULT_INVALID, "stored_result_names must be a non-empty list")
        if len(stored_result_names) > MAX_INPUTS:
            raise Fault(FAULT_INVALID, f"at most {MAX_INPUTS} results can be fused at once")
        if not isinstance(pre_process_names, list) or len(pre_process_names) != len(stored_result_names):
            raise Fault(FAULT_INVALID, "pre_process_names must be a list as long as stored_result_names "
                                       "(an empty string where a result has none)")
        inputs = []
        for result_name, pre_process_name in zip(stored_result_names, pre_process_names):
            argument = str(resolve_stored(self.results_dir, result_name))
            if pre_process_name != "":
                argument += "," + str(resolve_stored(self.results_dir, pre_process_name))
            inputs.append(argument)
        return FuseInputs(inputs, option_arguments(options))

    # ------------------------------------------------------------------ the method

    def fuse(self, token: str, stored_result_names: list[str], pre_process_names: list[str],
             options: dict[str, Any]) -> str:
        """Merge stored results (with their pre-process files) and return the document as JSON text."""
        self.check_token(token)
        call = self.validate(stored_result_names, pre_process_names, options)
        started = time.monotonic()
        if not self._slots.acquire(timeout=self.time_limit):
            raise Fault(FAULT_BUSY, "the fuse service is busy; try again later")
        try:
            text = self._run(call, started)
        finally:
            self._slots.release()
        log.info("fused %d result(s) in %.2f s (%d bytes)", len(call.inputs), time.monotonic() - started,
                 len(text))
        return text

    def _run(self, call: FuseInputs, started: float) -> str:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="fuse-", dir=self.work_dir))
        try:
            output = work / "custom.fused"
            log_path = work / "fuse.log"
            argv = [*self.program, "-o", str(output), *call.options, "--", *call.inputs]
            env = dict(os.environ)
            if self.program == default_program():
                env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
            remaining = self.time_limit - (time.monotonic() - started)
            with open(log_path, "wb") as log_file:
                process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file,
                                           stderr=subprocess.STDOUT, cwd=work, env=env,
                                           start_new_session=True, close_fds=True)
            with self._running_lock:
                self._running.add(process)
            try:
                exit_code = process.wait(timeout=max(remaining, 0.01))
            except subprocess.TimeoutExpired:
                _kill_group(process)
                log.warning("fuse of %d result(s) killed after %.0f s", len(call.inputs), self.time_limit)
                raise Fault(FAULT_TIMEOUT, f"the fuse did not end within {self.time_limit:g} s") from None
            except BaseException:
                _kill_group(process)
                raise
            finally:
                with self._running_lock:
                    self._running.discard(process)
            if exit_code != 0 or not output.is_file():
                reason = _log_tail(log_path)
                log.warning("fuse failed (exit code %s): %s", exit_code, reason)
                raise Fault(FAULT_FAILED, f"the fuse failed (exit code {exit_code}): {reason}")
            if output.stat().st_size > self.max_output_bytes:
                raise Fault(FAULT_FAILED, f"the fused document is larger than {self.max_output_bytes} bytes")
            text = output.read_text("utf-8")
            try:
                json.loads(text)
            except ValueError as exc:
                raise Fault(FAULT_FAILED, f"the fuse wrote an invalid document ({exc})") from None
            return text
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def kill_running(self) -> int:
        """Kill every fuse in progress (the service is stopping); how many there were."""
        with self._running_lock:
            running = list(self._running)
        for process in running:
            _kill_group(process)
        return len(running)


# --------------------------------------------------------------------------- the XML-RPC server

class _RequestHandler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/", "/RPC2")
    timeout = 60  # a client that stops sending its request is dropped

    def do_POST(self) -> None:
        length = self.headers.get("content-length")
        if length is None or not length.isdigit():
            self.send_error(411, "Content-Length required")
            return
        if int(length) > MAX_REQUEST_BYTES:
            self.send_error(413, "request too large")
            return
        super().do_POST()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class FuseRPCServer(socketserver.ThreadingMixIn, SimpleXMLRPCServer):
    """One thread per call; the fuses themselves are limited by the service's slots."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, service: FuseService, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT):
        super().__init__((host, port), requestHandler=_RequestHandler, logRequests=True,
                         allow_none=False, use_builtin_types=True)
        self.service = service
        self.register_function(self._fuse, "fuse")

    @property
    def port(self) -> int:
        return self.server_address[1]

    def _fuse(self, token: Any = None, stored_result_names: Any = None, pre_process_names: Any = None,
              options: Any = None, *extra: Any) -> str:
        """fuse(token, stored_result_names, pre_process_names, options) -> JSON text."""
        self.service.check_token(token)  # before anything else, even a malformed call
        if extra or options is None:
            raise Fault(FAULT_INVALID, "usage: fuse(secret, stored_result_names, pre_process_names, options)")
        try:
            return self.service.fuse(token, stored_result_names, pre_process_names, options)
        except Fault:
            raise
        except Exception:  # never a traceback to the caller; the log has it
            log.exception("fuse call failed")
            raise Fault(FAULT_FAILED, "internal error of the fuse service") from None


class RunningService:
    """A server answering in a background thread (the web process's embedded service, tests)."""

    def __init__(self, server: FuseRPCServer):
        self.server = server
        self.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                       name=f"fuse-rpc-{server.port}", daemon=True)
        self.thread.start()

    @property
    def host(self) -> str:
        return self.server.server_address[0]

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.server.service.kill_running()
        self.thread.join(timeout=5)


def start_in_thread(service: FuseService, host: str = DEFAULT_HOST, port: int = 0) -> RunningService:
    """Serve ``service`` from a daemon thread; port 0 picks a free port."""
    return RunningService(FuseRPCServer(service, host, port))
