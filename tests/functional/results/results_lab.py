"""Test data of the results tests: fused and analysis files written into the test's data
directory, and the laboratory the fixtures build (see conftest.py)."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from factories import PASSWORD

from vidjil_pyramid.files.storage import stored_name
from vidjil_pyramid.results.models import AnalysisFile, FusedFile, ResultsFile
from webclient import login

ALLOWED_ORIGIN = "https://app.vidjil.test"


def clone(clone_id: str, reads: list[int], top: int) -> dict:
    return {"id": clone_id, "germline": "IGH", "name": f"IGHV3-9*01 {clone_id}", "reads": reads, "top": top,
            "sequence": "ACGT" * 20, "seg": {"5": {"name": "IGHV3-9*01", "start": 1, "stop": 30}}}


def fused_content(original_names: list[str], clones: list[dict]) -> dict:
    count = len(original_names)
    return {
        "producer": "vidjil fuse", "timestamp": "2024-03-02 10:00:00", "vidjil_json_version": "2016b",
        "samples": {"number": count, "original_names": original_names, "log": ["log"] * count,
                    "producer": ["vidjil-algo"] * count, "commandline": ["vidjil-algo -c clones"] * count},
        "reads": {"total": [1000] * count, "segmented": [900] * count, "germline": {"IGH": [900] * count}},
        "clones": clones,
        "distributions": {"repertoires": {name: [] for name in original_names}, "keys": ["clones", "reads"]},
        "germlines": {}, "clusters": [],
    }


def write_stored(directory: Path, table: str, field: str, original: str, content: bytes) -> str:
    name = stored_name(table, field, original)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(content)
    return name


@dataclass
class Lab:
    db: object
    results_dir: Path
    tmp_dir: Path
    alice: object  # lab member: read, save, admin, run on the lab's sets, sees identities
    bob: object  # another lab: no access to alice's sets
    reader: object  # in alice's lab with `read` only
    lab: object
    patient_set: object
    patient: object
    other_set: object  # a set of bob's lab
    config: object
    samples: list
    results: list
    fused: FusedFile

    def login(self, testapp, user) -> None:
        testapp.reset()  # forget any earlier session
        login(testapp, user.email, PASSWORD)

    def add_fused(self, sample_set, config, content: dict, fuse_date: dt.datetime) -> FusedFile:
        name = write_stored(self.results_dir, "fused_file", "fused_file", f"000001-{sample_set.id}.fused",
                            json.dumps(content, indent=2).encode())
        row = FusedFile(sample_set_id=sample_set.id, config_id=config.id, fuse_date=fuse_date,
                        sequence_file_list="", fused_file=name)
        self.db.add(row)
        self.db.flush()
        return row

    def add_result(self, sequence_file, config, *, run_date: dt.datetime, hidden: bool = False,
                   data_file: str | None = None) -> ResultsFile:
        row = ResultsFile(sequence_file_id=sequence_file.id, config_id=config.id, run_date=run_date,
                          hidden=hidden, data_file=data_file)
        self.db.add(row)
        self.db.flush()
        return row

    def add_analysis(self, sample_set, content: dict, when: dt.datetime) -> AnalysisFile:
        name = write_stored(self.results_dir, "analysis_file", "analysis_file", "blob", json.dumps(content).encode())
        row = AnalysisFile(sample_set_id=sample_set.id, analyze_date=when, analysis_file=name)
        self.db.add(row)
        self.db.flush()
        return row
