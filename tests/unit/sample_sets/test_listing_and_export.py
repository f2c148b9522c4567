"""Set lists, the set picker, neighbours, and the streamed result export."""
from __future__ import annotations

import io
import json
import zipfile

import pytest
from factories import make_config, make_group, make_sequence_file, make_set, make_user

from vidjil_pyramid.auth.permissions import Permissions
from vidjil_pyramid.results.models import FusedFile, ResultsFile
from vidjil_pyramid.sample_sets import export
from vidjil_pyramid.sample_sets.listing import (
    PAGE_SIZE, ListQuery, list_sets, neighbour_set_id, picker_entries, set_titles, viewer_groups,
)
from vidjil_pyramid.sample_sets.tags import register_tags

RIGHTS = ("create", "read", "admin", "upload", "run", "save")  # no anon: names are hidden


@pytest.fixture
def lab(initial_data):
    db = initial_data
    user = make_user(db)
    group = make_group(db, "list-lab", rights=RIGHTS, members=[user])
    return db, user, group, Permissions(db, user.id)


def test_rows_carry_aggregates_and_hidden_identities(lab):
    db, user, group, perms = lab
    config = make_config(db, name="cfg")
    patient, detail = make_set(db, "patient", groups=[group], creator=user, first_name="Jean", last_name="Dupont")
    make_sequence_file(db, sets=[patient], size_file=100)
    make_sequence_file(db, sets=[patient], size_file=50)
    db.add(FusedFile(sample_set_id=patient.id, config_id=config.id, fused_file="x.fused"))
    db.flush()
    listing = list_sets(db, perms, ListQuery("patient", page=0))
    [row] = listing.rows
    assert (row.file_count, row.size, row.name, row.first_name, row.last_name) == (2, 150, "Dup", "", "Dup")
    assert [c.name for c in row.configs] == ["cfg"] and row.groups == ["list-lab"]
    assert row.creator == user.last_name and row.can_modify and listing.admin_set_ids == [patient.id]
    assert row.as_json()["name"] == "Dup"


def test_tags_filter_on_the_detail_rows(lab):
    db, user, group, perms = lab
    tagged, detail = make_set(db, "generic", groups=[group], info="#Foo text")
    register_tags(db, "#Foo text", "generic", detail.id, group.id)
    make_set(db, "generic", groups=[group], info="#Foo is only text here")  # not registered: not a tag match
    rows = list_sets(db, perms, ListQuery("generic", tags=("foo",))).rows
    assert [r.sample_set_id for r in rows] == [tagged.id]


def test_paging_and_has_next(lab):
    db, user, group, perms = lab
    for n in range(PAGE_SIZE + 1):
        make_set(db, "run", groups=[group], name=f"run {n:03d}")
    first = list_sets(db, perms, ListQuery("run", page=0, sort="name"))
    second = list_sets(db, perms, ListQuery("run", page=1, sort="name"))
    assert len(first.rows) == PAGE_SIZE and first.has_next and first.rows[0].name == "run 000"
    assert [r.name for r in second.rows] == [f"run {PAGE_SIZE:03d}"] and not second.has_next


def test_other_labs_sets_are_never_listed(lab):
    db, user, group, perms = lab
    other = make_group(db, rights=RIGHTS)
    make_set(db, "generic", groups=[other], name="theirs")
    assert list_sets(db, perms, ListQuery("generic")).rows == []
    assert picker_entries(db, perms, "") == []


def test_picker_and_titles_respect_anonymisation(lab):
    db, user, group, perms = lab
    patient, _ = make_set(db, "patient", groups=[group], first_name="Jean", last_name="Dupont", birth=None)
    [entry] = picker_entries(db, perms, "")
    assert entry == {"name": f":p Dup ({patient.id})", "id": patient.id, "type": "patient"}
    assert picker_entries(db, perms, "Jean") == []  # a hidden first name cannot be searched
    assert set_titles(db, perms, [patient.id]) == {patient.id: ("patient", "Dup")}


def test_neighbours_stay_within_type_and_rights(lab):
    db, user, group, perms = lab
    first, _ = make_set(db, "generic", groups=[group])
    make_set(db, "run", groups=[group])
    make_set(db, "generic", groups=[make_group(db)])
    last, _ = make_set(db, "generic", groups=[group])
    assert neighbour_set_id(db, perms, first.id, True) == last.id
    assert neighbour_set_id(db, perms, last.id, False) == first.id
    assert neighbour_set_id(db, perms, last.id, True) is None
    assert neighbour_set_id(db, perms, 999999, True) is None


def test_viewer_groups(lab):
    db, user, group, perms = lab
    ids, shows_groups = viewer_groups(db, perms)
    assert group.id in ids and perms.personal_group_id in ids and shows_groups


def test_export_streams_a_valid_zip_in_chunks(lab, tmp_path, monkeypatch):
    db, user, group, perms = lab
    config = make_config(db)
    sample_set, _ = make_set(db, "generic", groups=[group], name="exported", info="set info")
    sequence_file = make_sequence_file(db, sets=[sample_set], filename="s.fa", info="sample info")
    big = bytes(range(256)) * 12_000  # 3 MB: several read chunks
    (tmp_path / "results_file.data_file.big.vidjil").write_bytes(big)
    db.add(ResultsFile(sequence_file_id=sequence_file.id, config_id=config.id, data_file="results_file.data_file.big.vidjil"))
    db.add(ResultsFile(sequence_file_id=sequence_file.id, config_id=config.id, data_file="../escape.vidjil"))
    db.add(ResultsFile(sequence_file_id=sequence_file.id, config_id=config.id, hidden=True, data_file="hidden.vidjil"))
    db.flush()
    monkeypatch.setattr(export, "READ_CHUNK", 1 << 20)
    plan = export.plan_export(db, perms, tmp_path, [sample_set.id], None)
    assert plan.filename.startswith(f"export_{sample_set.id}_")
    chunks = list(export.stream_zip(plan))
    assert len(chunks) > 2
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.read("results_file.data_file.big.vidjil") == big
    metadata = json.loads(archive.read("metadata.json"))
    assert [m["file"] for m in metadata] == ["results_file.data_file.big.vidjil", "../escape.vidjil"]
    assert metadata[0] == {"id": sample_set.id, "name": "exported", "file": "results_file.data_file.big.vidjil",
                           "set_info": "set info", "sample_info": "sample info", "sequence_file": "s.fa"}
    assert metadata[1]["missing"] is True  # a stored name outside the results directory is never read
