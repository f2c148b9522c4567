"""Unit tests of the merge (fuse_rpc.merge), statistics, names, writers and the command line."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fuse_rpc import FuseOptions, fuse, merge, stats
from fuse_rpc.cli import main
from fuse_rpc.errors import FuseInputError
from fuse_rpc.names import interesting_substrings

REPO = Path(__file__).resolve().parents[3]


def clone(clone_id: str, top: int, reads: list, **fields) -> dict:
    return {"id": clone_id, "top": top, "reads": reads, **fields}


def vidjil(path: Path, clones: list[dict], names=None, segmented=None, **top_level) -> str:
    names = names or [path.stem]
    total = segmented or [sum(c["reads"][i] for c in clones) or 1 for i in range(len(names))]
    doc = {"vidjil_json_version": "2016b",
           "samples": {"number": len(names), "original_names": names},
           "reads": {"total": total, "segmented": total, "germline": {"IGH": total}},
           "clones": clones, **top_level}
    path.write_text(json.dumps(doc))
    return str(path)


# --------------------------------------------------------------------------- padding and clones


def test_concat_padded_fills_missing_samples_by_type():
    left = {"a": [1, 2], "s": ["x"], "f": [1.5], "b": [True], "l": [[1]], "o": [{}], "n": [None], "e": [],
            "normalized_reads": [0.5], "reads": [1], "skip": 3}
    right = {"a": [3], "z": ["y"], "reads": [0, 0, 0]}
    out: dict = {}
    merge.concat_padded(out, left, 1, right, 3)
    assert out == {"a": [1, 2, 3], "s": ["x", "", "", ""], "f": [1.5, 0.0, 0.0, 0.0], "b": [True, False, False, False],
                   "l": [[1], [], [], []], "o": [{}, {}, {}, {}], "n": [None] * 4, "e": [0, 0, 0],
                   "normalized_reads": [0.5, None, None, None], "reads": [1, 0, 0, 0], "z": ["", "y"]}
    assert list(out) == ["a", "s", "f", "b", "l", "o", "n", "e", "normalized_reads", "reads", "z"]


def test_concat_padded_recursive_with_nulls():
    out: dict = {}
    merge.concat_padded(out, {"stats": {"x": [1]}, "p": ["a"]}, 1, {}, 2, recursive=True, pad_none=True)
    assert out == {"p": ["a", None, None], "stats": {"x": [1, None, None]}}


def test_merge_clone_keeps_the_best_ranked_side_and_warns():
    left = clone("c", 5, [10], name="A", seg={"junction": {"productive": True}}, valA=1, mrd={"copy_number": [2]})
    right = clone("c", 2, [20, 30], name="B", seg={"junction": {"productive": False}}, valB=2, warn=[{"code": "W1"}])
    merged = merge.merge_clone(left, right)
    assert merged["reads"] == [10, 20, 30]
    assert merged["top"] == 2 and merged["name"] == "B" and merged["valA"] == 1 and merged["valB"] == 2
    assert merged["mrd"] == {"copy_number": [2, 0, 0], "R2": [0, 0, 0], "family": ["", "None", "None"],
                             "norm_coeff": [0, 0, 0]}
    assert merged["warn"] == [
        {"code": "W1"},
        {"code": "W81", "msg": "Merged clone has different V(D)J designations in some samples (pos 1): A", "level": "warn"},
        {"code": "W82", "msg": "Merged clone has different productivities in some samples (pos 1): productive",
         "level": "warn"},
    ]
    assert list(merged)[:3] == ["reads", "warn", "mrd"]


def test_merge_clone_lists_orders_by_rank_stably():
    left = [clone("a", 3, [1]), clone("b", 1, [2])]
    right = [clone("c", 1, [3]), clone("a", 9, [4])]
    merged = merge.merge_clone_lists(left, right, 1, 1)
    assert [(c["id"], c["top"], c["reads"]) for c in merged] == [("b", 1, [2, 0]), ("c", 1, [0, 3]), ("a", 3, [1, 4])]


def test_merge_documents_sections():
    def doc(names, warn=None, **extra):
        n = len(names)
        d = {"samples": {"number": n, "original_names": names}, "reads": {"total": [9] * n, "segmented": [8] * n,
             "germline": {}, "distribution": {}}, "clones": [], "diversity": merge.normalise_diversity(None)}
        if warn:
            d["warn"] = warn
        d.update(extra)
        return d
    left = doc(["a", "b"], warn=[{"code": "X"}], clusters=[], config={"dropped": True},
               mrd={"number": 1, "prevalent": ["IGH"], "coefficients": {}})
    right = doc(["c"], warn=[{"code": "Y"}], similarity=[[1]])
    right["diversity"] = merge.normalise_diversity({"index_H_entropy": [1.0, 2.0]})
    merged = merge.merge_documents(left, right)
    assert merged["clusters"] == [0] and merged["similarity"] == [[], [], [1]] and "config" not in merged
    assert merged["samples"]["number"] == 3 and merged["samples"]["original_names"] == ["a", "b", "c"]
    assert merged["reads"]["segmented"] == [8, 8, 8]
    assert merged["diversity"]["index_H_entropy"] == ["na", 1.0]  # only the first value of the right side
    assert merged["warn"] == [{"code": "X", "sample": 1}, {"code": "Y", "sample": 2}]
    assert merged["mrd"] == {"number": 2, "prevalent": ["IGH", ""]}
    assert merged["germlines"] == {} and merged["producer"] == "vidjil fuse"


def test_overlaps():
    clones = [clone("a", 1, [10, 10, 0]), clone("b", 2, [0, 5, 0]), clone("c", 3, [1, 0, 0])]
    result = merge.compute_overlaps(clones, 3)
    assert result["jaccard"][0] == [1.0, 0.333, 0]
    assert result["morisita"][0][1] == round(100 / ((101 + 125) / 2), 3)
    assert result["morisita"][2] == [0, 0, 0] and isinstance(result["morisita"][2][0], int)


# --------------------------------------------------------------------------- statistics


def test_reads_distribution_buckets():
    histogram = stats.ReadsHistogram()
    for reads in ([50], [5], [1], [0], [3]):
        histogram.add(reads)
    assert histogram.distribution([100]) == {"0.1": [50], "0.01": [9], "0.001": [0], "0.0001": [0],
                                             "0.00001": [0], "0.000001": [0], "0.0000001": [0]}
    assert histogram.distribution([0])["0.1"] == [0]


def test_reads_distribution_float_sums_keep_clone_order():
    histogram = stats.ReadsHistogram()
    values = [1, 0.1, 2, 0.2, 0.7]
    for value in values:
        histogram.add([value])
    expected = 0
    for value in values:
        expected += value
    assert histogram.distribution([1e9])["0.0000001"] == [expected]


def test_axis_values():
    c = clone("x", 4, [3, 0], germline="TRG", _average_read_length=[150.5, 151.5],
              seg={"5": {"name": "V", "delRight": 2}, "junction": {"productive": True}})
    assert stats.axis_value(c, "seg5", 0) == "V" and stats.axis_value(c, "seg3", 0) == "?"
    assert stats.axis_value(c, "lenSeqAverage", 0) == 150.0 and stats.axis_value(c, "lenSeqAverage", 1) == 152.0
    assert stats.axis_value(c, "lenCDR3", 0) == "unknow_axis" and stats.axis_value(c, "productive", 0) is True
    assert stats.axis_value(clone("y", 1, [1]), "seg5", 0) == "?"
    assert c["_average_read_length"] == [150.5, 151.5]  # reading an axis does not change the clone
    assert len(stats.preset_distributions()) == 959
    assert stats.parse_distributions(["a,b", "c", "a,b"]) == [["a", "b"], ["c"]]


def test_names_compression():
    assert interesting_substrings(["/data/run1/sample_1.fastq", "/data/run1/sample_22.fastq"]) == ["1", "22"]
    assert interesting_substrings(["ec-A-seq-1-bla", "ec-B-seq-512-bla", "ec-C-seq-21-bla"], 0) == ["A-1", "B-512", "C-21"]
    # no common suffix: the original returned empty names here (see docs/fuse.md)
    assert interesting_substrings(["patient-aaaaaaa", "patient-bbbbbbbb"]) == ["aaaaaaa", "bbbbbbbb"]
    assert interesting_substrings(["patient-diag-x", "patient-mrd1-yy"]) == ["-iag-x", "mr-1-yy"]
    assert interesting_substrings([]) == []


# --------------------------------------------------------------------------- whole runs


def test_top_selection_fetches_clones_dropped_earlier(tmp_path):
    # "late" ranks 1 only in the third file: its data in the first two files was
    # dropped by the streaming pass and must be read back from its offset.
    first = vidjil(tmp_path / "a.vidjil", [clone(f"a{i}", i + 1, [100 - i]) for i in range(50)] + [clone("late", 60, [7])])
    second = vidjil(tmp_path / "b.vidjil", [clone("late", 55, [3], name="é")] + [clone(f"a{i}", i + 1, [90]) for i in range(3)])
    third = vidjil(tmp_path / "c.vidjil", [clone("late", 1, [80])])
    doc = fuse([first, second, third], FuseOptions(top=2))
    assert [(c["id"], c["reads"]) for c in doc["clones"]] == [
        ("a0", [100, 90, 0]), ("late", [7, 3, 80]), ("a1", [99, 90, 0])]
    assert doc["samples"]["original_names"] == ["a", "b", "c"]
    late = doc["clones"][1]
    assert late["top"] == 1 and late["name"] == "é"


def test_repeated_id_keeps_last_object_at_first_place(tmp_path):
    path = vidjil(tmp_path / "d.vidjil", [clone("x", 30, [1], v=1), clone("y", 1, [9]), clone("x", 2, [5], v=2),
                                          clone("x", 40, [2], v=3)])
    doc = fuse([path], FuseOptions(top=5))
    assert [(c["id"], c.get("v")) for c in doc["clones"]] == [("y", None)]  # x's last occurrence ranks 40 > 5
    doc = fuse([path], FuseOptions(top=50))
    assert [(c["id"], c.get("v")) for c in doc["clones"]] == [("x", 3), ("y", None)]
    doc = fuse([path, path], FuseOptions(top=50))
    assert [c["id"] for c in doc["clones"]] == ["y", "x"]


def test_single_input_keeps_its_own_fields(tmp_path):
    path = vidjil(tmp_path / "s.vidjil", [clone("c", 1, [4], _average_read_length=[99.5])], config={"k": 1},
                  germlines={"g": 1}, diversity={"index_H_entropy": 2.0, "extra": 1})
    doc = fuse([path], FuseOptions(top=10, distributions=[["lenSeqAverage"]]))
    assert doc["config"] == {"k": 1} and doc["germlines"] == {"g": 1}
    assert doc["diversity"] == {"index_H_entropy": [2.0], "index_E_equitability": ["na"], "index_Ds_diversity": ["na"]}
    assert doc["distributions"] == {"repertoires": {"s": [{"axes": ["lenSeqAverage"], "values": {100.0: [1, 4]}}]},
                                    "keys": ["clones", "reads"], "filters": []}
    assert doc["clones"][0]["_average_read_length"] == [100.0]  # rounded, as the original did
    assert len(doc["samples"]["timestamp"]) == 1 and "similarity" not in doc


def test_options_top_zero_no_clones_overlaps_and_many_clones(tmp_path):
    many = vidjil(tmp_path / "m.vidjil", [clone(f"c{i}", i + 1, [1000 - i]) for i in range(150)])
    assert fuse([many], FuseOptions(top=0))["clones"] == []
    doc = fuse([many, many], FuseOptions(top=120, overlaps=True, no_clones=True))
    assert "clones" not in doc and doc["similarity"] == []
    assert doc["overlaps"]["jaccard"] == [[1.0, 1.0], [1.0, 1.0]]
    assert "distributions" not in fuse([many, many], FuseOptions(distributions=[["germline"]]))  # same name twice


def test_bad_clones_are_reported(tmp_path):
    for bad, message in (({"id": "a", "reads": [1]}, "no 'top'"), ({"id": 3, "top": 1, "reads": [1]}, "'id'"),
                         ({"id": "a", "top": "1", "reads": [1]}, "'top'"), ({"id": "a", "top": 1, "reads": ["x"]}, "numbers")):
        path = tmp_path / "bad.vidjil"
        path.write_text(json.dumps({"vidjil_json_version": "2016b", "samples": {"number": 1, "original_names": ["s"]},
                                    "reads": {"total": [1], "segmented": [1]}, "clones": [bad]}))
        with pytest.raises(FuseInputError, match=message):
            fuse([str(path)])


# --------------------------------------------------------------------------- command line


def run_main(args: list[str], capsys) -> tuple[int, str, str]:
    status = main(args)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_missing_file_and_invalid_json(tmp_path, capsys):
    out = tmp_path / "o.vidjil"
    status, _, err = run_main(["-o", str(out), str(tmp_path / "missing.vidjil")], capsys)
    assert status == 1 and "cannot open" in err and "Traceback" not in err and not out.exists()
    bad = tmp_path / "bad.vidjil"
    bad.write_text('{"samples": [')
    status, _, err = run_main(["-o", str(out), "--", str(bad)], capsys)
    assert status == 1 and "invalid JSON" in err and "Traceback" not in err and not out.exists()


def test_cli_usage_errors(capsys):
    assert run_main([], capsys)[0] == 2
    assert run_main(["-t", "x", "a.vidjil"], capsys)[0] == 2
    assert run_main(["--multi", "a.vidjil"], capsys)[0] == 2
    status, out, _ = run_main(["-l"], capsys)
    assert status == 0 and "lenSeqAverage" in out


def test_cli_writes_original_layout_and_accumulates_distributions(tmp_path, capsys):
    a = vidjil(tmp_path / "a.vidjil", [clone("c", 1, [4], germline="IGH")])
    b = vidjil(tmp_path / "b.vidjil", [clone("c", 1, [2], germline="IGH")])
    out = tmp_path / "o.vidjil"
    status, stdout, _ = run_main(["-o", str(out), "-d", "germline", "-d", "top", "--first", "2", "--", a, b, a], capsys)
    assert status == 0 and f"==> {out}" in stdout
    text = out.read_text()
    assert text.startswith('{\n  "samples": {\n    "number": 2,') and not text.endswith("\n")
    doc = json.loads(text)
    assert [d["axes"] for d in doc["distributions"]["repertoires"]["a"]] == [["germline"], ["top"]]


def test_cli_export_airr(tmp_path, capsys):
    a = vidjil(tmp_path / "a.vidjil", [clone("c", 1, [4], germline="IGH", seg={"5": {"name": "V1"}})])
    out = tmp_path / "o.vidjil"
    assert run_main(["-o", str(out), "--export-airr", a], capsys)[0] == 0
    lines = (tmp_path / "o.airr").read_text().splitlines()
    assert lines[0].startswith("filename\tlocus\tduplicate_count\tv_call")
    assert lines[1].split("\t")[:8] == ["a", "IGH", "4", "V1", "", "", "c", ""]
    assert not out.exists()


def test_cli_pre_and_post_scripts(tmp_path, capsys):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    tag = scripts / "tag.py"
    tag.write_text(f"#!{sys.executable}\nimport json, sys\n"
                   "args = sys.argv[1:]; i = args[args.index('-i') + 1]; o = args[args.index('-o') + 1]\n"
                   "d = json.load(open(i)); d['samples']['original_names'] = [args[0]] * d['samples']['number']\n"
                   "json.dump(d, open(o, 'w'))\n")
    tag.chmod(0o755)
    fail = scripts / "fail.py"
    fail.write_text(f"#!{sys.executable}\nimport sys\nsys.exit(3)\n")
    fail.chmod(0o755)
    a = vidjil(tmp_path / "a.vidjil", [clone("c", 1, [4])])
    out = tmp_path / "o.vidjil"
    base = ["-o", str(out), "--scripts-dir", str(scripts)]
    assert run_main(base + ["--pre", "tag.py X", "--", a, a], capsys)[0] == 0
    assert json.loads(out.read_text())["samples"]["original_names"] == ["X", "X"]
    assert run_main(base + ["--post", "tag.py Y", "--", a], capsys)[0] == 0
    assert json.loads(out.read_text())["samples"]["original_names"] == ["Y"]
    status, _, err = run_main(base + ["--pre", "tag.py X && fail.py", "--", a], capsys)
    assert status == 1 and "exit status 3" in err
    assert run_main(base + ["--pre", "../tag.py", "--", a], capsys)[0] == 2
    assert run_main(["-o", str(out), "--pre", "tag.py", "--", a], capsys)[0] == 2  # no scripts directory


def test_python_m_fuse_rpc(tmp_path):
    a = vidjil(tmp_path / "a.vidjil", [clone("c", 1, [4])])
    out = tmp_path / "o.vidjil"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "fuse_rpc", "-o", str(out), "-t", "5", "--", a, a],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["clones"][0]["reads"] == [4, 4]
    done = subprocess.run([sys.executable, "-m", "fuse_rpc", "-o", str(out), str(tmp_path / "none")],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr


def test_streaming_pass_keeps_only_top_clones(tmp_path):
    """Memory must not grow with the clones that -t drops: only ~16 bytes per dropped clone stay."""
    path = vidjil(tmp_path / "big.vidjil", [clone(f"c{i}", i + 1, [5000 - i], name="x" * 100) for i in range(5000)])
    scanned = merge.scan_input(merge.InputSpec(path), FuseOptions(top=10), set())
    collector = scanned.collector
    assert collector.count == 5000 and len(collector.kept) == 10 and scanned.in_memory is None
    assert collector.hashes.itemsize + collector.offsets.itemsize == 16
