"""The original migrator's archives: export from this server, import here, and import an
archive written by the web2py migrator."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from factories import make_config, make_group, make_sequence_file, make_set, make_user
from sqlalchemy import func, select

from legacy_import.migrator import MigratorError, export_archive, import_archive
from vidjil_pyramid.auth.permissions import Permissions
from vidjil_pyramid.jobs.models import SchedulerRun, SchedulerTask
from vidjil_pyramid.results.models import AnalysisFile, FusedFile, ResultsFile
from vidjil_pyramid.sample_sets.models import Patient, SampleSet


@pytest.fixture
def server(dbsession, tmp_path):
    """A lab with one patient: two samples, a result, a fused file and a saved analysis."""
    db = dbsession
    lab = make_group(db, "lab", rights=("read", "admin", "upload", "run", "save", "anon"))
    other = make_group(db, "other-lab", rights=("read", "anon"))
    alice = make_user(db, groups=[lab])
    bob = make_user(db, groups=[other])
    config = make_config(db, groups=[lab])
    patient_set, patient = make_set(db, "patient", groups=[lab], creator=alice, first_name="Jean", last_name="Dupont",
                                    birth=dt.date(1961, 4, 12), info="#T-ALL")
    unrelated_set, _ = make_set(db, "run", groups=[other])
    first = make_sequence_file(db, sets=[patient_set], provider=alice, filename="a.fa", network=False,
                               sampling_date=dt.date(2024, 1, 10),
                               data_file="sequence_file.data_file.aaaa.612e6661.fa")
    second = make_sequence_file(db, sets=[patient_set, unrelated_set], provider=alice, filename="b.fa")
    task = SchedulerTask(function_name="vidjil", status="COMPLETED", args="[1, 2, 3, null]")
    db.add(task)
    db.flush()
    db.add(SchedulerRun(task_id=task.id, status="COMPLETED", run_result='"SUCCESS"'))
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    names = {"result": "results_file.data_file.bbbb.3030312e7669646a696c.txt",
             "fused": "fused_file.fused_file.cccc.3030312d312e6675736564.fused",
             "analysis": "analysis_file.analysis_file.dddd.626c6f62.txt"}
    for name in names.values():
        (results_dir / name).write_text(json.dumps({"name": name}))
    db.add(ResultsFile(sequence_file_id=first.id, config_id=config.id, run_date=dt.datetime(2024, 2, 1, 10, 0),
                       scheduler_task_id=task.id, hidden=False, data_file=names["result"]))
    db.add(FusedFile(sample_set_id=patient_set.id, config_id=config.id, fuse_date=dt.datetime(2024, 2, 1, 11, 0),
                     sequence_file_list=f"{first.id}_{second.id}_", fused_file=names["fused"]))
    db.add(AnalysisFile(sample_set_id=patient_set.id, analyze_date=dt.datetime(2024, 2, 2), analysis_file=names["analysis"]))
    db.flush()
    return {"db": db, "lab": lab, "other": other, "alice": alice, "bob": bob, "config": config,
            "patient": patient, "set": patient_set, "files": (first, second), "task": task,
            "results_dir": results_dir, "names": names, "tmp": tmp_path}


def _count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def test_export_writes_the_original_archive_layout(server):
    s = server
    archive = s["tmp"] / "archive"
    result = export_archive(s["db"], archive, s["results_dir"], sample_type="patient", detail_ids=[s["patient"].id])
    data = json.loads((archive / "export.json").read_text())
    assert set(data) == {"patient", "sequence_file", "membership", "results_file", "scheduler_task",
                         "scheduler_run", "analysis_file", "fused_file"}
    patient = data["patient"][str(s["patient"].id)]
    assert patient["creator"] == 1 and patient["birth"] == "1961-04-12" and "id" not in patient
    first = data["sequence_file"][str(s["files"][0].id)]
    assert first["provider"] == 1 and first["patient_id"] is None and first["network"] is False
    assert first["sampling_date"] == "2024-01-10"
    assert len(data["membership"]) == 2  # only memberships of the exported set
    task = data["scheduler_task"][str(s["task"].id)]
    assert "uuid" not in task and "id" not in task
    assert next(iter(data["results_file"].values()))["run_date"] == "2024-02-01 10:00:00"
    assert sorted(p.name for p in (archive / "files").iterdir()) == sorted(s["names"].values())
    config = json.loads((archive / "config.json").read_text())
    assert config == {str(s["config"].id): {"description": config[str(s["config"].id)]["description"],
                                            "link_local": s["config"].id}}
    assert json.loads((archive / "pprocess.json").read_text()) == {}
    assert result.files_copied == 3 and not result.files_missing

    with pytest.raises(MigratorError, match="already holds an archive"):
        export_archive(s["db"], archive, s["results_dir"], sample_type="patient", detail_ids=[s["patient"].id])


def test_export_of_a_group_takes_the_sets_it_has_access_to(server):
    s = server
    archive = s["tmp"] / "group-archive"
    export_archive(s["db"], archive, s["results_dir"], group_ids=[s["other"].id])
    data = json.loads((archive / "export.json").read_text())
    assert set(data["run"]) and not data["patient"] and not data["generic"]
    with pytest.raises(MigratorError, match="no group"):
        export_archive(s["db"], s["tmp"] / "x", s["results_dir"], group_ids=[987654])


def test_round_trip_gives_the_receiving_group_a_copy_with_new_ids(server):
    s = server
    db = s["db"]
    archive = s["tmp"] / "archive"
    export_archive(db, archive, s["results_dir"], sample_type="patient", detail_ids=[s["patient"].id])
    received = s["tmp"] / "received"
    before = {m: _count(db, m) for m in (SampleSet, Patient, ResultsFile, FusedFile, AnalysisFile)}
    result = import_archive(db, archive, group_id=s["other"].id, results_dir=received)
    new_set = result.sample_set_ids[s["set"].id]
    assert new_set != s["set"].id
    assert {m: _count(db, m) - n for m, n in before.items()} == \
        {SampleSet: 1, Patient: 1, ResultsFile: 1, FusedFile: 1, AnalysisFile: 1}
    permissions = Permissions(db, s["bob"].id)
    assert permissions.can_view_sample_set(new_set) and not permissions.can_view_sample_set(s["set"].id)
    fused = db.scalars(select(FusedFile).where(FusedFile.sample_set_id == new_set)).one()
    new_files = sorted(db.scalars(select(ResultsFile.sequence_file_id).where(ResultsFile.id > 0)
                                  .where(ResultsFile.data_file == s["names"]["result"])))
    assert len(new_files) == 2
    assert fused.sequence_file_list != f"{s['files'][0].id}_{s['files'][1].id}_"
    assert fused.fused_file == s["names"]["fused"]
    assert sorted(p.name for p in received.iterdir()) == sorted(s["names"].values())


def test_dry_run_keeps_nothing(server):
    s = server
    db = s["db"]
    archive = s["tmp"] / "archive"
    export_archive(db, archive, s["results_dir"], sample_type="patient", detail_ids=[s["patient"].id])
    before = _count(db, SampleSet)
    result = import_archive(db, archive, group_id=s["other"].id, results_dir=s["tmp"] / "dry", dry_run=True)
    assert result.counts["patient"] == 1 and "DRY RUN" in result.summary()
    assert _count(db, SampleSet) == before
    assert not (s["tmp"] / "dry").exists()


def _web2py_archive(path: Path) -> Path:
    """An archive as the web2py migrator (Python 2 json.dump of pydal rows) wrote it."""
    (path / "files").mkdir(parents=True)
    (path / "files" / "results_file.data_file.9f9f.3030.txt").write_text("{}")
    export = {
        "run": {"12": {"name": "RUN-7", "run_date": "2019-03-02", "info": "old #run", "id_label": "R7",
                       "creator": 1, "sequencer": "MiSeq", "pcr": "x", "sample_set_id": 40}},
        "sequence_file": {"88": {"patient_id": None, "sampling_date": "2019-03-01", "info": "", "filename": "s.fq",
                                 "pcr": None, "sequencer": None, "producer": None, "size_file": 123,
                                 "size_file2": 0, "network": False, "provider": 1, "pre_process_id": 5,
                                 "pre_process_result": None, "pre_process_flag": "COMPLETED",
                                 "pre_process_scheduler_task_id": None,
                                 "data_file": "sequence_file.data_file.8888.732e6671.fq", "data_file2": None}},
        "membership": {"301": {"sample_set_id": 40, "sequence_file_id": 88},
                       "302": {"sample_set_id": 41, "sequence_file_id": 88}},
        "results_file": {"500": {"sequence_file_id": 88, "config_id": 25, "run_date": "2019-03-03 12:00:00",
                                 "scheduler_task_id": 900, "data_file": "results_file.data_file.9f9f.3030.txt"}},
        "scheduler_task": {"900": {"application_name": "vidjil/default", "task_name": "vidjil",
                                   "group_name": "main", "status": "COMPLETED", "function_name": "vidjil",
                                   "args": "[\"88\", \"25\", 500, null]", "vars": "{}", "enabled": True,
                                   "start_time": "2019-03-03 11:00:00", "next_run_time": "2019-03-03 11:00:00",
                                   "stop_time": None, "repeats": 1, "retry_failed": 0, "period": 60,
                                   "prevent_drift": False, "timeout": 7200, "sync_output": 0, "times_run": 1,
                                   "times_failed": 0, "last_run_time": "2019-03-03 12:00:00",
                                   "assigned_worker_name": "vm#1"}},
        "scheduler_run": {"700": {"task_id": 900, "status": "COMPLETED", "start_time": "2019-03-03 11:00:00",
                                  "stop_time": "2019-03-03 12:00:00", "run_output": "", "run_result": "\"SUCCESS\"",
                                  "traceback": None, "worker_name": "vm#1"}},
        "analysis_file": {},
        "fused_file": {"60": {"patient_id": None, "config_id": 25, "sample_set_id": 40,
                              "fuse_date": "2019-03-03 12:01:00", "status": None, "sequence_file_list": "88_",
                              "fused_file": None}},
    }
    (path / "export.json").write_text(json.dumps(export))
    return path


def test_an_archive_of_the_web2py_migrator_imports_with_the_link_local_mapping(server):
    s = server
    db = s["db"]
    archive = _web2py_archive(s["tmp"] / "from-web2py")
    config_map = s["tmp"] / "config.json"
    config_map.write_text(json.dumps({
        "25": {"description": ["multi+inc+xxx", "vidjil", "-c clones", "-t 100", "default"],
               "link_local": s["config"].id},
        "30": {"description": ["TRG"], "link_local": 0}}))
    pprocess = s["tmp"] / "pprocess.json"
    pprocess.write_text(json.dumps({"5": {"description": ["flash2"], "link_local": None}}))
    result = import_archive(db, archive, group_id=s["lab"].id, results_dir=s["tmp"] / "in",
                            config_map=config_map, pre_process_map=pprocess)
    new_set = result.sample_set_ids[40]
    set_row = db.get(SampleSet, new_set)
    assert set_row.sample_type == "run"
    results = db.scalars(select(ResultsFile).where(ResultsFile.data_file == "results_file.data_file.9f9f.3030.txt")).one()
    assert results.config_id == s["config"].id
    task = db.get(SchedulerTask, results.scheduler_task_id)
    assert task.status == "COMPLETED" and task.enabled is True and task.uuid
    assert task.start_time == dt.datetime(2019, 3, 3, 11, 0)
    fused = db.scalars(select(FusedFile).where(FusedFile.sample_set_id == new_set)).one()
    assert fused.sequence_file_list == f"{results.sequence_file_id}_" and fused.config_id == s["config"].id
    warnings = "\n".join(result.warnings)
    assert "pre_process 5 neither mapped nor present here" in warnings
    assert "memberships naming a set or sample outside the archive" in warnings
    assert Permissions(db, s["alice"].id).can_modify_sample_set(new_set)
    assert (s["tmp"] / "in" / "results_file.data_file.9f9f.3030.txt").exists()


def test_bad_archives_and_mappings_are_refused_without_keeping_anything(server):
    s = server
    db = s["db"]
    archive = _web2py_archive(s["tmp"] / "bad")
    before = _count(db, SampleSet)
    with pytest.raises(MigratorError, match="no group with id"):
        import_archive(db, archive, group_id=987654, results_dir=s["tmp"] / "in")
    wrong = s["tmp"] / "wrong.json"
    wrong.write_text(json.dumps({"25": {"link_local": 987654}}))
    with pytest.raises(MigratorError, match="no config 987654 here"):
        import_archive(db, archive, group_id=s["lab"].id, results_dir=s["tmp"] / "in", config_map=wrong)
    data = json.loads((archive / "export.json").read_text())
    data["results_file"]["500"]["data_file"] = "../../etc/passwd"
    (archive / "export.json").write_text(json.dumps(data))
    with pytest.raises(MigratorError, match="not a plain file name"):
        import_archive(db, archive, group_id=s["lab"].id, results_dir=s["tmp"] / "in")
    (archive / "export.json").write_text("{not json")
    with pytest.raises(MigratorError, match="not valid JSON"):
        import_archive(db, archive, group_id=s["lab"].id, results_dir=s["tmp"] / "in")
    assert _count(db, SampleSet) == before
    assert not (s["tmp"] / "in").exists() or not any((s["tmp"] / "in").iterdir())
