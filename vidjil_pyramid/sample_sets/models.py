"""Sample sets (patients, runs, generic sets) and tags."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Integer
from sqlalchemy.orm import Mapped, mapped_column

from ..db.meta import Base
from ..db.types import reference, string, text

PATIENT, RUN, GENERIC = "patient", "run", "generic"
SET_TYPES = (PATIENT, RUN, GENERIC)


class SampleSet(Base):
    """The unit of access control: one row per patient, run or generic set."""

    __tablename__ = "sample_set"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    creator: Mapped[int | None] = reference("auth_user", ondelete="SET NULL")
    sample_type: Mapped[str | None] = string(512, index=True)


class Patient(Base):
    __tablename__ = "patient"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_name: Mapped[str | None] = string()
    last_name: Mapped[str | None] = string()
    birth: Mapped[dt.date | None] = mapped_column(Date)
    info: Mapped[str | None] = text()
    id_label: Mapped[str | None] = string()
    creator: Mapped[int | None] = reference("auth_user", ondelete="SET NULL")
    sample_set_id: Mapped[int | None] = reference("sample_set")


class Run(Base):
    __tablename__ = "run"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = string()
    run_date: Mapped[dt.date | None] = mapped_column(Date)
    info: Mapped[str | None] = text()
    id_label: Mapped[str | None] = string()
    creator: Mapped[int | None] = reference("auth_user", ondelete="SET NULL")
    sequencer: Mapped[str | None] = string()
    pcr: Mapped[str | None] = string()
    sample_set_id: Mapped[int | None] = reference("sample_set")


class Generic(Base):
    __tablename__ = "generic"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = string()
    info: Mapped[str | None] = text()
    creator: Mapped[int | None] = reference("auth_user", ondelete="SET NULL")
    sample_set_id: Mapped[int | None] = reference("sample_set")


DETAIL_MODELS = {PATIENT: Patient, RUN: Run, GENERIC: Generic}


class Tag(Base):
    __tablename__ = "tag"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = string(255, unique=True)


class GroupTag(Base):
    __tablename__ = "group_tag"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int | None] = reference("auth_group")
    tag_id: Mapped[int | None] = reference("tag")


class TagRef(Base):
    __tablename__ = "tag_ref"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag_id: Mapped[int | None] = reference("tag")
    table_name: Mapped[str | None] = string(512, index=True)
    record_id: Mapped[int | None] = mapped_column(Integer, index=True)
