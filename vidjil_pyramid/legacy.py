"""The web2py URL and answer conventions the unchanged clients rely on.

- URL quirks: `//` collapsed, optional `.html`, `.json` selecting a JSON answer,
  a missing function meaning `index`, extra path segments kept as `request.legacy_args`.
- JSON read by the browser is served as text (jQuery must not auto-parse it).
- Credentialed CORS for an allow-list of origins only (not every origin: W23).
- State-changing requests must come from our own origin or an allowed one (W23).
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any, Iterable
from urllib.parse import urlsplit

from pyramid.httpexceptions import HTTPForbidden
from pyramid.renderers import render_to_response
from pyramid.response import Response

from .settings import as_list

log = logging.getLogger(__name__)

PREFIX = "/vidjil"
_SEGMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NO_CACHE = "no-store, no-cache, must-revalidate, post-check=0, pre-check=0"


def normalise_path(path: str) -> tuple[str, str, list[str]]:
    """(path to route, extension, extra args) for a legacy `/vidjil/...` URL."""
    path = re.sub(r"/{2,}", "/", path)
    if path != PREFIX and not path.startswith(PREFIX + "/"):
        return path, "", []
    parts = [p for p in path[len(PREFIX):].split("/") if p]
    if parts and parts[0] == "static":
        return path, "", []
    # the browser's `vidjil/vidjil` fix, applied server-side too
    while parts and parts[0] == "vidjil":
        parts.pop(0)
    if not parts:
        parts = ["default", "index"]
    elif len(parts) == 1:
        parts.append("index")
    controller, function, args = parts[0], parts[1], parts[2:]
    extension = ""
    for ext in (".html", ".json"):
        if function.endswith(ext):
            function, extension = function[: -len(ext)], ext[1:]
    if controller.endswith(".html"):
        controller = controller[:-5]
    return f"{PREFIX}/{controller}/{function}", extension, args


def legacy_url_tween_factory(handler, registry):
    def legacy_url_tween(request):
        original = request.path_info
        if original.startswith(PREFIX) or original.startswith("//"):
            path, extension, args = normalise_path(original)
            request.environ["vidjil.extension"] = extension
            request.environ["vidjil.args"] = args
            request.path_info = path
        return handler(request)

    return legacy_url_tween


def wants_json(request) -> bool:
    """`.json` URLs and the API client's `format=json` get the page's data as JSON."""
    return request.environ.get("vidjil.extension") == "json" or request.params.get("format") == "json"


def legacy_args(request) -> list[str]:
    return request.environ.get("vidjil.args", [])


def json_text(data: Any, status: int = 200) -> Response:
    """JSON the browser parses itself: served as text/html like web2py's string returns."""
    return Response(
        body=json.dumps(data, default=str).encode("utf-8"),
        status=status, content_type="text/html", charset="utf-8",
    )


def json_response(data: Any, status: int = 200) -> Response:
    return Response(
        body=json.dumps(data, default=str).encode("utf-8"),
        status=status, content_type="application/json", charset="utf-8",
    )


def error(message: str, status: int = 200, **extra: Any) -> Response:
    return json_text({"success": "false", "message": message, **extra}, status=status)


def page(request, template: str, values: dict[str, Any]) -> Response:
    """A fragment, or its data as JSON for `.json` / `format=json` callers."""
    if wants_json(request):
        public = {k: v for k, v in values.items() if not k.startswith("_")}
        return json_response(public)
    return render_to_response(template, values, request=request)


# --- origins -------------------------------------------------------------------------------

def _origin_of(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins(request) -> frozenset[str]:
    cached = request.registry.get("vidjil.allowed_origins")
    if cached is None:
        cached = frozenset(o.rstrip("/").lower() for o in as_list(request.registry.settings.get("vidjil.allowed_origins")))
        request.registry["vidjil.allowed_origins"] = cached
    return cached


def is_trusted_origin(request, origin: str | None) -> bool:
    if not origin:
        return False
    origin = origin.rstrip("/").lower()
    own = _origin_of(request.host_url)
    return origin == own or origin in allowed_origins(request)


def cross_origin_refusal(request) -> str | None:
    """Why a state-changing request looks forged by another site, or None.

    Browsers always send `Origin` on cross-origin POSTs and `Sec-Fetch-Site` on
    everything; clients without either (the API client, curl) are not browsers
    and cannot be driven by another site, so they pass.
    """
    origin = request.headers.get("Origin")
    if origin is not None:
        if origin == "null" or not is_trusted_origin(request, origin):
            return f"requests from {origin} are not allowed"
        return None
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site == "cross-site":
        return "cross-site requests are not allowed"
    referer_origin = _origin_of(request.headers.get("Referer"))
    if referer_origin is not None and fetch_site is None and not is_trusted_origin(request, referer_origin):
        return f"requests from {referer_origin} are not allowed"
    return None


def origin_check_deriver(view, info):
    """Every view that changes state (the default) refuses forged cross-site requests.

    Read-only views declare `safe=True` in their view_config.
    """
    if info.options.get("safe"):
        return view

    def checked(context, request):
        reason = cross_origin_refusal(request)
        if reason:
            log.warning("refused %s %s: %s", request.method, request.path, reason)
            return error(reason, status=403)
        return view(context, request)

    return checked


origin_check_deriver.options = ("safe",)


def add_response_headers(event) -> None:
    request, response = event.request, event.response
    origin = request.headers.get("Origin")
    if origin and is_trusted_origin(request, origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Max-Age"] = "86400"
        response.vary = tuple(set((response.vary or ()) + ("Origin",)))
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = NO_CACHE
        response.headers["Pragma"] = "no-cache"
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")


def preflight_tween_factory(handler, registry):
    """Answer CORS preflights for allowed origins without running any view."""

    def preflight_tween(request):
        if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
            origin = request.headers.get("Origin")
            response = Response(status=200 if is_trusted_origin(request, origin) else 403)
            if is_trusted_origin(request, origin):
                response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
                response.headers["Access-Control-Allow-Headers"] = "Content-Type"
            return response
        return handler(request)

    return preflight_tween


def add_legacy_routes(config, controller: str, functions: Iterable[str], factory=None) -> None:
    """Declare `/vidjil/<controller>/<function>` routes named `<controller>.<function>`.

    `factory` builds the context whose `permits()` decides the object permissions.
    """
    for function in functions:
        assert _SEGMENT.match(function), function
        config.add_route(f"{controller}.{function}", f"{PREFIX}/{controller}/{function}", factory=factory)


def includeme(config) -> None:
    config.add_tween("vidjil_pyramid.legacy.legacy_url_tween_factory")
    config.add_tween("vidjil_pyramid.legacy.preflight_tween_factory")
    config.add_view_deriver(origin_check_deriver)
    config.add_subscriber(add_response_headers, "pyramid.events.NewResponse")
    config.add_request_method(wants_json, "wants_json", reify=True)
    config.add_request_method(legacy_args, "legacy_args", reify=True)
    config.add_directive("add_legacy_routes", add_legacy_routes)
