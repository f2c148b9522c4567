"""`file/submit`: creating and editing samples, all or nothing (W14, W15, W20)."""
from __future__ import annotations

import json
import os
from urllib.parse import quote

import pytest
from files_helpers import jtext, files_in
from sqlalchemy import func, select

from vidjil_pyramid.files.models import SampleSetMembership, SequenceFile
from vidjil_pyramid.jobs.models import SchedulerTask
from vidjil_pyramid.sample_sets.models import Tag, TagRef


def token(world, sample_set, kind="p"):
    names = {world.set_a.id: "Dupont Jeanne (1961-04-12)", world.set_b.id: "Sec", world.set_a2.id: "RUN-A (2024-01-02)"}
    return f":{kind} {names.get(sample_set.id, 'x')} ({sample_set.id})"


def line(**fields):
    values = {"filename": "reads.fa", "filename2": "", "id": "", "sampling_date": "", "info": "", "set_ids": ""}
    values.update(fields)
    return values


def request_data(world, files, set_ids=None, **extra):
    data = {"source": "computer", "pre_process": "0", "set_ids": set_ids if set_ids is not None else token(world, world.set_a),
            "file": files, "sample_set_id": str(world.set_a.id), "sample_type": "patient"}
    data.update(extra)
    return data


def submit(app, data, **kw):
    """As the browser: url-encoded body with one `data` field."""
    return app.post("/vidjil/file/submit", {"data": json.dumps(data)}, **kw)


def counts(db):
    return (db.scalar(select(func.count(SequenceFile.id))), db.scalar(select(func.count(SampleSetMembership.id))),
            db.scalar(select(func.count(TagRef.id))))


def memberships(db, sample_id):
    return sorted(db.scalars(select(SampleSetMembership.sample_set_id)
                             .where(SampleSetMembership.sequence_file_id == sample_id)))


def test_create_one_sample(world, as_user):
    app = as_user(world.alice)
    answer = submit(app, request_data(world, [line(filename="R1 été.fastq.gz", sampling_date="2024-03-01",
                                                   info="relapse #mrd", set_ids=token(world, world.set_a2, "r"))]))
    assert answer.content_type == "text/html"
    body = jtext(answer)
    assert set(body) == {"file_ids", "redirect", "args", "message"}
    assert body["redirect"] == "sample_set/index" and body["args"] == {"id": world.set_a.id, "config_id": -1}
    assert body["message"] == "successfully added/edited file(s)"
    sample = world.db.get(SequenceFile, body["file_ids"][0])
    assert sample.filename == "R1 été.fastq.gz" and sample.info == "relapse #mrd"
    assert sample.sampling_date.isoformat() == "2024-03-01"
    assert sample.provider == world.alice.id and sample.pre_process_flag == "COMPLETED"
    assert sample.data_file is None and sample.pre_process_id is None
    assert memberships(world.db, sample.id) == sorted([world.set_a.id, world.set_a2.id])
    tag_names = world.db.scalars(select(Tag.name).join(TagRef, TagRef.tag_id == Tag.id)
                                 .where(TagRef.table_name == "sequence_file", TagRef.record_id == sample.id)).all()
    assert [t.lower() for t in tag_names] == ["mrd"]


def test_create_several_samples_in_order_skipping_removed_lines(world, as_user):
    app = as_user(world.alice)
    body = jtext(submit(app, request_data(world, [line(filename="one.fa"), None, line(filename="two.fq")])))
    assert len(body["file_ids"]) == 2
    names = [world.db.get(SequenceFile, i).filename for i in body["file_ids"]]
    assert names == ["one.fa", "two.fq"]


def test_api_client_request_in_the_query_string(world, as_user):
    """api_vidjil.createSample: POST with `data` in the URL, tokens like `:s+name+(id)`."""
    app = as_user(world.alice)
    data = {"source": "computer", "pre_process": "0", "set_ids": f":p+Dupont+({world.set_a.id})",
            "file": [{"filename": "api.fa", "filename2": "", "id": "", "sampling_date": "2024-02-02",
                      "info": "from+the+API+#api", "set_ids": ""}],
            "sample_set_id": f":p+Dupont+({world.set_a.id})", "sample_type": "patient"}
    url = "/vidjil/file/submit?data=" + quote(json.dumps(data).replace(" ", ""), safe='{}":,[]')
    body = jtext(app.post(url + "&format=json"))
    assert memberships(world.db, body["file_ids"][0]) == [world.set_a.id]


def test_pre_process_marks_samples_waiting(world, as_user):
    app = as_user(world.alice)
    body = jtext(submit(app, request_data(world, [line(filename="S_R1.fastq", filename2="S_R2.fastq")],
                                    pre_process=str(world.pair_pre_process.id))))
    sample = world.db.get(SequenceFile, body["file_ids"][0])
    assert sample.pre_process_id == world.pair_pre_process.id and sample.pre_process_flag == "WAIT"


def test_edit_sample(world, as_user):
    app = as_user(world.alice)
    sample = world.sample_a
    stored = sample.data_file
    body = jtext(submit(app, request_data(world, [line(id=str(sample.id), filename="", info="edited #new",
                                                 sampling_date="2024-05-05")],
                                    set_ids=token(world, world.set_a2, "r"), isEditing="on")))
    assert body["file_ids"] == [sample.id]
    assert sample.info == "edited #new" and sample.sampling_date.isoformat() == "2024-05-05"
    assert sample.data_file == stored and sample.pre_process_flag == "COMPLETED"
    assert memberships(world.db, sample.id) == [world.set_a2.id]


def test_edit_keeps_memberships_to_sets_the_editor_cannot_modify(world, as_user):
    """Alice may not take a shared sample out of lab B's set."""
    world.db.add(SampleSetMembership(sample_set_id=world.set_b.id, sequence_file_id=world.sample_a.id))
    world.db.flush()
    app = as_user(world.alice)
    submit(app, request_data(world, [line(id=str(world.sample_a.id), filename="")],
                             set_ids=token(world, world.set_a2, "r")))
    assert memberships(world.db, world.sample_a.id) == sorted([world.set_a2.id, world.set_b.id])


def test_editing_another_groups_sample_is_refused_w14(world, as_user):
    """W14: the original let anyone edit any sample by id, become its provider and move it."""
    app = as_user(world.alice)
    sample = world.sample_b
    before = (sample.info, sample.provider, memberships(world.db, sample.id), counts(world.db))
    answer = jtext(submit(app, request_data(world, [line(id=str(sample.id), filename="stolen.fa", info="mine")])))
    assert answer["success"] == "false" and "add_form() failed" in answer["message"]
    assert "file_ids" not in answer
    assert (sample.info, sample.provider, memberships(world.db, sample.id), counts(world.db)) == before


def test_one_refused_set_refuses_everything_w15(world, as_user):
    """W15: per-file set errors were ignored and rows committed despite the failure answer."""
    app = as_user(world.alice)
    before = counts(world.db)
    answer = jtext(submit(app, request_data(world, [line(filename="ok.fa"),
                                              line(filename="bad.fa", set_ids=token(world, world.set_b))])))
    assert answer["success"] == "false"
    assert f"missing permission for set {world.set_b.id}" in answer["message"]
    assert counts(world.db) == before


def test_refused_common_set_refuses_everything_w15(world, as_user):
    app = as_user(world.alice)
    before = counts(world.db)
    answer = jtext(submit(app, request_data(world, [line()], set_ids=f"{token(world, world.set_a)}|{token(world, world.set_b)}")))
    assert answer["success"] == "false"
    assert counts(world.db) == before


def test_reader_cannot_add_samples_to_a_set_they_only_read(world, as_user):
    before = counts(world.db)
    answer = jtext(submit(as_user(world.reader), request_data(world, [line()])))
    assert answer["success"] == "false" and counts(world.db) == before


@pytest.mark.parametrize("files,set_ids,extra,expected", [
    ([line(filename="")], None, {}, "missing filename"),
    ([line(sampling_date="2024-13-45")], None, {}, "date (wrong format)"),
    ([line()], "", {}, "missing set association"),
    ([line()], "patient 12", {}, "invalid set"),
    ([line(filename="virus.exe")], None, {}, "this type of file is not accepted"),
    ([line(filename="a.fastq")], None, {"pre_process": "pair"}, "missing filename2"),
    ([line()], None, {"pre_process": "999999"}, "unknown pre-process"),
    ([line(id="999999", filename="")], None, {}, "you may not modify this sample"),
    ([line(info=["not", "text"])], None, {}, "invalid information"),
    ([], None, {}, "no sample given"),
])
def test_invalid_requests_change_nothing(world, as_user, files, set_ids, extra, expected):
    if extra.get("pre_process") == "pair":
        extra = {"pre_process": str(world.pair_pre_process.id)}
    before = counts(world.db)
    answer = jtext(submit(as_user(world.alice), request_data(world, files, set_ids=set_ids, **extra)))
    assert answer["success"] == "false" and expected in answer["message"]
    assert counts(world.db) == before


@pytest.mark.parametrize("raw", ["", "not json", "[1, 2]", "null"])
def test_malformed_data(world, as_user, raw):
    answer = jtext(as_user(world.alice).post("/vidjil/file/submit", {"data": raw}))
    assert answer["success"] == "false"


def test_messages_escape_user_text_w24(world, as_user):
    answer = jtext(submit(as_user(world.alice), request_data(world, [line(filename="<img src=x onerror=alert(1)>.exe")])))
    assert "<img" not in answer["message"] and "&lt;img src=x onerror=alert(1)&gt;.exe" in answer["message"]


def test_anonymous_is_sent_to_login(world, as_user):
    before = counts(world.db)
    answer = jtext(submit(as_user(None), request_data(world, [line()])))
    assert "default/user/login" in answer["redirect"] and counts(world.db) == before


def test_forged_cross_site_request_is_refused_w23(world, as_user):
    before = counts(world.db)
    submit(as_user(world.alice), request_data(world, [line()]), headers={"Origin": "https://evil.example"}, status=403)
    assert counts(world.db) == before


# ----------------------------------------------------------------------------- network source

def test_network_file_is_linked(world, as_user, source_dir):
    app = as_user(world.alice)
    body = jtext(submit(app, request_data(world, [line(filename="//Demo-X5.fa")], source="nfs")))
    sample = world.db.get(SequenceFile, body["file_ids"][0])
    assert sample.network is True and sample.filename == "Demo-X5.fa"
    assert sample.data_file.startswith("sequence_file.data_file.") and sample.data_file.endswith(".fa")
    assert bytes.fromhex(sample.data_file.split(".")[3]) == b"Demo-X5"
    link = world.upload_dir / sample.data_file
    assert link.is_symlink() and os.path.realpath(link) == str((source_dir / "Demo-X5.fa").resolve())
    assert sample.size_file == (source_dir / "Demo-X5.fa").stat().st_size


def test_network_pair_starts_its_pre_process(world, as_user):
    app = as_user(world.alice)
    body = jtext(submit(app, request_data(world, [line(filename="//run1/S1_R1.fastq", filename2="//run1/S1_R2.fastq")],
                                    source="nfs", pre_process=str(world.pair_pre_process.id))))
    sample = world.db.get(SequenceFile, body["file_ids"][0])
    assert sample.data_file and sample.data_file2 and sample.pre_process_flag == "WAIT"
    task = world.db.get(SchedulerTask, sample.pre_process_scheduler_task_id)
    assert task is not None and json.loads(task.args) == [world.pair_pre_process.id, sample.id]


@pytest.mark.parametrize("name", ["//../secret/passwd.fa", "//escape.fa", "/etc/passwd", "//notes.txt",
                                  "//run1/../../secret/passwd.fa", "//missing.fa"])
def test_network_paths_are_confined_to_the_source_w20(world, as_user, name):
    """W20: `../` names linked any server file into the uploads, then downloadable."""
    before = (counts(world.db), files_in(world.upload_dir))
    answer = jtext(submit(as_user(world.alice), request_data(world, [line(filename=name)], source="nfs")))
    assert answer["success"] == "false"
    assert (counts(world.db), files_in(world.upload_dir)) == before


def test_network_source_must_be_configured(world, as_user):
    app = as_user(world.alice)
    app.app.registry.settings["vidjil.file_source"] = ""
    answer = jtext(submit(app, request_data(world, [line(filename="//Demo-X5.fa")], source="nfs")))
    assert answer["success"] == "false" and "no network storage" in answer["message"]
