"""`file/confirm` and `file/delete`: the sequence file alone, or the sample with its results."""
from __future__ import annotations

import json
import re

import pytest
from bs4 import BeautifulSoup
from files_helpers import jtext
from sqlalchemy import func, select

from vidjil_pyramid.admin.models import Config
from vidjil_pyramid.files.models import SampleSetMembership, SequenceFile
from vidjil_pyramid.jobs.models import SchedulerTask
from vidjil_pyramid.results.models import ResultsFile


def add_result(world, sample, config=None):
    if config is None:
        config = Config(name="cfg", program="vidjil", command="-c clones", fuse_command="-t 100")
        world.db.add(config)
        world.db.flush()
    name = f"results_file.data_file.0123456789abcd{sample.id:02d}.{b'r.vidjil'.hex()}.txt"
    (world.results_dir / name).write_text("{}")
    result = ResultsFile(sequence_file_id=sample.id, config_id=config.id, data_file=name)
    world.db.add(result)
    world.db.flush()
    return result


def handlers(page):
    return {b.get("id"): b["onclick"] for b in page.select("button")}


def call_args(onclick: str) -> tuple[str, dict]:
    match = re.fullmatch(r'db\.call\("([^"]+)", (\{.*\})\)', onclick)
    return match.group(1), json.loads(match.group(2))


def test_confirm_offers_both_choices(world, as_user):
    add_result(world, world.sample_a)
    page = BeautifulSoup(as_user(world.alice).post(
        f"/vidjil/file/confirm?id={world.sample_a.id}&redirect_sample_set_id={world.set_a.id}").text, "html.parser")
    assert "1 result file" in page.text and "a.fa" in page.text
    buttons = handlers(page)
    ident = {"id": world.sample_a.id, "redirect_sample_set_id": world.set_a.id}
    assert call_args(buttons["delete_sequence_button"]) == (
        "file/delete", {**ident, "delete_results": "False", "delete_only_sequence": "True"})
    assert call_args(buttons["delete_all_button"]) == (
        "file/delete", {**ident, "delete_results": "True", "delete_only_sequence": "False"})
    assert call_args(buttons["cancel_button"]) == ("sample_set/index", {"id": world.set_a.id})


def test_confirm_without_data_file_deletes_results(world, as_user):
    world.sample_a.data_file = None
    world.db.flush()
    page = BeautifulSoup(as_user(world.alice).post(f"/vidjil/file/confirm?id={world.sample_a.id}").text, "html.parser")
    name, args = call_args(handlers(page)["delete_button"])
    assert args["delete_results"] == "True" and args["redirect_sample_set_id"] == world.set_a.id


def test_confirm_parameters_never_reach_javascript_w25(world, as_user):
    page = as_user(world.alice).post(f"/vidjil/file/confirm?id={world.sample_a.id}"
                                     "&redirect_sample_set_id=1'});alert(1);//")
    assert "alert(1)" not in page.text


def test_delete_sequence_only(world, as_user):
    sample = world.sample_a
    result = add_result(world, sample)
    stored = sample.data_file
    body = jtext(as_user(world.alice).post("/vidjil/file/delete", {
        "id": sample.id, "redirect_sample_set_id": world.set_a.id, "delete_results": "False",
        "delete_only_sequence": "True"}))
    assert body == {"redirect": "sample_set/index", "args": {"id": world.set_a.id},
                    "message": f"sequence file ({sample.id}) deleted"}
    assert sample.data_file is None and world.db.get(ResultsFile, result.id) is not None
    # the file goes only once the deletion is committed (never in these rolled-back tests)
    assert (world.upload_dir / stored).exists()


def test_delete_with_results_refuses_the_sets_still_holding_samples(world, as_user):
    sample = world.sample_a
    result = add_result(world, sample)
    other = SequenceFile(filename="other.fa", provider=world.alice.id)
    world.db.add(other)
    world.db.flush()
    world.db.add(SampleSetMembership(sample_set_id=world.set_a.id, sequence_file_id=other.id))
    add_result(world, other, config=world.db.get(Config, result.config_id))
    tasks_before = world.db.scalar(select(func.count(SchedulerTask.id)))
    body = jtext(as_user(world.alice).post("/vidjil/file/delete", {
        "id": sample.id, "redirect_sample_set_id": world.set_a.id, "delete_results": "True"}))
    assert body["message"] == f"sequence file ({sample.id}) deleted"
    assert world.db.get(SequenceFile, sample.id) is None and world.db.get(ResultsFile, result.id) is None
    assert world.db.scalar(select(func.count(SampleSetMembership.id))
                           .where(SampleSetMembership.sequence_file_id == sample.id)) == 0
    refuse = world.db.scalars(select(SchedulerTask).order_by(SchedulerTask.id.desc())).first()
    assert world.db.scalar(select(func.count(SchedulerTask.id))) == tasks_before + 1
    assert str(world.set_a.id) in refuse.args and str(result.config_id) in refuse.args


@pytest.mark.parametrize("who", ["bob", "reader"])
def test_delete_and_confirm_need_the_right_to_modify_the_sample(world, as_user, who):
    app = as_user(getattr(world, who))
    for url in ("/vidjil/file/confirm", "/vidjil/file/delete"):
        body = jtext(app.post(url, {"id": world.sample_a.id, "redirect_sample_set_id": world.set_b.id,
                                    "delete_results": "True"}))
        assert body == {"message": "you need admin permission to delete this file"}
    assert world.db.get(SequenceFile, world.sample_a.id).data_file


def test_delete_anonymous_and_cross_site(world, as_user):
    app = as_user(None)
    assert "redirect" in jtext(app.post("/vidjil/file/delete", {"id": world.sample_a.id, "delete_results": "True"}))
    app = as_user(world.alice)
    app.post("/vidjil/file/delete", {"id": world.sample_a.id, "delete_results": "True"},
             headers={"Origin": "https://evil.example"}, status=403)
    assert world.db.get(SequenceFile, world.sample_a.id) is not None


def test_unknown_sample(world, as_user):
    body = jtext(as_user(world.admin).post("/vidjil/file/confirm", {"id": 999999}))
    assert body == {"message": "you need admin permission to delete this file"}


def test_confirm_shows_the_file_name_as_typed_w24(world, as_user):
    world.sample_a.filename = '<img src=x onerror=alert(1)> "été".fa'
    world.db.flush()
    response = as_user(world.alice).post(f"/vidjil/file/confirm?id={world.sample_a.id}")
    assert "<img" not in response.text
    assert BeautifulSoup(response.text, "html.parser").select_one("span.filename").text == \
        '<img src=x onerror=alert(1)> "été".fa'
