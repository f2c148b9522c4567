"""Saved analyses (`.analysis`: the user's clone names, tags, clusters): every save is a
new version, the newest is served. Knows nothing of HTTP.

Two people saving the same set at once both get their version stored; the
later one is what `get_analysis` answers, and the earlier stays in the history
(`analysis_file` rows are never overwritten).
"""
from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..files.models import SampleSetMembership, SequenceFile
from ..files.storage import StorageError, resolve, stored_name
from ..sample_sets.tags import register_tags
from .models import AnalysisFile
from .services import ResultsError, owner_group_id, set_detail

ANALYSIS_VERSION = "2014.09"
MAX_ANALYSIS_BYTES = 256 * 1024 * 1024
COPY_CHUNK = 1 << 20
# Saved keys the browser reads back, and under which name (older files say `cluster`).
SERVED_KEYS = (("cluster", "clusters"), ("clusters", "clusters"), ("clones", "clones"), ("tags", "tags"),
               ("report_save", "report_save"), ("samples", "samples"))


def empty_analysis() -> dict[str, Any]:
    """What a set without any saved analysis answers."""
    return {
        "samples": {"number": 0, "original_names": [], "order": [], "info_sequence_file": []},
        "custom": [],
        "clusters": [],
        "clones": [],
        "tags": {},
        "report_save": {},
        "vidjil_json_version": ANALYSIS_VERSION,
    }


def clean_analysis(saved: dict[str, Any]) -> dict[str, Any]:
    """The saved keys the browser uses, over the empty analysis (others are left out)."""
    analysis = empty_analysis()
    for saved_key, served_key in SERVED_KEYS:
        if saved_key in saved:
            analysis[served_key] = saved[saved_key]
    return analysis


def latest_analysis_file(db: Session, sample_set_id: int) -> AnalysisFile | None:
    """The newest version; rows saved in the same second are told apart by their id."""
    return db.scalars(
        select(AnalysisFile).where(AnalysisFile.sample_set_id == sample_set_id)
        .order_by(AnalysisFile.analyze_date.desc(), AnalysisFile.id.desc()).limit(1)
    ).first()


def analysis_for_set(db: Session, results_dir: str | Path, sample_set_id: int) -> dict[str, Any]:
    """The newest saved analysis of the set, cleaned; the empty one if none was saved."""
    row = latest_analysis_file(db, sample_set_id)
    if row is None:
        return empty_analysis()
    try:
        path = resolve(results_dir, row.analysis_file or "")
        with open(path, "rb") as handle:
            saved = json.load(handle)
    except (StorageError, OSError):
        raise ResultsError(f"the saved analysis of this set ({row.id}) cannot be found") from None
    except ValueError:
        raise ResultsError(f"the saved analysis of this set ({row.id}) is not valid JSON") from None
    if not isinstance(saved, dict):
        raise ResultsError(f"the saved analysis of this set ({row.id}) is not a JSON object")
    return clean_analysis(saved)


def parse_sample_infos(ids: list[str], infos: list[str]) -> list[tuple[int, str]]:
    """(sequence_file_id, info) pairs from the form.

    The browser's FormData joins arrays with commas; repeated fields are accepted
    too. Counts that do not match (an info containing a comma) are refused rather
    than guessed.
    """
    if len(ids) == 1 and len(infos) == 1:
        ids, infos = ids[0].split(","), infos[0].split(",")
    if len(ids) != len(infos):
        raise ResultsError("samples_id and samples_info do not have the same number of items")
    pairs = []
    for raw_id, info in zip(ids, infos):
        raw_id = raw_id.strip()
        if not raw_id:
            continue
        if not raw_id.isdigit() or int(raw_id) <= 0:
            raise ResultsError(f"invalid sample id: {raw_id}")
        pairs.append((int(raw_id), info))
    return pairs


@dataclass(frozen=True)
class SavedAnalysis:
    row: AnalysisFile
    path: Path


def _store_upload(content: BinaryIO, results_dir: Path, original_name: str) -> tuple[str, Path]:
    """Copy the upload under a new stored name, checked to be a JSON object; temp name then rename."""
    name = stored_name("analysis_file", "analysis_file", original_name or "blob")
    target = resolve(results_dir, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name("." + target.name + ".part")
    try:
        with open(partial, "wb") as out:
            copied = 0
            while True:
                chunk = content.read(COPY_CHUNK)
                if not chunk:
                    break
                copied += len(chunk)
                if copied > MAX_ANALYSIS_BYTES:
                    raise ResultsError(f"the analysis is larger than {MAX_ANALYSIS_BYTES // (1024 * 1024)} MB")
                out.write(chunk)
        with open(partial, "rb") as check:
            try:
                parsed = json.load(check)
            except ValueError:
                raise ResultsError("the analysis is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise ResultsError("the analysis is not a JSON object")
        os.replace(partial, target)
    finally:
        if partial.exists():
            partial.unlink()
    return name, target


def save_analysis(db: Session, results_dir: str | Path, sample_set_id: int, content: BinaryIO,
                  original_name: str, info: str | None = None,
                  sample_infos: list[tuple[int, str]] = ()) -> SavedAnalysis:
    """Store a new version of the set's analysis; `info` becomes the set's info text (tags
    registered again), and each (sample id, info) pair that of a sample **of this set** (W19).

    Everything is checked before anything is written; on error nothing is kept.
    The caller removes `path` if the transaction does not commit.
    """
    found = set_detail(db, sample_set_id)
    if found is None:
        raise ResultsError(f"sample set {sample_set_id} does not exist")
    sample_infos = list(sample_infos)
    if sample_infos:
        wanted = {file_id for file_id, _ in sample_infos}
        members = set(db.scalars(
            select(SampleSetMembership.sequence_file_id)
            .where(SampleSetMembership.sample_set_id == sample_set_id,
                   SampleSetMembership.sequence_file_id.in_(wanted))))
        strangers = sorted(wanted - members)
        if strangers:
            raise ResultsError(f"sample {strangers[0]} is not in this sample set")

    name, path = _store_upload(content, Path(results_dir), original_name)
    try:
        row = AnalysisFile(sample_set_id=sample_set_id, analysis_file=name,
                           analyze_date=dt.datetime.now().replace(microsecond=0))
        db.add(row)
        group_id = owner_group_id(db, sample_set_id, found.sample_type, found.detail_id)
        if info is not None and found.detail is not None:
            found.detail.info = info
            register_tags(db, info, found.sample_type, found.detail.id, group_id)
        for file_id, sample_info in sample_infos:
            sequence_file = db.get(SequenceFile, file_id)
            sequence_file.info = sample_info
            register_tags(db, sample_info, "sequence_file", file_id, group_id)
        db.flush()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return SavedAnalysis(row, path)

