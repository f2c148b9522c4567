"""The streaming rewrite behind get_data: same result as loading the whole file, in bounded memory."""
from __future__ import annotations

import io
import json
import random
import tracemalloc

import pytest

from vidjil_pyramid.results.serve import DocumentError, scan_top_level, serve_rewritten

TRICKY = {
    "producer": "vidjil fuse",
    "samples": {"number": 2, "original_names": ["/a/b/x.fa", "y.fa"]},
    "clones": [
        {"id": "br[ack]{et}s\" and \\ escapes", "reads": [1, 2], "top": 1, "name": "é à ü 中文 😀"},
        {"id": "n", "reads": [1.5e-3, -0.0], "seg": {"5": {"x": [True, False, None]}}},
        [], {}, "", 12345678901234567890,
    ],
    "empty_list": [], "empty_object": {}, "number": -12.5e+3, "flag": False, "nothing": None,
    "text": "a \u2028 line \n break \t tab \u0000 nul",
    "nested": {"a": [[[]]], "b": {"c": {}}},
}


def rewrite_names(parsed):
    samples = dict(parsed["samples"])
    samples["original_names"] = [n.split("/")[-1] for n in samples["original_names"]]
    return {"samples": samples, "dataFileName": "Dup (multi)", "producer": "replaced"}


def expected(document, rewrite):
    merged = dict(document)
    merged.update(rewrite({k: document[k] for k in ("samples",) if k in document}))
    return merged


@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("chunk_size", [1, 3, 7, 64, 1 << 20])
def test_rewrite_equals_loading_everything(tmp_path, indent, chunk_size):
    """Every chunk boundary (down to one byte) falls somewhere tricky: inside strings,
    escapes, multi-byte characters, numbers and literals."""
    path = tmp_path / "fused.vidjil"
    path.write_text(json.dumps(TRICKY, indent=indent, ensure_ascii=False), encoding="utf-8")
    served = serve_rewritten(path, ["samples"], rewrite_names, chunk_size=chunk_size)
    body = served.read_all()
    served.close()
    assert len(body) == served.length
    assert json.loads(body) == expected(TRICKY, rewrite_names)


def test_untouched_values_are_copied_byte_for_byte(tmp_path):
    path = tmp_path / "fused.vidjil"
    clones_text = '[ {"id" : "a",\n "reads":[1,2]} ,{"id":"b"} ]'
    path.write_bytes(('{"samples": {"original_names": []}, "clones": ' + clones_text + "}").encode())
    body = serve_rewritten(path, ["samples"], lambda parsed: {"samples": parsed["samples"]}).read_all()
    assert ('"clones":' + clones_text).encode() in body


def test_new_keys_are_added_and_replaced_keys_written_once(tmp_path):
    path = tmp_path / "fused.vidjil"
    path.write_text('{"info": "old", "clones": [], "info": "older"}')
    body = serve_rewritten(path, [], lambda parsed: {"info": "new", "sample_set_id": 3}).read_all()
    assert body.count(b'"info"') == 1
    assert json.loads(body) == {"info": "new", "clones": [], "sample_set_id": 3}


def test_spans_of_the_top_level_values(tmp_path):
    text = b'{"a": [1, {"b": "]"}], "c" :"x", "d":{}}'
    spans = scan_top_level(io.BytesIO(text), chunk_size=2)
    assert [(s.key, text[s.start:s.end]) for s in spans] == [
        ("a", b'[1, {"b": "]"}]'), ("c", b'"x"'), ("d", b"{}")]


@pytest.mark.parametrize("content", [
    b"", b"[1, 2]", b'"text"', b'{"a": 1', b'{"a": [1, 2}', b'{"a": 1} trailing', b'{"a" 1}',
    b'{"clones": [{"id": "a"}, {"id": ', b'{a: 1}', b'{"a": tru}',
])
def test_broken_documents_are_refused(tmp_path, content):
    path = tmp_path / "broken.vidjil"
    path.write_bytes(content)
    with pytest.raises(DocumentError):
        serve_rewritten(path, [], lambda parsed: {}, chunk_size=4)


def test_a_broken_rewritten_value_is_refused(tmp_path):
    path = tmp_path / "broken.vidjil"
    path.write_bytes(b'{"samples": {"original_names": ["\xff\xfe"]}, "clones": []}')
    with pytest.raises(DocumentError):
        serve_rewritten(path, ["samples"], lambda parsed: parsed)


def big_fused_file(path, clone_count: int) -> int:
    rng = random.Random(7)
    with open(path, "w") as out:
        out.write('{"samples": {"number": 1, "original_names": ["/up/x.fa"]}, "reads": {"total": [1]},\n"clones": [')
        for index in range(clone_count):
            clone = {"id": f"clone{index}", "reads": [rng.randint(0, 1000)], "top": index + 1,
                     "sequence": "".join(rng.choices("ACGT", k=250)), "name": "IGHV3-9*01 ü"}
            out.write(("," if index else "") + json.dumps(clone, ensure_ascii=False))
        out.write("]}")
    return path.stat().st_size


def test_memory_does_not_grow_with_the_clones(tmp_path):
    """Serving a fused file holds a read buffer, never the document (a full load needs ~5x the file)."""
    path = tmp_path / "big.vidjil"
    size = big_fused_file(path, 12000)
    assert size > 3_000_000
    tracemalloc.start()
    try:
        served = serve_rewritten(path, ["samples"], rewrite_names, chunk_size=256 * 1024)
        length = sum(len(piece) for piece in served)
        served.close()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert length == served.length
    assert peak < size / 2, f"peak {peak} bytes for a {size}-byte file"
