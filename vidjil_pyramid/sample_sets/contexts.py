"""Route contexts: which sample set(s) a request is about, and whether the user may act on them.

Every decision is asked of the permission service (`request.permissions`); a set
id that is missing, malformed or not the user's is refused the same way.
"""
from __future__ import annotations

from typing import Callable

from .listing import neighbour_set_id
from ..params import parse_id, parse_ids  # noqa: F401  (used by the set views too)

VIEW, MODIFY, UPLOAD, RUN, SAVE = "view", "modify", "upload", "run", "save"
CREATE_OR_MODIFY = "create_or_modify"


def _set_checks(request) -> dict[str, Callable[[int], bool]]:
    perms = request.permissions
    return {
        VIEW: perms.can_view_sample_set,
        MODIFY: perms.can_modify_sample_set,
        UPLOAD: perms.can_upload_sample_set,
        RUN: perms.can_process_sample_set,
        SAVE: perms.can_save_sample_set,
    }


class SampleSetContext:
    """A request about one set named by the `id` parameter."""

    param = "id"

    def __init__(self, request):
        self.request = request
        self.sample_set_id = parse_id(request.params.get(self.param))

    def permits(self, request, permission: str) -> bool:
        check = _set_checks(request).get(permission)
        return check is not None and self.sample_set_id is not None and check(self.sample_set_id)


class SharingContext(SampleSetContext):
    """`change_permission` names its set `sample_set_id`."""

    param = "sample_set_id"


class SetPageContext(SampleSetContext):
    """The set page: `next=1`/`-1` moves to the neighbouring readable set of the same type."""

    def __init__(self, request):
        super().__init__(request)
        direction = request.params.get("next")
        if self.sample_set_id is not None and direction not in (None, "") and request.identity is not None:
            try:
                step = int(direction)
            except ValueError:
                step = 0
            if step:
                found = neighbour_set_id(request.dbsession, request.permissions, self.sample_set_id, step > 0)
                if found is not None:
                    self.sample_set_id = found


class SetFormContext(SampleSetContext):
    """The create/edit form: editing needs the right to modify the set, creating the `create` right."""

    def __init__(self, request):
        super().__init__(request)
        self.editing = request.params.get("id") not in (None, "")

    def permits(self, request, permission: str) -> bool:
        if permission != CREATE_OR_MODIFY:
            return False
        if self.editing:
            return self.sample_set_id is not None and request.permissions.can_modify_sample_set(self.sample_set_id)
        return request.permissions.can_create_sample_set()


class SampleSetsContext:
    """A request about several sets (`sample_set_ids`, repeated): every one must be permitted."""

    param = "sample_set_ids"
    denied_message = "You don't have permissions to access those sample sets"

    def __init__(self, request):
        self.request = request
        values = request.params.getall(self.param) + request.params.getall(self.param + "[]")
        parsed = parse_ids(values)
        self.sample_set_ids = parsed or []
        self.malformed = parsed is None

    def permits(self, request, permission: str) -> bool:
        check = _set_checks(request).get(permission)
        allowed = (check is not None and not self.malformed and bool(self.sample_set_ids)
                   and all(check(set_id) for set_id in self.sample_set_ids))
        if not allowed:
            request.denied_message = self.denied_message
        return allowed
