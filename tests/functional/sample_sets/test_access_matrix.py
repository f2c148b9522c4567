"""Every set endpoint × every role: a user of one group never sees, edits or deletes another
group's set; anonymous callers are sent to the login page; admins and the owners get through.

The target is a patient of lab A, a fresh one for each role. Roles: `admin`, `owner` (alice, lab A
with every right), `other` (bob, lab B with every right on lab B's sets), `anonymous`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import pytest
from bs4 import BeautifulSoup
from factories import make_set
from sample_set_world import NASTY_FIRST, NASTY_LAST, body
from sqlalchemy import select

from vidjil_pyramid.auth.models import Permission
from vidjil_pyramid.sample_sets.models import Patient, SampleSet


@dataclass(frozen=True)
class Endpoint:
    name: str
    request: Callable  # (app, world, target set id) -> response
    # how a refusal looks for a logged-in user of another group: "denied" (the access-denied answer)
    # or "absent" (a list answered without the set)
    refusal: str = "denied"
    lists: Callable | None = None  # (response, world, target) -> set ids shown, for "absent" endpoints


def _ids_in_json_rows(rows) -> set[int]:
    return {row["sample_set_id"] for row in rows}


ENDPOINTS = [
    Endpoint("all", lambda app, w, t: app.post("/vidjil/sample_set/all?type=patient&page=0"), "absent",
             lambda r, w, t: {t} if f"sample_set_open_{t}_" in r.text else set()),
    Endpoint("all.json", lambda app, w, t: app.get("/vidjil/sample_set/all.json?type=patient"), "absent",
             lambda r, w, t: _ids_in_json_rows(r.json["query"])),
    Endpoint("samples", lambda app, w, t: app.get("/vidjil/sample_set/samples?type=patient"), "absent",
             lambda r, w, t: _ids_in_json_rows(r.json["samples"])),
    Endpoint("stats", lambda app, w, t: app.post("/vidjil/sample_set/stats?type=patient"), "absent",
             lambda r, w, t: {int(b["value"]) for b in BeautifulSoup(r.text, "html.parser").select("input[name='sample_set_ids[]']")}),
    Endpoint("auto_complete", lambda app, w, t: app.post("/vidjil/sample_set/auto_complete", {"keys": '[""]'}), "absent",
             lambda r, w, t: {e["id"] for e in body(r)[""]}),
    Endpoint("tag/auto_complete", lambda app, w, t: app.post("/vidjil/tag/auto_complete", {"keys": json.dumps([w.lab_a.id])}),
             "absent", lambda r, w, t: {t} if str(w.lab_a.id) in body(r) else set()),
    Endpoint("samplesetById", lambda app, w, t: app.get(f"/vidjil/sample_set/samplesetById?id={t}&type=patient")),
    Endpoint("index", lambda app, w, t: app.post(f"/vidjil/sample_set/index?id={t}&config_id=-1")),
    Endpoint("index.json", lambda app, w, t: app.get(f"/vidjil/sample_set/index.json?id={t}")),
    Endpoint("form", lambda app, w, t: app.post(f"/vidjil/sample_set/form?id={t}")),
    Endpoint("confirm", lambda app, w, t: app.post(f"/vidjil/sample_set/confirm?id={t}")),
    Endpoint("permission", lambda app, w, t: app.post(f"/vidjil/sample_set/permission?id={t}")),
    Endpoint("result_files", lambda app, w, t: app.get(f"/vidjil/sample_set/result_files?config_id=-1&sample_set_ids={t}")),
    Endpoint("change_permission", lambda app, w, t: app.post(
        f"/vidjil/sample_set/change_permission?sample_set_id={t}&group_id={w.lab_a.id}")),
    Endpoint("submit (edit)", lambda app, w, t: app.post("/vidjil/sample_set/submit", {"data": json.dumps({
        "patient": [{"sample_set_id": t, "first_name": "Changed", "last_name": "Name", "birth": "",
                     "info": "", "id_label": ""}]})}), "permission denied"),
    Endpoint("delete", lambda app, w, t: app.get(f"/vidjil/sample_set/delete?id={t}&format=json")),
]

ROLES = ["admin", "owner", "other", "anonymous"]


def _state(world, set_id: int):
    """What a refused request must leave untouched."""
    db = world.db
    db.expire_all()
    detail = db.scalars(select(Patient).where(Patient.sample_set_id == set_id)).first()
    access = sorted(db.scalars(select(Permission.group_id).where(
        Permission.name == "access", Permission.table_name == "sample_set", Permission.record_id == set_id)))
    return (db.get(SampleSet, set_id) is not None, detail.first_name if detail else None, access)


def _fresh_target(world) -> int:
    sample_set, _ = make_set(world.db, "patient", groups=[world.lab_a], first_name=NASTY_FIRST,
                             last_name=NASTY_LAST, info="#MRD")
    return sample_set.id


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_access_matrix(world, as_user, anonymous, endpoint):
    users = {"admin": world.admin, "owner": world.alice, "other": world.bob}
    for role in ROLES:
        target = _fresh_target(world)
        app = anonymous if role == "anonymous" else as_user(users[role])
        before = _state(world, target)
        response = endpoint.request(app, world, target)
        assert response.status_int == 200, role
        if role == "anonymous":
            assert response.content_type == "text/html"
            assert "/vidjil/default/user/login?_next=" in body(response)["redirect"]
            assert _state(world, target) == before
        elif role == "other":
            _check_refused(endpoint, response, world, target, before)
        else:
            _check_allowed(endpoint, response, world, target)


def _check_refused(endpoint, response, world, target, before) -> None:
    if endpoint.refusal == "absent":
        assert target not in endpoint.lists(response, world, target)
    elif endpoint.refusal == "denied":
        assert body(response).get("message") in ("access denied",
                                                  "You don't have permissions to access those sample sets")
    else:
        assert endpoint.refusal in response.text
    assert NASTY_LAST not in response.text and "Ñuñez" not in response.text
    assert _state(world, target) == before


def _check_allowed(endpoint, response, world, target) -> None:
    if endpoint.refusal == "absent":
        assert target in endpoint.lists(response, world, target)
        return
    text = response.body.decode("utf-8", "replace")
    assert "access denied" not in text and "permission denied" not in text
    if endpoint.name == "delete":
        assert body(response)["success"] == "true" and not _state(world, target)[0]
    elif endpoint.name == "submit (edit)":
        assert body(response)["args"] == {"id": target} and _state(world, target)[1] == "Changed"
    elif endpoint.name == "change_permission":
        assert world.lab_a.id not in _state(world, target)[2]  # the lab's access was toggled off
