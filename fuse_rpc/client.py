"""Calling the fuse service, and where to find it according to the server's settings.

Settings (all optional):

``vidjil.fuse_rpc_port``
    a port number: the service runs on its own (``vidjil-server fuse-rpc``, under
    supervisor); ``embedded``: the web process serves it from one of its threads;
    ``off``: no custom comparisons ("This server cannot fuse custom data").
    Unset: ``embedded`` with the in-process queue (``vidjil.broker_url = memory://``,
    the demo), else 6544.
``vidjil.fuse_rpc_host``
    where the service listens (127.0.0.1).
``vidjil.fuse_rpc_time_limit``
    seconds after which a fuse is killed (1200, what the browser waits).
``vidjil.fuse_rpc_max_concurrent``
    fuses run at the same time (the number of cores).
"""
from __future__ import annotations

import http.client
import socket
import xmlrpc.client
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .service import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_TIME_LIMIT, service_token

OFF, EMBEDDED, REMOTE = "off", "embedded", "remote"
_OFF_WORDS = frozenset({"off", "none", "disabled", "false", "no"})
# What the caller waits beyond the service's own time limit (queueing, transfer).
ANSWER_MARGIN_SECONDS = 30.0


class FuseServiceError(Exception):
    """The service refused the call or the fuse failed; ``code`` is the fault code, if any."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


class FuseServiceUnavailable(FuseServiceError):
    """No service is configured, or none answers at its address."""


class SettingsError(ValueError):
    """A fuse service setting has a value that means nothing."""


@dataclass(frozen=True)
class ServiceSettings:
    """How this installation reaches its fuse service."""

    mode: str  # OFF, EMBEDDED or REMOTE
    host: str = DEFAULT_HOST
    port: int | None = None
    time_limit: float = DEFAULT_TIME_LIMIT
    max_concurrent: int | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "ServiceSettings":
        host = str(settings.get("vidjil.fuse_rpc_host") or DEFAULT_HOST).strip()
        time_limit = _positive_number(settings.get("vidjil.fuse_rpc_time_limit"), DEFAULT_TIME_LIMIT,
                                      "vidjil.fuse_rpc_time_limit")
        concurrent = settings.get("vidjil.fuse_rpc_max_concurrent")
        max_concurrent = int(_positive_number(concurrent, 1, "vidjil.fuse_rpc_max_concurrent")) \
            if concurrent not in (None, "") else None
        raw = settings.get("vidjil.fuse_rpc_port")
        value = "" if raw is None else str(raw).strip().lower()
        if value == "":
            in_process = str(settings.get("vidjil.broker_url") or "").startswith("memory:")
            mode, port = (EMBEDDED, None) if in_process else (REMOTE, DEFAULT_PORT)
        elif value in _OFF_WORDS:
            mode, port = OFF, None
        elif value == EMBEDDED:
            mode, port = EMBEDDED, None
        elif value.isdigit() and 0 < int(value) < 65536:
            mode, port = REMOTE, int(value)
        else:
            raise SettingsError(f"vidjil.fuse_rpc_port must be a port number, 'embedded' or 'off', not {raw!r}")
        return cls(mode=mode, host=host, port=port, time_limit=time_limit, max_concurrent=max_concurrent)


def _positive_number(value: Any, default: float, name: str) -> float:
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be a positive number, not {value!r}") from None
    if number <= 0:
        raise SettingsError(f"{name} must be a positive number, not {value!r}")
    return number


class _TimeoutTransport(xmlrpc.client.Transport):
    """The standard transport, with a socket timeout (the stdlib's has none)."""

    def __init__(self, timeout: float):
        super().__init__(use_builtin_types=True)
        self.timeout = timeout

    def make_connection(self, host):
        connection = super().make_connection(host)
        connection.timeout = self.timeout
        return connection


class FuseClient:
    """One fuse service, reached at ``host:port`` with the server's secret."""

    def __init__(self, host: str, port: int, secret: str, time_limit: float = DEFAULT_TIME_LIMIT):
        self.address = f"{host}:{port}"
        self._token = service_token(secret)
        self._timeout = time_limit + ANSWER_MARGIN_SECONDS

    def _proxy(self) -> xmlrpc.client.ServerProxy:
        # a proxy per call: ServerProxy keeps one connection and is not thread-safe
        return xmlrpc.client.ServerProxy(f"http://{self.address}/RPC2", transport=_TimeoutTransport(self._timeout),
                                         allow_none=False, use_builtin_types=True)

    def fuse(self, stored_result_names: Sequence[str], pre_process_names: Sequence[str] | None = None,
             options: Mapping[str, Any] | None = None) -> str:
        """The merged document (JSON text) of these stored results.

        ``pre_process_names``: one per result, ``""`` where a result has none.
        Raises FuseServiceUnavailable when nothing answers, FuseServiceError otherwise.
        """
        names = list(stored_result_names)
        pre = list(pre_process_names) if pre_process_names is not None else [""] * len(names)
        try:
            with self._proxy() as proxy:
                return proxy.fuse(self._token, names, pre, dict(options or {}))
        except xmlrpc.client.Fault as fault:
            raise FuseServiceError(fault.faultString, fault.faultCode) from None
        except (socket.timeout, TimeoutError):
            raise FuseServiceError(f"the fuse service at {self.address} did not answer in time") from None
        except (ConnectionError, socket.gaierror) as exc:
            raise FuseServiceUnavailable(f"no fuse service answers at {self.address} ({exc})") from None
        except (xmlrpc.client.ProtocolError, http.client.HTTPException, OSError) as exc:
            raise FuseServiceError(f"the fuse service at {self.address} failed: {exc}") from None
