"""Results in the browser: `default/get_data`, `get_analysis`, `save_analysis` and the
`results_file/*` pages. Thin: parse, check through the context, call a service, answer."""
from __future__ import annotations

import json
import re
import unicodedata
from urllib.parse import quote

from markupsafe import escape
from pyramid.response import FileIter, Response
from pyramid.view import view_config

from .. import legacy
from ..jobs import paths as job_paths
from ..jobs.services import schedule_refuse, statuses_for_tasks
from .analyses import analysis_for_set, parse_sample_infos, save_analysis
from .contexts import DELETE, MODIFY, SAVE, VIEW, ResultContext, SampleSetResultsContext, parse_id
from .fused import FusedFileNotFound, fused_document
from .serve import ServedDocument
from .services import (
    ResultsError, delete_result, discard_files_unless_committed, list_output_files, output_file_path,
    patient_result_rows, remove_files_once_committed, result_details, stored_paths, unreferenced_stored_names,
)

TEMPLATES = "vidjil_pyramid:templates/results_file/"
DOWNLOAD_CHUNK = 1 << 20
_UNSAFE_FILENAME = re.compile(r'[\x00-\x1f\x7f"\\/;]+')


def _results_dir(request) -> str:
    return request.registry.settings["vidjil.results_dir"]


def _label(value: object) -> str:
    """A request value as messages quote it: escaped, since the browser shows messages as HTML (W24)."""
    return str(escape(str(value)))


def attachment_disposition(filename: str) -> str:
    """`attachment` with the name cleaned of anything that could split or escape the header."""
    cleaned = _UNSAFE_FILENAME.sub("_", filename).strip() or "download"
    ascii_name = unicodedata.normalize("NFKD", cleaned).encode("ascii", "ignore").decode("ascii") or "download"
    disposition = f'attachment; filename="{ascii_name}"'
    if ascii_name != cleaned:
        disposition += f"; filename*=UTF-8''{quote(cleaned)}"
    return disposition


def _json_body(body_iter, length: int, filename: str | None) -> Response:
    """JSON as text for the browser, or an attachment when a download name is given."""
    response = Response(app_iter=body_iter, content_length=length, charset="utf-8",
                        content_type="text/plain" if filename else "text/html")
    if filename:
        response.headers["Content-Disposition"] = attachment_disposition(filename)
    return response


# --- default/get_data, get_analysis, save_analysis --------------------------------------------

@view_config(route_name="default.get_data", safe=True)
def get_data(context: SampleSetResultsContext, request):
    """The newest fused file of (set, config) with the server's fields, streamed (see `serve`)."""
    config_param = request.params.get("config")
    config_id = parse_id(config_param)
    reasons: list[str] = []
    if context.sample_set_id is None:
        reasons.append("id sampleset file needed, ")
    elif not context.permits(request, VIEW):
        reasons.append(f"you do not have permission to consult this sample_set ({_label(context.label)})")
    if config_id is None:
        reasons.append("id config needed, ")
    if not reasons:
        try:
            document: ServedDocument = fused_document(
                request.dbsession, request.permissions, _results_dir(request), context.sample_set_id,
                config_id, config_param)
        except FusedFileNotFound:
            reasons.append("file not found")
        except ResultsError as exc:
            reasons.append(_label(exc))
        else:
            return _json_body(document, document.length, request.params.get("filename"))
    else:
        # Nothing was looked up: a refused user learns nothing about the set's files.
        reasons.append("file not found")
    return legacy.error(f"get_data ({_label(context.label)}) c{_label(config_param)} : {''.join(reasons)} ")


@view_config(route_name="default.get_analysis", safe=True)
def get_analysis(context: SampleSetResultsContext, request):
    """The set's newest saved analysis (or the empty one); custom comparisons have none."""
    if "custom" in request.params and "sample_set_id" not in request.params:
        return legacy.json_text({"success": "true"})
    if context.sample_set_id is None:
        return legacy.error("default/get_analysis : id sample_set file needed, ")
    if not context.permits(request, VIEW):
        return legacy.error("default/get_analysis : you do not have permission to consult this sample_set "
                            f"({_label(context.label)})")
    try:
        analysis = analysis_for_set(request.dbsession, _results_dir(request), context.sample_set_id)
    except ResultsError as exc:
        return legacy.error(f"default/get_analysis : {_label(exc)}")
    body = json.dumps(analysis, separators=(",", ":")).encode("utf-8")
    return _json_body([body], len(body), request.params.get("filename"))


@view_config(route_name="default.save_analysis")
def save_analysis_view(context: SampleSetResultsContext, request):
    """Store the browser's analysis as a new version; `info` becomes the set's info."""
    if not context.permits(request, SAVE):
        return legacy.error("you do not have permission to save changes on this sample set")
    upload = request.POST.get("fileToUpload")
    if upload is None or not hasattr(upload, "file"):
        return legacy.error("no analysis was sent (fileToUpload)")
    ids, infos = request.params.getall("samples_id"), request.params.getall("samples_info")
    try:
        sample_infos = parse_sample_infos(ids, infos) if ids and infos else []
        saved = save_analysis(request.dbsession, _results_dir(request), context.sample_set_id, upload.file,
                              getattr(upload, "filename", None) or "blob", request.params.get("info"),
                              sample_infos)
    except ResultsError as exc:
        return legacy.error(_label(exc))
    discard_files_unless_committed(request.tm.get(), [saved.path])
    return legacy.json_text({"success": "true", "message": f"({context.sample_set_id}): analysis saved"})


# --- results_file/* ------------------------------------------------------------------------------

@view_config(route_name="results_file.index", permission="admin", safe=True)
def index(request):
    """Every patient result (administrators): filter, sort, job status, links to its pages."""
    sort = request.params.get("sort") or None
    reverse = request.params.get("reverse") == "true"
    filter_text = request.params.get("filter", "")
    rows = patient_result_rows(request.dbsession, lambda ids: statuses_for_tasks(request.dbsession, ids),
                               filter_text, sort, reverse)
    return legacy.page(request, TEMPLATES + "index.jinja2", {
        "results": [_row_json(r) for r in rows], "_rows": rows, "_sort": sort, "_reverse": reverse,
        "_filter": filter_text,
        "_can_run": request.registry.introspector.get("routes", "default.run_request") is not None,
    })


def _row_json(row) -> dict:
    return {"results_file_id": row.results_file_id, "sequence_file_id": row.sequence_file_id,
            "sample_set_id": row.sample_set_id, "filename": row.filename, "config_id": row.config_id,
            "config": row.config_name, "patient": row.patient_name, "producer": row.producer,
            "run_date": str(row.run_date) if row.run_date else None, "status": row.status}


@view_config(route_name="results_file.info", permission=MODIFY, safe=True)
def info(context: ResultContext, request):
    """What the job of a result did: status, times, result, output and traceback."""
    details = result_details(request.dbsession, context.results_file_id)
    run = details.run
    return legacy.page(request, TEMPLATES + "info.jinja2", {
        "results_file_id": details.result.id,
        "filename": details.sequence_file.filename if details.sequence_file else None,
        "config_name": details.config.name if details.config else None,
        "run_date": str(details.result.run_date) if details.result.run_date else None,
        "run": None if run is None else {
            "status": run.status, "start_time": str(run.start_time) if run.start_time else None,
            "stop_time": str(run.stop_time) if run.stop_time else None,
            "run_result": (run.run_result or "").replace("\r", ""),
            "run_output": (run.run_output or "").replace("\r", ""),
            "traceback": (run.traceback or "").replace("\r", ""),
        },
    })


@view_config(route_name="results_file.output", permission=VIEW, safe=True)
def output(context: ResultContext, request):
    """The files the job of a result left in its working folder."""
    directory = job_paths.analysis_dir(request.registry.settings, context.results_file_id)
    files = list_output_files(directory)
    return legacy.page(request, TEMPLATES + "output.jinja2", {
        "message": "output files",
        "results_file_id": context.results_file_id,
        "files": [{"filename": f.filename, "size": f.size_text,
                   "url": request.route_url("results_file.download", _query={
                       "results_file_id": context.results_file_id, "filename": f.filename})}
                  for f in files],
    })


@view_config(route_name="results_file.download", permission=VIEW, safe=True)
def download(context: ResultContext, request):
    """One file of the job's working folder, as an attachment (nothing outside that folder)."""
    directory = job_paths.analysis_dir(request.registry.settings, context.results_file_id)
    try:
        path = output_file_path(directory, request.params.get("filename"))
        handle = open(path, "rb")
    except ResultsError as exc:
        return legacy.error(_label(exc))
    except OSError:
        return legacy.error("File could not be read")
    response = Response(app_iter=FileIter(handle, DOWNLOAD_CHUNK), content_type="application/octet-stream",
                        content_length=path.stat().st_size)
    response.headers["Content-Disposition"] = attachment_disposition(path.name)
    return response


@view_config(route_name="results_file.confirm", permission=DELETE, safe=True)
def confirm(context: ResultContext, request):
    """Ask before deleting a result of a set."""
    return legacy.page(request, TEMPLATES + "confirm.jinja2", {
        "message": "result confirm", "results_file_id": context.results_file_id,
        "sample_set_id": context.sample_set_id,
    })


@view_config(route_name="results_file.delete", permission=DELETE)
def delete(context: ResultContext, request):
    """Delete a result of the set (W17: it must be one of the set's), then fix the fused files."""
    db = request.dbsession

    def refuse(set_ids: list[int], config_ids: list[int]) -> None:
        schedule_refuse(db, request.job_publisher, set_ids, config_ids)

    try:
        deletion = delete_result(db, context.results_file_id, refuse)
    except ResultsError as exc:
        return legacy.error(_label(exc))
    unused = unreferenced_stored_names(db, deletion.stored_names)
    remove_files_once_committed(request.tm.get(), stored_paths(_results_dir(request), unused))
    return legacy.json_text({
        "redirect": "sample_set/index",
        "args": {"id": context.sample_set_id, "config_id": deletion.config_id},
        "success": "true",
        "message": f"[{deletion.results_file_id}] ({context.sample_set_id}) c{deletion.config_id}: process deleted ",
    })


def includeme(config) -> None:
    config.add_legacy_routes("default", ("get_data", "get_analysis", "save_analysis"), factory=SampleSetResultsContext)
    config.add_legacy_routes("results_file", ("index", "info", "output", "download", "confirm", "delete"),
                             factory=ResultContext)
    config.include(".custom")
