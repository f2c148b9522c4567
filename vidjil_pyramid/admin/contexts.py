"""Route contexts of the administration pages: which object a request is about, and may the user act on it.

Every decision is the permission service's (`request.permissions`); a missing,
malformed or foreign id is refused the same way as a lack of right.
"""
from __future__ import annotations

from ..files.models import PreProcess
from .models import Config
from .pre_processes import file_belongs_to_set
from ..params import parse_id  # noqa: F401  (used by the admin views too)

VIEW, CREATE, MODIFY = "view", "create", "modify"


class ConfigContext:
    """A request about configs: `create` one, or `modify` the one named by `id` / `config_id`."""

    def __init__(self, request):
        self.request = request
        self.config_id = parse_id(request.params.get("id") or request.params.get("config_id"))

    @property
    def config(self) -> Config | None:
        return self.request.dbsession.get(Config, self.config_id) if self.config_id else None

    def permits(self, request, permission: str) -> bool:
        perms = request.permissions
        if permission == CREATE:
            return perms.can_create_config()
        if permission == MODIFY:
            return self.config_id is not None and perms.can_modify_config(self.config_id)
        return False


class PreProcessContext:
    """A request about pre-processes: `create` one, or `modify` the one named by `id` / `pre_process_id`."""

    def __init__(self, request):
        self.request = request
        self.pre_process_id = parse_id(request.params.get("id") or request.params.get("pre_process_id"))

    @property
    def pre_process(self) -> PreProcess | None:
        return self.request.dbsession.get(PreProcess, self.pre_process_id) if self.pre_process_id else None

    def permits(self, request, permission: str) -> bool:
        perms = request.permissions
        if permission == CREATE:
            return perms.can_create_pre_process()
        if permission == MODIFY:
            return self.pre_process_id is not None and perms.can_modify_pre_process(self.pre_process_id)
        return False


class PreProcessLogContext:
    """The pre-process log of a sample: modify right on the set, and the sample in that set (W18)."""

    def __init__(self, request):
        self.request = request
        self.sequence_file_id = parse_id(request.params.get("sequence_file_id"))
        self.sample_set_id = parse_id(request.params.get("sample_set_id"))

    def permits(self, request, permission: str) -> bool:
        if permission != VIEW or self.sequence_file_id is None or self.sample_set_id is None:
            return False
        return (request.permissions.can_modify_sample_set(self.sample_set_id)
                and file_belongs_to_set(request.dbsession, self.sequence_file_id, self.sample_set_id))
