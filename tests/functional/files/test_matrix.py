"""Every sample endpoint × every role: only those with the right reach lab A's sample,
and a refused request changes nothing (W1, W2, W14, W15)."""
from __future__ import annotations

import json

import pytest
from files_helpers import browser_upload, files_in, jtext
from sqlalchemy import func, select

from vidjil_pyramid.files.models import SampleSetMembership, SequenceFile

ROLES = ["anonymous", "outsider", "reader", "owner", "admin"]
MAY_MODIFY = {"owner", "admin"}
MAY_READ = {"reader", "owner", "admin"}


def user_of(world, role):
    return {"anonymous": None, "outsider": world.bob, "reader": world.reader, "owner": world.alice,
            "admin": world.admin}[role]


def state(world):
    sample = world.db.get(SequenceFile, world.sample_a.id)
    world.db.refresh(sample)
    row = {c.name: getattr(sample, c.name) for c in SequenceFile.__table__.columns}
    return (row, files_in(world.upload_dir), world.db.scalar(select(func.count(SequenceFile.id))),
            sorted(world.db.execute(select(SampleSetMembership.sample_set_id, SampleSetMembership.sequence_file_id))
                   .all(), key=str))


def token(world):
    return f":p x ({world.set_a.id})"


def submit_data(world, **file):
    line = {"filename": "", "filename2": "", "id": "", "sampling_date": "", "info": "", "set_ids": ""}
    line.update(file)
    return {"data": json.dumps({"source": "computer", "pre_process": "0", "set_ids": token(world), "file": [line]})}


def is_json_refusal(response) -> bool:
    try:
        body = jtext(response)
    except ValueError:
        return False
    return isinstance(body, dict) and ("redirect" in body and "login" in str(body["redirect"])
                                       or body.get("success") == "false"
                                       or set(body) == {"message"} and "deleted" not in body["message"])


# (name, request, allowed roles, how success looks)
def endpoints(world):
    a, s = world.sample_a, world.set_a
    return [
        ("add form", lambda app: app.post(f"/vidjil/file/form?sample_set_id={s.id}"), MAY_MODIFY,
         lambda r: "upload_sample_form" in r.text),
        ("edit form", lambda app: app.post(f"/vidjil/file/form?file_id={a.id}&sample_type=patient"), MAY_MODIFY,
         lambda r: "upload_sample_form" in r.text),
        ("download", lambda app: app.get(f"/vidjil/default/download/{a.data_file}"), MAY_READ,
         lambda r: r.body == b">a\nACGTACGT\n"),
        ("patient download", lambda app: app.get(f"/vidjil/patient/download/{a.data_file}"), MAY_READ,
         lambda r: r.body == b">a\nACGTACGT\n"),
        ("confirm", lambda app: app.post(f"/vidjil/file/confirm?id={a.id}&redirect_sample_set_id={s.id}"), MAY_MODIFY,
         lambda r: "file/delete" in r.text),
        ("edit", lambda app: app.post("/vidjil/file/submit", submit_data(world, id=str(a.id), info="changed")),
         MAY_MODIFY, lambda r: jtext(r)["file_ids"] == [a.id]),
        ("add to the set", lambda app: app.post("/vidjil/file/submit", submit_data(world, filename="new.fa")),
         MAY_MODIFY, lambda r: len(jtext(r)["file_ids"]) == 1),
        ("upload", lambda app: browser_upload(app, a.id, "replaced.fa", b">x\nGGGG\n"), MAY_MODIFY,
         lambda r: "upload finished" in jtext(r)["message"]),
        ("delete", lambda app: app.post("/vidjil/file/delete", {"id": a.id, "redirect_sample_set_id": s.id,
                                                                 "delete_results": "True"}),
         MAY_MODIFY, lambda r: jtext(r)["message"] == f"sequence file ({a.id}) deleted"),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_role_against_every_endpoint(world, as_user, role):
    app = as_user(user_of(world, role))
    for name, call, allowed_roles, succeeded in endpoints(world):
        before = state(world)
        response = call(app)
        if role in allowed_roles:
            assert succeeded(response), f"{role} should reach '{name}': {response.text[:300]}"
        else:
            assert is_json_refusal(response), f"{role} should be refused '{name}': {response.text[:300]}"
            assert state(world) == before, f"'{name}' changed something for {role}"
