"""Results services against the database: current results, belonging, deletions."""
from __future__ import annotations

import datetime as dt

from factories import make_config, make_sequence_file, make_set
from sqlalchemy import select

from vidjil_pyramid.results.fused import patient_ids_of_files, sample_records
from vidjil_pyramid.results.models import FusedFile, ResultsFile
from vidjil_pyramid.results.services import (
    current_results, delete_result, delete_results_of_files, result_in_set, sets_of_result,
    unreferenced_stored_names,
)


def result(db, sample, config, when, hidden=False, data_file=None):
    row = ResultsFile(sequence_file_id=sample.id, config_id=config.id, run_date=when, hidden=hidden,
                      data_file=data_file)
    db.add(row)
    db.flush()
    return row


def fused(db, sample_set, config, name):
    row = FusedFile(sample_set_id=sample_set.id, config_id=config.id, fused_file=name,
                    fuse_date=dt.datetime(2024, 1, 1))
    db.add(row)
    db.flush()
    return row


def test_current_results_are_the_newest_visible(dbsession):
    config, other = make_config(dbsession), make_config(dbsession)
    a, b = make_sequence_file(dbsession), make_sequence_file(dbsession)
    result(dbsession, a, config, dt.datetime(2024, 1, 1))
    newest = result(dbsession, a, config, dt.datetime(2024, 2, 1))
    result(dbsession, a, config, dt.datetime(2024, 3, 1), hidden=True)  # a read extraction
    result(dbsession, b, other, dt.datetime(2024, 3, 1))
    assert current_results(dbsession, [a.id, b.id], config.id) == {a.id: newest}
    assert current_results(dbsession, [], config.id) == {}


def test_sample_records_keep_the_newest_result_of_each_sample(dbsession):
    config = make_config(dbsession)
    sample_set, _ = make_set(dbsession)
    a = make_sequence_file(dbsession, sets=[sample_set], data_file="a.fa")
    b = make_sequence_file(dbsession, sets=[sample_set], data_file="b.fa")
    make_sequence_file(dbsession, data_file="elsewhere.fa")
    result(dbsession, a, config, dt.datetime(2024, 1, 1))
    newest = result(dbsession, a, config, dt.datetime(2024, 2, 1))
    result(dbsession, b, config, dt.datetime(2024, 1, 1), hidden=True)
    records = sample_records(dbsession, sample_set.id, config.id)
    assert [(r.sequence_file_id, r.results_file_id) for r in records] == [(a.id, newest.id)]


def test_patient_of_each_sample(dbsession):
    patient_set, patient = make_set(dbsession, "patient")
    run_set, _ = make_set(dbsession, "run")
    both = make_sequence_file(dbsession, sets=[patient_set, run_set])
    run_only = make_sequence_file(dbsession, sets=[run_set])
    assert patient_ids_of_files(dbsession, [both.id, run_only.id]) == {both.id: patient.id}


def test_results_belong_to_the_sets_of_their_sample(dbsession):
    config = make_config(dbsession)
    patient_set, _ = make_set(dbsession, "patient")
    run_set, _ = make_set(dbsession, "run")
    elsewhere, _ = make_set(dbsession, "generic")
    sample = make_sequence_file(dbsession, sets=[patient_set, run_set])
    row = result(dbsession, sample, config, dt.datetime(2024, 1, 1))
    assert sets_of_result(dbsession, row.id) == [patient_set.id, run_set.id]
    assert result_in_set(dbsession, row.id, run_set.id)
    assert not result_in_set(dbsession, row.id, elsewhere.id)


def test_deleting_a_result_refuses_or_empties_every_set_of_its_sample(dbsession):
    config = make_config(dbsession)
    patient_set, _ = make_set(dbsession, "patient")
    run_set, _ = make_set(dbsession, "run")
    shared = make_sequence_file(dbsession, sets=[patient_set, run_set])
    other = make_sequence_file(dbsession, sets=[patient_set])
    target = result(dbsession, shared, config, dt.datetime(2024, 1, 1), data_file="results_file.data_file.x.txt")
    result(dbsession, other, config, dt.datetime(2024, 1, 1))
    kept = fused(dbsession, patient_set, config, "fused_file.fused_file.p.fused")
    dropped = fused(dbsession, run_set, config, "fused_file.fused_file.r.fused")
    calls = []
    deletion = delete_result(dbsession, target.id, lambda sets, configs: calls.append((sets, configs)))
    assert calls == [([patient_set.id], [config.id])]
    assert deletion.refused_set_ids == [patient_set.id] and deletion.emptied_set_ids == [run_set.id]
    assert sorted(deletion.stored_names) == ["fused_file.fused_file.r.fused", "results_file.data_file.x.txt"]
    assert dbsession.get(ResultsFile, target.id) is None
    assert dbsession.scalars(select(FusedFile.id)).all() == [kept.id]
    assert dropped.id != kept.id


def test_hidden_results_do_not_keep_a_fused_file(dbsession):
    config = make_config(dbsession)
    sample_set, _ = make_set(dbsession)
    sample = make_sequence_file(dbsession, sets=[sample_set])
    target = result(dbsession, sample, config, dt.datetime(2024, 1, 1))
    result(dbsession, sample, config, dt.datetime(2024, 1, 2), hidden=True)
    fused(dbsession, sample_set, config, "fused_file.fused_file.f.fused")
    calls = []
    delete_result(dbsession, target.id, lambda sets, configs: calls.append(sets))
    assert calls == []
    assert dbsession.scalars(select(FusedFile)).all() == []


def test_delete_results_of_files(dbsession):
    config, other = make_config(dbsession), make_config(dbsession)
    a, b, c = (make_sequence_file(dbsession) for _ in range(3))
    first = result(dbsession, a, config, dt.datetime(2024, 1, 1), data_file="results_file.data_file.a.txt")
    second = result(dbsession, b, other, dt.datetime(2024, 1, 1))
    untouched = result(dbsession, c, config, dt.datetime(2024, 1, 1))
    deleted = delete_results_of_files(dbsession, [a.id, b.id])
    assert deleted.results_file_ids == [first.id, second.id]
    assert deleted.config_ids == {config.id, other.id}
    assert deleted.stored_names == ["results_file.data_file.a.txt"]
    assert dbsession.scalars(select(ResultsFile.id)).all() == [untouched.id]


def test_files_still_referenced_are_kept(dbsession):
    config = make_config(dbsession)
    sample = make_sequence_file(dbsession)
    result(dbsession, sample, config, dt.datetime(2024, 1, 1), data_file="results_file.data_file.same.txt")
    assert unreferenced_stored_names(dbsession, ["results_file.data_file.same.txt", "gone.txt"]) == ["gone.txt"]
