"""Per-sample results, fused (multi-sample) results and saved analyses."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, Integer, false
from sqlalchemy.orm import Mapped, mapped_column

from ..db.meta import Base
from ..db.types import reference, string, upload

EPOCH = dt.datetime(1970, 1, 1)


class ResultsFile(Base):
    __tablename__ = "results_file"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sequence_file_id: Mapped[int | None] = reference("sequence_file")
    config_id: Mapped[int | None] = reference("config", ondelete="SET NULL")
    run_date: Mapped[dt.datetime | None] = mapped_column(DateTime)
    scheduler_task_id: Mapped[int | None] = mapped_column(Integer, index=True)
    hidden: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    data_file: Mapped[str | None] = upload()


class FusedFile(Base):
    __tablename__ = "fused_file"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int | None] = reference("patient", ondelete="SET NULL")
    config_id: Mapped[int | None] = reference("config", ondelete="SET NULL")
    sample_set_id: Mapped[int | None] = reference("sample_set", ondelete="SET NULL")
    fuse_date: Mapped[dt.datetime | None] = mapped_column(DateTime, default=EPOCH)
    status: Mapped[str | None] = string()
    sequence_file_list: Mapped[str | None] = string()
    fused_file: Mapped[str | None] = upload()


class AnalysisFile(Base):
    __tablename__ = "analysis_file"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int | None] = reference("patient", ondelete="SET NULL")
    config_id: Mapped[int | None] = reference("config", ondelete="SET NULL")
    sample_set_id: Mapped[int | None] = reference("sample_set", ondelete="SET NULL")
    analyze_date: Mapped[dt.datetime | None] = mapped_column(DateTime)
    status: Mapped[str | None] = string()
    analysis_file: Mapped[str | None] = upload()
