"""`user/*`, `group/*`, `default/impersonate` and `default/stop_impersonate`, and the account bar.

Users: admins see every account; others see and edit only their own (W11), and
change their own password only with the current one (W29). Groups: admins, or
the managers of a group (W12). Impersonation: whoever holds the `impersonate`
right, through a new session that remembers the impersonator.
"""
from __future__ import annotations

from dataclasses import asdict
from functools import cached_property

from pyramid.events import BeforeRender
from pyramid.security import forget, remember
from pyramid.view import view_config
from sqlalchemy import select

from .. import legacy
from ..admin import accounts, impersonation
from ..admin.contexts import parse_id
from ..admin.view_helpers import checked_form, html_text, with_form_key
from ..security import ADMIN
from . import groups as group_service
from .models import Group, User
from .permissions import Permissions

T = "vidjil_pyramid:templates/"
VIEW, MODIFY, LIST, IMPERSONATE = "view", "modify", "list", "impersonate"
USER_FORM, GROUP_FORM = "user", "group"


# --- contexts --------------------------------------------------------------------------------

class UserContext:
    """A request about one account (`id`): `view` it (admins, or oneself: W11) or `modify` it."""

    def __init__(self, request):
        self.request = request
        self.user_id = parse_id(request.params.get("id"))

    @property
    def user(self) -> User | None:
        return self.request.dbsession.get(User, self.user_id) if self.user_id else None

    def permits(self, request, permission: str) -> bool:
        perms = request.permissions
        if self.user_id is None or self.user is None:
            return False
        if permission == VIEW:
            return perms.is_admin or self.user_id == perms.user_id
        if permission == MODIFY:
            return perms.can_modify_user(self.user_id)
        return False


class OwnAccountContext(UserContext):
    """`user/info`: without `id`, the page is about oneself."""

    def __init__(self, request):
        super().__init__(request)
        if request.params.get("id") in (None, ""):
            self.user_id = request.authenticated_userid


class GroupContext:
    """A request about one group (`id` or `group_id`): `view` or `modify` it."""

    def __init__(self, request):
        self.request = request
        self.group_id = parse_id(request.params.get("id") or request.params.get("group_id"))

    @property
    def group(self) -> Group | None:
        return self.request.dbsession.get(Group, self.group_id) if self.group_id else None

    def permits(self, request, permission: str) -> bool:
        perms = request.permissions
        if self.group_id is None:
            return False
        if permission == VIEW:
            return perms.can_view_group(self.group_id)
        if permission == MODIFY:
            return perms.can_modify_group(self.group_id)
        return False


class GroupListContext:
    """The group list: admins see every group, others the groups they may view, if any (W12)."""

    def __init__(self, request):
        self.request = request

    @cached_property
    def visible_group_ids(self) -> list[int] | None:
        """None for admins (every group)."""
        perms = self.request.permissions
        if perms.is_admin:
            return None
        candidates = group_service.groups_reached_by(self.request.dbsession, perms.group_ids | perms.parent_ids)
        return [gid for gid in candidates if perms.can_view_group(gid)]

    def permits(self, request, permission: str) -> bool:
        return permission == LIST and (request.permissions.is_admin or bool(self.visible_group_ids))


def _real_user_id(request) -> int | None:
    """Who is really at the keyboard: the impersonator while impersonating."""
    identity = request.identity
    if identity is None:
        return None
    return identity.session.impersonator_id or identity.id


class ImpersonationContext:
    """`id`: the account to act as; 0 (or one's own id) means "be myself again"."""

    def __init__(self, request):
        self.request = request
        raw = (request.params.get("id") or "").strip()
        self.stop = raw in ("", "0")
        self.target_id = None if self.stop else parse_id(raw)

    def permits(self, request, permission: str) -> bool:
        if permission != IMPERSONATE or request.identity is None:
            return False
        real = _real_user_id(request)
        if self.stop or self.target_id == real:
            return True
        if self.target_id is None:
            return False
        perms = request.permissions if real == request.identity.id else Permissions(request.dbsession, real)
        return perms.can_impersonate(self.target_id)


# --- users -----------------------------------------------------------------------------------

@view_config(route_name="user.index", permission=ADMIN, safe=True)
def user_index(request):
    """Every account, for admins only (W11)."""
    sort = request.params.get("sort") if request.params.get("sort") in accounts.SORTS else "id"
    reverse = request.params.get("reverse") == "true" and sort != "id"
    db = request.dbsession
    user_ids = list(db.scalars(select(User.id)))
    can_create = {uid: Permissions(db, uid).can_create_sample_set() for uid in user_ids}
    rows = accounts.user_rows(db, can_create, sort, reverse)
    return legacy.page(request, T + "user/index.jinja2", {
        "query": [asdict(row) for row in rows], "sort": sort, "reverse": reverse,
    })


def _user_form_page(request, user: User):
    values = {
        "message": "Edit user",
        "user": {"id": user.id, "first_name": user.first_name, "last_name": user.last_name, "email": user.email},
        "_editing_self": user.id == request.authenticated_userid,
    }
    return legacy.page(request, T + "user/edit.jinja2", with_form_key(request, USER_FORM, values))


@view_config(route_name="user.edit", permission=MODIFY, safe=True)
def user_edit(request):
    return _user_form_page(request, request.context.user)


@view_config(route_name="user.edit_form", permission=MODIFY)
def user_edit_form(request):
    """Names, e-mail, password; one's own password only with the current one (W29)."""
    refused = checked_form(request, USER_FORM)
    if refused:
        return refused
    user = request.context.user
    identity = request.identity
    try:
        accounts.update_profile(request.dbsession, user, accounts.ProfileForm.from_params(request.params),
                                by_self=user.id == identity.id, keep_session_id=identity.session.id,
                                client_ip=request.client_addr)
    except accounts.AccountFormError as exc:
        return legacy.error(str(exc))
    return legacy.json_text({"redirect": "back", "message": f"{html_text(user.email)} ({user.id}) user edited"})


@view_config(route_name="user.info", permission=VIEW, safe=True)
def user_info(request):
    """An account's groups; without `id`, one's own. Others' accounts are for admins only (W11)."""
    user = request.context.user
    target = Permissions(request.dbsession, user.id)
    rows = [{"id": gid, "role": role, "owner": target.can_modify_group(gid)}
            for gid, role in accounts.user_groups(request.dbsession, user.id)]
    return legacy.page(request, T + "user/info.jinja2", {
        "message": "user info",
        "user": {"id": user.id, "first_name": user.first_name, "last_name": user.last_name},
        "groups": rows,
        "_is_admin": request.permissions.is_admin,
    })


# --- groups ----------------------------------------------------------------------------------

@view_config(route_name="group.index", permission=LIST, safe=True)
def group_index(request):
    perms = request.permissions
    rows = group_service.group_rows(request.dbsession, request.context.visible_group_ids)
    return legacy.page(request, T + "group/index.jinja2", {
        "message": "Groups",
        "query": [asdict(row) for row in rows],
        "_modifiable": {row.id for row in rows if perms.can_modify_group(row.id)},
        "_is_admin": perms.is_admin,
    })


def _group_dict(group: Group) -> dict:
    return {"id": group.id, "role": group.role, "description": group.description}


@view_config(route_name="group.add", permission=ADMIN, safe=True)
def group_add(request):
    """Creating groups is for admins only (W12)."""
    groups = request.dbsession.execute(select(Group.id, Group.role).order_by(Group.role)).all()
    values = {"message": "New group", "groups": [{"id": gid, "role": role} for gid, role in groups]}
    return legacy.page(request, T + "group/add.jinja2", with_form_key(request, GROUP_FORM, values))


@view_config(route_name="group.add_form", permission=ADMIN)
def group_add_form(request):
    refused = checked_form(request, GROUP_FORM)
    if refused:
        return refused
    parent = request.params.get("group_parent")
    parent_id = None if parent in (None, "", "None") else parse_id(parent)
    if parent not in (None, "", "None") and parent_id is None:
        return legacy.error("unknown parent group")
    try:
        group = group_service.create_group(request.dbsession, request.authenticated_userid,
                                           request.params.get("group_name"), request.params.get("info"), parent_id)
    except group_service.GroupError as exc:
        return legacy.error(html_text(exc))
    return legacy.json_text({"redirect": "group/index",
                             "message": f"group '{group.id}' ({html_text(group.role)}) created"})


@view_config(route_name="group.edit", permission=MODIFY, safe=True)
def group_edit(request):
    values = {"message": "Edit group", "group": _group_dict(request.context.group)}
    return legacy.page(request, T + "group/edit.jinja2", with_form_key(request, GROUP_FORM, values))


@view_config(route_name="group.edit_form", permission=MODIFY)
def group_edit_form(request):
    refused = checked_form(request, GROUP_FORM)
    if refused:
        return refused
    group = request.context.group
    try:
        group_service.update_group(request.dbsession, group, request.params.get("group_name"),
                                   request.params.get("info"))
    except group_service.GroupError as exc:
        return legacy.error(html_text(exc))
    return legacy.json_text({"redirect": "group/index", "message": f"group '{group.id}' modified"})


@view_config(route_name="group.confirm", permission=MODIFY, safe=True)
def group_confirm(request):
    group = request.context.group
    return legacy.page(request, T + "group/confirm.jinja2", {
        "message": "confirm group deletion", "group": _group_dict(group),
        "protected": group_service.is_protected(group),
    })


@view_config(route_name="group.delete", permission=MODIFY)
def group_delete(request):
    group = request.context.group
    group_id = group.id
    try:
        group_service.delete_group(request.dbsession, group)
    except group_service.GroupError as exc:
        return legacy.error(html_text(exc))
    return legacy.json_text({"redirect": "group/index", "message": f"group '{group_id}' deleted"})


@view_config(route_name="group.info", permission=VIEW, safe=True)
def group_info(request):
    group = request.context.group
    perms = request.permissions
    may_modify = perms.can_modify_group(group.id)
    return legacy.page(request, T + "group/info.jinja2", {
        "message": "group info",
        "group": _group_dict(group),
        "rights": sorted(group_service.group_rights(request.dbsession, group.id)),
        "members": [asdict(row) for row in group_service.members(request.dbsession, group.id)],
        "_all_rights": group_service.SET_RIGHTS,
        "_can_set_rights": perms.is_admin,
        "_can_modify": may_modify,
        "_invitable": group_service.user_choices(request.dbsession) if may_modify else [],
    })


@view_config(route_name="group.rights", permission=ADMIN)
def group_rights(request):
    """Give or take one sample-set right of a group (admins only)."""
    group = request.context.group
    if group is None:
        return legacy.error("no such group")
    right = request.params.get("right") or ""
    table = request.params.get("name") or "sample_set"
    if table != "sample_set":
        return legacy.error("rights are only given on sample sets")
    enabled = request.params.get("value") == "true"
    try:
        group_service.set_right(request.dbsession, group, right, enabled)
    except group_service.GroupError as exc:
        return legacy.error(html_text(exc))
    verb = "add" if enabled else "remove"
    return legacy.json_text({"redirect": "group/info", "args": {"id": group.id},
                             "message": f"{verb} '{html_text(right)}' permission on 'sample_set' "
                                        f"for group {html_text(group.role)}"})


def _member_change(request, change, message: str):
    group = request.context.group
    user_id = parse_id(request.params.get("user_id"))
    if user_id is None:
        return legacy.error("incomplete request : missing user_id")
    try:
        change(request.dbsession, group, user_id)
    except group_service.GroupError as exc:
        return legacy.error(html_text(exc))
    return legacy.json_text({"redirect": "group/info", "args": {"id": group.id},
                             "message": message.format(user=user_id, group=group.id)})


@view_config(route_name="group.invite", permission=MODIFY)
def group_invite(request):
    return _member_change(request, group_service.add_member, "user '{user}' added to group '{group}'")


@view_config(route_name="group.kick", permission=MODIFY)
def group_kick(request):
    return _member_change(request, group_service.remove_member, "user '{user}' removed from group '{group}'")


@view_config(route_name="group.change_permission", permission=MODIFY)
def group_change_permission(request):
    """Make a user an owner (manager) of the group."""
    return _member_change(request, lambda db, group, uid: group_service.set_owner(db, group, uid, True),
                          "user '{user}' is now owner of the group '{group}'")


@view_config(route_name="group.remove_permission", permission=MODIFY)
def group_remove_permission(request):
    return _member_change(request, lambda db, group, uid: group_service.set_owner(db, group, uid, False),
                          "user '{user}' is not anymore owner of the group '{group}'")


# --- impersonation ---------------------------------------------------------------------------

def _after_switch(request, headers):
    """Reload the page, except admin pages, which the new user may not see: go home then."""
    target = {"redirect": "reload"}
    if "admin" in (request.params.get("next") or ""):
        target = {"redirect": request.route_url("default.home")}
    response = legacy.json_text(target)
    response.headerlist.extend(headers)
    return response


def _stop(request):
    """Back to the impersonator's own session, or logged out if that account is gone."""
    identity = request.identity
    impersonator_id = identity.session.impersonator_id
    if impersonator_id is None:
        return []
    impersonation.record_stop(request.dbsession, impersonator_id, identity.id, request.client_addr)
    if impersonation.active_user(request.dbsession, impersonator_id) is None:
        return forget(request)
    return remember(request, impersonator_id)


@view_config(route_name="default.impersonate", permission=IMPERSONATE)
def impersonate(request):
    """Act as another user (`id`), or stop (`id=0`)."""
    context = request.context
    real_id = _real_user_id(request)
    if context.stop or context.target_id == real_id:
        return _after_switch(request, _stop(request))
    target = impersonation.active_user(request.dbsession, context.target_id)
    if target is None:
        return legacy.error(f"no active user {context.target_id}")
    if request.identity.session.impersonator_id is not None:
        impersonation.record_stop(request.dbsession, real_id, request.identity.id, request.client_addr)
    impersonation.record_start(request.dbsession, real_id, target.id, request.client_addr)
    return _after_switch(request, remember(request, target.id, impersonator_id=real_id))


@view_config(route_name="default.stop_impersonate")
def stop_impersonate(request):
    response = legacy.json_text({"redirect": "reload"})
    response.headerlist.extend(_stop(request))
    return response


# --- the account bar of every fragment (#db_auth) ------------------------------------------------

class AccountBar:
    """What `#db_auth` shows besides the name: the impersonation chooser, computed only if rendered."""

    def __init__(self, request):
        self.request = request

    @cached_property
    def impersonating(self) -> bool:
        return self.request.identity.session.impersonator_id is not None

    @cached_property
    def shows_chooser(self) -> bool:
        return self.impersonating or self.request.permissions.is_admin

    @cached_property
    def choices(self) -> list[tuple[int, str]]:
        return impersonation.impersonation_choices(self.request.dbsession, _real_user_id(self.request))

    @property
    def current_user_id(self) -> int:
        return self.request.identity.id

    @property
    def page(self) -> str:
        """The current page's path, for `next` (only /vidjil/<ctrl>/<fn> reaches a fragment)."""
        return self.request.path


def add_account_bar(event) -> None:
    request = event.get("request")
    if request is not None and request.identity is not None:
        event.setdefault("account_bar", AccountBar(request))


def includeme(config) -> None:
    config.add_legacy_routes("user", ["index"])
    config.add_legacy_routes("user", ["edit", "edit_form"], factory=UserContext)
    config.add_legacy_routes("user", ["info"], factory=OwnAccountContext)
    config.add_legacy_routes("group", ["add", "add_form"])
    config.add_legacy_routes("group", ["index"], factory=GroupListContext)
    config.add_legacy_routes("group", ["edit", "edit_form", "confirm", "delete", "info", "rights", "invite", "kick",
                                       "change_permission", "remove_permission"], factory=GroupContext)
    config.add_legacy_routes("default", ["impersonate"], factory=ImpersonationContext)
    config.add_legacy_routes("default", ["stop_impersonate"])
    config.add_subscriber(add_account_bar, BeforeRender)
