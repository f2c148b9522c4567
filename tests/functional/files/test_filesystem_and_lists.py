"""`file/filesystem` (W3) and `file/sequencer_list`, `pcr_list`, `producer_list` (W7)."""
from __future__ import annotations

import pytest
from files_helpers import jtext
from factories import make_sequence_file


def test_root_and_children(world, as_user):
    app = as_user(world.alice)
    assert jtext(app.get("/vidjil//file/filesystem")) == [{"text": "/", "id": "/", "children": True}]
    nodes = jtext(app.get("/vidjil//file/filesystem?node=/"))
    assert {"text": "Demo-X5.fa", "li_attr": {"id": "//Demo-X5.fa", "title": "Demo-X5.fa"},
            "icon": "jstree-file"} in nodes
    assert {"text": "run1", "li_attr": {"id": "//run1", "title": "run1"}, "children": True} in nodes
    ids = [n["li_attr"]["id"] for n in nodes]
    assert "//notes.txt" not in ids and "//escape.fa" not in ids
    assert [n["li_attr"]["id"] for n in jtext(app.get("/vidjil/file/filesystem?node=//run1"))] == \
        ["//run1/S1_R1.fastq", "//run1/S1_R2.fastq"]


def test_filesystem_needs_login_w3(world, as_user):
    assert "default/user/login" in jtext(as_user(None).get("/vidjil/file/filesystem?node=/"))["redirect"]


@pytest.mark.parametrize("node", ["/..", "//../..", "/run1/../..", "//../secret", "/etc"])
def test_filesystem_stays_in_its_root_w3(world, as_user, node):
    body = jtext(as_user(world.alice).get("/vidjil/file/filesystem", {"node": node}))
    assert body["success"] == "false"


def test_filesystem_without_network_storage(world, as_user):
    app = as_user(world.alice)
    app.app.registry.settings["vidjil.file_source"] = ""
    assert jtext(app.get("/vidjil/file/filesystem?node=/"))["success"] == "false"


def test_value_lists_show_only_visible_samples_w7(world, as_user):
    make_sequence_file(world.db, sets=[world.set_a], sequencer="NovaSeq-A", pcr="pcr-a", producer="lab A")
    app = as_user(world.alice)
    assert jtext(app.post("/vidjil/file/sequencer_list")) == {"sequencer": ["NovaSeq-A"]}
    assert jtext(app.post("/vidjil/file/pcr_list")) == {"pcr": ["pcr-a"]}
    assert jtext(app.post("/vidjil/file/producer_list")) == {"producer": ["lab A"]}
    admin = as_user(world.admin)
    assert jtext(admin.post("/vidjil/file/sequencer_list")) == {"sequencer": ["MiSeq-B", "NovaSeq-A"]}


@pytest.mark.parametrize("name", ["sequencer", "pcr", "producer"])
def test_value_lists_need_login_w7(world, as_user, name):
    assert "redirect" in jtext(as_user(None).post(f"/vidjil/file/{name}_list"))
