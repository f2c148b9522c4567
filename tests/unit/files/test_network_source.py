"""The FILE_SOURCE tree: listing, and confinement of every path to its root (W3, W20)."""
from __future__ import annotations

import pytest

from vidjil_pyramid.files.network_source import NetworkSource, SourcePathError


@pytest.fixture
def source(tmp_path):
    root = tmp_path / "source"
    (root / "run1").mkdir(parents=True)
    (root / "run1" / "S1_R1.fastq.gz").write_bytes(b"x")
    (root / "Demo-X5.fa").write_text(">r\nACGT\n")
    (root / "notes.txt").write_text("not a sequence")
    (root / "<img src=x onerror=alert(1)>.fa").write_text(">r\nA\n")
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "passwd.fa").write_text("root:x:0:0")
    (root / "escape").symlink_to(outside)
    (root / "escape.fa").symlink_to(outside / "passwd.fa")
    (root / "inside.fa").symlink_to(root / "Demo-X5.fa")
    return NetworkSource(root=root, file_types=("fa", "fastq.gz"))


def test_root_node(source):
    assert source.list_node(None) == [{"text": "/", "id": "/", "children": True}]


def test_children_of_the_root(source):
    nodes = source.list_node("/")
    by_id = {n["li_attr"]["id"]: n for n in nodes}
    assert by_id["//Demo-X5.fa"] == {"text": "Demo-X5.fa", "li_attr": {"id": "//Demo-X5.fa", "title": "Demo-X5.fa"},
                                     "icon": "jstree-file"}
    assert by_id["//run1"]["children"] is True
    assert "//notes.txt" not in by_id  # not one of FILE_TYPES
    assert "//inside.fa" in by_id


def test_links_leaving_the_root_are_not_listed_w3(source):
    ids = {n["li_attr"]["id"] for n in source.list_node("/")}
    assert "//escape" not in ids and "//escape.fa" not in ids


def test_names_are_escaped_for_jstree_w24(source):
    node = next(n for n in source.list_node("/") if n["li_attr"]["title"].startswith("<img"))
    assert node["text"] == "&lt;img src=x onerror=alert(1)&gt;.fa"
    assert node["li_attr"]["id"] == "//<img src=x onerror=alert(1)>.fa"


def test_sub_folder(source):
    assert [n["li_attr"]["id"] for n in source.list_node("//run1")] == ["//run1/S1_R1.fastq.gz"]


@pytest.mark.parametrize("node", ["/..", "//..", "/run1/../..", "..", "/./run1", "//escape", "/escape/",
                                  "/Demo-X5.fa", "/missing", "/run1\x00"])
def test_listing_outside_or_nonsense_is_refused_w3(source, node):
    with pytest.raises(SourcePathError):
        source.list_node(node)


def test_resolve_file_inside(source):
    assert source.resolve_file("//run1/S1_R1.fastq.gz") == (source.root / "run1" / "S1_R1.fastq.gz").resolve()
    assert source.resolve_file("//inside.fa") == (source.root / "Demo-X5.fa").resolve()


@pytest.mark.parametrize("name", ["//../secret/passwd.fa", "../secret/passwd.fa", "//escape.fa",
                                  "//escape/passwd.fa", "//notes.txt", "//run1", "", "//missing.fa",
                                  "/etc/passwd"])
def test_resolve_file_refuses_escapes_w20(source, name):
    with pytest.raises(SourcePathError):
        source.resolve_file(name)


def test_from_settings():
    assert NetworkSource.from_settings({"vidjil.file_source": ""}) is None
    source = NetworkSource.from_settings({"vidjil.file_source": "/mnt/src", "vidjil.file_types": ".fa fastq.gz"})
    assert source.file_types == ("fa", "fastq.gz")
