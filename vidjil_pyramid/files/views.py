"""`file/*` pages (the upload form, sample creation and edition, uploads, deletion,
the network-storage browser, value lists) and the stored-file downloads
`default/download/<name>` and `patient/download/<name>`."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from pyramid.httpexceptions import HTTPNotFound
from pyramid.response import FileResponse
from pyramid.view import view_config

from .. import legacy
from ..results.services import discard_files_unless_committed, remove_files_once_committed, unreferenced_stored_names
from . import downloads, services, storage, uploads
from .contexts import EDIT_SAMPLES, MODIFY, VIEW, SequenceFileContext, StoredFileContext, UploadFormContext
from .models import SequenceFile
from .network_source import NetworkSource, SourcePathError

log = logging.getLogger(__name__)

TEMPLATES = "vidjil_pyramid:templates/file/"
DOWNLOAD_CACHE_CONTROL = "private, max-age=300"
# Bodies above this size are not replayed by pyramid_retry (it would copy them first).
NO_RETRY_BODY_BYTES = 8 << 20


def _settings(request) -> dict:
    return request.registry.settings


def _network(request) -> NetworkSource | None:
    return NetworkSource.from_settings(_settings(request))


def _upload_dir(request) -> Path:
    return Path(_settings(request)["vidjil.upload_dir"])


def _results_dir(request) -> Path:
    return Path(_settings(request)["vidjil.results_dir"])


def _stored_paths(directory: Path, names: list[str]) -> list[Path]:
    paths = []
    for name in names:
        try:
            paths.append(storage.resolve(directory, name))
        except storage.StorageError:
            log.warning("not removing an unsafe stored name %r", name)
    return paths


def _remove_once_committed(request, *, read_files: list[str] = (), result_files: list[str] = ()) -> None:
    """Files the committed change leaves unreferenced go from the disk; never before the commit."""
    db = request.dbsession
    paths = _stored_paths(_upload_dir(request), services.unreferenced(db, read_files))
    paths += _stored_paths(_results_dir(request), unreferenced_stored_names(db, result_files))
    remove_files_once_committed(request.tm.get(), paths)


# ----------------------------------------------------------------------------- the form

@view_config(route_name="file.form", permission=EDIT_SAMPLES, safe=True)
def form(context: UploadFormContext, request):
    try:
        values = services.upload_form_values(
            request.dbsession, request.permissions, sample_set_id=context.sample_set_id, file_id=context.file_id,
            sample_type=request.params.get("sample_type"), network_active=_network(request) is not None)
    except services.SampleError as exc:
        return legacy.error(str(exc))
    values["_upload_types"] = uploads.UploadPolicy.from_settings(_settings(request)).describe_types()
    return legacy.page(request, TEMPLATES + "form.jinja2", values)


@view_config(route_name="file.submit")
def submit(request):
    """Create or edit samples (all of them, or none when anything is refused: W14, W15)."""
    raw = request.params.get("data")
    try:
        data = json.loads(raw) if raw else None
    except (TypeError, ValueError):
        return legacy.error("add_form() failed: the data is not valid JSON")
    db = request.dbsession
    try:
        plan = services.plan_submission(db, request.permissions, data, network=_network(request),
                                        policy=uploads.UploadPolicy.from_settings(_settings(request)))
        outcome = services.save_submission(db, request.permissions, request.identity.id, plan,
                                           upload_dir=_upload_dir(request), publisher=request.job_publisher)
    except services.SampleError as exc:
        return legacy.error(f"add_form() failed: {exc}")
    discard_files_unless_committed(request.tm.get(), outcome.created_links)
    _remove_once_committed(request, read_files=outcome.replaced_files, result_files=outcome.obsolete_results)
    log.info("user %s saved samples %s", request.identity.id, outcome.file_ids)
    return legacy.json_text(outcome.answer())


# ----------------------------------------------------------------------------- upload

def _upload_refusal(message: str):
    return legacy.error(message, priority=3)


@view_config(route_name="file.upload")
def upload(request):
    """Receive one file of a sample (multipart `file`, `id`, `file_number`, `pre_process`).

    Login is required before anything is read (W1); the right to modify the
    sample is checked as soon as its id is known, before the file is written
    when the id comes first, else before the file is kept.
    """
    db, perms = request.dbsession, request.permissions
    policy = uploads.UploadPolicy.from_settings(_settings(request))
    log.info("upload of %s bytes from user %s", request.content_length, request.identity.id)

    def check_target(fields: dict[str, str]) -> None:
        if "id" in fields:
            try:
                services.upload_target(db, perms, fields)
            except services.SampleError as exc:
                raise uploads.UploadRefused(str(exc)) from None

    started = time.perf_counter()
    try:
        received = uploads.receive(request.environ["wsgi.input"], request.environ.get("CONTENT_TYPE"),
                                   request.content_length, policy, check_target)
    except uploads.UploadRefused as exc:
        log.warning("upload refused for user %s: %s%s", request.identity.id, exc.message,
                    f" ({exc.log_detail})" if exc.log_detail else "")
        return _upload_refusal(exc.message)
    try:
        target = services.upload_target(db, perms, received.fields)
    except services.SampleError as exc:
        received.discard()
        return _upload_refusal(str(exc))
    try:
        stored = uploads.store_received(received, policy)
    except uploads.UploadRefused as exc:
        return _upload_refusal(exc.message)
    path = received.incoming.path
    try:
        outcome = services.attach_upload(db, target, stored, received.filename, received.incoming.size,
                                         publisher=request.job_publisher)
    except BaseException:
        uploads.remove_quietly(path)
        raise
    discard_files_unless_committed(request.tm.get(), [path])
    _remove_once_committed(request, read_files=[outcome.replaced_file] if outcome.replaced_file else [],
                           result_files=outcome.obsolete_results)
    log.info("user %s uploaded %s bytes (%s, %s copied by the kernel, %.3f s) as file %s of sample %s: %s",
             request.identity.id, received.incoming.size, received.incoming.checksum,
             received.incoming.copied_by_kernel, time.perf_counter() - started, target.file_number,
             target.sequence_file_id, stored)
    return legacy.json_text({"message": outcome.message, "file_id": target.sequence_file_id,
                             "size": received.incoming.size, "checksum": received.incoming.checksum})


UPLOAD_PATH = f"{legacy.PREFIX}/file/upload"


def retry_attempts(request) -> int | None:
    """pyramid_retry's activation hook: uploads and other big bodies are never replayed.

    Replaying needs a copy of the whole body made before the view runs (a second
    pass over gigabytes), and an upload's work is on the disk anyway.
    """
    if legacy.normalise_path(request.path_info)[0] == UPLOAD_PATH:
        return 1
    if (request.content_length or 0) > NO_RETRY_BODY_BYTES:
        return 1
    return None


# ----------------------------------------------------------------------------- deletion

def _redirect_set_id(request, context: SequenceFileContext) -> int | None:
    """The set page to go back to: the one given if the user may see it, else one of the sample's sets."""
    perms = request.permissions
    wanted = context.redirect_sample_set_id
    if wanted is not None and perms.can_view_sample_set(wanted):
        return wanted
    return next((s for s in services.sets_of_file(request.dbsession, context.file_id) if perms.can_view_sample_set(s)),
                None)


@view_config(route_name="file.confirm", permission=MODIFY, safe=True)
def confirm(context: SequenceFileContext, request):
    row = request.dbsession.get(SequenceFile, context.file_id)
    delete_results = request.params.get("delete_results") == "True" or not row.data_file
    delete_only_sequence = request.params.get("delete_only_sequence") == "True" and not delete_results
    return legacy.page(request, TEMPLATES + "confirm.jinja2", {
        "message": "choose what you would like to delete",
        "sequence_file_id": row.id,
        "filename": row.filename or "",
        "redirect_sample_set_id": _redirect_set_id(request, context),
        "delete_results": delete_results,
        "delete_only_sequence": delete_only_sequence,
        "results_count": services.results_count(request.dbsession, row.id),
    })


@view_config(route_name="file.delete", permission=MODIFY)
def delete(context: SequenceFileContext, request):
    redirect_id = _redirect_set_id(request, context)
    try:
        outcome = services.delete_sample(request.dbsession, context.file_id,
                                         with_results=request.params.get("delete_results") == "True",
                                         publisher=request.job_publisher)
    except services.SampleError as exc:
        return legacy.error(str(exc))
    _remove_once_committed(request, read_files=outcome.removed_files, result_files=outcome.obsolete_results)
    log.info("user %s deleted sample %s", request.identity.id, context.file_id)
    return legacy.json_text({"redirect": "sample_set/index", "args": {"id": redirect_id},
                             "message": f"sequence file ({context.file_id}) deleted"})


# ----------------------------------------------------------------------------- network storage, lists

@view_config(route_name="file.filesystem", safe=True)
def filesystem(request):
    """jsTree nodes of the mounted FILE_SOURCE, confined to it (W3, W20)."""
    source = _network(request)
    if source is None:
        return legacy.error("this server has no network storage")
    try:
        return legacy.json_text(source.list_node(request.params.get("node")))
    except SourcePathError as exc:
        return legacy.error(str(exc))


def _value_list(request, name: str):
    return legacy.json_text({name: services.distinct_values(request.dbsession, request.permissions, name)})


@view_config(route_name="file.sequencer_list", safe=True)
def sequencer_list(request):
    return _value_list(request, "sequencer")


@view_config(route_name="file.pcr_list", safe=True)
def pcr_list(request):
    return _value_list(request, "pcr")


@view_config(route_name="file.producer_list", safe=True)
def producer_list(request):
    return _value_list(request, "producer")


# ----------------------------------------------------------------------------- downloads

@view_config(route_name="default.download", permission=VIEW, safe=True)
@view_config(route_name="patient.download", permission=VIEW, safe=True)
def download(context: StoredFileContext, request):
    """A stored file as an attachment, for users who may view one of its sets (W2)."""
    stored = context.stored_file
    path = stored.path(_settings(request))
    if not path.is_file():
        raise HTTPNotFound()
    response = FileResponse(str(path), request=request, content_type="application/octet-stream")
    response.headers["Content-Disposition"] = downloads.content_disposition(
        downloads.safe_download_name(request.GET.get("filename"), stored))
    response.headers["Cache-Control"] = DOWNLOAD_CACHE_CONTROL
    return response


# Routes whose views act on one object: (controller, function) -> context.
OBJECT_ROUTES = {
    ("file", "form"): UploadFormContext,
    ("file", "confirm"): SequenceFileContext,
    ("file", "delete"): SequenceFileContext,
    ("default", "download"): StoredFileContext,
    ("patient", "download"): StoredFileContext,
}


def includeme(config) -> None:
    config.add_legacy_routes("file", ["submit", "upload", "filesystem", "sequencer_list", "pcr_list", "producer_list"])
    for (controller, function), context in OBJECT_ROUTES.items():
        config.add_legacy_routes(controller, [function], factory=context)
    config.get_settings().setdefault("retry.activate_hook", "vidjil_pyramid.files.views.retry_attempts")
