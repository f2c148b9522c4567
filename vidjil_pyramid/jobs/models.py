"""web2py scheduler tables: the browser polls job ids and statuses from them."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Boolean, DateTime, Integer
from sqlalchemy.orm import Mapped, mapped_column

from ..db.meta import Base
from ..db.types import reference, string, text

QUEUED, ASSIGNED, RUNNING = "QUEUED", "ASSIGNED", "RUNNING"
COMPLETED, FAILED, TIMEOUT, STOPPED, EXPIRED = "COMPLETED", "FAILED", "TIMEOUT", "STOPPED", "EXPIRED"
TERMINAL_STATUSES = (COMPLETED, FAILED, TIMEOUT, STOPPED, EXPIRED)


def _new_uuid() -> str:
    return str(uuid.uuid4())


class SchedulerTask(Base):
    __tablename__ = "scheduler_task"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_name: Mapped[str | None] = string()
    task_name: Mapped[str | None] = string()
    group_name: Mapped[str | None] = string(512, default="main")
    status: Mapped[str | None] = string(512, default=QUEUED, index=True)
    broadcast: Mapped[bool | None] = mapped_column(Boolean, default=False)
    function_name: Mapped[str | None] = string()
    uuid: Mapped[str | None] = string(255, unique=True, default=_new_uuid)
    args: Mapped[str | None] = text(default="[]")
    vars: Mapped[str | None] = text(default="{}")
    enabled: Mapped[bool | None] = mapped_column(Boolean, default=True)
    start_time: Mapped[dt.datetime | None] = mapped_column(DateTime, default=dt.datetime.now)
    next_run_time: Mapped[dt.datetime | None] = mapped_column(DateTime, default=dt.datetime.now)
    stop_time: Mapped[dt.datetime | None] = mapped_column(DateTime)
    repeats: Mapped[int | None] = mapped_column(Integer, default=1)
    retry_failed: Mapped[int | None] = mapped_column(Integer, default=0)
    period: Mapped[int | None] = mapped_column(Integer, default=60)
    prevent_drift: Mapped[bool | None] = mapped_column(Boolean, default=False)
    cronline: Mapped[str | None] = string()
    timeout: Mapped[int | None] = mapped_column(Integer, default=7200)
    sync_output: Mapped[int | None] = mapped_column(Integer, default=0)
    times_run: Mapped[int | None] = mapped_column(Integer, default=0)
    times_failed: Mapped[int | None] = mapped_column(Integer, default=0)
    last_run_time: Mapped[dt.datetime | None] = mapped_column(DateTime)
    assigned_worker_name: Mapped[str | None] = string(512, default="")


class SchedulerRun(Base):
    __tablename__ = "scheduler_run"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int | None] = reference("scheduler_task")
    status: Mapped[str | None] = string()
    start_time: Mapped[dt.datetime | None] = mapped_column(DateTime)
    stop_time: Mapped[dt.datetime | None] = mapped_column(DateTime)
    run_output: Mapped[str | None] = text()
    run_result: Mapped[str | None] = text()
    traceback: Mapped[str | None] = text()
    worker_name: Mapped[str | None] = string()


class SchedulerWorker(Base):
    __tablename__ = "scheduler_worker"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker_name: Mapped[str | None] = string(255, unique=True)
    first_heartbeat: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_heartbeat: Mapped[dt.datetime | None] = mapped_column(DateTime)
    status: Mapped[str | None] = string()
    is_ticker: Mapped[bool | None] = mapped_column(Boolean, default=False)
    group_names: Mapped[str | None] = text()
    worker_stats: Mapped[str | None] = text()


class SchedulerTaskDeps(Base):
    __tablename__ = "scheduler_task_deps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_name: Mapped[str | None] = string(512, default="job_0")
    task_parent: Mapped[int | None] = mapped_column(Integer)
    task_child: Mapped[int | None] = reference("scheduler_task")
    can_visit: Mapped[bool | None] = mapped_column(Boolean, default=False)
