"""Route contexts of the results pages: which set or result a request is about, and may
the user act on it. Every right is asked of the permission service."""
from __future__ import annotations

from .services import resolve_sample_set_id, result_in_set, sets_of_result
from ..params import parse_id  # noqa: F401  (used by the results views too)

VIEW, MODIFY, SAVE, DELETE = "view", "modify", "save", "delete"
NOT_IN_SET = "this result does not belong to this sample set"


def _set_check(request, permission: str):
    perms = request.permissions
    return {
        VIEW: perms.can_view_sample_set,
        MODIFY: perms.can_modify_sample_set,
        SAVE: perms.can_save_sample_set,
        # deleting a result: the original's "admin and run on the set"
        DELETE: lambda set_id: perms.can_modify_sample_set(set_id) and perms.can_process_sample_set(set_id),
    }.get(permission)


class SampleSetResultsContext:
    """The set named by `sample_set_id`, or by its `patient` or `run` row (older links)."""

    def __init__(self, request):
        self.request = request
        params = request.params
        self.requested = params.get("sample_set_id")
        patient_id, run_id = parse_id(params.get("patient")), parse_id(params.get("run"))
        if patient_id is not None or run_id is not None:
            self.sample_set_id = resolve_sample_set_id(request.dbsession, patient_id=patient_id, run_id=run_id)
        else:
            self.sample_set_id = parse_id(self.requested)

    @property
    def label(self) -> str:
        """The set as messages name it: its id, or what was asked for."""
        return str(self.sample_set_id if self.sample_set_id is not None else self.requested)

    def permits(self, request, permission: str) -> bool:
        check = _set_check(request, permission)
        return check is not None and self.sample_set_id is not None and check(self.sample_set_id)


class ResultContext:
    """A result (`results_file_id`), within the set `sample_set_id` when one is named.

    With a set, the result must belong to it (W17) and the right is on that set.
    Without one (links of the set page that only carry the result), the right on
    any set that holds the result's sample is enough.
    """

    def __init__(self, request):
        self.request = request
        params = request.params
        self.results_file_id = parse_id(params.get("results_file_id"))
        self.set_given = params.get("sample_set_id") not in (None, "")
        self.sample_set_id = parse_id(params.get("sample_set_id"))
        self._sets: list[int] | None = None

    def candidate_sets(self) -> list[int]:
        if self._sets is None:
            self._sets = (sets_of_result(self.request.dbsession, self.results_file_id)
                          if self.results_file_id is not None else [])
        return self._sets

    def permits(self, request, permission: str) -> bool:
        check = _set_check(request, permission)
        if check is None or self.results_file_id is None:
            return False
        if self.set_given or permission == DELETE:
            if self.sample_set_id is None or not check(self.sample_set_id):
                return False
            if not result_in_set(request.dbsession, self.results_file_id, self.sample_set_id):
                request.denied_message = NOT_IN_SET
                return False
            return True
        allowed = next((s for s in self.candidate_sets() if check(s)), None)
        if allowed is not None:
            self.sample_set_id = allowed
        return allowed is not None
