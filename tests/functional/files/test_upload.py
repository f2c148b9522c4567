"""`file/upload`: streamed multipart uploads, refused or cut ones leave nothing behind (W1)."""
from __future__ import annotations

import io
import json

import pytest
import xxhash
from files_helpers import UPLOAD_LIMIT, browser_upload, files_in, jtext, multipart, post_upload, raw_post
from sqlalchemy import func, select

from vidjil_pyramid.files import storage
from vidjil_pyramid.files.models import SequenceFile
from vidjil_pyramid.jobs.models import SchedulerTask
from vidjil_pyramid.results.models import ResultsFile

READS = b">read1\nACGTACGTACGTAAAACCCCGGGGTTTT\n>read2\nTTTTGGGGCCCCAAAA\n" * 100


def snapshot(world, sample):
    world.db.refresh(sample)
    return ({c.name: getattr(sample, c.name) for c in SequenceFile.__table__.columns},
            files_in(world.upload_dir), world.db.scalar(select(func.count(ResultsFile.id))))


def test_browser_upload_stores_the_file(world, as_user):
    app = as_user(world.alice)
    sample = world.sample_a
    answer = browser_upload(app, sample.id, "R1 été.fa", READS)
    assert answer.content_type == "text/html"
    body = jtext(answer)
    assert "success" not in body
    assert body["message"].startswith(f" file {{{sample.id}}} upload finished (R1 été.fa) (")
    assert body["size"] == len(READS) and body["checksum"] == "xxh3_128:" + xxhash.xxh3_128(READS).hexdigest()
    assert sample.filename == "R1 été.fa" and sample.size_file == len(READS)
    assert storage.table_of(sample.data_file) == "sequence_file.data_file"
    assert storage.original_name(sample.data_file) == "R1_été.fa"
    assert (world.upload_dir / sample.data_file).read_bytes() == READS
    assert sample.pre_process_flag == "COMPLETED" and sample.network is False
    assert not [n for n in files_in(world.upload_dir) if n.startswith(".")]


def test_api_client_upload_fields_first(world, as_user):
    """requests sends the data fields before the file part."""
    app = as_user(world.alice)
    answer = app.post("/vidjil/file/upload", {"pre_process": "0", "id": str(world.sample_a.id), "file_number": "1"},
                      upload_files=[("file", "api.fa", READS)])
    assert answer.status_int == 200 and "upload finished (api.fa)" in jtext(answer)["message"]
    assert world.sample_a.filename == "api.fa"


def test_second_file_of_a_pair_and_pre_process(world, as_user):
    app = as_user(world.alice)
    sample = world.sample_a
    pair = world.pair_pre_process.id
    browser_upload(app, sample.id, "S_R1.fastq", b"@r\nACGT\n+\nIIII\n", file_number=1, pre_process=pair)
    assert sample.pre_process_flag == "WAIT" and sample.pre_process_scheduler_task_id is None
    second = b"@r\nTTTT\n+\nIIII\n"
    answer = browser_upload(app, sample.id, "S_R2.fastq", second, file_number=2, pre_process=pair)
    assert f"p{pair} start pre_process" in jtext(answer)["message"]
    assert sample.data_file2 and sample.size_file2 == len(second) and sample.filename == "S_R1.fastq"
    task = world.db.get(SchedulerTask, sample.pre_process_scheduler_task_id)
    assert json.loads(task.args) == [pair, sample.id] and sample.pre_process_flag == "WAIT"


def test_reupload_replaces_the_data_and_deletes_results(world, as_user):
    app = as_user(world.alice)
    sample = world.sample_a
    old_name = sample.data_file
    world.db.add(ResultsFile(sequence_file_id=sample.id, data_file="results_file.data_file.0123456789abcdef.6f.txt"))
    world.db.flush()
    browser_upload(app, sample.id, "new.fa", READS)
    assert sample.data_file != old_name
    assert world.db.scalar(select(func.count(ResultsFile.id)).where(ResultsFile.sequence_file_id == sample.id)) == 0


@pytest.mark.parametrize("who", ["anonymous", "bob", "reader"])
def test_upload_needs_login_and_the_right_to_modify_the_sample_w1(world, as_user, who):
    """W1: anyone could replace the data of any sample id and start its pre-process."""
    user = {"anonymous": None, "bob": world.bob, "reader": world.reader}[who]
    app = as_user(user)
    before = snapshot(world, world.sample_a)
    answer = jtext(browser_upload(app, world.sample_a.id, "evil.fa", READS))
    if user is None:
        assert "default/user/login" in answer["redirect"]
    else:
        assert answer["success"] == "false" and answer["priority"] == 3
    assert snapshot(world, world.sample_a) == before


def test_refused_before_the_data_when_the_id_comes_first(world, as_user):
    app = as_user(world.bob)
    before = snapshot(world, world.sample_a)
    answer = jtext(post_upload(app, [("id", str(world.sample_a.id)), ("file_number", "1"), ("file", ("x.fa", READS))]))
    assert "admin permission" in answer["message"]
    assert snapshot(world, world.sample_a) == before


@pytest.mark.parametrize("parts,message", [
    ([("file", ("a.fa", READS)), ("file_number", "1")], "missing id"),
    ([("file", ("a.fa", READS)), ("id", "999999")], "no sequence file with this id"),
    ([("file", ("a.fa", READS)), ("id", "abc")], "no sequence file with this id"),
    ([("id", "{id}"), ("file_number", "1")], "no data file"),
    ([("file", ("a.fa", b"")), ("id", "{id}")], "the file is empty"),
    ([("file", ("a.exe", READS)), ("id", "{id}")], "this type of file is not accepted"),
    ([("file", ("a.fa", READS)), ("id", "{id}"), ("file_number", "3")], "file_number must be 1 or 2"),
    ([("file", ("a.fa", READS)), ("id", "{id}"), ("pre_process", "999999")], "unknown pre-process"),
    ([("file", ("x" * 120 + ".fa", READS)), ("id", "{id}")], "Your filename is too long"),
])
def test_refused_uploads_leave_nothing(world, as_user, parts, message):
    app = as_user(world.alice)
    before = snapshot(world, world.sample_a)
    parts = [(name, value.format(id=world.sample_a.id) if isinstance(value, str) else value) for name, value in parts]
    answer = jtext(post_upload(app, parts))
    assert answer["success"] == "false" and answer["priority"] == 3 and message in answer["message"]
    assert snapshot(world, world.sample_a) == before


def test_not_multipart(world, as_user):
    answer = jtext(as_user(world.alice).post("/vidjil/file/upload", {"id": str(world.sample_a.id)}))
    assert answer["success"] == "false" and "multipart" in answer["message"]


def test_too_large_announced_body_is_refused_before_reading(world, as_user):
    app = as_user(world.alice)
    before = snapshot(world, world.sample_a)

    class Unreadable(io.RawIOBase):
        def read(self, size=-1):
            raise AssertionError("the body must not be read")

    content_type, _ = multipart([("id", "1")])
    answer = jtext(raw_post(app, "/vidjil/file/upload", content_type=content_type, stream=Unreadable(),
                            length=UPLOAD_LIMIT * 10))
    assert answer["success"] == "false" and "too large" in answer["message"]
    assert snapshot(world, world.sample_a) == before


def test_too_large_file_is_refused_while_streaming(world, as_user):
    """The limit holds even when the announced length is within it (chunked bodies)."""
    app = as_user(world.alice)
    before = snapshot(world, world.sample_a)
    answer = jtext(browser_upload(app, world.sample_a.id, "big.fa", b"A" * (UPLOAD_LIMIT + 10)))
    assert answer["success"] == "false" and "too large" in answer["message"]
    assert snapshot(world, world.sample_a) == before


class CutStream(io.RawIOBase):
    """A client that sends `keep` bytes of the body, then goes away (or just stops)."""

    def __init__(self, data: bytes, keep: int, fail: bool):
        self.data, self.keep, self.fail, self.position = data, keep, fail, 0

    def readable(self):
        return True

    def read(self, size=-1):
        if self.position >= self.keep:
            if self.fail:
                raise ConnectionResetError("client disconnected")
            return b""
        size = self.keep - self.position if size is None or size < 0 else min(size, self.keep - self.position)
        chunk = self.data[self.position:self.position + size]
        self.position += len(chunk)
        return chunk


@pytest.mark.parametrize("fail", [True, False], ids=["connection-dropped", "body-shorter-than-announced"])
@pytest.mark.parametrize("fields_first", [True, False], ids=["api-order", "browser-order"])
def test_cut_upload_leaves_no_file_and_no_row_change(world, as_user, fail, fields_first):
    app = as_user(world.alice)
    big = bytes(range(256)) * 8000  # 2 MB: several chunks reach the disk before the cut
    parts = [("file", ("cut.fa", big)), ("id", str(world.sample_a.id)), ("file_number", "1")]
    if fields_first:
        parts = parts[1:] + parts[:1]
    content_type, body = multipart(parts)
    before = snapshot(world, world.sample_a)
    answer = jtext(raw_post(app, "/vidjil/file/upload", content_type=content_type, length=len(body),
                            stream=CutStream(body, keep=len(body) - 5000, fail=fail)))
    assert answer["success"] == "false" and "interrupted" in answer["message"]
    assert snapshot(world, world.sample_a) == before


def test_forged_cross_site_upload_is_refused_w23(world, as_user):
    before = snapshot(world, world.sample_a)
    post_upload(as_user(world.alice), [("file", ("a.fa", READS)), ("id", str(world.sample_a.id))],
                headers={"Origin": "https://evil.example"}, status=403)
    assert snapshot(world, world.sample_a) == before


def test_file_name_with_markup_and_quotes_w24(world, as_user):
    name = 'x"<img src=x onerror=alert(1)> été.fa'
    answer = jtext(browser_upload(as_user(world.alice), world.sample_a.id, name, READS))
    assert "<img" not in answer["message"] and "&lt;img src=x onerror=alert(1)&gt; été.fa" in answer["message"]
    assert world.sample_a.filename == name


def test_full_disk_leaves_nothing(world, as_user, monkeypatch):
    """A storage that fills up in the middle of the file: clear message, no file, no row change."""
    import errno
    import os

    from vidjil_pyramid.files import storage as storage_module

    real_fdopen = os.fdopen

    class FillingUp:
        def __init__(self, raw):
            self.raw, self.written = raw, 0

        def write(self, data):
            if self.written > 100_000:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.written += len(data)
            return self.raw.write(data)

        def close(self):
            self.raw.close()

        @property
        def closed(self):
            return self.raw.closed

    monkeypatch.setattr(storage_module.os, "fdopen", lambda *a, **k: FillingUp(real_fdopen(*a, **k)))
    app = as_user(world.alice)
    before = snapshot(world, world.sample_a)
    answer = jtext(browser_upload(app, world.sample_a.id, "big.fa", bytes(range(256)) * 8000))
    assert answer["success"] == "false" and "no storage space left" in answer["message"]
    assert snapshot(world, world.sample_a) == before
