"""`config/*`: the analysis configs page, its forms and its sharing page."""
from __future__ import annotations

from dataclasses import asdict

from pyramid.view import view_config

from .. import legacy
from . import configs as service
from .contexts import CREATE, MODIFY
from .sharing import sharing_table
from .view_helpers import checked_form, html_text, toggle_access_answer, with_form_key

FORM = "config"
T = "vidjil_pyramid:templates/config/"


def _config_dict(config) -> dict:
    return {"id": config.id, "name": config.name, "program": config.program, "command": config.command,
            "fuse_command": config.fuse_command, "info": config.info, "classification": config.classification}


@view_config(route_name="config.index", safe=True)
def index(request):
    """Configs the user may use; admins also get sharing, edit and delete icons."""
    perms = request.permissions
    configs = service.list_configs(request.dbsession, perms.accessible_config_ids_query())
    classifications = service.classifications(request.dbsession)
    return legacy.page(request, T + "index.jinja2", {
        "message": "Configs",
        "query": [_config_dict(c) for c in configs],
        "classification": [{"id": c.id, "name": c.name, "info": c.info} for c in classifications],
        "used_configs": sorted(service.used_config_ids(request.dbsession)),
        "_modifiable": {c.id for c in configs if perms.can_modify_config(c.id)},
        "_can_create": perms.can_create_config(),
    })


def _form_page(request, config=None):
    values = {
        "message": "edit config" if config else "Add config",
        "classification": [{"id": c.id, "name": c.name, "info": c.info}
                           for c in service.classifications(request.dbsession)],
        "programs": list(service.PROGRAMS),
        "config": _config_dict(config) if config else None,
    }
    return legacy.page(request, T + ("edit.jinja2" if config else "add.jinja2"), with_form_key(request, FORM, values))


@view_config(route_name="config.add", permission=CREATE, safe=True)
def add(request):
    return _form_page(request)


@view_config(route_name="config.add_form", permission=CREATE)
def add_form(request):
    refused = checked_form(request, FORM)
    if refused:
        return refused
    form = service.ConfigForm.from_params(request.params)
    try:
        service.create_config(request.dbsession, form, request.permissions.personal_group_id)
    except service.ConfigError as exc:
        return legacy.error(str(exc))
    return legacy.json_text({"redirect": "config/index", "message": f"config '{html_text(form.name)}' added"})


@view_config(route_name="config.edit", permission=MODIFY, safe=True)
def edit(request):
    return _form_page(request, request.context.config)


@view_config(route_name="config.edit_form", permission=MODIFY)
def edit_form(request):
    refused = checked_form(request, FORM)
    if refused:
        return refused
    form = service.ConfigForm.from_params(request.params)
    try:
        service.update_config(request.dbsession, request.context.config, form)
    except service.ConfigError as exc:
        return legacy.error(str(exc))
    return legacy.json_text({"redirect": "config/index", "message": f"config '{html_text(form.name)}' updated"})


@view_config(route_name="config.confirm", permission=MODIFY, safe=True)
def confirm(request):
    config = request.context.config
    return legacy.page(request, T + "confirm.jinja2", {
        "message": "confirm config deletion", "config": _config_dict(config),
        "used": service.is_used(request.dbsession, config.id),
    })


@view_config(route_name="config.delete", permission=MODIFY)
def delete(request):
    config = request.context.config
    try:
        service.delete_config(request.dbsession, config)
    except service.ConfigError as exc:
        return legacy.json_text({"redirect": "config/index", "success": "false", "message": str(exc)})
    return legacy.json_text({"redirect": "config/index", "message": f"config '{config.id}' deleted"})


@view_config(route_name="config.permission", permission=MODIFY, safe=True)
def permission(request):
    config = request.context.config
    rows = sharing_table(request.dbsession, "config", config.id)
    return legacy.page(request, T + "permission.jinja2", {
        "message": f"Config {config.name}", "config": _config_dict(config),
        "query": [asdict(row) for row in rows],
        "sharing": {"url": "config/change_permission", "param": "config_id", "id": config.id},
    })


@view_config(route_name="config.change_permission", permission=MODIFY)
def change_permission(request):
    """Toggle the `access` row of one group on the config (`config_id`, `group_id`)."""
    return toggle_access_answer(request, "config", request.context.config_id)
