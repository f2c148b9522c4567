"""The fuse itself: several per-sample ``.vidjil`` results into one multi-sample document.

The output reproduces the original ``tools/fuse.py`` (see docs/fuse.md for the
rules and for the few places where we deliberately differ).  The way we get
there is ours:

1. **One streaming pass per input.**  Each clone is parsed once, counted into the
   file's statistics (``reads.distribution``, ``-d`` distributions), and kept
   only if it ranks within ``-t`` in this file or if its id was already selected
   by an earlier file.  For every other clone we remember 16 bytes: a hash of its
   id and its byte offset in the file.
2. **A targeted second look.**  Once the union of selected ids is known, the few
   clones of a file that were dropped but are selected by a later file are
   parsed again at their recorded offsets.  Nothing else is re-read.
3. **Pairwise merge, left to right**, with the original's padding and ordering
   rules, then the final cut, ``similarity``, ``--overlaps`` and ``--no-clones``.
"""
from __future__ import annotations

import json
import os
import sys
from array import array
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from . import readers
from .errors import FuseInputError, FuseUsageError
from .names import interesting_substrings
from .readers import FUSE_PRODUCER, STREAMED, VIDJIL_JSON_VERSION, InputSpec
from .stats import DistributionAccumulator, ReadsHistogram, round_lengths_in_place, rounding_applies

Log = Callable[[str], None]

SIMILARITY_LIMIT = 100
DIVERSITY_KEYS = ("index_H_entropy", "index_E_equitability", "index_Ds_diversity")
NO_RANK = sys.maxsize  # rank of the placeholder clone standing for "absent from this side"

# keys the generic list padding leaves alone, at the top level and in clones
_TOP_LEVEL_SKIP = frozenset({"clones", "links", "germlines", "warn", "vidjil_json_version"})
_CLONE_SKIP = frozenset({"seg", "top", "id", "sequence", "name", "stats", "germline", "mrd", "warn"})
_SAMPLES_SKIP = frozenset({"number", "pre_process"})


@dataclass
class FuseOptions:
    """What a fuse run should compute; mirrors the command-line options."""

    top: int = 50
    distributions: list[list[str]] = field(default_factory=list)
    first: int = 0
    overlaps: bool = False
    no_clones: bool = False
    compress_names: bool = False
    similarity_tool: str | None = None  # the original looked for ../algo/tools/similarity; we only run it if asked


# --------------------------------------------------------------------------- padding


def _pad_value(first: Any) -> Any:
    """Filler for a per-sample list, chosen from the type of its first element."""
    kind = type(first)
    if kind is str:
        return ""
    if kind is bool:
        return False
    if kind is int:
        return 0
    if kind is float:
        return 0.0
    if kind is list:
        return []
    if first is None:
        return None
    if kind is dict:
        # The original parsed objects into its own classes according to their keys,
        # and padded with a fresh instance of that class.
        if "coefficients" in first:
            return {"number": 1}
        if "id" not in first and "total" in first:
            return {"total": [0], "segmented": [0], "germline": {}, "distribution": {}}
        if "id" not in first and "original_names" in first:
            return {"number": 1, "original_names": [""]}
        return {}
    return 0


def _padding(key: str, values: list, other: dict, count: int, pad_none: bool) -> list:
    if key == "normalized_reads":  # absent normalisation is "unknown", not zero
        reads = other.get("reads")
        return [None] * (len(reads) if type(reads) is list else count)
    if not values:
        return [0] * count
    if pad_none:
        return [None] * count
    return [_pad_value(values[0])] * count


def concat_padded(dest: dict, left: dict, left_count: int, right: dict, right_count: int,
                  skip: frozenset[str] = frozenset(), recursive: bool = False, pad_none: bool = False) -> None:
    """Concatenate the list values of ``left`` (left_count samples) and ``right`` into ``dest``.

    A list present on one side only is padded for the other side's samples.
    Non-list values are ignored, or merged key by key when ``recursive``.
    Keys land in ``dest`` in left-then-right order, after the keys it already has.
    """
    nested: list[str] = []
    for key, values in left.items():
        if key in skip:
            continue
        if type(values) is not list:
            nested.append(key)
            continue
        dest[key] = values
        if key not in right:
            values += _padding(key, values, right, right_count, pad_none)
    for key, values in right.items():
        if key in skip:
            continue
        if type(values) is not list:
            nested.append(key)
            continue
        current = dest.get(key)
        if type(current) is list:
            dest[key] = current + values
        else:
            dest[key] = _padding(key, values, left, left_count, pad_none) + values
    if recursive:
        for key in dict.fromkeys(nested):
            target = dest.get(key)
            if not isinstance(target, dict):
                target = dest[key] = {}
            sub_left = left.get(key)
            sub_right = right.get(key)
            concat_padded(target, sub_left if isinstance(sub_left, dict) else {}, left_count,
                          sub_right if isinstance(sub_right, dict) else {}, right_count,
                          skip, True, pad_none)


# --------------------------------------------------------------------------- clones


def _empty_clone(samples: int) -> dict:
    return {"id": "", "top": NO_RANK, "reads": [0] * samples}


def _zero_mrd(samples: int) -> dict:
    return {"copy_number": [0] * samples, "R2": [0] * samples, "family": ["None"] * samples,
            "norm_coeff": [0] * samples}


def _junction(clone: dict) -> dict | None:
    seg = clone.get("seg")
    if isinstance(seg, dict):
        junction = seg.get("junction")
        if isinstance(junction, dict):
            return junction
    return None


def _warning(code: str, message: str) -> dict:
    return {"code": code, "msg": message, "level": "warn"}


def merge_clone(left: dict, right: dict) -> dict:
    """One clone seen on both sides (or a placeholder on one side) -> the merged clone."""
    left_count, right_count = len(left["reads"]), len(right["reads"])
    merged: dict = {"reads": [0]}
    concat_padded(merged, left, left_count, right, right_count, _CLONE_SKIP)
    if "warn" in left or "warn" in right:
        warnings: list = []
        for side in (left, right):
            if "warn" in side and isinstance(side["warn"], (list, dict, str)):
                warnings.extend(side["warn"])
        merged["warn"] = warnings
    if "mrd" in left or "mrd" in right:
        mrd: dict = {}
        first = left["mrd"] if isinstance(left.get("mrd"), dict) else _zero_mrd(left_count)
        second = right["mrd"] if isinstance(right.get("mrd"), dict) else _zero_mrd(right_count)
        concat_padded(mrd, first, left_count, second, right_count)
        merged["mrd"] = mrd
    try:
        right_wins = right["top"] < left["top"]
    except TypeError:
        raise FuseInputError(f"clone {left.get('id') or right.get('id')!r}: cannot compare 'top' values "
                             f"{left['top']!r} and {right['top']!r}") from None
    for side in ((right, left) if right_wins else (left, right)):  # the best-ranked side wins conflicts
        for key, value in side.items():
            if key not in merged:
                merged[key] = value
    if "name" in left and "name" in right and left["name"] != right["name"]:
        other = right["name"] if merged["name"] == left["name"] else left["name"]
        merged.setdefault("warn", []).append(_warning(
            "W81", "Merged clone has different V(D)J designations in some samples (pos %s): %s" % (left_count, other)))
    left_junction, right_junction = _junction(left), _junction(right)
    if (left_junction is not None and right_junction is not None and "productive" in left_junction
            and "productive" in right_junction and left_junction["productive"] != right_junction["productive"]):
        kept = merged["seg"]["junction"]["productive"]
        other = right_junction["productive"] if kept == left_junction["productive"] else left_junction["productive"]
        merged.setdefault("warn", []).append(_warning(
            "W82", "Merged clone has different productivities in some samples (pos %s): %s"
            % (left_count, "productive" if other else "not productive")))
    return merged


def merge_clone_lists(left: list[dict], right: list[dict], left_samples: int, right_samples: int) -> list[dict]:
    """Match clones by id; left's order, then right's new ones, then a stable sort by rank."""
    by_id_left = {clone["id"]: clone for clone in left}
    by_id_right = {clone["id"]: clone for clone in right}
    merged = []
    for clone_id, clone in by_id_left.items():
        other = by_id_right.get(clone_id)
        merged.append(merge_clone(clone, other if other is not None else _empty_clone(right_samples)))
    for clone_id, clone in by_id_right.items():
        if clone_id not in by_id_left:
            merged.append(merge_clone(_empty_clone(left_samples), clone))
    try:
        merged.sort(key=lambda clone: clone["top"])
    except TypeError:
        raise FuseInputError("clones have 'top' values of different types; cannot order them") from None
    return merged


# --------------------------------------------------------------------------- other sections


def merge_samples(left: dict, right: dict) -> dict:
    left_count, right_count = left["number"], right["number"]
    merged: dict = {"number": 1, "original_names": [""]}
    concat_padded(merged, left, left_count, right, right_count, _SAMPLES_SKIP, recursive=True)
    if "pre_process" in left or "pre_process" in right:
        pre: dict = {}
        concat_padded(pre, _as_dict(left.get("pre_process")), left_count,
                      _as_dict(right.get("pre_process")), right_count, recursive=True, pad_none=True)
        merged["pre_process"] = pre
    merged["number"] = int(left_count) + int(right_count)
    return merged


def _as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def merge_reads(left: dict, right: dict) -> dict:
    merged: dict = {"total": [0], "segmented": [0], "germline": {}, "distribution": {}}
    left_count, right_count = len(left["total"]), len(right["total"])
    concat_padded(merged["germline"], _as_dict(left.get("germline")), left_count,
                  _as_dict(right.get("germline")), right_count, frozenset({"total"}))
    concat_padded(merged["distribution"], left["distribution"], left_count,
                  right["distribution"], right_count, frozenset({"total"}))
    if "merged" in left or "merged" in right:
        merged["merged"] = ([*left["merged"]] if "merged" in left else [0] * left_count) + \
                           ([*right["merged"]] if "merged" in right else [0] * right_count)
    merged["total"] = left["total"] + right["total"]
    merged["segmented"] = left["segmented"] + right["segmented"]
    return merged


def normalise_diversity(value: Any) -> dict:
    """Three index lists, one value per sample; "na" when the index is missing."""
    data = value if isinstance(value, dict) else {}
    result = {}
    for key in DIVERSITY_KEYS:
        if key not in data:
            result[key] = ["na"]
        elif isinstance(data[key], list):
            result[key] = data[key]
        else:
            result[key] = [data[key]]
    return result


def _diversity_of(doc: dict) -> dict:
    """A document's diversity; clntab inputs have none (the original crashed there)."""
    return doc["diversity"] if isinstance(doc.get("diversity"), dict) else normalise_diversity(None)


def merge_diversity(left: dict, right: dict) -> dict:
    """Append the *first* value of each right-hand index (the original's behaviour, see docs)."""
    for key in DIVERSITY_KEYS:
        values = right[key]
        left[key].append(values[0] if values else "na")
    return left


def merge_mrd(left: Any, right: Any) -> dict:
    left = left if isinstance(left, dict) else {"number": 1}
    right = right if isinstance(right, dict) else {"number": 1}
    left_count, right_count = left.get("number", 1), right.get("number", 1)
    merged: dict = {"number": 1}
    concat_padded(merged, left, left_count, right, right_count, frozenset({"number"}))
    merged["number"] = int(left_count) + int(right_count)
    return merged


def merge_distributions(left: Any, right: Any) -> dict | None:
    """Side by side repertoires, or None when a side has none or a sample name repeats."""
    try:
        left_repertoires, right_repertoires = left["repertoires"], right["repertoires"]
        left_names, right_names = list(left_repertoires.keys()), list(right_repertoires.keys())
    except (KeyError, TypeError, AttributeError):
        return None
    if any(name in right_repertoires for name in left_names):
        return None
    repertoires = {name: left_repertoires[name] for name in left_names}
    repertoires.update((name, right_repertoires[name]) for name in right_names)
    return {"repertoires": repertoires, "keys": ["clones", "reads"], "filters": {}, "categories": {}}


def _tag_warnings(warnings: Any, sample: int) -> list:
    tagged = []
    for warning in warnings if isinstance(warnings, (list, dict, str)) else ():
        if isinstance(warning, dict) and "sample" not in warning:
            warning["sample"] = sample
        tagged.append(warning)
    return tagged


def merge_documents(left: dict, right: dict) -> dict:
    """Merge two finalised documents (left may itself be the result of earlier merges)."""
    left_samples, right_samples = len(left["reads"]["segmented"]), len(right["reads"]["segmented"])
    merged: dict = {"samples": None, "reads": None, "clones": [], "clusters": [], "germlines": {},
                    "vidjil_json_version": VIDJIL_JSON_VERSION, "producer": FUSE_PRODUCER,
                    "timestamp": readers.now_text()}
    concat_padded(merged, left, left_samples, right, right_samples, _TOP_LEVEL_SKIP)
    merged["clones"] = merge_clone_lists(left["clones"], right["clones"], left_samples, right_samples)
    merged["samples"] = merge_samples(left["samples"], right["samples"])
    merged["reads"] = merge_reads(left["reads"], right["reads"])
    merged["diversity"] = merge_diversity(_diversity_of(left), _diversity_of(right))
    if "mrd" in left or "mrd" in right:
        merged["mrd"] = merge_mrd(left.get("mrd"), right.get("mrd"))
    distributions = merge_distributions(left.get("distributions"), right.get("distributions"))
    if distributions is not None:
        merged["distributions"] = distributions
    if "warn" in left or "warn" in right:
        merged["warn"] = _tag_warnings(left.get("warn"), left_samples - 1) + \
                         _tag_warnings(right.get("warn"), left_samples)
    return merged


# --------------------------------------------------------------------------- overlaps, similarity


def compute_overlaps(clones: Sequence[dict], samples: int) -> dict:
    """Morisita-Horn and Jaccard indices for every ordered pair of samples (kept clones only)."""
    columns = [[clone["reads"][i] if i < len(clone["reads"]) else 0 for clone in clones] for i in range(samples)]
    present = [sum(1 for value in column if value) for column in columns]
    morisita, jaccard = [], []
    for i in range(samples):
        row_morisita, row_jaccard = [], []
        for j in range(samples):
            products = squares_i = squares_j = 0
            shared = 0
            for a, b in zip(columns[i], columns[j]):
                products += a * b
                squares_i += a * a
                squares_j += b * b
                shared += bool(a * b)
            row_morisita.append(0 if products == 0 else round(products / ((squares_i + squares_j) / 2), 3))
            row_jaccard.append(0 if shared == 0 else round(shared / (present[i] + present[j] - shared), 3))
        morisita.append(row_morisita)
        jaccard.append(row_jaccard)
    return {"morisita": morisita, "jaccard": jaccard}


def run_similarity(tool: str, clones: Sequence[dict], log: Log) -> Any:
    """Run vidjil's ``similarity -j`` on the clone ids; None if it cannot be run."""
    import subprocess  # only needed with --similarity-tool
    import tempfile

    handle, fasta = tempfile.mkstemp(suffix=".fa")
    try:
        with os.fdopen(handle, "w") as out:
            for index, clone in enumerate(clones):
                out.write(f">>{index}\n{clone['id']}\n")
        completed = subprocess.run([tool, "-j", fasta], capture_output=True, check=True)
        return json.loads(completed.stdout)
    except (OSError, subprocess.CalledProcessError, ValueError) as exc:
        log(f"! similarity not computed ({tool}: {exc})")
        return None
    finally:
        os.unlink(fasta)


# --------------------------------------------------------------------------- reading one input


class _CloneCollector:
    """Sink for the clones of one input (see readers.CloneSink)."""

    def __init__(self, path: str, top: int, known: set[str], distributions: list[list[str]]):
        self.path = path
        self.top = top
        self.known = known
        self.distributions = distributions
        self.begin()

    def begin(self) -> None:
        """Start (or restart, for a repeated ``clones`` key) with empty state."""
        self.selected: set[str] = set()
        self.kept: dict[str, list] = {}  # id -> [index of first occurrence, last occurrence]
        self.hashes = array("q")
        self.offsets = array("q")
        self.histogram = ReadsHistogram()
        self.accumulator = DistributionAccumulator(self.distributions) if self.distributions else None
        self.add = self._make_add()

    @property
    def count(self) -> int:
        return len(self.hashes)

    def _bad(self, index: int, what: str) -> FuseInputError:
        return FuseInputError(f"{self.path}: clone #{index + 1}: {what}")

    def _make_add(self) -> Callable[[Any, int, int], None]:
        """The per-clone function, with its state bound to locals: it runs for every clone."""
        top, known, selected, kept = self.top, self.known, self.selected, self.kept
        add_hash, add_offset, select = self.hashes.append, self.offsets.append, self.selected.add
        get_kept = kept.get
        histogram = self.histogram
        first_counts, ordered = histogram.counts[0], histogram.ordered
        add_reads = histogram.add
        add_to_distributions = self.accumulator.add if self.accumulator is not None else None
        bad = self._bad

        def add(clone: Any, index: int, offset: int) -> None:
            try:
                clone_id, rank, reads = clone["id"], clone["top"], clone["reads"]
            except KeyError as exc:
                raise bad(index, f"no {exc} field") from None
            except TypeError:
                raise bad(index, "not a JSON object") from None
            if type(clone_id) is not str:
                raise bad(index, f"'id' must be a string, got {clone_id!r}")
            if type(reads) is not list:
                raise bad(index, f"'reads' must be a list, got {reads!r}")
            add_hash(hash(clone_id))
            add_offset(offset)
            try:
                is_selected = rank <= top
            except TypeError:
                raise bad(index, f"'top' must be a number, got {rank!r}") from None
            if is_selected:
                select(clone_id)
            entry = get_kept(clone_id)
            if entry is not None:
                entry[1] = clone  # the last occurrence of a repeated id wins, at the first one's place
            elif is_selected or clone_id in known:
                kept[clone_id] = [index, clone]
            if len(reads) == 1 and type(reads[0]) is int and ordered[0] is None:
                value = reads[0]  # the common single-sample case, inlined
                first_counts[value] = first_counts.get(value, 0) + 1
            else:
                try:
                    add_reads(reads)
                except FuseInputError as exc:
                    raise bad(index, str(exc)) from None
            if add_to_distributions is not None:
                add_to_distributions(clone, reads)

        return add


@dataclass
class ScannedInput:
    """An input after its single streaming pass, waiting for the global selection."""

    spec: InputSpec
    doc: dict
    collector: _CloneCollector
    in_memory: list[dict] | None  # AIRR/clntab clones (the whole table is read anyway)


def _require(condition: bool, path: str, message: str) -> None:
    if not condition:
        raise FuseInputError(f"{path}: {message}; is it a .vidjil file?")


def scan_input(spec: InputSpec, options: FuseOptions, known: set[str]) -> ScannedInput:
    """Read one input once: header, statistics, and the clones that may be kept."""
    path = spec.path
    collector = _CloneCollector(path, options.top, known, options.distributions)
    in_memory = None
    kind = spec.kind
    if kind == "vidjil":
        doc = readers.stream_vidjil(path, collector)
        _require("samples" in doc, path, "no 'samples' section")
        readers.check_version(doc, path)
        _require("clones" in doc, path, "no 'clones' list")
        clones = doc["clones"]
        if clones is not STREAMED:
            _require(not clones, path, "'clones' is not a list")
            doc["clones"] = []
    else:
        doc = readers.read_airr(path) if kind == "airr" else readers.read_clntab(path)
        in_memory = doc["clones"]
        collector.begin()
        for index, clone in enumerate(in_memory):
            collector.add(clone, index, -1)
    samples, reads = doc.get("samples"), doc.get("reads")
    _require(isinstance(samples, dict) and type(samples.get("original_names")) is list, path,
             "'samples.original_names' is missing")
    _require(type(samples.get("number")) is int, path, "'samples.number' is not an integer")
    _require(isinstance(reads, dict) and type(reads.get("total")) is list
             and type(reads.get("segmented")) is list, path, "'reads.total' or 'reads.segmented' is missing")
    if kind == "vidjil":
        doc["diversity"] = normalise_diversity(doc.get("diversity"))
        if "distribution" not in reads:
            reads["distribution"] = {}
        _require(isinstance(reads["distribution"], dict), path, "'reads.distribution' is not an object")
        samples["timestamp"] = [readers.mtime_text(path)] * samples["number"]
        mrd = doc.get("mrd")
        if isinstance(mrd, dict) and "coefficients" in mrd:
            prevalent = mrd.get("prevalent")
            mrd["number"] = len(prevalent) if isinstance(prevalent, (list, dict, str)) else 1
    if spec.pre_process:
        samples["pre_process"], reads["merged"] = readers.read_pre_process(spec.pre_process)
        _require(type(reads["merged"]) is list, spec.pre_process, "'reads.merged' is not a list")
    return ScannedInput(spec, doc, collector, in_memory)


def _complete(scanned: ScannedInput, selection: set[str]) -> dict[str, list]:
    """Kept clones of one input once the global selection is known: id -> [first index, clone]."""
    collector = scanned.collector
    if scanned.in_memory is not None:
        kept: dict[str, list] = {}
        for index, clone in enumerate(scanned.in_memory):
            clone_id = clone["id"]
            if clone_id in selection:
                entry = kept.get(clone_id)
                if entry is None:
                    kept[clone_id] = [index, clone]
                else:
                    entry[1] = clone
        return kept

    kept = collector.kept
    wanted = {hash(clone_id) for clone_id in selection if clone_id not in kept}
    latest_first: dict[int, int] = {}  # id hash -> index before which an earlier occurrence may hide
    for clone_id, (first, _clone) in kept.items():
        key = hash(clone_id)
        latest_first[key] = max(first, latest_first.get(key, -1))
    indexes = [index for index, key in enumerate(collector.hashes)
               if key in wanted or index < latest_first.get(key, -1)]
    if not indexes:
        return kept
    found: dict[str, list] = {}
    values = readers.read_values_at(scanned.spec.path, [collector.offsets[i] for i in indexes])
    for index, clone in zip(indexes, values):
        clone_id = clone.get("id") if isinstance(clone, dict) else None
        if type(clone_id) is not str:
            continue
        if clone_id in kept:
            entry = kept[clone_id]
            if index < entry[0]:
                entry[0] = index  # an earlier, dropped occurrence fixes the position
        elif clone_id in selection:
            entry = found.get(clone_id)
            if entry is None:
                found[clone_id] = [index, clone]
            else:
                entry[1] = clone
    kept.update(found)
    return kept


def _finalise(scanned: ScannedInput, selection: set[str]) -> dict:
    """Write the input's statistics into its document and attach its kept clones, in file order."""
    doc, collector = scanned.doc, scanned.collector
    samples, reads = doc["samples"], doc["reads"]
    reads["distribution"].update(collector.histogram.distribution(reads["segmented"]))
    names = samples["original_names"]
    if collector.accumulator is not None:
        doc["distributions"] = {"repertoires": collector.accumulator.repertoires(names, scanned.spec.path),
                                "keys": ["clones", "reads"], "filters": []}
    entries = sorted(_complete(scanned, selection).values(), key=lambda entry: entry[0])
    clones = [clone for _index, clone in entries]
    if collector.accumulator is not None and collector.accumulator.uses_rounding:
        for clone in clones:
            lengths = clone.get("_average_read_length")
            if type(lengths) is list and rounding_applies(clone["reads"], len(names)):
                round_lengths_in_place(lengths)
    doc["clones"] = clones
    return doc


# --------------------------------------------------------------------------- the run


def _quiet(_message: str) -> None:
    pass


def fuse(inputs: Iterable[str | InputSpec], options: FuseOptions | None = None, log: Log | None = None) -> dict:
    """Fuse the given inputs (paths, or ``result,pre_process`` pairs) into one document.

    The returned dict is ready for ``writers.write_json``; nothing is written here.
    """
    options = options or FuseOptions()
    log = log or _quiet
    specs = [spec if isinstance(spec, InputSpec) else InputSpec.parse(spec) for spec in inputs]
    if options.first and len(specs) > options.first:
        log(f"! {len(specs)} files were given, only the first {options.first} are used")
        specs = specs[:options.first]
    if not specs:
        raise FuseUsageError("no input file")

    selection: set[str] = set()
    scanned = []
    for spec in specs:
        item = scan_input(spec, options, selection)
        selection |= item.collector.selected
        log(f"<== {spec.path}: {item.collector.count} clones, {len(item.collector.selected)} in the top {options.top}")
        scanned.append(item)

    result: dict | None = None
    for position, item in enumerate(scanned):
        doc = _finalise(item, selection)
        scanned[position] = None  # type: ignore[call-overload]  # let the input's memory go
        result = doc if result is None else merge_documents(result, doc)
    assert result is not None

    if options.compress_names:
        result["samples"]["names"] = interesting_substrings(result["samples"]["original_names"])
    limit = options.top
    try:
        result["clones"] = [clone for clone in result["clones"] if int(clone["top"]) <= limit or limit == 0]
    except (TypeError, ValueError, OverflowError) as exc:
        raise FuseInputError(f"a clone has a 'top' that is not a number ({exc})") from None
    clones = result["clones"]
    log(f"==> {len(clones)} clones kept over {result['samples']['number']} samples")
    if len(clones) < SIMILARITY_LIMIT:
        if options.similarity_tool:
            matrix = run_similarity(options.similarity_tool, clones, log)
            if matrix is not None:
                result["similarity"] = matrix
    else:
        result["similarity"] = []
    if options.overlaps:
        result["overlaps"] = compute_overlaps(clones, result["samples"]["number"])
    if options.no_clones:
        del result["clones"]
    return result


def reload_after_post(path: str) -> dict:
    """Load a post-processed fused file the way a fresh input is loaded, statistics included."""
    doc = readers.read_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("samples"), dict) or not isinstance(doc.get("reads"), dict):
        raise FuseInputError(f"{path}: the post-process did not write a .vidjil document")
    readers.check_version(doc, path)
    samples, reads = doc["samples"], doc["reads"]
    clones = doc.get("clones") or []
    if "clones" in doc:
        doc["clones"] = clones
    doc["diversity"] = normalise_diversity(doc.get("diversity"))
    reads.setdefault("distribution", {})
    if type(samples.get("number")) is int:
        samples["timestamp"] = [readers.mtime_text(path)] * samples["number"]
    histogram = ReadsHistogram()
    for clone in clones:
        histogram.add(clone.get("reads", []) if isinstance(clone, dict) else [])
    if type(reads.get("segmented")) is list and isinstance(reads["distribution"], dict):
        reads["distribution"].update(histogram.distribution(reads["segmented"]))
    return doc
