"""Writing the fused document: ``.vidjil`` JSON, or an AIRR table (``--export-airr``).

The JSON layout is the one the original produced (2-space indent, ASCII escapes,
no final newline), so that byte-level diffs against old fused files stay quiet.
Files are written next to the target and renamed into place: a reader (the
server checks that the output exists) never sees a half-written file.
"""
from __future__ import annotations

import json
import os
from typing import Any, Iterable

from .errors import FuseError
from .stats import MISSING, UNKNOWN_AXIS, axis_value


def _write_atomically(path: str, chunks: Iterable[str]) -> None:
    directory, name = os.path.split(os.path.abspath(path))
    for attempt in range(100):
        temporary = os.path.join(directory, f".{name}.{os.getpid()}.{attempt}.tmp")
        try:
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise FuseError(f"{path}: cannot write: {exc.strerror or exc}") from None
    else:
        raise FuseError(f"{path}: cannot create a temporary file next to it")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            for chunk in chunks:
                out.write(chunk)
        os.replace(temporary, path)
    except OSError as exc:
        os.unlink(temporary)
        raise FuseError(f"{path}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        os.unlink(temporary)
        raise


def dumps(doc: Any) -> str:
    """The fused document as text, laid out like the original fuse's output."""
    return json.dumps(doc, indent=2)


def write_json(doc: Any, path: str) -> None:
    _write_atomically(path, (dumps(doc),))


AIRR_COLUMNS = (
    "filename", "locus", "duplicate_count", "v_call", "d_call", "j_call", "sequence_id", "sequence", "productive",
    "junction_aa", "junction", "cdr3_aa", "warnings", "rev_comp", "sequence_alignment", "germline_alignment",
    "v_cigar", "d_cigar", "j_cigar", "ratio_segmented", "ratio_locus",
)
# AIRR column -> clone axis; the other columns are computed or left empty
_AIRR_AXES = {
    "locus": "germline", "duplicate_count": "reads", "v_call": "seg5", "d_call": "seg4", "j_call": "seg3",
    "sequence_id": "id", "sequence": "sequence", "productive": "productive",
}


def _airr_cell(doc: dict, clone: dict, column: str, sample: int) -> str:
    value: Any
    if column == "filename":
        value = doc["samples"]["original_names"][sample]
    elif column == "warnings":
        warnings = clone.get("warn") or []
        value = ",".join(str(w.get("code", "")) for w in warnings if isinstance(w, dict))
    elif column in ("ratio_segmented", "ratio_locus"):
        try:
            reads = float(clone["reads"][sample])
            if column == "ratio_segmented":
                value = reads / doc["reads"]["segmented"][sample]
            else:
                value = reads / doc["reads"]["germline"][axis_value(clone, "germline", sample)][sample]
        except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError):
            value = ""
    elif column in _AIRR_AXES:
        value = axis_value(clone, _AIRR_AXES[column], sample)
    else:
        value = ""
    if value == MISSING or value == UNKNOWN_AXIS:
        value = ""
    return str(value)


def airr_lines(doc: dict) -> Iterable[str]:
    """One line per clone and sample where the clone has reads."""
    yield "\t".join(AIRR_COLUMNS) + "\n"
    for clone in doc.get("clones") or ():
        for sample, reads in enumerate(clone.get("reads") or ()):
            if reads:
                yield "\t".join(_airr_cell(doc, clone, column, sample) for column in AIRR_COLUMNS) + "\n"


def airr_path(output: str) -> str:
    """Where ``--export-airr`` writes: the output path with ``.vidjil`` replaced by ``.airr``."""
    return output.replace(".vidjil", ".airr")


def write_airr(doc: dict, path: str) -> None:
    _write_atomically(path, airr_lines(doc))
