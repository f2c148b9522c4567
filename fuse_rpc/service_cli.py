"""`vidjil-server fuse-rpc`: run the fuse service (custom comparisons) in the foreground.

Meant to run under supervisor next to the web server; see ``fuse_rpc.client`` for
the settings it reads and ``docs/fuse.md`` ("Fuse service").
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import Any, Callable

from .client import SettingsError, ServiceSettings
from .service import DEFAULT_PORT, FuseRPCServer, FuseService, program_from_setting

log = logging.getLogger(__name__)


class _Stop(Exception):
    """SIGTERM (supervisor stopping the program): leave serve_forever and clean up."""


def _fail(message: str) -> int:
    print(f"vidjil-server fuse-rpc: {message}", file=sys.stderr)
    return 2


def build_service(settings: dict[str, Any]) -> tuple[FuseService, ServiceSettings]:
    """The service as the settings describe it (ValueError when they cannot work)."""
    service_settings = ServiceSettings.from_settings(settings)
    tmp_dir = settings.get("vidjil.tmp_dir")
    service = FuseService(
        settings["vidjil.results_dir"], str(settings.get("vidjil.secret") or ""),
        time_limit=service_settings.time_limit,
        work_dir=Path(tmp_dir) / "fuse-rpc" if tmp_dir else None,
        program=program_from_setting(settings.get("vidjil.fuse_program")),
        max_concurrent=service_settings.max_concurrent,
    )
    return service, service_settings


def cmd_fuse_rpc(ctx) -> int:
    args = ctx.args
    try:
        service, service_settings = build_service(ctx.settings)
    except (SettingsError, ValueError, KeyError) as exc:
        return _fail(str(exc))
    host = args.host or service_settings.host
    port = args.port if args.port is not None else (service_settings.port or DEFAULT_PORT)
    try:
        server = FuseRPCServer(service, host, port)
    except OSError as exc:
        return _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("the fuse service listens on %s: keep that port closed to other machines", host)

    def stop(_signum, _frame):
        raise _Stop()

    previous = signal.signal(signal.SIGTERM, stop)
    print(f"fuse service on http://{host}:{server.port}/RPC2 (results in {service.results_dir}, "
          f"time limit {service.time_limit:g} s)", flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except (_Stop, KeyboardInterrupt):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()
        killed = service.kill_running()
        if killed:
            log.warning("%d fuse(s) in progress were stopped", killed)
    return 0


def register(subparsers, add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("fuse-rpc", cmd_fuse_rpc, "serve custom comparisons of results (the XML-RPC fuse service)")
    p.add_argument("--host", help="address to listen on (vidjil.fuse_rpc_host, 127.0.0.1)")
    p.add_argument("--port", type=int, help=f"port (vidjil.fuse_rpc_port, {DEFAULT_PORT})")
    p.add_argument("--data-dir", dest="data_dir_sub", help=argparse.SUPPRESS)
