"""Unit tests of fuse_rpc.readers: streaming .vidjil, AIRR, clntab, pre-process pairs."""
from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from fuse_rpc import readers
from fuse_rpc.errors import FuseInputError
from fuse_rpc.readers import STREAMED, InputSpec


class Collect:
    """A CloneSink keeping everything, for comparisons with json.loads."""

    def begin(self) -> None:
        self.clones: list = []
        self.offsets: list[int] = []

    def add(self, clone, index, offset) -> None:
        assert index == len(self.clones)
        self.clones.append(clone)
        self.offsets.append(offset)


def write(path: Path, doc, compress: bool = False, **dump) -> Path:
    text = json.dumps(doc, **dump).encode("utf-8")
    path.write_bytes(gzip.compress(text) if compress else text)
    return path


def sample_doc(clones: int = 50, unicode: bool = False, seed: int = 1) -> dict:
    rnd = random.Random(seed)
    return {
        "vidjil_json_version": "2016b",
        "samples": {"number": 1, "original_names": ["é/sample" if unicode else "sample"]},
        "reads": {"total": [1000], "segmented": [900], "germline": {"IGH": [900]}},
        "clones": [{"id": f"c{i}", "top": i + 1, "reads": [rnd.randint(0, 99)],
                    "name": ("V✓ é %d" % i) if unicode else "V %d" % i,
                    "x": rnd.choice([1, -2.5e-7, 12345678901234567890, True, None, "t"]),
                    "seg": {"junction": {"productive": rnd.random() < 0.5}}} for i in range(clones)],
        "diversity": {"index_H_entropy": 1.5},
        "trailing": [1, 2.0, {"a": "b"}],
    }


# --------------------------------------------------------------------------- inputs


def test_input_spec_pairs_and_kinds():
    assert InputSpec.parse("r.vidjil") == InputSpec("r.vidjil", None)
    assert InputSpec.parse("r.vidjil,pre.vidjil") == InputSpec("r.vidjil", "pre.vidjil")
    assert InputSpec.parse("r.vidjil,pre.vidjil,ignored").pre_process == "pre.vidjil"
    with pytest.raises(FuseInputError):
        InputSpec.parse("r.vidjil,")
    kinds = {name: InputSpec(name).kind for name in
             ("a.vidjil", "a.vidjil.gz", "a.tsv", "a.tsv.gz", "a.AIRR", "x.airr", "s.clntab", "dir.tsv/a.vidjil")}
    assert kinds == {"a.vidjil": "vidjil", "a.vidjil.gz": "vidjil", "a.tsv": "airr", "a.tsv.gz": "airr",
                     "a.AIRR": "airr", "x.airr": "airr", "s.clntab": "clntab", "dir.tsv/a.vidjil": "vidjil"}


# --------------------------------------------------------------------------- streaming JSON


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 1000, 1 << 20])
@pytest.mark.parametrize("unicode", [False, True])
@pytest.mark.parametrize("layout", [{}, {"indent": 2}, {"sort_keys": True, "ensure_ascii": False, "indent": 1}])
def test_stream_matches_json_load(tmp_path, chunk, unicode, layout):
    doc = sample_doc(unicode=unicode)
    path = write(tmp_path / "s.vidjil", doc, **layout)
    sink = Collect()
    header = readers.stream_vidjil(str(path), sink, chunk)
    assert sink.clones == doc["clones"]
    assert header.pop("clones") is STREAMED
    assert header == {k: v for k, v in doc.items() if k != "clones"}
    assert list(header) == [k for k in json.loads(path.read_text()) if k != "clones"]
    # every recorded offset points at its clone, also after non-ASCII text
    assert readers.read_values_at(str(path), sink.offsets) == doc["clones"]


def test_offsets_in_gzip_and_key_order_kept(tmp_path):
    doc = sample_doc(unicode=True)
    path = write(tmp_path / "plain-name.vidjil", doc, compress=True, ensure_ascii=False)
    sink = Collect()
    readers.stream_vidjil(str(path), sink, 5)
    wanted = [3, 17, 49]
    assert readers.read_values_at(str(path), [sink.offsets[i] for i in wanted]) == [doc["clones"][i] for i in wanted]


def test_gzip_is_detected_from_content_not_name(tmp_path):
    doc = sample_doc(3)
    gz = write(tmp_path / "no-suffix.vidjil", doc, compress=True)
    plain = write(tmp_path / "looks.gz", doc)
    for path in (gz, plain):
        sink = Collect()
        readers.stream_vidjil(str(path), sink)
        assert sink.clones == doc["clones"]


def test_null_clones_and_repeated_clones_key(tmp_path):
    path = tmp_path / "r.vidjil"
    path.write_text('{"samples": {}, "clones": [{"id": "a"}], "clones": [{"id": "b"}, {"id": "c"}]}')
    sink = Collect()
    readers.stream_vidjil(str(path), sink)
    assert [c["id"] for c in sink.clones] == ["b", "c"]  # the last key wins, as with json.load
    path.write_text('{"clones": null, "samples": {}}')
    sink = Collect()
    assert readers.stream_vidjil(str(path), sink)["clones"] is None
    assert sink.clones == []


def test_number_cut_by_the_window_is_read_whole(tmp_path):
    path = tmp_path / "n.vidjil"
    path.write_text('{"clones": [], "n": 1234567890123, "m": [1.5e-10]}')
    for chunk in range(1, 12):
        header = readers.stream_vidjil(str(path), Collect(), chunk)
        assert header["n"] == 1234567890123 and header["m"] == [1.5e-10]


@pytest.mark.parametrize("text, message", [
    ('{"samples": {}, "clones": [{"id": "a"},]}', "line 1 column 40"),
    ('{"samples": {}\n, "clones": [1 2]}', "line 2 column 16"),
    ('{"samples": {}, "clones": [', "expecting a value"),
    ('{"a": "unterminated', "Unterminated string"),
    ('[1, 2]', "top level is not an object"),
    ('{"a": 1} {"b": 2}', "extra data"),
    ('', "empty file"),
    ('   ', "expecting a value"),
    ('{"a": tru}', "expecting a value"),
])
def test_invalid_json_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.vidjil"
    path.write_text(text)
    for chunk in (2, 1 << 20):
        with pytest.raises(FuseInputError) as error:
            readers.stream_vidjil(str(path), Collect(), chunk)
        assert str(path) in str(error.value)
        assert message in str(error.value)


def test_missing_file_and_not_utf8(tmp_path):
    with pytest.raises(FuseInputError, match="cannot open"):
        readers.stream_vidjil(str(tmp_path / "nope.vidjil"), Collect())
    binary = tmp_path / "bin.vidjil"
    binary.write_bytes(b'{"a": "\xff\xfe"}')
    with pytest.raises(FuseInputError, match="not UTF-8"):
        readers.stream_vidjil(str(binary), Collect())
    truncated = tmp_path / "cut.vidjil.gz"
    truncated.write_bytes(gzip.compress(b'{"samples": {}, "clones": []}')[:-6])
    with pytest.raises(FuseInputError):
        readers.stream_vidjil(str(truncated), Collect())


def test_check_version():
    readers.check_version({"vidjil_json_version": "2016b"}, "f")
    readers.check_version({"vidjil_json_version": "2014.10"}, "f")
    readers.check_version({"vidjil_json_version": ["2016b"]}, "f")  # AIRR-born documents
    for doc in ({}, {"vidjil_json_version": "2014.09"}, {"vidjil_json_version": 2016}):
        with pytest.raises(FuseInputError, match="vidjil_json_version"):
            readers.check_version(doc, "f")


def test_pre_process_pair(tmp_path):
    pre = write(tmp_path / "pre.vidjil", {"reads": {"total": [4], "merged": [3]}, "pre_process": {"producer": ["FLASH"]}})
    assert readers.read_pre_process(str(pre)) == ({"producer": ["FLASH"]}, [3])
    other = write(tmp_path / "other.vidjil", {"reads": {"total": [4]}})
    with pytest.raises(FuseInputError, match="not a pre-process file"):
        readers.read_pre_process(str(other))


# --------------------------------------------------------------------------- AIRR


AIRR_HEADER = ["sequence_id", "sequence", "duplicate_count", "locus", "v_call", "d_call", "j_call", "productive",
               "cdr3_start", "cdr3_end", "junction_aa", "warnings"]


def write_airr(path: Path, rows: list[list[str]], header=AIRR_HEADER, compress=False) -> Path:
    text = "\n".join("\t".join(cells) for cells in [header, *rows]) + "\n"
    path.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    return path


def test_airr_table_becomes_one_sample(tmp_path):
    path = write_airr(tmp_path / "x.tsv.gz", [
        ["s1", "ACGT", "5", "IGH", "Homsap IGHV1-2*01 F, or Homsap IGHV1-3*01 F", "", "IGHJ4*02", "T", "3", "9", "CAR", ""],
        ["s1", "ACGTACGT", "", "", "IGHV3*01", "IGHD2*01", "", "false", "", "", "", "W69"],
        ["s2", "AC", "12", "IGK", "", "", "IGKJ1*01", "x", "", "", "", ""],
    ], compress=True)
    doc = readers.read_airr(str(path))
    first, second, third = doc["clones"]
    assert [c["id"] for c in doc["clones"]] == ["s2", "s1", "s1_1"]  # ranked by reads
    assert [c["top"] for c in doc["clones"]] == [1, 2, 3]
    assert second == {
        "id": "s1", "top": 2, "reads": [5],
        "seg": {"junction": {"aa": "CAR", "productive": True}, "cdr3": {"start": 3, "stop": 9},
                "5": {"name": "IGHV1-2*01"}, "3": {"name": "IGHJ4*02"}},
        "sequence": "ACGT", "germline": "IGH", "name": "IGHV1-2*01 IGHJ4*02",
        "_average_read_length": [4.0], "_coverage": [1.0], "_coverage_info": ["4.0 bp (100% of 4.0 bp)"],
    }
    assert third["reads"] == [1] and third["germline"] == "undetermined"
    assert third["warn"] == [{"code": "W69", "level": "warn"}]
    assert third["seg"]["junction"]["productive"] is False and third["name"] == "IGHV3*01 IGHD2*01"
    assert first["seg"]["junction"]["productive"] == "x"
    assert doc["reads"] == {"total": [18], "segmented": [18], "germline": {"IGH": [5], "undetermined": [1], "IGK": [12]},
                            "distribution": {}}
    assert doc["samples"]["original_names"] == [str(path)]
    assert doc["vidjil_json_version"] == ["2016b"]


def test_airr_mixcr_columns_and_igblast_trailer(tmp_path):
    path = write_airr(tmp_path / "m.tsv", [["7", "ACG", "3.0", "TRG", "TRGV9*01"], ["Total queries = 2", "", "", "", ""]],
                      header=["cloneId", "targetSequences", "cloneCount", "chains", "bestVHit"])
    doc = readers.read_airr(str(path))
    assert len(doc["clones"]) == 1
    assert doc["clones"][0]["id"] == "7" and doc["clones"][0]["reads"] == [3]
    assert doc["clones"][0]["germline"] == "TRG" and doc["clones"][0]["name"] == "TRGV9*01"


def test_airr_errors(tmp_path):
    with pytest.raises(FuseInputError, match="sequence_id"):
        readers.read_airr(str(write_airr(tmp_path / "a.tsv", [["x"]], header=["foo"])))
    with pytest.raises(FuseInputError, match="line 2"):
        readers.read_airr(str(write_airr(tmp_path / "b.tsv", [["s", "AC", "many"]], header=AIRR_HEADER[:3])))


def test_clntab(tmp_path):
    header = ["clonotype", "sequence.raw nt seq", "sequence.size", "sequence.V-GENE and allele",
              "sequence.D-GENE and allele", "sequence.J-GENE and allele", "sequence.JUNCTION.raw nt seq", "other"]
    rows = [["V1 J1", "AACCGGTT", "3", "IGHV1=a", "", "IGHJ1=b", "CCGG", "o1"],
            ["V2 J2", "TTTTAAAA", "9", "IGHV2=a", "IGHD1=c", "IGHJ2=b", "GGG", "o2"]]
    path = tmp_path / "s.clntab"
    path.write_text("\n".join("\t".join(r) for r in [header, *rows]) + "\n")
    doc = readers.read_clntab(str(path))
    top, second = doc["clones"]
    assert top["id"] == "TTTTAAAA" and top["top"] == 1 and top["seg"]["4"] == "IGHD1"
    assert top["seg"]["3start"] == 0 and top["seg"]["5end"] == 8  # junction not found
    assert second["seg"]["5end"] == 2 and second["seg"]["3start"] == 6 and second["seg"]["cdr3"] == ""
    assert second["_other"] == ["o1\n"] and second["_clonotype"] == ["V1 J1"] and second["name"] == "V1 J1"
    assert doc["reads"]["total"] == [12] and "diversity" not in doc
