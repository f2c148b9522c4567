"""Login and logout as both client eras do it, and `whoami`.

web2py era: `default/user/login` (form `#login_form`, 303 answers),
`default/user/logout`, `default/user/register` (admins only).
py4web era: `auth/login`, `auth/submit` (JSON-text answer), `auth/logout`.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from pyramid.httpexceptions import HTTPNotFound, HTTPSeeOther
from pyramid.security import NO_PERMISSION_REQUIRED, forget, remember
from pyramid.view import view_config
from sqlalchemy import select

from .. import legacy
from ..settings import as_list
from . import login as login_service
from . import tokens
from .models import Group, Membership, Permission, User
from .services import AccountError, NewUser, create_user

DEFAULT_NEXT = "/vidjil/default/home"


def _secret(request) -> str:
    return request.registry.settings["vidjil.secret"]


def _session_binding(request) -> str:
    identity = request.identity
    return identity.session.id if identity else ""


def form_key(request, form: str) -> str:
    return tokens.make_form_key(_secret(request), form, _session_binding(request))


def form_key_is_valid(request, form: str) -> bool:
    return tokens.check_form_key(_secret(request), form, request.params.get("_formkey"),
                                 _session_binding(request))


def safe_next(request, value: str | None) -> str:
    """Only our own pages or an allowed origin's: never an open redirect."""
    if not value:
        return DEFAULT_NEXT
    parts = urlsplit(value)
    if not parts.scheme and not parts.netloc and value.startswith("/") and not value.startswith("//"):
        return value
    if parts.scheme in ("http", "https") and legacy.is_trusted_origin(request, f"{parts.scheme}://{parts.netloc}"):
        return value
    return DEFAULT_NEXT


def _no_user(request) -> bool:
    return request.dbsession.scalar(select(User.id).limit(1)) is None


def _max_failures(request) -> int:
    return int(request.registry.settings.get("vidjil.login_max_failures", 5))


def _home_redirect(request) -> dict:
    return {"redirect": request.route_url("default.home")}


# --- web2py era ------------------------------------------------------------------------------

@view_config(route_name="default.user", permission=NO_PERMISSION_REQUIRED)
def default_user(request):
    action = request.legacy_args[0] if request.legacy_args else "login"
    if action == "login":
        return web2py_login(request)
    if action == "logout":
        return web2py_logout(request)
    if action == "register":
        return register(request)
    raise HTTPNotFound()


def web2py_login(request):
    # The browser POSTs an empty body to open any panel page, this one included:
    # only a form submission (with its _formname) is a login attempt.
    if request.method != "POST" or "_formname" not in request.POST:
        if request.identity is not None:
            return legacy.json_text(_home_redirect(request))
        return legacy.page(request, "vidjil_pyramid:templates/default/user_login.jinja2", {
            "next": safe_next(request, request.params.get("_next")),
            "formkey": form_key(request, "login"),
            "no_user": _no_user(request),
            "message": None,
        })
    if not form_key_is_valid(request, "login"):
        return HTTPSeeOther(location="/vidjil/default/user/login")
    result = login_service.authenticate(request.dbsession, request.params.get("email"),
                                        request.params.get("password"), request.client_addr,
                                        _max_failures(request))
    if result.user is None:
        return HTTPSeeOther(location="/vidjil/default/user/login")
    headers = remember(request, result.user.id)
    return HTTPSeeOther(location=safe_next(request, request.params.get("_next")), headers=headers)


def web2py_logout(request):
    identity = request.identity
    if identity is not None:
        login_service.record_logout(request.dbsession, identity.id, request.client_addr)
    return HTTPSeeOther(location="/vidjil/default/index", headers=forget(request))


def register(request):
    """Account creation, for admins only (W13)."""
    identity = request.identity
    if identity is None or not request.permissions.is_admin:
        return legacy.json_text({"message": "you need to be admin and logged to add new users"})
    values = {k: request.params.get(k, "") for k in ("first_name", "last_name", "email")}
    template = "vidjil_pyramid:templates/default/register.jinja2"
    if request.method != "POST":
        return legacy.page(request, template, {"values": values, "formkey": form_key(request, "register"), "message": None})
    if not form_key_is_valid(request, "register"):
        return legacy.error("the form has expired, please reload it", status=403)
    if request.params.get("password") != request.params.get("password_two"):
        message = "passwords do not match"
    else:
        try:
            user = create_user(request.dbsession, NewUser(password=request.params.get("password", ""), **values))
        except AccountError as exc:
            message = str(exc)
        else:
            return legacy.json_text({"redirect": "back", "message": f"{user.email} ({user.id}) user added",
                                     "user_id": user.id})
    return legacy.page(request, template, {"values": values, "formkey": form_key(request, "register"), "message": message})


# --- py4web era ------------------------------------------------------------------------------

@view_config(route_name="auth.login", permission=NO_PERMISSION_REQUIRED, safe=True)
def auth_login(request):
    if request.identity is not None:
        return legacy.json_text({"redirect": "/vidjil/default/home.html"})
    return legacy.page(request, "vidjil_pyramid:templates/auth/login.jinja2", {
        "formkey": form_key(request, "login"), "no_user": _no_user(request),
    })


@view_config(route_name="auth.submit", permission=NO_PERMISSION_REQUIRED)
def auth_submit(request):
    if not form_key_is_valid(request, "login"):
        return legacy.json_text({"redirect": None, "error": "the login form has expired, please reload it",
                                 "success": "false", "message": "the login form has expired, please reload it"})
    email = request.params.get("login") or request.params.get("email")
    result = login_service.authenticate(request.dbsession, email, request.params.get("password"),
                                        request.client_addr, _max_failures(request))
    if result.user is None:
        return legacy.json_text({"redirect": None, "error": result.error, "success": "false",
                                 "message": result.error})
    response = legacy.json_text({"redirect": "/vidjil/default/home.html", "error": None,
                                 "user_id": result.user.id, "user_email": result.user.email})
    response.headerlist.extend(remember(request, result.user.id))
    return response


@view_config(route_name="auth.logout", permission=NO_PERMISSION_REQUIRED)
def auth_logout(request):
    identity = request.identity
    if identity is not None:
        login_service.record_logout(request.dbsession, identity.id, request.client_addr)
    response = legacy.json_text({"redirect": "/vidjil/default/home.html"})
    response.headerlist.extend(forget(request))
    return response


# --- whoami ----------------------------------------------------------------------------------

def creation_groups(request, user_id: int) -> list[dict]:
    """The user's groups holding `create` on sample sets: where they may create sets."""
    rows = request.dbsession.execute(
        select(Group.id, Group.role, Group.description)
        .join(Membership, Membership.group_id == Group.id)
        .join(Permission, Permission.group_id == Group.id)
        .where(Membership.user_id == user_id, Permission.name == "create",
               Permission.table_name == "sample_set", Permission.record_id == 0)
        .distinct().order_by(Group.id)
    ).all()
    return [{"id": gid, "role": role, "description": description} for gid, role, description in rows]


@view_config(route_name="default.whoami", permission=NO_PERMISSION_REQUIRED, safe=True)
def whoami(request):
    """The current user, without any secret (W26); `{}` for anonymous visitors."""
    identity = request.identity
    data: dict = {}
    if identity is not None:
        user = identity.user
        data = {
            "id": user.id, "email": user.email, "first_name": user.first_name,
            "last_name": user.last_name, "admin": request.permissions.is_admin,
            "groups": creation_groups(request, user.id),
        }
    if request.environ.get("vidjil.extension") == "json":
        data["ignored_fields"] = []
    return legacy.json_response(data)


def includeme(config) -> None:
    config.add_legacy_routes("default", ["user", "whoami"])
    config.add_legacy_routes("auth", ["login", "submit", "logout"])
    config.include(".account_views")
