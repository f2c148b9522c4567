"""Who is asking, and may they? Decided here, for every view.

Views name a permission (`login`, `admin`, or an object permission such as
`view`, `modify`, `upload`, `run`, `save` checked against their context);
the default permission is `login`, so a view must opt out explicitly to be
public. Object contexts implement `permits(request, permission) -> bool`
by asking the permission service (`request.permissions`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyramid.security import Allowed, Denied
from pyramid.security import NO_PERMISSION_REQUIRED  # noqa: F401  (re-exported for views)

from .auth import sessions
from .auth.models import User, WebSession
from .settings import as_bool

LOGIN = "login"
ADMIN = "admin"


@dataclass
class Identity:
    user: User
    session: WebSession

    @property
    def id(self) -> int:
        return self.user.id


class RootContext:
    """Context of views that act on no particular object."""

    def __init__(self, request):
        self.request = request


class VidjilSecurityPolicy:
    def identity(self, request) -> Identity | None:
        token = request.cookies.get(sessions.COOKIE_NAME)
        if not token:
            return None
        max_age = int(request.registry.settings.get("vidjil.session_max_age", 604800))
        row = sessions.find_session(request.dbsession, token, max_age)
        if row is None:
            return None
        user = request.dbsession.get(User, row.user_id)
        if user is None or not user.is_active:
            return None
        return Identity(user=user, session=row)

    def authenticated_userid(self, request) -> int | None:
        identity = request.identity
        return identity.id if identity else None

    def permits(self, request, context, permission: str):
        identity = request.identity
        if identity is None:
            return Denied("login required")
        if permission == LOGIN:
            return Allowed("logged in")
        if permission == ADMIN:
            return Allowed("admin") if request.permissions.is_admin else Denied("admin only")
        checker = getattr(context, "permits", None)
        if checker is not None and checker(request, permission):
            return Allowed(permission)
        return Denied(permission)

    def remember(self, request, userid: Any, **kw) -> list[tuple[str, str]]:
        """Open a new session (a new id at every login) and set its cookie."""
        token = sessions.open_session(request.dbsession, int(userid), request.client_addr,
                                      impersonator_id=kw.get("impersonator_id"))
        old = request.cookies.get(sessions.COOKIE_NAME)
        if old:
            sessions.close_session(request.dbsession, old)
        return [("Set-Cookie", _cookie(request, token))]

    def forget(self, request, **kw) -> list[tuple[str, str]]:
        sessions.close_session(request.dbsession, request.cookies.get(sessions.COOKIE_NAME))
        return [("Set-Cookie", _cookie(request, "", expire=True))]


def _cookie(request, value: str, expire: bool = False) -> str:
    settings = request.registry.settings
    parts = [f"{sessions.COOKIE_NAME}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if expire:
        parts.append("Max-Age=0")
    else:
        parts.append(f"Max-Age={int(settings.get('vidjil.session_max_age', 604800))}")
    if request.scheme == "https" or as_bool(settings.get("vidjil.require_https")):
        parts.append("Secure")
    return "; ".join(parts)


def _permissions(request):
    from .auth.permissions import Permissions

    identity = request.identity
    return Permissions(request.dbsession, identity.id if identity else None)


def includeme(config) -> None:
    config.set_security_policy(VidjilSecurityPolicy())
    config.set_default_permission(LOGIN)
    config.set_root_factory(RootContext)
    config.add_request_method(_permissions, "permissions", reify=True)
