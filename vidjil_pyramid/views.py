"""Pages every browser session touches: entry, help, client log, health, errors."""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from urllib.parse import urlencode

from pyramid.httpexceptions import HTTPException
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import exception_view_config, forbidden_view_config, notfound_view_config, view_config
from . import legacy

log = logging.getLogger(__name__)
client_log = logging.getLogger("vidjil.client")


@view_config(route_name="default.index", permission=NO_PERMISSION_REQUIRED, safe=True)
def index(request):
    """A human landing on the server is sent to the browser."""
    browser_url = request.registry.settings.get("vidjil.browser_url", "/")
    return legacy.page(request, "vidjil_pyramid:templates/default/index.jinja2", {"browser_url": browser_url})


@view_config(route_name="default.home", permission=NO_PERMISSION_REQUIRED, safe=True)
def home(request):
    """Where the browser starts: the patient list (which asks anonymous users to log in)."""
    if _has_route(request, "sample_set.all"):
        target = request.route_url("sample_set.all", _query={"page": 0, "type": "patient"})
    else:
        target = request.route_url("default.help" if request.identity else "auth.login")
    return legacy.json_text({"redirect": target})


@view_config(route_name="default.help", permission=NO_PERMISSION_REQUIRED, safe=True)
def help_page(request):
    return legacy.page(request, "vidjil_pyramid:templates/default/help.jinja2", {})


class RateLimiter:
    """At most `per_minute` events per key in any sliding minute (per process)."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._events: dict[str, deque] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._events) > 10000:
                self._events.clear()
            events = self._events.setdefault(key, deque())
            while events and now - events[0] > 60:
                events.popleft()
            if len(events) >= self.per_minute:
                return False
            events.append(now)
            return True


LOG_LEVELS = {10, 20, 30, 40, 50}


@view_config(route_name="default.logger", permission=NO_PERMISSION_REQUIRED)
def logger(request):
    """Browser-side messages go to the server log: rate-limited, one escaped line each (W24)."""
    limiter = request.registry.get("vidjil.logger_limiter")
    if limiter is None:
        limiter = request.registry["vidjil.logger_limiter"] = RateLimiter(
            int(request.registry.settings.get("vidjil.logger_rate_per_minute", 60)))
    if limiter.allow(request.client_addr or "?"):
        try:
            level = int(request.params.get("lvl", 20))
        except ValueError:
            level = 20
        level = level if level in LOG_LEVELS else 20
        message = (request.params.get("msg") or "")[:2000]
        user = request.authenticated_userid
        client_log.log(level, "/client/ user=%s ip=%s: %r", user, request.client_addr, message)
    return legacy.Response(body=b"", content_type="text/html", charset="utf-8")


@view_config(route_name="health", permission=NO_PERMISSION_REQUIRED, safe=True)
@view_config(route_name="vidjil.health", permission=NO_PERMISSION_REQUIRED, safe=True)
def health(request):
    from .health import check_health

    report = check_health(request.registry.settings, request.registry["db_engine"], request.registry.get("broker"))
    return legacy.json_response(report, status=200 if report["ok"] else 503)


@view_config(route_name="static.checkssl", permission=NO_PERMISSION_REQUIRED, safe=True)
def check_ssl(request):
    """The browser loads this script to learn that the server's certificate is trusted."""
    return legacy.Response(body=b"sslCertTrusted = true;\n", content_type="application/javascript", charset="utf-8")


# --- errors ----------------------------------------------------------------------------------

@notfound_view_config()
def not_found(request):
    return legacy.Response(body=b"404", status=404, content_type="text/html", charset="utf-8")


@forbidden_view_config()
def forbidden(request):
    """Anonymous: send to the login page and come back; logged in: the original's refusal."""
    if request.identity is None:
        target = f"{request.application_url}/vidjil/default/user/login?{urlencode({'_next': request.url})}"
        return legacy.json_text({"redirect": target})
    message = getattr(request, "denied_message", None) or "access denied"
    return legacy.json_text({"message": message})


@exception_view_config(HTTPException)
def http_exception(exc, request):
    return exc


@exception_view_config(Exception)
def server_error(exc, request):
    """No traceback ever reaches the client; it goes to the log."""
    log.exception("server error on %s %s", request.method, request.path_qs)
    return legacy.Response(body=b"Server error", status=500, content_type="text/html", charset="utf-8")


def _has_route(request, name: str) -> bool:
    return request.registry.introspector.get("routes", name) is not None


def includeme(config) -> None:
    config.add_legacy_routes("default", ["index", "home", "help", "logger"])
    config.add_route("vidjil.health", "/vidjil/health/index")
    config.add_route("health", "/_health")
    config.add_route("static.checkssl", "/vidjil/static/js/checkSSL.js")
