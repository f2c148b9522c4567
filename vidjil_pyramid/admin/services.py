"""What the admin panel shows: counts of rows, the job queue, and a health summary.

Deliberately nothing about the host (disk usage, uptime, code revision): the
original printed `df -h`, `uptime` and `git log` into the page (W27). Knows nothing
of HTTP.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..auth.models import Group, User
from ..files.models import PreProcess, SequenceFile
from ..jobs.models import ASSIGNED, QUEUED, RUNNING, SchedulerTask, SchedulerWorker
from ..results.models import ResultsFile
from ..sample_sets.models import GENERIC, PATIENT, RUN, SampleSet
from .models import Config

LAST_RESULTS = 10


def row_counts(db: Session) -> dict[str, int]:
    """How many users, groups, sets, samples, results and recipes the server holds."""
    sets = dict(db.execute(select(SampleSet.sample_type, func.count(SampleSet.id))
                           .group_by(SampleSet.sample_type)).all())
    return {
        "users": db.scalar(select(func.count(User.id))) or 0,
        "groups": db.scalar(select(func.count(Group.id))) or 0,
        "patients": sets.get(PATIENT, 0),
        "runs": sets.get(RUN, 0),
        "sets": sets.get(GENERIC, 0),
        "samples": db.scalar(select(func.count(SequenceFile.id))) or 0,
        "results": db.scalar(select(func.count(ResultsFile.id))) or 0,
        "configs": db.scalar(select(func.count(Config.id))) or 0,
        "pre_processes": db.scalar(select(func.count(PreProcess.id))) or 0,
    }


def job_monitor(db: Session) -> dict[str, Any]:
    """The original monitor: workers, waiting and running tasks, first letters of the last results' statuses."""
    by_status = dict(db.execute(select(SchedulerTask.status, func.count(SchedulerTask.id))
                                .where(SchedulerTask.status.in_((QUEUED, ASSIGNED, RUNNING)))
                                .group_by(SchedulerTask.status)).all())
    statuses = db.scalars(
        select(SchedulerTask.status).join(ResultsFile, ResultsFile.scheduler_task_id == SchedulerTask.id)
        .order_by(ResultsFile.id.desc()).limit(LAST_RESULTS))
    return {
        "worker": db.scalar(select(func.count(SchedulerWorker.id))) or 0,
        "queued": by_status.get(QUEUED, 0),
        "assigned": by_status.get(ASSIGNED, 0),
        "running": by_status.get(RUNNING, 0),
        "last_results": "".join((status or "?")[0] for status in statuses),
    }


@dataclass(frozen=True)
class HealthLine:
    name: str
    ok: bool
    detail: str = ""


def health_summary(report: dict[str, Any]) -> list[HealthLine]:
    """Up or down per component, with queue depths for the broker; no host details (W27)."""
    lines = [HealthLine("database", bool(report.get("database", {}).get("ok")))]
    broker = report.get("broker", {})
    queues = broker.get("queues") if isinstance(broker.get("queues"), dict) else {}
    depths = []
    for name, depth in sorted(queues.items()):
        count = depth.get("messages", depth.get("ready")) if isinstance(depth, dict) else depth
        if isinstance(count, int):
            depths.append(f"{name}: {count}")
    lines.append(HealthLine("job queue", bool(broker.get("ok")), ", ".join(depths)))
    if "disk" in report:
        lines.append(HealthLine("storage", bool(report["disk"].get("ok")),
                                "" if report["disk"].get("ok") else "little free space left"))
    return lines
