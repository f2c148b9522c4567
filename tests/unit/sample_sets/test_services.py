"""Creating, editing, deleting and sharing sets, without HTTP."""
from __future__ import annotations

import datetime as dt

import pytest
from factories import make_group, make_sequence_file, make_set, make_user
from sqlalchemy import func, select

from vidjil_pyramid.auth.models import Permission
from vidjil_pyramid.auth.permissions import Permissions
from vidjil_pyramid.files.models import SampleSetMembership, SequenceFile
from vidjil_pyramid.results.models import ResultsFile
from vidjil_pyramid.sample_sets import services
from vidjil_pyramid.sample_sets.models import Generic, Patient, Run, SampleSet, TagRef

RIGHTS = ("create", "read", "admin", "upload", "run", "save", "anon")


@pytest.fixture
def lab(initial_data):
    db = initial_data
    user = make_user(db)
    group = make_group(db, "unit-lab", rights=RIGHTS, members=[user])
    return db, user, group, Permissions(db, user.id)


def count(db, model) -> int:
    return db.scalar(select(func.count(model.id)))


def test_parse_submission_skips_removed_lines_and_coerces_values():
    submission = services.parse_submission({
        "group": "3", "patient": [None, {"first_name": "A", "last_name": 7, "birth": None, "sample_set_id": ""}],
        "run": [], "other": "ignored"})
    assert submission.group_id == 3
    [item] = submission.items
    assert item.sample_type == "patient" and item.sample_set_id is None
    assert item.values == {"id_label": "", "first_name": "A", "last_name": "7", "birth": "", "info": ""}


@pytest.mark.parametrize("data", [
    [], "text", {"group": "x"}, {"patient": {}}, {"patient": ["x"]}, {"run": [{"name": ["a"]}]},
    {"generic": [{"name": "a", "sample_set_id": "-1"}]}, {"generic": [{"name": "a", "sample_set_id": "99999999999"}]},
])
def test_parse_submission_refuses_what_is_not_a_form(data):
    with pytest.raises(services.SampleSetError):
        services.parse_submission(data)


def test_field_validation():
    def errors(kind, **values):
        item = services.SetItem(kind, {name: values.get(name, "") for name in services.FIELDS[kind]})
        return services._field_errors(item)

    assert errors("patient", first_name="a", last_name="b") == []
    assert errors("patient", first_name=" ", last_name="b") == ["first name needed"]
    assert errors("patient", first_name="a", last_name="b", birth="2024-02-30") == ["date (wrong format)"]
    assert errors("patient", first_name="a", last_name="b", birth="0999-01-01") == ["date (wrong format)"]
    assert errors("run", name="a|b") == ["illegal character '|' in name"]
    assert errors("generic", name="x" * 513) == ["name too long"]
    assert errors("generic", name="ok", info="x" * 100000) == []


def test_create_then_edit(lab):
    db, user, group, perms = lab
    submission = services.parse_submission({"group": group.id, "run": [{"name": "R1", "run_date": "2024-01-02",
                                                                        "info": "#QC go", "pcr": "p"}]})
    outcome = services.save_submission(db, perms, user.id, submission)
    assert outcome.ok and outcome.redirect()["redirect"] == "sample_set/index"
    [(kind, set_id)] = outcome.saved
    run = db.scalars(select(Run).where(Run.sample_set_id == set_id)).one()
    assert (run.name, run.run_date, run.pcr, run.creator) == ("R1", dt.date(2024, 1, 2), "p", user.id)
    assert db.get(SampleSet, set_id).creator == user.id
    edit = services.parse_submission({"run": [{"sample_set_id": set_id, "name": "R2", "info": "#QC go"}]})
    outcome = services.save_submission(db, Permissions(db, user.id), user.id, edit)
    assert outcome.ok
    db.refresh(run)
    assert run.name == "R2" and run.run_date is None


def test_all_or_nothing(lab):
    db, user, group, perms = lab
    before = count(db, SampleSet)
    submission = services.parse_submission({"group": group.id, "generic": [{"name": "good"}, {"name": ""}]})
    outcome = services.save_submission(db, perms, user.id, submission)
    assert not outcome.ok and outcome.saved == []
    assert [item.errors for item in outcome.items] == [[], ["name needed"]]
    assert count(db, SampleSet) == before


def test_editing_a_set_of_another_type_or_lab_is_refused(lab):
    db, user, group, perms = lab
    mine, _ = make_set(db, "generic", groups=[group])
    other_lab = make_group(db, rights=RIGHTS)
    theirs, _ = make_set(db, "generic", groups=[other_lab])
    submission = services.parse_submission({"patient": [{"sample_set_id": mine.id, "first_name": "a", "last_name": "b"}],
                                            "generic": [{"sample_set_id": theirs.id, "name": "x"}]})
    outcome = services.save_submission(db, perms, user.id, submission)
    assert [item.errors for item in outcome.items] == [[f"set {mine.id} is not a patient"], ["permission denied"]]


def test_new_sets_go_only_to_groups_the_user_may_create_in(lab):
    db, user, group, perms = lab
    stranger = make_group(db, rights=RIGHTS)
    outcome = services.save_submission(db, perms, user.id, services.parse_submission(
        {"group": stranger.id, "generic": [{"name": "x"}]}))
    assert outcome.items[0].errors == ["you cannot create sets in this group"]
    assert group.id in services.creation_group_ids(perms)


def test_batch_redirects_to_the_list_of_the_main_type(lab):
    db, user, group, perms = lab
    outcome = services.save_submission(db, perms, user.id, services.parse_submission({
        "group": group.id, "generic": [{"name": "a"}], "run": [{"name": "b"}, {"name": "c"}]}))
    assert outcome.redirect() == {"redirect": "sample_set/all", "args": {"type": "run", "page": 0},
                                  "message": "successfully added/edited set(s)"}


def test_delete_set_keeps_shared_samples(lab):
    db, user, group, perms = lab
    patient, detail = make_set(db, "patient", groups=[group])
    run, _ = make_set(db, "run", groups=[group])
    shared = make_sequence_file(db, sets=[patient, run], patient_id=detail.id)
    own = make_sequence_file(db, sets=[patient])
    db.add_all([ResultsFile(sequence_file_id=shared.id), ResultsFile(sequence_file_id=own.id)])
    db.add(TagRef(tag_id=None, table_name="sequence_file", record_id=own.id))
    db.flush()
    plan = services.plan_deletion(db, patient.id)
    assert plan.exclusive_file_ids == (own.id,) and plan.shared_file_ids == (shared.id,) and plan.result_count == 1
    services.delete_set(db, patient.id)
    assert db.get(SampleSet, patient.id) is None
    assert db.scalars(select(Patient).where(Patient.sample_set_id == patient.id)).all() == []
    assert db.get(SequenceFile, own.id) is None
    kept = db.get(SequenceFile, shared.id)
    assert kept is not None and kept.patient_id is None
    assert db.scalar(select(func.count(ResultsFile.id)).where(ResultsFile.sequence_file_id == shared.id)) == 1
    assert set(db.scalars(select(SampleSetMembership.sample_set_id)
                          .where(SampleSetMembership.sequence_file_id == shared.id))) == {run.id}
    assert db.scalars(select(TagRef).where(TagRef.record_id == own.id, TagRef.table_name == "sequence_file")).all() == []
    with pytest.raises(services.SampleSetError):
        services.delete_set(db, patient.id)


def test_delete_removes_legacy_access_rows_of_the_detail(lab):
    db, user, group, perms = lab
    sample_set, detail = make_set(db, "generic", groups=[group])
    db.add(Permission(group_id=group.id, name="access", table_name="generic", record_id=detail.id))
    db.flush()
    services.delete_set(db, sample_set.id)
    assert db.scalars(select(Permission).where(Permission.table_name == "generic",
                                               Permission.record_id == detail.id)).all() == []
    assert db.scalars(select(Generic).where(Generic.id == detail.id)).all() == []


def test_sharing_rows_and_toggle(lab):
    db, user, group, perms = lab
    sample_set, _ = make_set(db, "patient", groups=[group])
    rows = {row.group_id: row for row in services.sharing_rows(db, perms, sample_set.id)}
    assert rows[group.id].has_access and "admin" in rows[group.id].permissions
    personal = perms.personal_group_id
    assert rows[personal].owner == user.full_name and not rows[personal].has_access
    assert services.toggle_access(db, perms, sample_set.id, personal) == (True, rows[personal].role)
    assert services.toggle_access(db, perms, sample_set.id, personal) == (False, rows[personal].role)
    stranger = make_group(db)
    with pytest.raises(services.SampleSetError):
        services.toggle_access(db, perms, sample_set.id, stranger.id)


def test_access_from_parent_groups(lab):
    db, user, group, perms = lab
    parent = make_group(db, "parent-lab")
    child = make_group(db, "child-lab", rights=("read",), parent=parent, members=[user])
    sample_set, _ = make_set(db, "generic", groups=[parent, group])
    rows = {row.group_id: row for row in services.sharing_rows(db, Permissions(db, user.id), sample_set.id)}
    assert rows[child.id].access_from == ["parent-lab"] and not rows[child.id].has_access
    assert rows[parent.id].has_access
