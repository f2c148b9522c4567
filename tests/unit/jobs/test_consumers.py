"""The consumers' code on the in-process queue: claim, run, record, fuse; failures and stops."""
from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from consumers.jobs import JobConsumer, Outcome, WorkerContext
from jobs_world import STAND_IN_DIR, reads
from job_processes import group_is_gone, wait_for_lines
from vidjil_pyramid.admin.models import Config
from vidjil_pyramid.files.models import PreProcess, SequenceFile
from vidjil_pyramid.files.storage import original_name, resolve
from vidjil_pyramid.jobs import paths, services
from vidjil_pyramid.jobs.broker import JobMessage
from vidjil_pyramid.jobs.models import SchedulerRun, SchedulerTask
from vidjil_pyramid.results.models import FusedFile, ResultsFile


def consumer(world, kind: str = "analysis", name: str = "test-worker", shutdown=None) -> JobConsumer:
    ctx = WorkerContext(world.settings, world.engine, name, world.broker)
    if shutdown is not None:
        ctx.shutdown = shutdown
    return JobConsumer(kind, ctx)


def schedule(world, grep_reads=None, sample=None, config=None) -> int:
    publisher = world.publisher()
    with world.session() as db:
        task = services.schedule_analysis(db, publisher, sample or world.ids["sample"], config or world.ids["config"],
                                          grep_reads)
        task_id = task.id
    publisher.flush()
    return task_id


def next_body(world, kind: str = "analysis") -> bytes:
    delivery = world.broker.get(kind, timeout=1)
    assert delivery is not None, f"no {kind} message"
    world.broker.ack(delivery)
    return delivery.body


def runs(world, task_id: int) -> list[SchedulerRun]:
    with world.session() as db:
        return list(db.scalars(select(SchedulerRun).where(SchedulerRun.task_id == task_id).order_by(SchedulerRun.id)))


def result_of(world, task_id: int) -> ResultsFile:
    with world.session() as db:
        return services.results_file_of_task(db, task_id)


def use_program(world, path: Path | str) -> None:
    world.settings["vidjil.algo_path"] = str(path)


@pytest.fixture
def slow_algo(job_world, monkeypatch, tmp_path):
    """The slow stand-in: sleeps 30 s before the analysis; its process ids are noted."""
    pids = tmp_path / "pids"
    monkeypatch.setenv("STAND_IN_SLEEP", "30")
    monkeypatch.setenv("STAND_IN_PIDS", str(pids))
    monkeypatch.setenv("STAND_IN_PYTHON", sys.executable)
    use_program(job_world, STAND_IN_DIR / "slow_algo.sh")
    return pids


def test_an_analysis_runs_stores_its_result_and_fuses_every_set_of_the_sample(job_world):
    world = job_world
    task_id = schedule(world)
    assert consumer(world).handle(next_body(world)) is Outcome.ACK

    task = world.task(task_id)
    assert task.status == "COMPLETED" and task.times_run == 1 and task.assigned_worker_name == "test-worker"
    (run,) = runs(world, task_id)
    assert run.status == "COMPLETED" and run.run_result == '"SUCCESS"' and run.stop_time is not None
    assert "vidjil-algo finished - 10 reads, 10 segmented" in run.run_output
    result = result_of(world, task_id)
    stored = resolve(world.settings["vidjil.results_dir"], result.data_file)
    data = json.loads(stored.read_text())
    assert result.data_file.startswith("results_file.data_file.") and result.data_file.endswith(".txt")
    assert [c["reads"] for c in data["clones"]] == [[6], [3], [1]]
    assert data["reads"]["distribution"]["IGH"] == [3]  # clones with >= 5 % of the locus' reads
    with world.session() as db:
        fused = {f.sample_set_id: f for f in db.scalars(select(FusedFile))}
    assert set(fused) == {world.ids["patient_set"], world.ids["run_set"]}
    for row in fused.values():
        assert row.config_id == world.ids["config"] and row.sequence_file_list == f"{world.ids['sample']}_"
        content = json.loads(resolve(world.settings["vidjil.results_dir"], row.fused_file).read_text())
        assert content["samples"]["number"] == 1 and len(content["clones"]) == 3
    out = paths.analysis_dir(world.settings, result.id)
    assert (out / "000001.vidjil.log").exists()
    assert (out / f"000001-{world.ids['patient_set']}.fuse.log").exists()


def test_a_redelivered_message_of_a_finished_job_runs_nothing(job_world):
    world = job_world
    task_id = schedule(world)
    body = next_body(world)
    assert consumer(world).handle(body) is Outcome.ACK
    assert consumer(world, name="other-worker").handle(body) is Outcome.ACK
    task = world.task(task_id)
    assert task.times_run == 1 and task.assigned_worker_name == "test-worker"
    assert len(runs(world, task_id)) == 1


def test_grep_reads_extract_a_clone_without_fusing(job_world):
    world = job_world
    task_id = schedule(world, grep_reads="ACGTTGCAACGT")
    assert consumer(world).handle(next_body(world)) is Outcome.ACK
    assert world.task(task_id).status == "COMPLETED"
    result = result_of(world, task_id)
    assert result.hidden
    extracted = resolve(world.settings["vidjil.results_dir"], result.data_file).read_text()
    assert extracted.count(">") == 6
    with world.session() as db:
        assert db.scalar(select(func.count(FusedFile.id))) == 0


def test_a_failing_program_fails_the_job_with_its_exit_code_and_log(job_world):
    world = job_world
    use_program(world, STAND_IN_DIR / "failing_algo.sh")
    task_id = schedule(world)
    assert consumer(world).handle(next_body(world)) is Outcome.ACK
    assert world.task(task_id).status == "FAILED"
    (run,) = runs(world, task_id)
    assert run.status == "FAILED"
    assert "exited with code 3" in run.traceback and "stand-in failure on purpose" in run.traceback
    assert result_of(world, task_id).data_file is None


def test_a_missing_vidjil_algo_fails_clearly(job_world):
    world = job_world
    use_program(world, "")
    task_id = schedule(world)
    consumer(world).handle(next_body(world))
    assert world.task(task_id).status == "FAILED"
    assert "vidjil.algo_path" in runs(world, task_id)[0].traceback


def test_a_job_over_its_time_limit_is_killed_with_everything_it_started(job_world, slow_algo):
    world = job_world
    world.settings["vidjil.job_time_limit"] = "2"
    task_id = schedule(world)
    assert world.task(task_id).timeout == 2
    started = time.monotonic()
    assert consumer(world).handle(next_body(world)) is Outcome.ACK
    assert time.monotonic() - started < 15
    assert world.task(task_id).status == "TIMEOUT"
    assert "time limit" in runs(world, task_id)[0].traceback
    (pid,) = wait_for_lines(slow_algo)
    assert group_is_gone(int(pid))


def test_stopping_a_running_job_kills_its_program(job_world, slow_algo):
    world = job_world
    task_id = schedule(world)
    body = next_body(world)
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(consumer(world).handle(body)))
    thread.start()
    (pid,) = wait_for_lines(slow_algo)
    with world.session() as db:
        assert services.stop_job(db, task_id) == "STOPPED"
    thread.join(timeout=20)
    assert outcome == [Outcome.ACK]
    task = world.task(task_id)
    assert task.status == "STOPPED" and task.enabled is False
    assert runs(world, task_id)[0].status == "STOPPED"
    assert group_is_gone(int(pid))
    assert result_of(world, task_id).data_file is None


def test_a_job_stopped_while_queued_never_starts(job_world):
    world = job_world
    task_id = schedule(world)
    with world.session() as db:
        services.stop_job(db, task_id)
    assert consumer(world).handle(next_body(world)) is Outcome.ACK
    assert world.task(task_id).status == "STOPPED" and runs(world, task_id) == []


def test_a_worker_shutting_down_gives_its_job_back(job_world, slow_algo):
    world = job_world
    task_id = schedule(world)
    body = next_body(world)
    shutdown = threading.Event()
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(consumer(world, shutdown=shutdown).handle(body)))
    thread.start()
    (pid,) = wait_for_lines(slow_algo)
    shutdown.set()
    thread.join(timeout=20)
    assert outcome == [Outcome.RETRY]
    task = world.task(task_id)
    assert task.status == "QUEUED" and task.assigned_worker_name == "" and task.times_run == 0
    assert group_is_gone(int(pid))


@pytest.mark.parametrize("body", [b"not json", b'{"task_id": 999, "kind": "analysis"}',
                                  JobMessage(1, "fuse").encode()])
def test_unreadable_messages_are_dead_lettered(job_world, body):
    assert consumer(job_world).handle(body) is Outcome.DEAD_LETTER


def test_a_poison_job_is_failed_with_a_reason_and_dead_lettered(job_world):
    world = job_world
    task_id = schedule(world)
    with world.session() as db:
        db.execute(update(SchedulerTask).where(SchedulerTask.id == task_id).values(args='["x", 1]'))
    assert consumer(world).handle(next_body(world)) is Outcome.DEAD_LETTER
    assert world.task(task_id).status == "FAILED"
    assert "expected [sequence_file" in runs(world, task_id)[-1].traceback


def test_a_job_on_the_wrong_queue_is_failed_and_dead_lettered(job_world):
    world = job_world
    task_id = schedule(world)
    assert consumer(world, kind="fuse").handle(JobMessage(task_id, "fuse").encode()) is Outcome.DEAD_LETTER
    assert world.task(task_id).status == "FAILED"
    assert "cannot run on the fuse queue" in runs(world, task_id)[-1].traceback


def test_a_job_whose_workers_kept_dying_is_given_up(job_world):
    world = job_world
    task_id = schedule(world)
    with world.session() as db:
        db.execute(update(SchedulerTask).where(SchedulerTask.id == task_id).values(times_run=3))
    assert consumer(world).handle(next_body(world)) is Outcome.DEAD_LETTER
    assert world.task(task_id).status == "FAILED"
    assert "gave up after 3 attempts" in runs(world, task_id)[-1].traceback


def test_a_result_deleted_before_the_run_stops_the_job(job_world):
    world = job_world
    task_id = schedule(world)
    with world.session() as db:
        db.delete(services.results_file_of_task(db, task_id))
    consumer(world).handle(next_body(world))
    assert world.task(task_id).status == "STOPPED"
    assert "result was deleted" in runs(world, task_id)[-1].traceback


def test_a_failing_fuse_fails_the_job_but_keeps_the_result(job_world):
    world = job_world
    with world.session() as db:
        db.execute(update(Config).where(Config.id == world.ids["config"]).values(fuse_command="-t not-a-number"))
    task_id = schedule(world)
    consumer(world).handle(next_body(world))
    assert world.task(task_id).status == "FAILED"
    assert "fuse of set" in runs(world, task_id)[-1].traceback
    assert result_of(world, task_id).data_file is not None


def test_the_none_program_stores_the_uploaded_result_and_fuses_it(job_world, tmp_path):
    world = job_world
    from consumers.stand_in_algo import main as stand_in

    (tmp_path / "in.fa").write_text(reads({"ACGTTGCA": 2}))
    assert stand_in(["-o", str(tmp_path), "-b", "imported", str(tmp_path / "in.fa")]) == 0
    stored, size = world.store_reads("imported.vidjil", (tmp_path / "imported.vidjil").read_text())
    with world.session() as db:
        sample = SequenceFile(filename="imported.vidjil", data_file=stored, size_file=size,
                              pre_process_flag="COMPLETED")
        db.add(sample)
        db.flush()
        from vidjil_pyramid.files.models import SampleSetMembership

        db.add(SampleSetMembership(sample_set_id=world.ids["patient_set"], sequence_file_id=sample.id))
        copy = Config(name="import .vidjil", program="none", command="", fuse_command="-t 100")
        db.add(copy)
        db.flush()
        sample_id, config_id = sample.id, copy.id
    task_id = schedule(world, sample=sample_id, config=config_id)
    consumer(world).handle(next_body(world))
    assert world.task(task_id).status == "COMPLETED"
    result = result_of(world, task_id)
    assert result.data_file.endswith(".txt")  # "imported.vidjil": an extension too long for web2py's names
    with world.session() as db:
        fused = db.scalars(select(FusedFile).where(FusedFile.config_id == config_id)).one()
    assert fused.sequence_file_list == f"{sample_id}_"


def test_a_refuse_job_fuses_the_named_sets_again(job_world):
    world = job_world
    schedule(world)
    consumer(world).handle(next_body(world))
    with world.session() as db:
        before = db.scalars(select(FusedFile).where(FusedFile.sample_set_id == world.ids["patient_set"])).one()
    publisher = world.publisher()
    with world.session() as db:
        task = services.schedule_refuse(db, publisher, [world.ids["patient_set"]], [world.ids["config"]])
        task_id = task.id
    publisher.flush()
    assert consumer(world, kind="fuse").handle(next_body(world, "fuse")) is Outcome.ACK
    assert world.task(task_id).status == "COMPLETED"
    with world.session() as db:
        after = db.scalars(select(FusedFile).where(FusedFile.sample_set_id == world.ids["patient_set"])).one()
    assert after.id == before.id and after.fused_file != before.fused_file


# --- pre-processes -----------------------------------------------------------------------------

def paired_sample(world, command: str) -> tuple[int, int]:
    first, size1 = world.store_reads("S1_R1.fa", reads({"ACGTTGCA": 2}))
    second, size2 = world.store_reads("S1_R2.fa", reads({"TTGACCAG": 1}))
    with world.session() as db:
        recipe = PreProcess(name="concatenate", command=command, info="")
        db.add(recipe)
        db.flush()
        sample = SequenceFile(filename="S1_R1.fa", data_file=first, data_file2=second, size_file=size1,
                              size_file2=size2, pre_process_id=recipe.id, pre_process_flag="WAIT")
        db.add(sample)
        db.flush()
        from vidjil_pyramid.files.models import SampleSetMembership

        db.add(SampleSetMembership(sample_set_id=world.ids["patient_set"], sequence_file_id=sample.id))
        return sample.id, recipe.id


def test_a_pre_process_merges_the_files_then_releases_the_waiting_run(job_world):
    world = job_world
    sample_id, recipe_id = paired_sample(world, "cat &file1& &file2& > &result&")
    run_id = schedule(world, sample=sample_id)
    assert world.task(run_id).status == "STOPPED" and world.task(run_id).enabled  # parked
    publisher = world.publisher()
    with world.session() as db:
        pre_id = services.schedule_pre_process(db, publisher, sample_id, recipe_id).id
    publisher.flush()
    assert consumer(world, kind="pre_process").handle(next_body(world, "pre_process")) is Outcome.ACK
    assert world.task(pre_id).status == "COMPLETED"
    with world.session() as db:
        sample = db.get(SequenceFile, sample_id)
        assert sample.pre_process_flag == "COMPLETED" and sample.data_file2 is None
        merged = resolve(world.settings["vidjil.upload_dir"], sample.data_file).read_text()
    assert merged.count(">") == 3  # both files
    assert original_name(sample.data_file) == "S1_R.fa"
    assert world.task(run_id).status == "QUEUED"
    assert consumer(world).handle(next_body(world)) is Outcome.ACK
    assert world.task(run_id).status == "COMPLETED"
    log_dir = paths.pre_process_dir(world.settings, sample_id)
    assert (log_dir / "S1_R.fa.pre.log").exists()


def test_a_failed_pre_process_fails_the_waiting_runs(job_world):
    world = job_world
    sample_id, recipe_id = paired_sample(world, "false &file1& &file2&")
    run_id = schedule(world, sample=sample_id)
    publisher = world.publisher()
    with world.session() as db:
        pre_id = services.schedule_pre_process(db, publisher, sample_id, recipe_id).id
    publisher.flush()
    consumer(world, kind="pre_process").handle(next_body(world, "pre_process"))
    assert world.task(pre_id).status == "FAILED"
    with world.session() as db:
        assert db.get(SequenceFile, sample_id).pre_process_flag == "FAILED"
    assert world.task(run_id).status == "FAILED"
    assert "pre-process failed" in runs(world, run_id)[-1].traceback


def test_a_pre_process_with_shell_syntax_fails_without_running_anything(job_world, tmp_path):
    world = job_world
    sample_id, recipe_id = paired_sample(world, f"cat &file1& ; touch {tmp_path / 'pwned'}")
    publisher = world.publisher()
    with world.session() as db:
        pre_id = services.schedule_pre_process(db, publisher, sample_id, recipe_id).id
    publisher.flush()
    consumer(world, kind="pre_process").handle(next_body(world, "pre_process"))
    assert world.task(pre_id).status == "FAILED"
    assert "without a shell" in runs(world, pre_id)[-1].traceback
    assert not (tmp_path / "pwned").exists()


def test_a_run_whose_pre_process_restarted_meanwhile_parks_itself(job_world):
    world = job_world
    task_id = schedule(world)
    with world.session() as db:
        db.execute(update(SequenceFile).where(SequenceFile.id == world.ids["sample"]).values(pre_process_flag="RUN"))
    assert consumer(world).handle(next_body(world)) is Outcome.ACK
    task = world.task(task_id)
    assert task.status == "STOPPED" and task.enabled and task.times_run == 0
    assert runs(world, task_id) == []


def test_a_worker_takes_back_its_own_job_whose_end_it_could_not_record(job_world):
    """E.g. the database was down when the job ended: the message came back to the same worker."""
    world = job_world
    task_id = schedule(world)
    with world.session() as db:
        db.execute(update(SchedulerTask).where(SchedulerTask.id == task_id)
                   .values(status="RUNNING", assigned_worker_name="test-worker", times_run=1))
        db.add(SchedulerRun(task_id=task_id, status="RUNNING", worker_name="test-worker"))
    assert consumer(world, name="another-worker").handle(next_body(world)) is Outcome.ACK
    assert world.task(task_id).status == "RUNNING"  # someone else's running job is left alone
    assert consumer(world).handle(JobMessage(task_id, "analysis").encode()) is Outcome.ACK
    assert world.task(task_id).status == "COMPLETED"
    assert [run.status for run in runs(world, task_id)] == ["FAILED", "COMPLETED"]
