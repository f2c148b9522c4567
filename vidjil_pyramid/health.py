"""Health report for load balancers and operators: database, broker, disk."""
from __future__ import annotations

import shutil
from typing import Any

from sqlalchemy import text

MIN_FREE_BYTES = 1 << 30  # below 1 GiB free on the data volume, uploads would fail


def check_health(settings: dict, engine, broker=None) -> dict[str, Any]:
    report: dict[str, Any] = {}
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        report["database"] = {"ok": True}
    except Exception as exc:  # any driver error means "down"
        report["database"] = {"ok": False, "error": exc.__class__.__name__}

    if broker is not None:
        try:
            report["broker"] = {"ok": True, **broker.health()}
        except Exception as exc:
            report["broker"] = {"ok": False, "error": str(exc)[:200]}
    else:
        report["broker"] = _check_broker_url(settings.get("vidjil.broker_url", ""))

    try:
        usage = shutil.disk_usage(settings["vidjil.data_dir"])
        report["disk"] = {"ok": usage.free >= MIN_FREE_BYTES, "free_bytes": usage.free, "total_bytes": usage.total}
    except OSError as exc:
        report["disk"] = {"ok": False, "error": exc.strerror}
    report["ok"] = all(part["ok"] for part in report.values())
    return report


def _redacted(url: str) -> str:
    """A broker URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def _check_broker_url(url: str) -> dict[str, Any]:
    """The in-process queue is always up; RabbitMQ must accept a connection."""
    if not url.startswith("amqp"):
        return {"ok": True, "url": _redacted(url)}
    import pika

    try:
        params = pika.URLParameters(url)
        params.socket_timeout = 3
        params.connection_attempts = 1
        params.blocked_connection_timeout = 3
        pika.BlockingConnection(params).close()
        return {"ok": True, "url": _redacted(url)}
    except Exception as exc:
        return {"ok": False, "url": _redacted(url), "error": exc.__class__.__name__}
