"""Launching, following and stopping jobs; the processes page.

- `default/run_request` (RUN and ADMIN on the set, use of the config, and the sample
  must be one of the set's: W16), `default/run_all_request` (RUN on the set, use of
  the config; only the set's samples are run);
- `default/checkProcess?processId=` (VIEW on a set of the job's sample), polled by the
  browser until COMPLETED or FAILED: a job that ended TIMEOUT, STOPPED or EXPIRED is
  reported FAILED so the browser stops polling (the true status stays in the pages);
- `default/stop_job?processId=` (ADMIN on a set of the job's sample; admins for
  re-fuse jobs): a queued job is never started, a running one is killed by its consumer;
- `my_account/jobs`: the last 30 days' analyses on the sets the user may see;
- `file/restart_pre_process?sequence_file_id=` (right to modify the sample): "try again".

Answers are JSON text as the browser expects; refusals carry `"success": "false"`
so that the API client stops on them.
"""
from __future__ import annotations

import datetime as dt
import html
from typing import Any

from pyramid.view import view_config
from sqlalchemy import select

from .. import legacy
from ..admin.models import Config
from ..auth.models import Permission
from ..files.models import SequenceFile
from ..sample_sets.tags import tag_links
from . import services
from .broker import make_broker
from .dispatch import AfterCommitPublisher, publisher_options
from .models import COMPLETED, EXPIRED, STOPPED, TIMEOUT, SchedulerTask
from ..params import parse_id

RUN, RUN_ALL, VIEW, MODIFY = "run", "run_all", "view", "modify"
JOBS_TEMPLATE = "vidjil_pyramid:templates/my_account/jobs.jinja2"
JOBS_PAGE_DAYS = 30


# --- contexts ----------------------------------------------------------------------------------

class RunContext:
    """A run request on a set (`sample_set_id`) with a config (`config_id`)."""

    def __init__(self, request):
        self.request = request
        self.sample_set_id = parse_id(request.params.get("sample_set_id"))
        self.config_id = parse_id(request.params.get("config_id"))

    def permits(self, request, permission: str) -> bool:
        perms = request.permissions
        if self.sample_set_id is None or self.config_id is None:
            return False
        if permission == RUN:
            return perms.can_run(self.sample_set_id, self.config_id)
        if permission == RUN_ALL:
            return perms.can_process_sample_set(self.sample_set_id) and perms.can_use_config(self.config_id)
        return False


class JobContext:
    """One job (`processId`): seen by those who see one of its sets, stopped by those who administer one."""

    def __init__(self, request):
        self.request = request
        self.raw_id = request.params.get("processId")
        self.task_id = parse_id(self.raw_id)
        self.task = request.dbsession.get(SchedulerTask, self.task_id) if self.task_id else None
        self._set_ids: list[int] | None = None

    @property
    def sample_set_ids(self) -> list[int]:
        if self._set_ids is None:
            self._set_ids = services.sample_set_ids_of_task(self.request.dbsession, self.task) if self.task else []
        return self._set_ids

    def permits(self, request, permission: str) -> bool:
        if self.task is None:
            return False
        perms = request.permissions
        if not self.sample_set_ids:
            return perms.is_admin  # e.g. jobs imported from web2py that no longer name a sample
        check = {VIEW: perms.can_view_sample_set, MODIFY: perms.can_modify_sample_set}.get(permission)
        return check is not None and any(check(set_id) for set_id in self.sample_set_ids)


class SampleContext:
    """A sample (`sequence_file_id`) the user may modify (ADMIN on one of its sets)."""

    def __init__(self, request):
        self.request = request
        self.sequence_file_id = parse_id(request.params.get("sequence_file_id"))

    def permits(self, request, permission: str) -> bool:
        return (permission == MODIFY and self.sequence_file_id is not None
                and request.permissions.can_modify_file(self.sequence_file_id))


# --- launching ---------------------------------------------------------------------------------

def _config_label(request, config_id: int | None) -> str:
    """`with config <name> (<program>)` for the messages, only about a config the user may use."""
    if not config_id or not request.permissions.can_use_config(config_id):
        return ""
    config = request.dbsession.get(Config, config_id)
    return f"with config {html.escape(config.name or '')} ({html.escape(config.program or '')})" if config else ""


@view_config(route_name="default.run_request")
def run_request(context: RunContext, request):
    """Run a config on one sample of a set (or extract one clone's reads with `grep_reads`)."""
    db, params = request.dbsession, request.params
    grep_reads = params.get("grep_reads") or None
    info = " ".join(part for part in ("to get reads" if grep_reads else "",
                                      _config_label(request, context.config_id)) if part)
    errors = ""
    if "sequence_file_id" not in params:
        errors += "id sequence file needed, "
    elif "sample_set_id" not in params:
        errors += "sample set ID needed, "
    if "config_id" not in params:
        errors += "id config needed, "
    if not errors and not request.has_permission(RUN, context):
        errors += (f"you do not have permission to launch process for this sample_set "
                   f"({html.escape(str(params.get('sample_set_id')))}) with this config, ")
    if not errors and not services.sample_belongs_to_set(db, params.get("sequence_file_id"), context.sample_set_id):
        errors += (f"sequence file {html.escape(str(params.get('sequence_file_id')))} is not in sample set "
                   f"{context.sample_set_id}, ")
    if errors:
        return legacy.error(f"default/run_request {info} : {errors}")
    try:
        services.ensure_free_space(request.registry.settings)
        task = services.schedule_analysis(db, request.job_publisher, params["sequence_file_id"],
                                          context.config_id, grep_reads)
    except services.DuplicateJob as exc:
        return legacy.json_text({"message": str(exc)})
    except services.JobError as exc:
        return legacy.error(f"default/run_request {info} : {html.escape(str(exc))}")
    result = services.results_file_of_task(db, task.id)
    sample = db.get(SequenceFile, result.sequence_file_id)
    message = "[%s] c%s: process requested - %s %s" % (
        result.id, context.config_id, grep_reads, html.escape(sample.filename or ""))
    return legacy.json_text({"redirect": "reload", "processId": task.id, "message": message})


def _requested_ids(request, name: str) -> list[str]:
    return [v for key in (name, name + "[]") for v in request.params.getall(key)]


@view_config(route_name="default.run_all_request")
def run_all_request(context: RunContext, request):
    """Run a config on several samples of a set; samples of other sets are ignored."""
    db, params = request.dbsession, request.params
    info = _config_label(request, context.config_id)
    raw_ids = _requested_ids(request, "sequence_file_ids")
    errors = ""
    if not raw_ids:
        errors += "sequence file ids required "
    if "sample_set_id" not in params:
        errors += "sample set ID required "
    if "config_id" not in params:
        errors += "id config needed, "
    file_ids = [parse_id(value) for value in raw_ids]
    if raw_ids and None in file_ids:
        errors += "invalid sequence file id, "
    if not errors and not request.has_permission(RUN_ALL, context):
        errors += (f"you do not have permission to launch process for this sample_set "
                   f"({html.escape(str(params.get('sample_set_id')))}) with this config, ")
    if errors:
        return legacy.error(f"default/run_all_request {info} : {errors}")
    try:
        services.ensure_free_space(request.registry.settings)
        services.schedule_set_analyses(db, request.job_publisher, context.sample_set_id, file_ids, context.config_id)
    except services.JobError as exc:
        return legacy.error(f"default/run_all_request {info} : {html.escape(str(exc))}")
    return legacy.json_text({"success": "true", "redirect": "reload"})


# --- following and stopping --------------------------------------------------------------------

def _refused(process_id: Any, message: str) -> dict:
    return {"success": "false", "status": "FAILED", "message": message, "processId": process_id}


@view_config(route_name="default.checkProcess", safe=True)
def check_process(context: JobContext, request):
    """The status of a job the browser is waiting for, with its result once COMPLETED."""
    if context.task_id is None:
        return legacy.json_text(_refused(context.raw_id, "process id needed"))
    task = context.task
    if task is None:
        return legacy.json_text(_refused(context.task_id, f"no process with id {context.task_id}"))
    if not request.has_permission(VIEW, context):
        return legacy.json_text(_refused(task.id, "You don't have access to this sample"))
    answer: dict[str, Any] = {"success": "true", "status": task.status, "processId": task.id}
    if task.status == COMPLETED:
        result = services.results_file_of_task(request.dbsession, task.id)
        if result is not None:
            run = services.latest_run(request.dbsession, task.id)
            answer["data"] = {"run_result": run.run_result if run else None, "result_id": result.id,
                              "data_file": result.data_file}
    elif services.is_parked(task):
        answer.update(status="QUEUED", message="waiting for the sample's pre-process")
    elif task.status in (TIMEOUT, STOPPED, EXPIRED):
        answer.update(status="FAILED", message=f"the process ended: {task.status}")
    return legacy.json_text(answer)


@view_config(route_name="default.stop_job")
def stop_job(context: JobContext, request):
    """Stop a queued, waiting or running job (a running program is killed)."""
    if context.task is None:
        return legacy.error("process id needed" if context.task_id is None else f"no process with id {context.task_id}")
    if not request.has_permission(MODIFY, context):
        return legacy.error("you do not have permission to stop this process")
    try:
        status = services.stop_job(request.dbsession, context.task.id)
    except services.JobError as exc:
        return legacy.error(str(exc))
    return legacy.json_text({"success": "true", "redirect": "reload", "status": status,
                             "processId": context.task.id, "message": f"[{context.task.id}] process stopped"})


@view_config(route_name="file.restart_pre_process")
def restart_pre_process(context: SampleContext, request):
    """"Try again" on a sample whose pre-process failed."""
    if context.sequence_file_id is None:
        return legacy.error("missing parameter")
    if not request.has_permission(MODIFY, context):
        return legacy.error("Permission denied")
    try:
        task = services.restart_pre_process(request.dbsession, request.job_publisher, context.sequence_file_id)
    except services.DuplicateJob as exc:
        return legacy.json_text({"message": str(exc)})
    except services.JobError as exc:
        return legacy.error(html.escape(str(exc)))
    pre_process_id = services.pre_process_args(task)[0]
    return legacy.json_text({"redirect": "reload",
                             "message": f"{{{context.sequence_file_id}}} ({pre_process_id}): process requested"})


# --- the processes page ------------------------------------------------------------------------

def _group_ids(request) -> list[int]:
    perms = request.permissions
    return sorted(perms.group_ids | perms.parent_ids)


def _visible_sets(request, requested_groups: list[int]):
    """Sets whose jobs are listed: the user's; an admin may ask for some groups' sets."""
    if requested_groups and request.permissions.is_admin:
        return (select(Permission.record_id)
                .where(Permission.name == "access", Permission.table_name == "sample_set",
                       Permission.group_id.in_(requested_groups)))
    return request.permissions.accessible_sample_set_ids_query("read")


@view_config(route_name="my_account.jobs", safe=True)
def jobs(request):
    """Analyses of the last 30 days on the sets the user may see, newest first."""
    search = request.params.get("filter", "")
    requested_groups = [g for g in (parse_id(v) for v in _requested_ids(request, "group_ids")) if g]
    since = dt.datetime.now() - dt.timedelta(days=JOBS_PAGE_DAYS)
    rows = services.recent_jobs(request.dbsession, _visible_sets(request, requested_groups), since, search)
    perms = request.permissions
    listed = []
    for row in rows:
        name = (perms.display_name_patient(row.sample_set_id, row.first_name, row.last_name)
                if row.sample_type == "patient" else row.set_name or "")
        listed.append({
            "task_id": row.task_id, "sample_set_id": row.sample_set_id, "sample_type": row.sample_type,
            "name": name, "filename": row.filename or "", "info": row.info or "",
            "config_id": row.config_id, "config": row.config_name or "", "status": row.status or "",
            "start_time": row.start_time.strftime("%Y-%m-%d %H:%M:%S") if row.start_time else "",
        })
    group_ids = requested_groups or _group_ids(request)
    return legacy.page(request, JOBS_TEMPLATE, {
        "filter": search, "group_ids": group_ids, "jobs": listed,
        "_info_html": {job["task_id"]: tag_links(job["info"], "sequence_file", "/my_account/jobs") for job in listed},
    })


# --- wiring ------------------------------------------------------------------------------------

def includeme(config) -> None:
    settings = config.get_settings()
    broker = make_broker(settings)
    broker.engine = config.registry.get("db_engine")
    config.registry["broker"] = broker
    options = publisher_options(settings)

    def job_publisher(request) -> AfterCommitPublisher:
        """Jobs scheduled by this request are published once its transaction commits."""
        return AfterCommitPublisher(broker, request.tm, engine=request.registry.get("db_engine"), **options)

    config.add_request_method(job_publisher, "job_publisher", reify=True)
    for controller, function, context in (
        ("default", "run_request", RunContext), ("default", "run_all_request", RunContext),
        ("default", "checkProcess", JobContext), ("default", "stop_job", JobContext),
        ("file", "restart_pre_process", SampleContext),
    ):
        config.add_legacy_routes(controller, [function], factory=context)
    config.add_legacy_routes("my_account", ["jobs"])
