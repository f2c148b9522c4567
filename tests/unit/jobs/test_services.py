"""Scheduling, stopping and reading jobs (the shared rolled-back session: SQLite or MariaDB)."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from factories import make_config, make_group, make_sequence_file, make_set
from sqlalchemy import event, select

from vidjil_pyramid.files.models import PreProcess
from vidjil_pyramid.jobs import services
from vidjil_pyramid.jobs.dispatch import JobPublisher
from vidjil_pyramid.jobs.models import SchedulerRun, SchedulerTask
from vidjil_pyramid.results.models import ResultsFile


@pytest.fixture
def lab(dbsession):
    db = dbsession
    group = make_group(db, "lab", rights=("read", "admin", "run"))
    patient_set, _ = make_set(db, "patient", groups=[group], first_name="Ann", last_name="Lee")
    run_set, _ = make_set(db, "run", groups=[group], name="RUN-7")
    sample = make_sequence_file(db, sets=[patient_set, run_set], data_file="sequence_file.data_file.a.61.fa",
                                filename="a.fa", info="first #diag")
    other = make_sequence_file(db, sets=[run_set], data_file="sequence_file.data_file.b.62.fa", filename="b.fa")
    config = make_config(db, groups=[group])
    return {"db": db, "group": group, "patient_set": patient_set, "run_set": run_set, "sample": sample,
            "other": other, "config": config}


@pytest.fixture
def publisher():
    return JobPublisher(None, time_limit=1234, republish_after=30)


def test_schedule_analysis_writes_the_result_and_a_web2py_shaped_job(lab, publisher):
    db = lab["db"]
    task = services.schedule_analysis(db, publisher, lab["sample"].id, lab["config"].id)
    result = db.scalars(select(ResultsFile).where(ResultsFile.scheduler_task_id == task.id)).one()
    assert result.sequence_file_id == lab["sample"].id and result.config_id == lab["config"].id
    assert not result.hidden and result.data_file is None and result.run_date is not None
    assert json.loads(task.args) == [lab["sample"].id, lab["config"].id, result.id, None]
    assert (task.function_name, task.task_name, task.status, task.timeout) == ("vidjil", "vidjil", "QUEUED", 1234)
    assert task.next_run_time > dt.datetime.now() + dt.timedelta(seconds=20)
    assert publisher.pending == [("analysis", task.id)]  # published only once committed


def test_a_second_run_while_one_is_active_is_refused_but_read_extraction_is_not(lab, publisher):
    db = lab["db"]
    services.schedule_analysis(db, publisher, lab["sample"].id, lab["config"].id)
    with pytest.raises(services.DuplicateJob, match="task already registered"):
        services.schedule_analysis(db, publisher, lab["sample"].id, lab["config"].id)
    first = services.schedule_analysis(db, publisher, lab["sample"].id, lab["config"].id, grep_reads="ACGT")
    second = services.schedule_analysis(db, publisher, lab["sample"].id, lab["config"].id, grep_reads="ACGT")
    assert first.id != second.id
    assert services.results_file_of_task(db, first.id).hidden


@pytest.mark.parametrize("grep", ["", "ACGT; rm -rf /", "acgu", "A" * 10001])
def test_grep_reads_must_be_nucleotides(lab, publisher, grep):
    """The original ignored an invalid grep_reads and ran (and hid) a full analysis."""
    with pytest.raises(services.JobError, match="nucleotide"):
        services.schedule_analysis(lab["db"], publisher, lab["sample"].id, lab["config"].id, grep_reads=grep)


def test_refusals_write_nothing(lab, publisher):
    db = lab["db"]
    unknown = make_config(db, program="euro-mrd pipeline")
    lab["other"].data_file = None
    cases = [(lab["sample"].id, unknown.id, "does not run"), (lab["other"].id, lab["config"].id, "no data file"),
             (999999, lab["config"].id, "no sequence file"), (lab["sample"].id, 999999, "no config"),
             ("1; drop", lab["config"].id, "invalid sequence file id")]
    for sample_id, config_id, message in cases:
        with pytest.raises(services.JobError, match=message):
            services.schedule_analysis(db, publisher, sample_id, config_id)
    assert db.scalar(select(SchedulerTask.id)) is None and db.scalar(select(ResultsFile.id)) is None
    assert publisher.pending == []


def test_a_sample_waiting_for_its_pre_process_gets_a_parked_job(lab, publisher):
    db = lab["db"]
    lab["sample"].pre_process_flag = "WAIT"
    task = services.schedule_analysis(db, publisher, lab["sample"].id, lab["config"].id)
    assert task.status == "STOPPED" and task.enabled and services.is_parked(task)
    assert publisher.pending == []
    lab["other"].pre_process_flag = "FAILED"
    with pytest.raises(services.JobError, match="pre-process .* failed"):
        services.schedule_analysis(db, publisher, lab["other"].id, lab["config"].id)


def test_schedule_set_analyses_only_runs_the_sets_samples(lab, publisher):
    db = lab["db"]
    outsider = make_sequence_file(db, data_file="sequence_file.data_file.c.63.fa")
    services.schedule_analysis(db, publisher, lab["sample"].id, lab["config"].id)
    outcome = services.schedule_set_analyses(db, publisher, lab["patient_set"].id,
                                             [lab["sample"].id, lab["other"].id, outsider.id], lab["config"].id)
    assert outcome.scheduled == [] and list(outcome.skipped) == [lab["sample"].id]  # already running
    outcome = services.schedule_set_analyses(db, publisher, lab["run_set"].id,
                                             [lab["sample"].id, lab["other"].id, outsider.id], lab["config"].id)
    assert [json.loads(t.args)[0] for t in outcome.scheduled] == [lab["other"].id]


def test_stop_job(lab, publisher):
    db = lab["db"]
    task = services.schedule_analysis(db, publisher, lab["sample"].id, lab["config"].id)
    assert services.stop_job(db, task.id) == "STOPPED"
    db.refresh(task)
    assert task.status == "STOPPED" and task.enabled is False and task.stop_time is not None
    with pytest.raises(services.JobError, match="already finished"):
        services.stop_job(db, task.id)
    with pytest.raises(services.JobError, match="no process"):
        services.stop_job(db, 987654)
    running = services.schedule_analysis(db, publisher, lab["other"].id, lab["config"].id)
    running.status = "RUNNING"
    db.flush()
    assert services.stop_job(db, running.id) == "STOPPED"


def test_stopping_a_pre_process_fails_the_runs_waiting_for_it(lab, publisher):
    db = lab["db"]
    sample = lab["sample"]
    sample.data_file2 = "sequence_file.data_file2.x.62.fa"
    recipe = PreProcess(name="merge", command="cat &file1& &file2& > &result&")
    db.add(recipe)
    db.flush()
    pre = services.schedule_pre_process(db, publisher, sample.id, recipe.id)
    assert sample.pre_process_flag == "WAIT" and sample.pre_process_scheduler_task_id == pre.id
    parked = services.schedule_analysis(db, publisher, sample.id, lab["config"].id)
    assert parked.status == "STOPPED"
    services.stop_job(db, pre.id)
    db.refresh(sample)
    db.refresh(parked)
    assert sample.pre_process_flag == "FAILED" and parked.status == "FAILED"
    run = db.scalars(select(SchedulerRun).where(SchedulerRun.task_id == parked.id)).one()
    assert "pre-process was stopped" in run.traceback


def test_pre_process_scheduling_rules(lab, publisher):
    db = lab["db"]
    sample = lab["sample"]
    pair = PreProcess(name="pair", command="merge &file1& &file2& -o &result&")
    db.add(pair)
    db.flush()
    with pytest.raises(services.JobError, match="needs two files"):
        services.schedule_pre_process(db, publisher, sample.id, pair.id)
    with pytest.raises(services.JobError, match="has no pre-process"):
        services.restart_pre_process(db, publisher, sample.id)
    sample.data_file2 = "sequence_file.data_file2.x.62.fa"
    first = services.schedule_pre_process(db, publisher, sample.id, pair.id)
    with pytest.raises(services.DuplicateJob):
        services.restart_pre_process(db, publisher, sample.id)
    second = services.schedule_pre_process(db, publisher, sample.id, pair.id)  # a new upload replaces it
    db.refresh(first)
    assert first.status == "STOPPED" and first.enabled is False
    assert json.loads(second.args) == [pair.id, sample.id]
    assert publisher.pending == [("pre_process", first.id), ("pre_process", second.id)]


def test_schedule_refuse_names_each_set_and_config_that_still_has_results(lab, publisher):
    db = lab["db"]
    task = services.schedule_analysis(db, publisher, lab["sample"].id, lab["config"].id)
    refuse = services.schedule_refuse(db, publisher, [lab["patient_set"].id, lab["run_set"].id],
                                      [lab["config"].id, 424242])
    assert refuse.function_name == "refuse"
    assert services.refuse_pairs(refuse) == [(lab["patient_set"].id, lab["config"].id),
                                             (lab["run_set"].id, lab["config"].id)]
    assert services.sample_set_ids_of_task(db, refuse) == sorted([lab["patient_set"].id, lab["run_set"].id])
    assert services.sample_set_ids_of_task(db, task) == sorted([lab["patient_set"].id, lab["run_set"].id])
    assert services.schedule_refuse(db, publisher, [lab["patient_set"].id], [424242]) is None


def test_statuses_for_tasks_is_one_query(lab, publisher, engine):
    db = lab["db"]
    ids = [services.schedule_analysis(db, publisher, s.id, lab["config"].id).id for s in (lab["sample"], lab["other"])]
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        statuses = services.statuses_for_tasks(db, [*ids, None, 999999])
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert statuses == {ids[0]: "QUEUED", ids[1]: "QUEUED"} and len(statements) == 1
    assert services.job_status(db, ids[0]) == "QUEUED" and services.job_status(db, 999999) == ""
    assert services.statuses_for_tasks(db, []) == {}


def test_queue_statistics_report_the_oldest_queued_job(lab, publisher):
    db = lab["db"]
    task = services.schedule_analysis(db, publisher, lab["sample"].id, lab["config"].id)
    task.start_time = dt.datetime.now() - dt.timedelta(minutes=10)
    db.flush()
    stats = services.queue_statistics(db)
    assert stats["jobs"]["queued"] == 1 and stats["oldest_queued"]["task_id"] == task.id
    assert 590 < stats["oldest_queued"]["age_seconds"] < 700


def test_recent_jobs_filters_by_words_and_tags(lab, publisher):
    db = lab["db"]
    services.schedule_analysis(db, publisher, lab["sample"].id, lab["config"].id)
    services.schedule_analysis(db, publisher, lab["other"].id, lab["config"].id)
    visible = select(lab["patient_set"].__class__.id)
    since = dt.datetime.now() - dt.timedelta(days=1)
    everything = services.recent_jobs(db, visible, since)
    assert sorted((row.filename, row.sample_type) for row in everything) == [
        ("a.fa", "patient"), ("a.fa", "run"), ("b.fa", "run")]
    assert {row.filename for row in services.recent_jobs(db, visible, since, "#diag")} == {"a.fa"}
    assert {row.filename for row in services.recent_jobs(db, visible, since, "RUN-7 b.")} == {"b.fa"}
    assert services.recent_jobs(db, visible, since, "%") == []  # no LIKE wildcard from users
    assert services.recent_jobs(db, visible, dt.datetime.now() + dt.timedelta(days=1)) == []


def test_ensure_free_space(tmp_path):
    settings = {"vidjil.results_dir": str(tmp_path / "r"), "vidjil.tmp_dir": str(tmp_path / "t")}
    services.ensure_free_space({**settings, "vidjil.min_free_percent": "0"})
    with pytest.raises(services.JobError, match="disk space"):
        services.ensure_free_space({**settings, "vidjil.min_free_percent": "101"})
