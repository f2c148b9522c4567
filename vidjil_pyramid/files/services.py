"""Samples (sequence files): the upload form's data, creating and editing samples,
attaching uploaded or server-side files, deleting samples, and value lists.

Every right is asked of the permission service; nothing here knows about HTTP.
Requests are validated completely before the first row or file is written, so
a refused request changes nothing (W14, W15).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from markupsafe import escape
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from ..auth.models import Group, GroupAssoc
from ..auth.permissions import Permissions
from ..auth.services import PUBLIC_ROLE
from ..results.models import ResultsFile
from ..results.services import DeletedResults, delete_results_of_files
from ..sample_sets.display import (
    format_date, format_size, id_string, parse_id_string, set_name,
)
from ..sample_sets.models import DETAIL_MODELS, PATIENT, RUN, SET_TYPES, SampleSet, TagRef
from ..sample_sets.services import owner_group_id
from ..sample_sets.tags import register_tags
from . import storage
from .models import PreProcess, SampleSetMembership, SequenceFile
from .network_source import NetworkSource, SourcePathError
from .uploads import UploadPolicy, upload_filename
from ..params import parse_id as _positive_int

log = logging.getLogger(__name__)

COMPUTER, NETWORK = "computer", "nfs"
WAIT, COMPLETED = "WAIT", "COMPLETED"
MAX_FILES_PER_SUBMIT = 500
MAX_INFO_LENGTH = 65535


class SampleError(ValueError):
    """A request about samples that cannot be honoured; the messages say why."""

    def __init__(self, messages: str | list[str]):
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__("; ".join(self.messages))


def _quote(text: Any) -> str:
    """User text inside a message: the browser shows messages as HTML (W24)."""
    return str(escape(str(text)))


# ----------------------------------------------------------------------------- set tokens

def set_tokens(db: Session, perms: Permissions, sample_set_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """The picker token (`{type, id}`, id = `:p Doe John (1970-01-02) (42)`) of each existing set."""
    wanted = [int(i) for i in dict.fromkeys(sample_set_ids)]
    if not wanted:
        return {}
    types = dict(db.execute(select(SampleSet.id, SampleSet.sample_type).where(SampleSet.id.in_(wanted))).all())
    tokens: dict[int, dict[str, str]] = {}
    for sample_type, model in DETAIL_MODELS.items():
        ids = [i for i in wanted if types.get(i) == sample_type]
        if not ids:
            continue
        for detail in db.scalars(select(model).where(model.sample_set_id.in_(ids)).order_by(model.id)):
            if detail.sample_set_id in tokens:
                continue
            may_see = sample_type == PATIENT and perms.can_view_info(detail.sample_set_id)
            date = detail.birth if sample_type == PATIENT else detail.run_date if sample_type == RUN else None
            name = set_name(sample_type, detail, may_see)
            tokens[detail.sample_set_id] = {"type": sample_type,
                                            "id": id_string(sample_type, detail.sample_set_id, name, date)}
    return {i: tokens[i] for i in wanted if i in tokens}


def parse_set_list(text: Any) -> tuple[list[int], list[str]]:
    """Set ids of a `|`-separated token list, and the tokens that could not be read."""
    if text is None or text == "":
        return [], []
    if not isinstance(text, str):
        return [], [f"invalid set list {_quote(text)}"]
    ids: list[int] = []
    errors: list[str] = []
    for token in (t.strip() for t in text.split("|")):
        if not token:
            continue
        parsed = parse_id_string(token)
        if parsed is None:
            errors.append(f"invalid set {_quote(token)}")
        elif parsed.sample_set_id not in ids:
            ids.append(parsed.sample_set_id)
    return ids, errors


# ----------------------------------------------------------------------------- the form

def involved_group_ids(db: Session, perms: Permissions) -> list[int]:
    """Groups whose tags the user's inputs suggest: theirs and their parents (all for admins)."""
    if perms.is_admin:
        return list(db.scalars(select(Group.id).order_by(Group.id)))
    return sorted(perms.group_ids) + sorted(perms.parent_ids - perms.group_ids)


def upload_group_ids(db: Session, perms: Permissions) -> list[int]:
    """Groups whose sets the set picker offers: those the user uploads for, as their first parent."""
    if perms.is_admin:
        candidates = list(db.scalars(select(Group.id).order_by(Group.id)))
    else:
        uploading = perms.groups_with_action("upload")
        candidates = sorted(db.scalars(select(Group.id).where(Group.id.in_(uploading), Group.role != PUBLIC_ROLE))) \
            if uploading else []
    if not candidates:
        return []
    first_parent: dict[int, int] = {}
    for child, parent in db.execute(
        select(GroupAssoc.second_group_id, GroupAssoc.first_group_id)
        .where(GroupAssoc.second_group_id.in_(candidates), GroupAssoc.first_group_id.is_not(None))
        .order_by(GroupAssoc.id)
    ):
        first_parent.setdefault(child, parent)
    return list(dict.fromkeys(first_parent.get(g, g) for g in candidates))


def pre_process_choices(db: Session, perms: Permissions) -> list[dict[str, Any]]:
    """Pre-processes the user may use, newest first; `file` = 2 when the recipe needs a pair."""
    rows = db.scalars(select(PreProcess).where(PreProcess.id.in_(perms.accessible_pre_process_ids_query()))
                      .order_by(PreProcess.id.desc()))
    return [{"id": p.id, "name": p.name or "", "file": 2 if p.needs_two_files else 1, "info": p.info or ""}
            for p in rows]


def file_fields(row: SequenceFile) -> dict[str, Any]:
    """A sample row as the form (and its JSON form) shows it."""
    return {
        "id": row.id, "filename": row.filename or "", "sampling_date": format_date(row.sampling_date),
        "info": row.info or "", "pcr": row.pcr, "sequencer": row.sequencer, "producer": row.producer,
        "size_file": row.size_file, "size_file2": row.size_file2, "network": bool(row.network),
        "provider": row.provider, "pre_process_id": row.pre_process_id, "pre_process_flag": row.pre_process_flag,
        "data_file": row.data_file, "data_file2": row.data_file2, "sets": [],
    }


def _membership_set_ids(db: Session, sequence_file_id: int) -> list[int]:
    return list(dict.fromkeys(db.scalars(
        select(SampleSetMembership.sample_set_id)
        .join(SampleSet, SampleSet.id == SampleSetMembership.sample_set_id)
        .where(SampleSetMembership.sequence_file_id == sequence_file_id)
        .order_by(SampleSetMembership.id)
    )))


def upload_form_values(db: Session, perms: Permissions, *, sample_set_id: int | None = None,
                       file_id: int | None = None, sample_type: str | None = None,
                       network_active: bool = False) -> dict[str, Any]:
    """Everything the add (`sample_set_id`) or edit (`file_id`) form shows.

    The caller has checked the right to upload to the set, or to modify the file.
    An edited sample lists only the sets this user may modify: the others are
    neither shown nor touched by the edit.
    """
    if file_id is not None:
        row = db.get(SequenceFile, file_id)
        if row is None:
            raise SampleError("this sample does not exist (any more)")
        files = [file_fields(row)]
        set_ids = [s for s in _membership_set_ids(db, file_id) if perms.can_modify_sample_set(s)]
        editing = True
        network_source = network_active and bool(row.network)
        if sample_type not in SET_TYPES:  # the page the form was opened from; only a known type is kept
            first = db.get(SampleSet, set_ids[0]) if set_ids else None
            sample_type = first.sample_type if first is not None else ""
    else:
        sample_set = db.get(SampleSet, sample_set_id)
        if sample_set is None:
            raise SampleError("this sample set does not exist (any more)")
        files = [{"id": "", "filename": "", "sampling_date": "", "info": "", "network": False, "sets": []}]
        set_ids = [sample_set.id]
        sample_type = sample_set.sample_type
        editing = False
        network_source = network_active
    return {
        "pre_process_list": pre_process_choices(db, perms),
        "files": files,
        "sets": list(set_tokens(db, perms, set_ids).values()),
        "sample_type": sample_type or "",
        "sample_set_id": sample_set_id if not editing else "",
        "errors": [],
        "source_module_active": network_active,
        "network_source": network_source,
        "group_ids": involved_group_ids(db, perms),
        "upload_group_ids": upload_group_ids(db, perms),
        "isEditing": editing,
    }


# ----------------------------------------------------------------------------- submit

@dataclass
class SampleLine:
    """One sample of a `file/submit` request, validated."""

    position: int
    file_id: int | None
    filename: str
    filename2: str
    sampling_date: dt.date | None
    info: str
    set_ids: list[int]
    source_path: Path | None = None
    source_path2: Path | None = None


@dataclass
class SubmitPlan:
    source: str
    pre_process_id: int | None
    common_set_ids: list[int]
    lines: list[SampleLine]


@dataclass
class SubmitOutcome:
    file_ids: list[int]
    first_set_id: int
    created_links: list[Path] = field(default_factory=list)
    replaced_files: list[str] = field(default_factory=list)  # read files no longer used (uploads area)
    obsolete_results: list[str] = field(default_factory=list)  # result files of replaced data

    def answer(self) -> dict[str, Any]:
        return {"file_ids": self.file_ids, "redirect": "sample_set/index",
                "args": {"id": self.first_set_id, "config_id": -1},
                "message": "successfully added/edited file(s)"}


def _text(value: Any, what: str, errors: list[str]) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        errors.append(f"invalid {what}")
        return ""
    return value


def _parse_date(text: str, errors: list[str]) -> dt.date | None:
    if not text.strip():
        return None
    try:
        return dt.datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        errors.append("date (wrong format)")
        return None


def _check_sets(db: Session, perms: Permissions, set_ids: list[int], errors: list[str]) -> None:
    existing = set(db.scalars(select(SampleSet.id).where(SampleSet.id.in_(set_ids)))) if set_ids else set()
    for set_id in set_ids:
        if set_id not in existing or not perms.can_modify_sample_set(set_id):
            errors.append(f"missing permission for set {set_id}")


def plan_submission(db: Session, perms: Permissions, data: Any, *, network: NetworkSource | None,
                    policy: UploadPolicy) -> SubmitPlan:
    """Read and check a whole `file/submit` request; SampleError lists every problem found."""
    if not isinstance(data, dict):
        raise SampleError("invalid request: the data must be a JSON object")
    errors: list[str] = []
    source = data.get("source") or COMPUTER
    if source not in (COMPUTER, NETWORK):
        errors.append("invalid file source")
    if source == NETWORK and network is None:
        errors.append("this server has no network storage")

    pre_process_id: int | None = None
    raw_pre_process = data.get("pre_process")
    if raw_pre_process not in (None, "", "0", 0):
        pre_process_id = _positive_int(raw_pre_process)
        usable = pre_process_id is not None and db.scalar(
            select(PreProcess.id).where(PreProcess.id == pre_process_id,
                                        PreProcess.id.in_(perms.accessible_pre_process_ids_query())))
        if not usable:
            errors.append("unknown pre-process")

    common_set_ids, token_errors = parse_set_list(data.get("set_ids"))
    errors += token_errors
    if not common_set_ids:
        errors.append("missing set association")
    _check_sets(db, perms, common_set_ids, errors)

    items = data.get("file")
    if not isinstance(items, list):
        items = []
    items = [item for item in items if item is not None]
    if not items:
        errors.append("no sample given")
    if len(items) > MAX_FILES_PER_SUBMIT:
        raise SampleError(f"too many samples at once (at most {MAX_FILES_PER_SUBMIT})")

    lines: list[SampleLine] = []
    for position, item in enumerate(items, start=1):
        line_errors: list[str] = []
        if not isinstance(item, dict):
            errors.append(f"sample {position}: invalid description")
            continue
        raw_id = item.get("id")
        file_id = None
        if raw_id not in (None, ""):
            file_id = _positive_int(raw_id)
            if file_id is None or not perms.can_modify_file(file_id):
                line_errors.append("you may not modify this sample")
        filename = upload_filename(_text(item.get("filename"), "file name", line_errors)) \
            if source == COMPUTER else _text(item.get("filename"), "file name", line_errors)
        filename2 = upload_filename(_text(item.get("filename2"), "file name", line_errors)) \
            if source == COMPUTER else _text(item.get("filename2"), "file name", line_errors)
        info = _text(item.get("info"), "information", line_errors)
        if len(info) > MAX_INFO_LENGTH:
            line_errors.append("information too long")
        sampling_date = _parse_date(_text(item.get("sampling_date"), "date", line_errors), line_errors)
        if file_id is None:
            if not filename:
                line_errors.append("missing filename")
            if pre_process_id is not None and not filename2:
                line_errors.append("missing filename2")
        elif pre_process_id is not None and bool(filename) != bool(filename2):
            line_errors.append("missing filename2" if filename else "missing filename")
        line = SampleLine(position, file_id, filename, filename2, sampling_date, info, [])
        for name in (filename, filename2):
            if name and source == COMPUTER and not policy.accepts(name):
                line_errors.append(f"{_quote(name)}: this type of file is not accepted "
                                   f"(accepted: {policy.describe_types()})")
        if source == NETWORK and network is not None:
            try:
                line.source_path = network.resolve_file(filename) if filename else None
                line.source_path2 = network.resolve_file(filename2) if filename2 else None
            except SourcePathError as exc:
                line_errors.append(f"{_quote(filename)}: {exc}")
        line.set_ids, token_errors = parse_set_list(item.get("set_ids"))
        line_errors += token_errors
        _check_sets(db, perms, [s for s in line.set_ids if s not in common_set_ids], line_errors)
        errors += [f"sample {position}: {e}" for e in line_errors]
        lines.append(line)
    if errors:
        raise SampleError(errors)
    return SubmitPlan(source, pre_process_id, common_set_ids, lines)


def _create_links(plan: SubmitPlan, upload_dir: Path) -> dict[tuple[int, int], tuple[str, Path, int]]:
    """Link every chosen server-side file into the uploads directory (before any row is written)."""
    made: dict[tuple[int, int], tuple[str, Path, int]] = {}
    upload_dir.mkdir(parents=True, exist_ok=True)
    try:
        for line in plan.lines:
            for number, source in ((1, line.source_path), (2, line.source_path2)):
                if source is None:
                    continue
                name = storage.network_stored_name(source.name)
                if not storage.fits_file_system(upload_dir, name):
                    raise SampleError(f"sample {line.position}: the file name is too long")
                link = storage.resolve(upload_dir, name)
                os.symlink(source, link)
                made[(line.position, number)] = (name, link, source.stat().st_size)
    except (OSError, SampleError) as exc:
        for _name, link, _size in made.values():
            link.unlink(missing_ok=True)
        if isinstance(exc, SampleError):
            raise
        log.error("could not link a network file into %s: %s", upload_dir, exc)
        raise SampleError("the server could not link the network file") from None
    return made


def delete_results_of(db: Session, sequence_file_ids: list[int]) -> DeletedResults:
    """Drop the results computed from data that is being replaced or removed (their files
    are the caller's to remove once committed)."""
    return delete_results_of_files(db, sequence_file_ids)


def _link_sets(db: Session, sequence_file_id: int, set_ids: list[int]) -> None:
    for set_id in set_ids:
        db.add(SampleSetMembership(sample_set_id=set_id, sequence_file_id=sequence_file_id))


def _register_sample_tags(db: Session, sequence_file_id: int, info: str, set_ids: list[int]) -> None:
    """Tags of the sample's info, known to the owner group of each of its sets."""
    owners = list(dict.fromkeys(owner_group_id(db, s) for s in set_ids)) or [None]
    for group_id in owners:
        register_tags(db, info, "sequence_file", sequence_file_id, group_id)


def save_submission(db: Session, perms: Permissions, user_id: int, plan: SubmitPlan, *, upload_dir: Path,
                    publisher: Any = None) -> SubmitOutcome:
    """Write a checked plan: rows, memberships, tags, linked network files, pre-processes.

    Network files are linked first (the only step that can fail for outside
    reasons); if a row cannot be written afterwards the links are removed.
    """
    links = _create_links(plan, upload_dir) if plan.source == NETWORK else {}
    outcome = SubmitOutcome(file_ids=[], first_set_id=plan.common_set_ids[0],
                            created_links=[link for _n, link, _s in links.values()])
    try:
        to_schedule: list[int] = []
        for line in plan.lines:
            set_ids = list(dict.fromkeys(plan.common_set_ids + line.set_ids))
            new_data = bool(line.filename)
            if line.file_id is None:
                row = SequenceFile(provider=user_id, size_file=0, size_file2=0, network=False)
                db.add(row)
            else:
                row = db.get(SequenceFile, line.file_id)
                if new_data:
                    row.provider = user_id
                # the user's own sets are replaced; memberships to sets they may not modify stay
                kept = [s for s in _membership_set_ids(db, row.id) if not perms.can_modify_sample_set(s)]
                stale = delete(SampleSetMembership).where(SampleSetMembership.sequence_file_id == row.id)
                if kept:
                    stale = stale.where(or_(SampleSetMembership.sample_set_id.not_in(kept),
                                            SampleSetMembership.sample_set_id.is_(None)))
                db.execute(stale)
                set_ids = [s for s in set_ids if s not in kept]
            row.sampling_date = line.sampling_date
            row.info = line.info
            row.pre_process_id = plan.pre_process_id
            if new_data or line.file_id is None:
                row.pre_process_flag = WAIT if plan.pre_process_id else COMPLETED
                row.pre_process_result = None
                row.filename = upload_filename(line.filename) if plan.source == NETWORK else line.filename
            db.flush()
            if plan.source == NETWORK and new_data:
                if line.file_id is not None:
                    outcome.replaced_files += [n for n in (row.data_file, row.data_file2) if n]
                    outcome.obsolete_results += delete_results_of(db, [row.id]).stored_names
                first = links.get((line.position, 1))
                second = links.get((line.position, 2))
                row.data_file, row.size_file = (first[0], first[2]) if first else (None, 0)
                row.data_file2, row.size_file2 = (second[0], second[2]) if second else (None, 0)
                row.network = True
                if plan.pre_process_id and has_pre_process_inputs(db, row, plan.pre_process_id):
                    to_schedule.append(row.id)
            _link_sets(db, row.id, set_ids)
            _register_sample_tags(db, row.id, line.info, list(dict.fromkeys(plan.common_set_ids + line.set_ids)))
            outcome.file_ids.append(row.id)
        db.flush()
        for sequence_file_id in to_schedule:
            from ..jobs.services import schedule_pre_process

            schedule_pre_process(db, publisher, sequence_file_id, plan.pre_process_id)
    except BaseException:
        for link in outcome.created_links:
            link.unlink(missing_ok=True)
        raise
    return outcome


# ----------------------------------------------------------------------------- uploads

@dataclass
class UploadTarget:
    sequence_file_id: int
    file_number: int
    pre_process_id: int | None


def upload_target(db: Session, perms: Permissions, fields: dict[str, str]) -> UploadTarget:
    """Which sample and slot an upload is for, refused unless the user may modify the sample (W1)."""
    raw_id = fields.get("id")
    if raw_id in (None, ""):
        raise SampleError("missing id")
    file_id = _positive_int(raw_id)
    if file_id is None or db.get(SequenceFile, file_id) is None:
        raise SampleError("no sequence file with this id")
    if not perms.can_modify_file(file_id):
        raise SampleError("you need admin permission on this sample to upload its file")
    number = fields.get("file_number", "1")
    if number not in ("1", "2"):
        raise SampleError("file_number must be 1 or 2")
    pre_process_id = None
    raw_pre_process = fields.get("pre_process")
    if raw_pre_process not in (None, "", "0"):
        pre_process_id = _positive_int(raw_pre_process)
        usable = pre_process_id is not None and db.scalar(
            select(PreProcess.id).where(PreProcess.id == pre_process_id,
                                        PreProcess.id.in_(perms.accessible_pre_process_ids_query())))
        if not usable:
            raise SampleError("unknown pre-process")
    return UploadTarget(file_id, int(number), pre_process_id)


def has_pre_process_inputs(db: Session, row: SequenceFile, pre_process_id: int) -> bool:
    """Whether a sample has every file its pre-process reads (the second one only for pairs)."""
    pre_process = db.get(PreProcess, pre_process_id)
    return bool(row.data_file) and (not pre_process.needs_two_files or bool(row.data_file2))


@dataclass
class AttachOutcome:
    message: str
    replaced_file: str | None  # the read file this upload replaces (uploads area)
    obsolete_results: list[str]  # result files of the replaced data
    pre_process_scheduled: bool


def attach_upload(db: Session, target: UploadTarget, stored: str, original_name: str, size: int,
                  publisher: Any = None) -> AttachOutcome:
    """Point the sample at its newly stored file; its old results go, a pending pair is pre-processed."""
    row = db.get(SequenceFile, target.sequence_file_id)
    if target.file_number == 1:
        replaced = row.data_file
        row.data_file, row.size_file, row.filename = stored, size, original_name
    else:
        replaced = row.data_file2
        row.data_file2, row.size_file2 = stored, size
    row.network = False
    row.pre_process_result = None
    obsolete = delete_results_of(db, [row.id]).stored_names
    pre_process_id = target.pre_process_id
    scheduled = False
    if pre_process_id is not None:
        row.pre_process_id = pre_process_id
        row.pre_process_flag = WAIT  # until both files are there and the pre-process has run
    else:
        row.pre_process_flag = COMPLETED
    db.flush()
    message = f" file {{{row.id}}} upload finished ({_quote(original_name)}) ({format_size(size)})"
    if pre_process_id is not None and has_pre_process_inputs(db, row, pre_process_id):
        from ..jobs.services import schedule_pre_process

        schedule_pre_process(db, publisher, row.id, pre_process_id)
        scheduled = True
        message += f" | p{pre_process_id} start pre_process {row.id}-{pre_process_id}"
    return AttachOutcome(message, replaced, obsolete, scheduled)


def unreferenced(db: Session, names: Iterable[str]) -> list[str]:
    """Those stored names no sample row refers to any more (safe to remove from disk)."""
    names = [n for n in dict.fromkeys(names) if n]
    if not names:
        return []
    used = set(db.scalars(select(SequenceFile.data_file).where(SequenceFile.data_file.in_(names))))
    used |= set(db.scalars(select(SequenceFile.data_file2).where(SequenceFile.data_file2.in_(names))))
    return [n for n in names if n not in used]


# ----------------------------------------------------------------------------- deletion

@dataclass
class DeletionOutcome:
    sequence_file_id: int
    removed_files: list[str]  # read files (uploads area)
    obsolete_results: list[str] = field(default_factory=list)  # results area
    refused_sets: list[int] = field(default_factory=list)


def results_count(db: Session, sequence_file_id: int) -> int:
    return db.scalar(select(func.count(ResultsFile.id)).where(ResultsFile.sequence_file_id == sequence_file_id)) or 0


def sets_of_file(db: Session, sequence_file_id: int) -> list[int]:
    return _membership_set_ids(db, sequence_file_id)


def delete_sample(db: Session, sequence_file_id: int, *, with_results: bool, publisher: Any = None) -> DeletionOutcome:
    """Remove a sample's read files only, or the whole sample with its results.

    The whole-sample deletion re-fuses, for the configs the sample had results
    with, the sets that still hold other samples.
    """
    row = db.get(SequenceFile, sequence_file_id)
    if row is None:
        raise SampleError("The requested file doesn't exist")
    files = [n for n in (row.data_file, row.data_file2) if n]
    if not with_results:
        row.data_file = None
        row.data_file2 = None
        db.flush()
        return DeletionOutcome(sequence_file_id, files)
    set_ids = _membership_set_ids(db, sequence_file_id)
    side_files = [row.pre_process_file] if row.pre_process_file else []
    deleted = delete_results_of(db, [sequence_file_id])
    db.execute(delete(TagRef).where(TagRef.table_name == "sequence_file", TagRef.record_id == sequence_file_id))
    db.execute(delete(SampleSetMembership).where(SampleSetMembership.sequence_file_id == sequence_file_id))
    db.execute(delete(SequenceFile).where(SequenceFile.id == sequence_file_id))
    db.expire_all()
    still_used = set(db.scalars(
        select(SampleSetMembership.sample_set_id).where(SampleSetMembership.sample_set_id.in_(set_ids)))) \
        if set_ids else set()
    refused = [s for s in set_ids if s in still_used]
    config_ids = sorted(deleted.config_ids)
    if refused and config_ids:
        from ..jobs.services import schedule_refuse

        schedule_refuse(db, publisher, refused, config_ids)
    return DeletionOutcome(sequence_file_id, files, deleted.stored_names + side_files, refused)


# ----------------------------------------------------------------------------- value lists

LIST_COLUMNS = {"sequencer": SequenceFile.sequencer, "pcr": SequenceFile.pcr, "producer": SequenceFile.producer}


def distinct_values(db: Session, perms: Permissions, name: str) -> list[str]:
    """Distinct values of a sample column among the samples of sets the user can see (W7)."""
    column = LIST_COLUMNS[name]
    visible = select(SampleSetMembership.sequence_file_id).where(
        SampleSetMembership.sample_set_id.in_(perms.accessible_sample_set_ids_query("read")))
    rows = db.scalars(select(column).distinct().where(column.is_not(None), column != "",
                                                      SequenceFile.id.in_(visible)).order_by(column))
    return [value for value in rows if value.strip() and value != "null"]
