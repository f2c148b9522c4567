"""Comparing chosen results of one or several sets ("compare some of these samples").

Two pieces: the list of results a user may tick (`sample_set/custom`), and the merged
document of the ticked results (`default/get_custom_data`), fused by the fuse service
(`fuse_rpc.service`) and labelled from the database. Knows nothing of HTTP.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session

from fuse_rpc.client import EMBEDDED, OFF, FuseClient, FuseServiceUnavailable, ServiceSettings, SettingsError
from fuse_rpc.service import FuseService, RunningService, program_from_setting, start_in_thread

from ..admin.models import Config
from ..files.models import SampleSetMembership, SequenceFile
from ..sample_sets.display import patient_display_name, set_name
from ..sample_sets.models import DETAIL_MODELS, PATIENT, SampleSet, Tag, TagRef
from .contexts import parse_id
from .models import ResultsFile
from .services import ResultsError, matches_filter

log = logging.getLogger(__name__)

COMPARE_TOP = 100  # clones kept per sample, as the original's comparisons
MAX_COMPARED = 100  # results in one comparison (the page suggests up to 10)
MAX_LISTED = 2000  # rows of the selection page; a search narrows the list
ID_CHUNK = 500
CANNOT_FUSE = "This server cannot fuse custom data"


class ComparisonError(ResultsError):
    """A comparison that cannot be made; the message is for the user."""


class ComparisonRefused(ComparisonError):
    """Results the user may not read (or that do not exist: the answer is the same)."""

    def __init__(self, results_file_ids: Sequence[int]):
        self.results_file_ids = list(results_file_ids)
        super().__init__("you do not have permission to consult this element ("
                         + ", ".join(str(i) for i in self.results_file_ids) + ")")


# --- which results ---------------------------------------------------------------------------

def parse_result_ids(values: Iterable[str]) -> list[int]:
    """Result ids from the request, in order, each once."""
    ids: list[int] = []
    for value in values:
        result_id = parse_id(value)
        if result_id is None:
            raise ComparisonError(f"invalid result id: {value}")
        if result_id not in ids:
            ids.append(result_id)
    if len(ids) > MAX_COMPARED:
        raise ComparisonError(f"at most {MAX_COMPARED} samples can be compared at once")
    return ids


@dataclass(frozen=True)
class ComparedResult:
    """A result to compare, with what the browser is told about its sample."""

    results_file_id: int
    sequence_file_id: int
    result_file: str | None
    pre_process_file: str | None
    filename: str
    info: str | None
    sampling_date: dt.date | None
    command: str | None
    sample_set_id: int
    set_name: str

    @property
    def original_name(self) -> str:
        return f"{self.set_name}_{self.filename} ({self.results_file_id})"


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), ID_CHUNK):
        yield list(ids[start:start + ID_CHUNK])


def set_details(db: Session, sample_set_ids: Iterable[int]) -> dict[int, tuple[str, Any]]:
    """The typed row (patient, run or generic) of each set: one query per set type."""
    set_ids = sorted(set(sample_set_ids))
    details: dict[int, tuple[str, Any]] = {}
    for sample_type, model in DETAIL_MODELS.items():
        for chunk in _chunks(set_ids):
            for detail in db.scalars(select(model).join(SampleSet, SampleSet.id == model.sample_set_id)
                                     .where(model.sample_set_id.in_(chunk), SampleSet.sample_type == sample_type)
                                     .order_by(model.id)):
                details.setdefault(detail.sample_set_id, (sample_type, detail))
    return details


def set_names(db: Session, permissions, details: Mapping[int, tuple[str, Any]]) -> dict[int, str]:
    """Each set's name as this user may see it (patients anonymised, admins also see the set id).

    At most one query: the sets whose patient identities the user may see.
    """
    visible_identities: set[int] | None = None
    names: dict[int, str] = {}
    for set_id, (sample_type, detail) in details.items():
        if sample_type == PATIENT:
            if visible_identities is None:
                visible_identities = set(db.scalars(permissions.accessible_sample_set_ids_query("anon")))
            names[set_id] = patient_display_name(set_id, detail.first_name, detail.last_name,
                                                 set_id in visible_identities, permissions.is_admin)
        else:
            names[set_id] = set_name(sample_type, detail)
    return names


def compared_results(db: Session, permissions, results_file_ids: Sequence[int],
                     preferred_set_id: int | None = None) -> list[ComparedResult]:
    """The results to compare, in the order asked, each named after a set the user may read.

    A result is readable when a set holding its sample is (the original only looked
    at the sample's first set). The set a result is named after is `preferred_set_id`
    when it holds the sample, else the first readable one. Raises ComparisonRefused
    naming every result that does not exist or cannot be read, ComparisonError when a
    result has no file yet.
    """
    if not results_file_ids:
        raise ComparisonError("no file selected")
    rows = {row.id: row for row in db.execute(
        select(ResultsFile.id, ResultsFile.data_file, ResultsFile.sequence_file_id, SequenceFile.filename,
               SequenceFile.info, SequenceFile.sampling_date, SequenceFile.pre_process_file, Config.command)
        .join(SequenceFile, SequenceFile.id == ResultsFile.sequence_file_id)
        .outerjoin(Config, Config.id == ResultsFile.config_id)
        .where(ResultsFile.id.in_(results_file_ids))
    )}
    file_ids = sorted({row.sequence_file_id for row in rows.values()})
    readable_sets: dict[int, list[int]] = {}
    if file_ids:
        for file_id, set_id in db.execute(
            select(SampleSetMembership.sequence_file_id, SampleSetMembership.sample_set_id)
            .where(SampleSetMembership.sequence_file_id.in_(file_ids),
                   SampleSetMembership.sample_set_id.in_(permissions.accessible_sample_set_ids_query("read")))
            .order_by(SampleSetMembership.id)
        ):
            readable_sets.setdefault(file_id, []).append(set_id)
    refused = [i for i in results_file_ids if i not in rows or not readable_sets.get(rows[i].sequence_file_id)]
    if refused:
        raise ComparisonRefused(refused)
    without_file = [i for i in results_file_ids if not rows[i].data_file]
    if without_file:
        raise ComparisonError("no result file yet for " + ", ".join(str(i) for i in without_file))
    chosen_sets = {}
    for result_id in results_file_ids:
        candidates = readable_sets[rows[result_id].sequence_file_id]
        chosen_sets[result_id] = preferred_set_id if preferred_set_id in candidates else candidates[0]
    names = set_names(db, permissions, set_details(db, chosen_sets.values()))
    return [
        ComparedResult(
            results_file_id=result_id, sequence_file_id=rows[result_id].sequence_file_id,
            result_file=rows[result_id].data_file, pre_process_file=rows[result_id].pre_process_file or None,
            filename=rows[result_id].filename or "", info=rows[result_id].info,
            sampling_date=rows[result_id].sampling_date, command=rows[result_id].command,
            sample_set_id=chosen_sets[result_id], set_name=names.get(chosen_sets[result_id], ""),
        )
        for result_id in results_file_ids
    ]


# --- the merged document ---------------------------------------------------------------------

def comparison_label(compared: Sequence[ComparedResult]) -> str:
    return "Compare samples" if len(compared) > 1 else f"Sample {compared[0].results_file_id}"


def comparison_document(fused_text: str, compared: Sequence[ComparedResult]) -> dict[str, Any]:
    """The fused document with the server's fields: labels, and each sample named after its set."""
    try:
        data = json.loads(fused_text)
    except ValueError:
        raise ComparisonError("the fuse service answered an invalid document") from None
    samples = data.get("samples") if isinstance(data, dict) else None
    if not isinstance(samples, dict):
        raise ComparisonError("the fuse service answered a document without samples")
    label = comparison_label(compared)
    data["sample_name"] = data["dataFileName"] = data["info"] = label
    new_names = [c.original_name for c in compared]
    distributions = data.get("distributions")
    old_names = samples.get("original_names")
    if isinstance(distributions, dict) and isinstance(distributions.get("repertoires"), dict) \
            and isinstance(old_names, list):
        # repertoires are keyed by sample name: follow the renaming (and hide the stored paths)
        repertoires = distributions["repertoires"]
        for old, new in zip(old_names, new_names):
            if isinstance(old, str) and old in repertoires:
                repertoires[new] = repertoires.pop(old)
    samples["original_names"] = new_names
    samples["timestamp"] = [str(c.sampling_date) for c in compared]
    samples["info"] = [c.info for c in compared]
    samples["commandline"] = [c.command for c in compared]
    samples["sequence_file_id"] = [c.sequence_file_id for c in compared]
    return data


def fuse_inputs(compared: Sequence[ComparedResult]) -> tuple[list[str], list[str]]:
    """What the fuse service is asked for: stored result names and pre-process names ("" for none)."""
    return [c.result_file or "" for c in compared], [c.pre_process_file or "" for c in compared]


# --- reaching the fuse service ---------------------------------------------------------------

class FuseConnector:
    """The fuse service of this server, as `vidjil.fuse_rpc_*` describe it.

    With `embedded` (the default of the in-process setup, e.g. the demo), the first
    comparison starts the XML-RPC service in a daemon thread of this process, on a
    free loopback port; it then serves every later comparison.
    """

    def __init__(self, settings: Mapping[str, Any]):
        self.settings = settings
        self._lock = threading.Lock()
        self._embedded: RunningService | None = None

    def client(self) -> FuseClient:
        """A client of the service; FuseServiceUnavailable when comparisons are off or misconfigured."""
        try:
            service_settings = ServiceSettings.from_settings(self.settings)
        except SettingsError as exc:
            log.error("custom comparisons are off: %s", exc)
            raise FuseServiceUnavailable(CANNOT_FUSE) from None
        secret = str(self.settings.get("vidjil.secret") or "")
        if service_settings.mode == OFF or not secret:
            raise FuseServiceUnavailable(CANNOT_FUSE)
        if service_settings.mode == EMBEDDED:
            running = self._embedded_service(service_settings, secret)
            return FuseClient(running.host, running.port, secret, service_settings.time_limit)
        return FuseClient(service_settings.host, service_settings.port, secret, service_settings.time_limit)

    def _embedded_service(self, service_settings: ServiceSettings, secret: str) -> RunningService:
        with self._lock:
            if self._embedded is None:
                results_dir = Path(self.settings["vidjil.results_dir"])
                results_dir.mkdir(parents=True, exist_ok=True)
                tmp_dir = self.settings.get("vidjil.tmp_dir")
                try:
                    service = FuseService(
                        results_dir, secret, time_limit=service_settings.time_limit,
                        work_dir=Path(tmp_dir) / "fuse-rpc" if tmp_dir else None,
                        program=program_from_setting(self.settings.get("vidjil.fuse_program")),
                        max_concurrent=service_settings.max_concurrent)
                    self._embedded = start_in_thread(service, "127.0.0.1", 0)
                except (OSError, ValueError) as exc:
                    log.error("the embedded fuse service could not start: %s", exc)
                    raise FuseServiceUnavailable(CANNOT_FUSE) from None
                log.info("embedded fuse service on 127.0.0.1:%d", self._embedded.port)
            return self._embedded

    def close(self) -> None:
        """Stop the embedded service, if it was started."""
        with self._lock:
            if self._embedded is not None:
                self._embedded.stop()
                self._embedded = None


# --- the selection page ----------------------------------------------------------------------

@dataclass(frozen=True)
class CompareRow:
    """One result that can be ticked, with its sample and the set it is listed under."""

    results_file_id: int
    config_id: int
    config_name: str
    run_date: dt.datetime | None
    sequence_file_id: int
    filename: str
    has_data_file: bool
    sampling_date: dt.date | None
    pcr: str | None
    info: str | None
    size_file: int | None
    sample_set_id: int
    sample_type: str
    set_name: str
    checked: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "results_file_id": self.results_file_id, "config_id": self.config_id, "config": self.config_name,
            "run_date": str(self.run_date) if self.run_date else None, "sequence_file_id": self.sequence_file_id,
            "filename": self.filename, "sampling_date": str(self.sampling_date) if self.sampling_date else None,
            "pcr": self.pcr, "info": self.info, "size_file": self.size_file, "sample_set_id": self.sample_set_id,
            "sample_type": self.sample_type, "name": self.set_name, "checked": self.checked,
        }


@dataclass
class CompareListing:
    rows: list[CompareRow] = field(default_factory=list)
    matching: int = 0  # rows matching the search, before the MAX_LISTED cut


def _tagged_files(tags: Sequence[str]):
    """Ids of samples carrying every one of these tags (case-insensitive)."""
    wanted = sorted({t.lower() for t in tags})
    return (select(TagRef.record_id)
            .join(Tag, Tag.id == TagRef.tag_id)
            .where(TagRef.table_name == "sequence_file", func.lower(Tag.name).in_(wanted))
            .group_by(TagRef.record_id)
            .having(func.count(func.distinct(func.lower(Tag.name))) >= len(wanted)))


def comparison_rows(db: Session, permissions, *, sample_set_id: int | None, config_id: int | None,
                    words: Sequence[str] = (), tags: Sequence[str] = (),
                    checked_ids: Iterable[int] = (), limit: int = MAX_LISTED) -> CompareListing:
    """The results this user may tick: newest visible result of each sample and config, in
    readable sets (or the given set, already checked by the caller) and usable configs.

    Ticked results (`checked_ids`) stay listed whatever the search and config. A fixed
    number of statements whatever the number of rows.
    """
    checked = set(checked_ids)
    set_condition = (SampleSet.id == sample_set_id) if sample_set_id is not None \
        else SampleSet.id.in_(permissions.accessible_sample_set_ids_query("read"))
    conditions = [
        set_condition,
        ResultsFile.config_id.in_(permissions.accessible_config_ids_query()),
        ResultsFile.hidden == false(),
        ResultsFile.data_file.is_not(None), ResultsFile.data_file != "",
    ]
    keep_checked = ResultsFile.id.in_(sorted(checked)) if checked else false()
    if tags:
        conditions.append(or_(SequenceFile.id.in_(_tagged_files(tags)), keep_checked))
    if config_id is not None:
        conditions.append(or_(ResultsFile.config_id == config_id, keep_checked))
    rows = db.execute(
        select(ResultsFile.id, ResultsFile.config_id, ResultsFile.run_date, Config.name.label("config_name"),
               SequenceFile.id.label("sequence_file_id"), SequenceFile.filename, SequenceFile.data_file,
               SequenceFile.sampling_date, SequenceFile.pcr, SequenceFile.info, SequenceFile.size_file,
               SampleSet.id.label("sample_set_id"), SampleSet.sample_type)
        .join(SequenceFile, SequenceFile.id == ResultsFile.sequence_file_id)
        .join(SampleSetMembership, SampleSetMembership.sequence_file_id == SequenceFile.id)
        .join(SampleSet, SampleSet.id == SampleSetMembership.sample_set_id)
        .join(Config, Config.id == ResultsFile.config_id)
        .where(and_(*conditions))
        .order_by(SequenceFile.id, SampleSet.id, ResultsFile.config_id, ResultsFile.run_date.desc(),
                  ResultsFile.id.desc())
    ).all()
    seen: set[tuple[int, int, int]] = set()
    current = []
    for row in rows:
        key = (row.sample_set_id, row.sequence_file_id, row.config_id)
        if row.id in checked or key not in seen:
            current.append(row)
        seen.add(key)
    details = set_details(db, {row.sample_set_id for row in current})
    names = set_names(db, permissions, details)
    listing = CompareListing()
    for row in current:
        name = names.get(row.sample_set_id, "")
        is_checked = row.id in checked
        texts = [name, row.filename or "", str(row.sampling_date), str(row.pcr), row.config_name or "",
                 str(row.run_date), _info_of(details.get(row.sample_set_id))]
        if not is_checked and not matches_filter([t.lower() for t in texts], " ".join(words)):
            continue
        listing.matching += 1
        if len(listing.rows) >= limit and not is_checked:
            continue
        listing.rows.append(CompareRow(
            results_file_id=row.id, config_id=row.config_id, config_name=row.config_name or "",
            run_date=row.run_date, sequence_file_id=row.sequence_file_id, filename=row.filename or "",
            has_data_file=bool(row.data_file), sampling_date=row.sampling_date, pcr=row.pcr, info=row.info,
            size_file=row.size_file, sample_set_id=row.sample_set_id, sample_type=row.sample_type or "",
            set_name=name, checked=is_checked,
        ))
    return listing


def _info_of(detail: tuple[str, Any] | None) -> str:
    return (detail[1].info or "") if detail is not None else ""
