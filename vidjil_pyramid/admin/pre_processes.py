"""Pre-process recipes (read merging and the like): listing, writing, and the log of one run.

Who may do what is decided by the permission service before these are called.
A new pre-process is given an `access` row for its creator's personal group, so
that the creator can see, use and edit it (the original wrote a `read` row,
which reaches nothing: http-contract §9.18).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from ..auth.services import grant
from ..files.models import PreProcess, SampleSetMembership, SequenceFile
from ..jobs.models import SchedulerRun
from .sharing import forget_object

SHORT_FIELD_MAX = 512  # name and command are VARCHAR(512)
PLACEHOLDERS = ("&file1&", "&file2&", "&result&")


class PreProcessError(ValueError):
    """A pre-process form that cannot be saved; the message lists every problem."""


@dataclass(frozen=True)
class PreProcessForm:
    name: str
    command: str
    info: str

    @classmethod
    def from_params(cls, params) -> "PreProcessForm":
        return cls(name=(params.get("pre_process_name") or "").strip(),
                   command=(params.get("pre_process_command") or "").strip(),
                   info=params.get("pre_process_info") or "")


def list_pre_processes(db: Session, accessible_ids: Select) -> list[PreProcess]:
    return list(db.scalars(select(PreProcess).where(PreProcess.id.in_(accessible_ids))
                           .order_by(PreProcess.name.desc(), PreProcess.id)))


def _checked_values(form: PreProcessForm) -> dict:
    errors: list[str] = []
    for label, value in (("pre_process_name", form.name), ("pre_process_command", form.command)):
        if not value:
            errors.append(f"{label} needed")
        elif len(value) > SHORT_FIELD_MAX:
            errors.append(f"{label} too long (at most {SHORT_FIELD_MAX} characters)")
    if form.command and "&result&" not in form.command:
        errors.append("pre_process_command must write its output to &result&")
    if errors:
        raise PreProcessError(", ".join(errors))
    return {"name": form.name, "command": form.command, "info": form.info}


def create_pre_process(db: Session, form: PreProcessForm, owner_group_id: int | None) -> PreProcess:
    pre_process = PreProcess(**_checked_values(form))
    db.add(pre_process)
    db.flush()
    if owner_group_id is not None:
        grant(db, owner_group_id, "access", "pre_process", pre_process.id)
    db.flush()
    return pre_process


def update_pre_process(db: Session, pre_process: PreProcess, form: PreProcessForm) -> None:
    for column, value in _checked_values(form).items():
        setattr(pre_process, column, value)
    db.flush()


def delete_pre_process(db: Session, pre_process: PreProcess) -> None:
    """Samples that used it keep their files; their `pre_process_id` becomes NULL."""
    for sequence_file in db.scalars(select(SequenceFile).where(SequenceFile.pre_process_id == pre_process.id)):
        sequence_file.pre_process_id = None
    forget_object(db, "pre_process", pre_process.id)
    db.delete(pre_process)
    db.flush()


def file_belongs_to_set(db: Session, sequence_file_id: int, sample_set_id: int) -> bool:
    return bool(db.scalar(select(exists().where(SampleSetMembership.sequence_file_id == sequence_file_id,
                                                SampleSetMembership.sample_set_id == sample_set_id))))


@dataclass(frozen=True)
class PreProcessRunInfo:
    sequence_file: SequenceFile
    run: SchedulerRun | None


def pre_process_run_info(db: Session, sequence_file_id: int) -> PreProcessRunInfo | None:
    """The sample and the latest execution of its pre-process task (None: no such sample)."""
    sequence_file = db.get(SequenceFile, sequence_file_id)
    if sequence_file is None:
        return None
    run = None
    if sequence_file.pre_process_scheduler_task_id is not None:
        run = db.scalars(select(SchedulerRun)
                         .where(SchedulerRun.task_id == sequence_file.pre_process_scheduler_task_id)
                         .order_by(SchedulerRun.stop_time.desc(), SchedulerRun.id.desc()).limit(1)).first()
    return PreProcessRunInfo(sequence_file, run)
