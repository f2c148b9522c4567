"""Helpers of the sample-page tests: the world's shape, multipart bodies as the clients send them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import webtest

from vidjil_pyramid.files import storage

UPLOAD_LIMIT = 3_000_000  # vidjil.max_upload_bytes of these tests


@dataclass
class World:
    db: object
    upload_dir: Path
    results_dir: Path
    lab_a: object
    lab_b: object
    alice: object  # lab A, every right on its sets
    bob: object  # lab B
    reader: object  # may read lab A's sets, not modify them
    admin: object
    set_a: object
    patient_a: object
    set_a2: object
    set_b: object
    sample_a: object
    sample_b: object
    pair_pre_process: object

    def stored_sample_file(self, sample, content: bytes = b">r1\nACGT\n", filename: str = "sample.fa"):
        name = storage.stored_name("sequence_file", "data_file", filename)
        (self.upload_dir / name).write_bytes(content)
        sample.data_file = name
        sample.filename = filename
        sample.size_file = len(content)
        self.db.flush()
        return name


BOUNDARY = "----VidjilTestBoundary1234567890"


def multipart(parts: list[tuple[str, object]]) -> tuple[str, bytes]:
    """(content type, body) of a multipart form in the given order; a part is
    `(name, "value")` or `(name, ("file name", b"data"))` (the browser sends the file first)."""
    out = bytearray()
    for name, value in parts:
        out += f"--{BOUNDARY}\r\n".encode()
        if isinstance(value, tuple):
            filename, data = value
            quoted = filename.replace('"', "%22")
            out += f'Content-Disposition: form-data; name="{name}"; filename="{quoted}"\r\n'.encode()
            out += b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n"
        else:
            out += f'Content-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    out += f"--{BOUNDARY}--\r\n".encode()
    return f"multipart/form-data; boundary={BOUNDARY}", bytes(out)


def raw_post(app, path, *, content_type, body=None, stream=None, length=None, headers=None, status=200):
    """POST a body exactly as given, or from a stream (WebTest would re-encode a multipart `post`)."""
    environ = {**app.extra_environ, "CONTENT_TYPE": content_type}
    if stream is not None:
        environ.update({"wsgi.input": stream, "CONTENT_LENGTH": str(length)})
    request = webtest.TestRequest.blank(path, method="POST", environ=environ, headers=headers or {})
    if stream is None:
        request.body = body
        request.content_type = content_type
    return app.do_request(request, status=status)


def post_upload(app, parts, status=200, headers=None):
    content_type, body = multipart(parts)
    return raw_post(app, "/vidjil/file/upload", content_type=content_type, body=body, headers=headers, status=status)


def browser_upload(app, sample_id, filename, data, file_number=1, pre_process="0", status=200):
    """The browser's FormData order: file, id, file_number, pre_process."""
    return post_upload(app, [("file", (filename, data)), ("id", str(sample_id)), ("file_number", str(file_number)),
                             ("pre_process", str(pre_process))], status=status)


def jtext(response) -> dict:
    """The JSON of an answer served as text, as the browser parses it."""
    return json.loads(response.text)


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []
