"""A laboratory with a patient whose two samples were analysed and fused, written into the
test's data directory, and users with and without rights on it."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from factories import PASSWORD, make_config, make_group, make_sequence_file, make_set, make_user
from results_lab import Lab, clone, fused_content

from vidjil_pyramid.files.storage import stored_name
from vidjil_pyramid.results.models import ResultsFile


@pytest.fixture(scope="session")
def password_hash() -> str:
    from vidjil_pyramid.auth import passwords

    return passwords.hash_password(PASSWORD)


@pytest.fixture(autouse=True)
def hash_once(monkeypatch, password_hash):
    """Accounts of these tests share one precomputed hash: argon2 per user would dominate the run."""
    from vidjil_pyramid.auth import passwords

    original = passwords.hash_password
    monkeypatch.setattr(passwords, "hash_password",
                        lambda password: password_hash if password == PASSWORD else original(password))


@pytest.fixture
def lab(initial_data, app_settings) -> Lab:
    db = initial_data
    results_dir = Path(app_settings["vidjil.results_dir"])
    tmp_dir = Path(app_settings["vidjil.tmp_dir"])
    alice = make_user(db, first_name="Alice", last_name="Martin")
    reader = make_user(db, first_name="Rita", last_name="Reader")
    bob = make_user(db, first_name="Bob", last_name="Other")
    lab_group = make_group(db, rights=("read", "save", "admin", "run", "anon"), members=[alice])
    readers = make_group(db, rights=("read",), members=[reader])
    bob_lab = make_group(db, rights=("read", "save", "admin", "run", "anon"), members=[bob])
    patient_set, patient = make_set(db, "patient", groups=[lab_group, readers], first_name="Jeanne",
                                    last_name="Dupont", info="patient info #T-ALL")
    other_set, _ = make_set(db, "run", groups=[bob_lab], name="RUN-B")
    config = make_config(db, name="multi", command="-c clones -g germline", groups=[lab_group])
    sample_names = [("diag.fastq.gz", dt.date(2024, 1, 10), "diagnosis #diagnosis"),
                    ("fu1.fastq.gz", dt.date(2024, 3, 1), "follow-up")]
    samples, results = [], []
    for index, (filename, sampling_date, info) in enumerate(sample_names):
        data_file = stored_name("sequence_file", "data_file", filename)
        sample = make_sequence_file(db, sets=[patient_set], filename=filename, data_file=data_file,
                                    sampling_date=sampling_date, info=info, producer="lab")
        samples.append(sample)
        results.append(ResultsFile(sequence_file_id=sample.id, config_id=config.id,
                                   run_date=dt.datetime(2024, 3, 2, 9, index), hidden=False,
                                   data_file=stored_name("results_file", "data_file", f"{index:06d}.vidjil")))
    db.add_all(results)
    db.flush()
    result_lab = Lab(db=db, results_dir=results_dir, tmp_dir=tmp_dir, alice=alice, bob=bob, reader=reader,
                     lab=lab_group, patient_set=patient_set, patient=patient, other_set=other_set, config=config,
                     samples=samples, results=results, fused=None)
    original_names = [f"/data/uploads/{s.data_file}" for s in samples]
    result_lab.fused = result_lab.add_fused(
        patient_set, config,
        fused_content(original_names, [clone("clone-a", [10, 5], 1), clone("clone-b", [0, 7], 2)]),
        dt.datetime(2024, 3, 2, 10, 0))
    return result_lab
