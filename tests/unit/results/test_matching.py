"""Pure pieces of the results services: sample matching, sample rewriting, analyses, names."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from vidjil_pyramid.results.analyses import clean_analysis, empty_analysis, parse_sample_infos
from vidjil_pyramid.results.fused import DELETED_SAMPLE_INFO, SampleRecord, match_sample, rewrite_samples
from vidjil_pyramid.results.services import ResultsError, format_size, matches_filter, output_file_path


def record(file_id, data_file=None, result_file=None, filename=None, info="", date=None, result_id=None):
    return SampleRecord(sequence_file_id=file_id, results_file_id=result_id or file_id * 10,
                        sequence_data_file=data_file, result_data_file=result_file, filename=filename,
                        info=info, sampling_date=date)


RECORDS = [
    record(1, data_file="sequence_file.data_file.aa.6469.fa", result_file="results_file.data_file.r1.txt",
           filename="diag.fa"),
    record(2, data_file="sequence_file.data_file.bb.6669.tsv", result_file="results_file.data_file.r2.tsv",
           filename="import.tsv"),
    record(3, data_file="sequence_file.data_file.cc.txt", result_file="results_file.data_file.r3.txt",
           filename="Demo-X5-x100.vidjil"),
]


def test_matching_by_stored_sample_name_first():
    assert match_sample("sequence_file.data_file.aa.6469.fa", RECORDS).sequence_file_id == 1


def test_matching_by_stored_result_name_for_airr_imports():
    assert match_sample("results_file.data_file.r2.tsv", RECORDS).sequence_file_id == 2


def test_matching_by_file_name_without_extension_for_vidjil_imports():
    assert match_sample("Demo-X5-x100.fasta", RECORDS).sequence_file_id == 3


def test_stored_names_win_over_file_names():
    confusing = [record(7, filename="sequence_file.data_file.aa.6469.txt"), *RECORDS]
    assert match_sample("sequence_file.data_file.aa.6469.fa", confusing).sequence_file_id == 1


def test_unknown_names_match_nothing():
    assert match_sample("other.fa", RECORDS) is None
    assert match_sample("x", [record(9, filename=None)]) is None


def test_rewrite_samples():
    samples = {"number": 2, "original_names": ["/up/sequence_file.data_file.aa.6469.fa", "/gone/z.fa"],
               "log": ["a", "b"], "info": ["stale", "stale"]}
    distributions = {"repertoires": {"/up/sequence_file.data_file.aa.6469.fa": [1], "/gone/z.fa": [2]},
                     "keys": ["clones"]}
    records = [record(1, data_file="sequence_file.data_file.aa.6469.fa", filename="diag.R1.fa", info="dx",
                      date=dt.date(2024, 1, 2), result_id=11)]
    new, new_distributions = rewrite_samples(samples, distributions, records, "5", "-c clones", {1: 42})
    assert new["original_names"] == ["sequence_file.data_file.aa.6469.fa", "z.fa"]
    assert new["names"] == ["diag", "deleted"]
    assert new["info"] == ["dx", DELETED_SAMPLE_INFO]
    assert new["timestamp"] == ["2024-01-02", "None"]
    assert new["sequence_file_id"] == [1, ""] and new["id"] == [1, ""]
    assert new["results_file_id"] == [11, ""]
    assert new["config_id"] == ["5", "5"] and new["db_key"] == ["", ""]
    assert new["commandline"] == ["-c clones", "-c clones"]
    assert new["patient_id"] == [42, -1]
    assert new["sample_name"] == [1, ""] and new["run_id"] == [1, ""]
    assert new["log"] == ["a", "b"] and new["number"] == 2
    assert new_distributions["repertoires"] == {"sequence_file.data_file.aa.6469.fa": [1], "z.fa": [2]}
    assert new_distributions["keys"] == ["clones"]
    assert samples["info"] == ["stale", "stale"]  # the input is not modified


def test_rewrite_samples_needs_original_names():
    with pytest.raises(ValueError):
        rewrite_samples({"number": 1}, None, RECORDS, "1", "", {})


def test_no_distributions_stay_absent():
    _, distributions = rewrite_samples({"original_names": []}, None, [], "1", "", {})
    assert distributions is None


def test_clean_analysis_keeps_what_the_browser_reads():
    saved = {"clones": [1], "cluster": [["a"]], "tags": {"names": {}}, "report_save": {"x": 1},
             "samples": {"id": ["s"]}, "info": "dropped", "normalization": {}, "producer": "browser"}
    cleaned = clean_analysis(saved)
    assert cleaned == {**empty_analysis(), "clones": [1], "clusters": [["a"]], "tags": {"names": {}},
                       "report_save": {"x": 1}, "samples": {"id": ["s"]}}
    assert clean_analysis({"cluster": [["old"]], "clusters": [["new"]]})["clusters"] == [["new"]]


def test_sample_infos_from_the_form():
    assert parse_sample_infos(["1,2"], ["a,b"]) == [(1, "a"), (2, "b")]
    assert parse_sample_infos(["1", "2"], ["a,x", "b"]) == [(1, "a,x"), (2, "b")]
    assert parse_sample_infos([",3"], [",c"]) == [(3, "c")]
    for ids, infos in ((["1"], ["a,b"]), (["x"], ["a"]), (["-1"], ["a"])):
        with pytest.raises(ResultsError):
            parse_sample_infos(ids, infos)


@pytest.mark.parametrize("size,text", [(0, "0 B"), (42, "42 B"), (999, "999 B"), (1000, "1.00 kB"),
                                       (5333, "5.33 kB"), (72200, "72.2 kB"), (123456, "123 kB"),
                                       (10**6, "1.00 MB"), (1024**3, "1.07 GB")])
def test_format_size(size, text):
    assert format_size(size) == text


def test_filter_words():
    texts = ["diag.fa", "multi", "dupont jeanne"]
    assert matches_filter(texts, "")
    assert matches_filter(texts, "DIAG dupont")
    assert not matches_filter(texts, "diag relapse")
    assert not matches_filter(texts, "-multi")
    assert matches_filter(texts, "-relapse")


def test_output_file_path_stays_in_its_folder(tmp_path: Path):
    folder = tmp_path / "out-000001"
    folder.mkdir()
    (folder / "run.log").write_text("x")
    (folder / "sub").mkdir()
    (tmp_path / "secret").write_text("s")
    (folder / "escape").symlink_to(tmp_path / "secret")
    assert output_file_path(folder, "run.log") == (folder / "run.log").resolve()
    for name in ("../secret", "sub", "escape", "sub/x", "", None, "missing", "a\x00b", "..\\secret"):
        with pytest.raises(ResultsError):
            output_file_path(folder, name)
