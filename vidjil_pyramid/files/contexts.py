"""Route contexts of the sample pages: which sample, set or stored file a request is
about, and whether the user may act on it. Every decision is asked of the
permission service (`request.permissions`)."""
from __future__ import annotations

from ..sample_sets.contexts import parse_id
from . import downloads

VIEW, MODIFY, EDIT_SAMPLES = "view", "modify", "edit_samples"


class UploadFormContext:
    """`file/form`: adding samples to a set (`sample_set_id`, upload right) or editing
    one sample (`file_id`, right to modify the sample)."""

    def __init__(self, request):
        self.request = request
        params = request.params
        self.adding = "sample_set_id" in params
        self.sample_set_id = parse_id(params.get("sample_set_id")) if self.adding else None
        self.file_id = parse_id(params.get("file_id")) if not self.adding else None

    def permits(self, request, permission: str) -> bool:
        if permission != EDIT_SAMPLES:
            return False
        perms = request.permissions
        if self.adding:
            allowed = self.sample_set_id is not None and perms.can_upload_sample_set(self.sample_set_id)
            message = "you don't have right to upload files"
        elif self.file_id is not None:
            allowed = perms.can_modify_file(self.file_id)
            message = "you need admin permission to edit files"
        else:
            allowed, message = False, "missing sample_set or file id"
        if not allowed:
            request.denied_message = message
        return allowed


class SequenceFileContext:
    """`file/confirm` and `file/delete`: one sample named by `id`, which the user must be
    allowed to modify (admin right on one of its sets)."""

    def __init__(self, request):
        self.request = request
        self.file_id = parse_id(request.params.get("id"))
        self.redirect_sample_set_id = parse_id(request.params.get("redirect_sample_set_id"))

    def permits(self, request, permission: str) -> bool:
        allowed = permission == MODIFY and self.file_id is not None and request.permissions.can_modify_file(self.file_id)
        if not allowed:
            request.denied_message = "you need admin permission to delete this file"
        return allowed


class StoredFileContext:
    """`default/download/<stored name>`: a stored file, readable by those who may view
    one of the sets it belongs to (W2). Unknown names are refused like forbidden ones."""

    def __init__(self, request):
        self.request = request
        args = request.legacy_args
        self.stored_name = args[0] if args else ""
        self._found: downloads.StoredFile | None | bool = False

    @property
    def stored_file(self) -> downloads.StoredFile | None:
        if self._found is False:
            self._found = downloads.find_stored_file(self.request.dbsession, self.stored_name)
        return self._found

    def permits(self, request, permission: str) -> bool:
        found = self.stored_file if permission == VIEW else None
        return found is not None and any(request.permissions.can_view_sample_set(s) for s in found.sample_set_ids)
