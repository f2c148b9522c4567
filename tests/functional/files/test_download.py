"""`default/download/<stored name>` and `patient/download/<stored name>` (W2)."""
from __future__ import annotations

import pytest
from files_helpers import jtext

from vidjil_pyramid.files import storage
from vidjil_pyramid.results.models import AnalysisFile, FusedFile, ResultsFile


def test_owner_downloads_a_sample_file(world, as_user):
    name = world.sample_a.data_file
    response = as_user(world.alice).get(f"/vidjil/patient/download/{name}")
    assert response.body == b">a\nACGTACGT\n"
    assert response.headers["Content-Disposition"] == 'attachment; filename="a.fa"'
    assert response.content_type == "application/octet-stream"
    cache = response.headers["Cache-Control"]
    assert "private" in cache and "public" not in cache
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_requested_download_name_and_double_slash(world, as_user):
    name = world.sample_a.data_file
    response = as_user(world.alice).get(f"/vidjil//default/download/{name}?filename=reads__12__file_id__3.fa")
    assert response.headers["Content-Disposition"] == 'attachment; filename="reads__12__file_id__3.fa"'


def test_non_ascii_and_quoted_names_are_safe(world, as_user):
    name = world.sample_a.data_file
    response = as_user(world.alice).get(f"/vidjil/default/download/{name}", {"filename": 'é"x;\r\ny.fa'})
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="e_x_y.fa"') and "filename*=UTF-8''%C3%A9_x_y.fa" in disposition


def test_results_fused_and_analysis_files(world, as_user):
    result = "results_file.data_file.00112233445566aa." + b"000001.vidjil".hex() + ".txt"
    fused = "fused_file.fused_file.00112233445566bb." + b"000001-1.fused".hex() + ".fused"
    analysis = "analysis_file.analysis_file.00112233445566cc.626c6f62.txt"
    for name in (result, fused, analysis):
        (world.results_dir / name).write_text('{"ok": true}')
    world.db.add_all([ResultsFile(sequence_file_id=world.sample_a.id, data_file=result),
                      FusedFile(sample_set_id=world.set_a.id, fused_file=fused),
                      AnalysisFile(sample_set_id=world.set_b.id, analysis_file=analysis)])
    world.db.flush()
    alice = as_user(world.alice)
    response = alice.get(f"/vidjil/default/download/{result}?filename=result-1-1.txt")
    assert response.body == b'{"ok": true}'
    assert 'filename="000001-1.fused"' in alice.get(f"/vidjil/default/download/{fused}").headers["Content-Disposition"]
    assert jtext(alice.get(f"/vidjil/default/download/{analysis}")) == {"message": "access denied"}
    bob = as_user(world.bob)
    assert bob.get(f"/vidjil/default/download/{analysis}").body == b'{"ok": true}'
    for name in (result, fused):
        assert jtext(bob.get(f"/vidjil/default/download/{name}")) == {"message": "access denied"}


def test_anonymous_downloads_nothing_w2(world, as_user):
    """W2: the original served any stored file to anyone who knew its name."""
    for url in ("default", "patient"):
        body = jtext(as_user(None).get(f"/vidjil/{url}/download/{world.sample_a.data_file}"))
        assert "default/user/login" in body["redirect"]


@pytest.mark.parametrize("user,sample", [("bob", "sample_a"), ("alice", "sample_b"), ("reader", "sample_b")])
def test_other_groups_download_nothing_w2(world, as_user, user, sample):
    response = as_user(getattr(world, user)).get(f"/vidjil/default/download/{getattr(world, sample).data_file}")
    assert jtext(response) == {"message": "access denied"}


@pytest.mark.parametrize("name", ["unknown.fa", "sequence_file.data_file.0000000000000000.6161.fa", "..",
                                  "%2E%2E%2Fsecret", "..%2F..%2Fetc%2Fpasswd", ""])
def test_unknown_or_unsafe_names_are_refused(world, as_user, name):
    response = as_user(world.admin).get(f"/vidjil/default/download/{name}", status="*")
    assert response.status_int in (200, 404)
    assert b"root:" not in response.body and b"ACGT" not in response.body


def test_row_without_file_on_disk_is_not_found(world, as_user):
    (world.upload_dir / world.sample_a.data_file).unlink()
    assert as_user(world.alice).get(f"/vidjil/default/download/{world.sample_a.data_file}", status=404).text == "404"


def test_second_file_and_network_link(world, as_user, source_dir):
    second = storage.stored_name("sequence_file", "data_file", "R2.fastq")
    (world.upload_dir / second).write_bytes(b"@r\nAC\n+\nII\n")
    linked = storage.network_stored_name("Demo-X5.fa")
    (world.upload_dir / linked).symlink_to(source_dir / "Demo-X5.fa")
    world.sample_a.data_file2 = second
    world.sample_b.data_file = linked
    world.db.flush()
    response = as_user(world.alice).get(f"/vidjil/default/download/{second}")
    assert response.body == b"@r\nAC\n+\nII\n" and 'filename="R2.fastq"' in response.headers["Content-Disposition"]
    assert as_user(world.bob).get(f"/vidjil/default/download/{linked}").body == b">r\nACGTACGT\n"
