"""`pre_process/*`: the pre-process recipes page, its forms, sharing, and the log of one run."""
from __future__ import annotations

from dataclasses import asdict

from pyramid.view import view_config

from .. import legacy
from . import pre_processes as service
from .contexts import CREATE, MODIFY, VIEW
from .sharing import sharing_table
from .view_helpers import checked_form, html_text, toggle_access_answer, with_form_key

FORM = "pre_process"
T = "vidjil_pyramid:templates/pre_process/"


def _pre_process_dict(pre_process) -> dict:
    return {"id": pre_process.id, "name": pre_process.name, "command": pre_process.command,
            "info": pre_process.info}


@view_config(route_name="pre_process.index", safe=True)
def index(request):
    perms = request.permissions
    rows = service.list_pre_processes(request.dbsession, perms.accessible_pre_process_ids_query())
    return legacy.page(request, T + "index.jinja2", {
        "message": "Pre-process list",
        "query": [_pre_process_dict(p) for p in rows],
        "_modifiable": {p.id for p in rows if perms.can_modify_pre_process(p.id)},
        "_can_create": perms.can_create_pre_process(),
    })


@view_config(route_name="pre_process.add", permission=CREATE, safe=True)
def add(request):
    return legacy.page(request, T + "add.jinja2",
                       with_form_key(request, FORM, {"message": "Add pre-process", "pre_process": None}))


@view_config(route_name="pre_process.add_form", permission=CREATE)
def add_form(request):
    refused = checked_form(request, FORM)
    if refused:
        return refused
    form = service.PreProcessForm.from_params(request.params)
    try:
        service.create_pre_process(request.dbsession, form, request.permissions.personal_group_id)
    except service.PreProcessError as exc:
        return legacy.error(str(exc))
    return legacy.json_text({"redirect": "pre_process/index",
                             "message": f"pre_process '{html_text(form.name)}' added"})


@view_config(route_name="pre_process.edit", permission=MODIFY, safe=True)
def edit(request):
    values = {"message": "edit pre-process", "pre_process": _pre_process_dict(request.context.pre_process)}
    return legacy.page(request, T + "edit.jinja2", with_form_key(request, FORM, values))


@view_config(route_name="pre_process.edit_form", permission=MODIFY)
def edit_form(request):
    refused = checked_form(request, FORM)
    if refused:
        return refused
    form = service.PreProcessForm.from_params(request.params)
    try:
        service.update_pre_process(request.dbsession, request.context.pre_process, form)
    except service.PreProcessError as exc:
        return legacy.error(str(exc))
    return legacy.json_text({"redirect": "pre_process/index",
                             "message": f"pre_process '{html_text(form.name)}' updated"})


@view_config(route_name="pre_process.confirm", permission=MODIFY, safe=True)
def confirm(request):
    return legacy.page(request, T + "confirm.jinja2", {
        "message": "confirm pre_process deletion",
        "pre_process": _pre_process_dict(request.context.pre_process),
    })


@view_config(route_name="pre_process.delete", permission=MODIFY)
def delete(request):
    pre_process = request.context.pre_process
    pre_process_id = pre_process.id
    service.delete_pre_process(request.dbsession, pre_process)
    return legacy.json_text({"redirect": "pre_process/index", "message": f"pre_process '{pre_process_id}' deleted"})


@view_config(route_name="pre_process.permission", permission=MODIFY, safe=True)
def permission(request):
    pre_process = request.context.pre_process
    rows = sharing_table(request.dbsession, "pre_process", pre_process.id)
    return legacy.page(request, T + "permission.jinja2", {
        "message": f"Pre Process {pre_process.name}",
        "pre_process": _pre_process_dict(pre_process),
        "query": [asdict(row) for row in rows],
        "sharing": {"url": "pre_process/change_permission", "param": "pre_process_id", "id": pre_process.id},
    })


@view_config(route_name="pre_process.change_permission", permission=MODIFY)
def change_permission(request):
    """Toggle the `access` row of one group on the pre-process (`pre_process_id`, `group_id`)."""
    return toggle_access_answer(request, "pre_process", request.context.pre_process_id)


@view_config(route_name="pre_process.info", permission=VIEW, safe=True)
def info(request):
    """The last run of a sample's pre-process: only on a set the user may modify, holding that sample (W18)."""
    found = service.pre_process_run_info(request.dbsession, request.context.sequence_file_id)
    run = found.run
    return legacy.page(request, T + "info.jinja2", {
        "message": "result info",
        "sequence_file": {"id": found.sequence_file.id, "filename": found.sequence_file.filename,
                          "pre_process_flag": found.sequence_file.pre_process_flag},
        "run": None if run is None else {
            "status": run.status, "start_time": run.start_time, "stop_time": run.stop_time,
            "run_result": (run.run_result or "").replace("\r", ""),
            "run_output": (run.run_output or "").replace("\r", ""),
            "traceback": (run.traceback or "").replace("\r", ""),
        },
    })
