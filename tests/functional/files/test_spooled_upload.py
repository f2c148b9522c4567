"""`file/upload` with the body as waitress hands a large one over (a regular file): the fast
way through the whole view, and what it refuses without writing anything (W1)."""
from __future__ import annotations

import os
import tempfile

import pytest
import webtest
import xxhash
from files_helpers import files_in, jtext, multipart, raw_post
from sqlalchemy import func, select

from vidjil_pyramid.files import storage, uploads
from vidjil_pyramid.files.models import SequenceFile
from vidjil_pyramid.results.models import ResultsFile

DATA = b"@read\n" + os.urandom(1 << 20) + b"\n+\n"


def snapshot(world, sample):
    world.db.refresh(sample)
    return ({c.name: getattr(sample, c.name) for c in SequenceFile.__table__.columns},
            files_in(world.upload_dir), world.db.scalar(select(func.count(ResultsFile.id))))


@pytest.fixture
def spooled_post(as_user, tmp_path):
    """POST a multipart body from a spool file, as waitress does; WebTest's lint wrapper,
    which hides the file behind a plain reader, is left out."""
    def post(user, parts, keep: int | None = None):
        app = as_user(user)
        direct = webtest.TestApp(app.app, extra_environ=app.extra_environ, cookiejar=app.cookiejar, lint=False)
        content_type, body = multipart(parts)
        with tempfile.TemporaryFile(dir=tmp_path) as stream:  # anonymous, as waitress's spool files
            stream.write(body if keep is None else body[:keep])
            stream.seek(0)
            return jtext(raw_post(direct, "/vidjil/file/upload", content_type=content_type, stream=stream,
                                  length=len(body)))
    return post


@pytest.fixture
def kernel_copies(monkeypatch):
    """Sizes the kernel took from the spool (splice into a pipe, then on to the upload)."""
    sizes = []
    real = os.splice
    def recording(*args, **kwargs):
        count = real(*args, **kwargs)
        if "offset_src" in kwargs:
            sizes.append(count)
        return count

    monkeypatch.setattr(os, "splice", recording)
    return sizes


def browser_parts(sample_id: int, name: str = "R1.fastq", data: bytes = DATA):
    return [("file", (name, data)), ("id", str(sample_id)), ("file_number", "1"), ("pre_process", "0")]


def test_spooled_upload_is_stored_by_the_fast_way(world, spooled_post, monkeypatch, kernel_copies):
    monkeypatch.setattr(uploads, "MultipartReader", None)  # reading in order would fail
    sample = world.sample_a
    answer = spooled_post(world.alice, browser_parts(sample.id))
    assert "success" not in answer, answer
    assert answer["size"] == len(DATA) and answer["checksum"] == "xxh3_128:" + xxhash.xxh3_128(DATA).hexdigest()
    assert sum(kernel_copies) == len(DATA)
    world.db.refresh(sample)
    assert sample.filename == "R1.fastq" and sample.size_file == len(DATA)
    assert (world.upload_dir / sample.data_file).read_bytes() == DATA
    assert storage.table_of(sample.data_file) == "sequence_file.data_file"
    assert not [name for name in files_in(world.upload_dir) if name.startswith(".")]


def test_api_order_spooled(world, spooled_post):
    parts = browser_parts(world.sample_a.id, "api.fastq")
    answer = spooled_post(world.alice, parts[1:] + parts[:1])
    assert "upload finished (api.fastq)" in answer["message"]
    assert (world.upload_dir / world.sample_a.data_file).read_bytes() == DATA


@pytest.mark.parametrize("who", ["bob", "reader"])
def test_refused_before_writing_a_byte_even_with_the_file_first_w1(world, spooled_post, monkeypatch, who):
    """W1: the original let anyone replace any sample's data. The browser sends the file
    before the id; from a spool the id is read first, and nothing is written."""
    created = []
    real_incoming = storage.IncomingFile
    monkeypatch.setattr(storage, "IncomingFile", lambda *a, **k: created.append(1) or real_incoming(*a, **k))
    before = snapshot(world, world.sample_a)
    answer = spooled_post(getattr(world, who), browser_parts(world.sample_a.id, "evil.fastq"))
    assert answer["success"] == "false" and answer["priority"] == 3
    assert created == []
    assert snapshot(world, world.sample_a) == before


@pytest.mark.parametrize("cut", [-5000, -10])
def test_cut_spooled_upload_leaves_nothing(world, spooled_post, cut):
    parts = browser_parts(world.sample_a.id)
    before = snapshot(world, world.sample_a)
    answer = spooled_post(world.alice, parts, keep=len(multipart(parts)[1]) + cut)
    assert answer["success"] == "false" and "interrupted" in answer["message"]
    assert snapshot(world, world.sample_a) == before


def test_delimiter_hidden_in_the_data_is_read_in_order(world, spooled_post, monkeypatch):
    """A body that breaks the multipart rule (a delimiter inside the file's data, far from the
    end) gets the answer reading in order gives: the file ends at the hidden delimiter, the
    part it opens is skipped, and no temporary file is left behind."""
    content_type, _ = multipart([])
    boundary = content_type.split("boundary=")[1]
    hidden = DATA[:1000] + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="extra"; ' \
        f'filename="x.bin"\r\n\r\n'.encode() + DATA[1000:]
    layouts = []
    real_locate = uploads.locate_file_part
    monkeypatch.setattr(uploads, "locate_file_part", lambda *a: layouts.append(real_locate(*a)) or layouts[-1])
    answer = spooled_post(world.alice, browser_parts(world.sample_a.id, data=hidden))
    assert layouts[0].size == len(hidden)  # taken from the ends at first, corrected by the reader
    assert "success" not in answer and answer["size"] == 1000
    assert (world.upload_dir / world.sample_a.data_file).read_bytes() == DATA[:1000]
    assert not [name for name in files_in(world.upload_dir) if name.startswith(".")]
