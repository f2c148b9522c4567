"""Sequence files (samples), their set memberships and pre-process recipes."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Date, Integer
from sqlalchemy.orm import Mapped, mapped_column

from ..db.meta import Base
from ..db.types import reference, string, text, upload


class PreProcess(Base):
    __tablename__ = "pre_process"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = string()
    command: Mapped[str | None] = string()
    info: Mapped[str | None] = text()

    @property
    def needs_two_files(self) -> bool:
        return "&file2" in (self.command or "")


class SequenceFile(Base):
    __tablename__ = "sequence_file"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int | None] = reference("patient")
    sampling_date: Mapped[dt.date | None] = mapped_column(Date)
    info: Mapped[str | None] = text()
    filename: Mapped[str | None] = text()
    pcr: Mapped[str | None] = text()
    sequencer: Mapped[str | None] = text()
    producer: Mapped[str | None] = text()
    size_file: Mapped[int | None] = mapped_column(BigInteger, default=0)
    size_file2: Mapped[int | None] = mapped_column(BigInteger, default=0)
    network: Mapped[bool | None] = mapped_column(Boolean, default=False)
    provider: Mapped[int | None] = reference("auth_user")
    pre_process_id: Mapped[int | None] = reference("pre_process", ondelete="SET NULL")
    pre_process_result: Mapped[str | None] = text()
    pre_process_flag: Mapped[str | None] = text()
    pre_process_scheduler_task_id: Mapped[int | None] = mapped_column(Integer)
    data_file: Mapped[str | None] = upload()
    data_file2: Mapped[str | None] = upload()
    pre_process_file: Mapped[str | None] = upload()


class SampleSetMembership(Base):
    __tablename__ = "sample_set_membership"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sample_set_id: Mapped[int | None] = reference("sample_set", ondelete="SET NULL")
    sequence_file_id: Mapped[int | None] = reference("sequence_file")
