"""Bringing old upload/result files into the data directory."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from legacy_import.files import COPY, LINK, MOVE, FileMover, FileOptions

SAMPLE = "sequence_file.data_file.0123456789abcdef.612e6661.fa"
RESULT = "results_file.data_file.0123456789abcdef.3030303030312e7669646a696c.txt"


@pytest.fixture
def old(tmp_path) -> dict[str, Path]:
    uploads, results, source = tmp_path / "old" / "uploads", tmp_path / "old" / "results", tmp_path / "old" / "src"
    for folder in (uploads, results, source / "run1"):
        folder.mkdir(parents=True)
    (uploads / SAMPLE).write_bytes(b">read\nACGT\n")
    (results / RESULT).write_text('{"clones": []}')
    (source / "run1" / "x.fa").write_text(">x\nA\n")
    return {"uploads": uploads, "results": results, "source": source, "root": tmp_path}


def options(old, mode=COPY, **kw) -> FileOptions:
    data = old["root"] / "data"
    return FileOptions(uploads=[old["uploads"]], results=[old["results"]], upload_dir=data / "uploads",
                       results_dir=data / "results", mode=mode, checksums_file=data / "sha256.txt", **kw)


def names(*extra):
    return [("uploads", SAMPLE), ("results", RESULT), *extra]


def test_copy_keeps_names_and_content_and_writes_checksums(old):
    o = options(old)
    result = FileMover(o).run(names())
    assert (result.found, result.missing, result.bytes) == (2, 0, 11 + 14)
    assert (o.upload_dir / SAMPLE).read_bytes() == (old["uploads"] / SAMPLE).read_bytes()
    assert (old["uploads"] / SAMPLE).exists()
    lines = dict(reversed(line.split("  ")) for line in o.checksums_file.read_text().splitlines())
    assert lines[str(o.upload_dir / SAMPLE)] == hashlib.sha256(b">read\nACGT\n").hexdigest()
    assert not list(o.upload_dir.glob(".*"))  # no temporary file left

    again = FileMover(o).run(names())
    assert (again.found, again.already_present, again.conflicts) == (2, 2, 0)


def test_link_shares_the_file(old):
    o = options(old, LINK)
    FileMover(o).run(names())
    assert os.path.samefile(o.upload_dir / SAMPLE, old["uploads"] / SAMPLE)


def test_move_takes_the_file_and_a_rerun_finds_it_in_place(old):
    o = options(old, MOVE)
    assert FileMover(o).run(names()).found == 2
    assert not (old["uploads"] / SAMPLE).exists() and (o.upload_dir / SAMPLE).exists()
    again = FileMover(o).run(names())
    assert (again.found, again.missing, again.already_present) == (2, 0, 2)


def test_missing_files_are_listed_not_fatal(old):
    result = FileMover(options(old)).run(names(("uploads", "sequence_file.data_file.ffff.62.fa")))
    assert result.missing == 1 and result.missing_names == ["sequence_file.data_file.ffff.62.fa"]
    assert result.found == 2


def test_older_folders_are_searched_in_order(old):
    older = old["root"] / "web2py-uploads"
    older.mkdir()
    (older / "patient.data_file.aaaa.62.fa").write_text("old")
    o = options(old)
    o.uploads.append(older)
    result = FileMover(o).run([("uploads", "patient.data_file.aaaa.62.fa")])
    assert result.found == 1 and (o.upload_dir / "patient.data_file.aaaa.62.fa").read_text() == "old"


def test_a_file_already_there_with_other_content_is_left_alone(old):
    o = options(old)
    o.upload_dir.mkdir(parents=True)
    (o.upload_dir / SAMPLE).write_bytes(b">other\nTTTT\n")  # same size, other content
    result = FileMover(o).run(names())
    assert result.conflicts == 1 and result.conflict_names == [SAMPLE]
    assert (o.upload_dir / SAMPLE).read_bytes() == b">other\nTTTT\n"


def test_names_that_are_paths_are_ignored(old):
    result = FileMover(options(old)).run([("uploads", "../../etc/passwd"), ("results", "a/b")])
    assert result.invalid_names == 2 and result.found == 0
    assert not (old["root"] / "data").exists() or not any((old["root"] / "data").rglob("passwd"))


def test_network_symlinks_are_repointed_into_the_new_file_source(old):
    link_name = "sequence_file.data_file.1111.78.fa"
    (old["uploads"] / link_name).symlink_to(str(old["source"]) + "//run1/x.fa")  # web2py's double slashes
    new_source = old["root"] / "new-src"
    (new_source / "run1").mkdir(parents=True)
    (new_source / "run1" / "x.fa").write_text(">x\nA\n")
    o = options(old, old_file_source=old["source"], new_file_source=new_source)
    result = FileMover(o).run([("uploads", link_name)])
    assert (result.symlinks, result.symlinks_dangling, result.refused) == (1, 0, 0)
    assert os.readlink(o.upload_dir / link_name) == str(new_source / "run1" / "x.fa")


def test_symlinks_outside_the_file_source_are_not_recreated_w20(old):
    """W20: a network name with ../ made the old server link any file into the uploads; such links
    must not come back into the new data directory."""
    escaped = "sequence_file.data_file.2222.78.fa"
    (old["uploads"] / escaped).symlink_to(str(old["source"]) + "/../../../etc/passwd")
    kept = "sequence_file.data_file.3333.78.fa"
    (old["uploads"] / kept).symlink_to(str(old["source"]) + "/run1/missing.fa")
    o = options(old, old_file_source=old["source"])
    result = FileMover(o).run([("uploads", escaped), ("uploads", kept)])
    assert result.refused == 1 and result.refused_names == [escaped]
    assert not os.path.lexists(o.upload_dir / escaped)
    assert (result.symlinks, result.symlinks_dangling) == (1, 1)
    assert os.readlink(o.upload_dir / kept) == str(old["source"] / "run1" / "missing.fa")


def test_without_file_source_symlinks_are_refused(old):
    link_name = "sequence_file.data_file.4444.78.fa"
    (old["uploads"] / link_name).symlink_to(old["source"] / "run1" / "x.fa")
    result = FileMover(options(old)).run([("uploads", link_name)])
    assert result.refused == 1


def test_dry_run_writes_nothing(old):
    o = options(old, dry_run=True, checksums=False)
    result = FileMover(o).run(names(("uploads", "sequence_file.data_file.ffff.62.fa")))
    assert (result.found, result.missing) == (2, 1)
    assert not (old["root"] / "data").exists()
