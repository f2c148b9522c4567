"""Per-input statistics computed from *all* clones of a file, before the top filter.

Both statistics are accumulated while clones stream by, without knowing the
file's header yet (vidjil-algo writes ``clones`` before ``reads`` and
``samples``), and are turned into JSON only once the header is known:

* ``reads.distribution``: reads per sample falling in each clone-size bucket;
* ``distributions`` (``-d``/``-D``): clone and read counts per value of one or
  more axes (germline, V gene, rounded read length...), per sample.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Sequence

from .errors import FuseInputError

#: Bucket thresholds of ``reads.distribution`` and their keys as the browser expects them.
BUCKETS: tuple[float, ...] = (0.1, 0.01, 0.001, 0.0001, 0.00001, 0.000001, 0.0000001)
BUCKET_KEYS: tuple[str, ...] = ("0.1", "0.01", "0.001", "0.0001", "0.00001", "0.000001", "0.0000001")

#: Axes listed by ``-l`` and combined by ``-D`` (the duplicate "evalue" is kept on
#: purpose: the preset must hold the same 959 distributions as the original's).
AVAILABLE_AXES: tuple[str, ...] = (
    "top", "germline", "name",
    "seg5", "seg4", "seg4a", "seg4b", "seg3",
    "evalue", "lenSeqAverage", "lenCDR3", "lenJunction",
    "seg5_delRight", "seg3_delLeft", "seg4_delRight", "seg4_delLeft",
    "seg5_stop", "seg3_start", "seg4_stop", "seg4_start", "cdr3_stop", "cdr3_start",
    "junction_stop", "junction_start", "productive",
    "insert_53", "insert_54", "insert_43",
    "evalue", "evalue_left", "evalue_right",
)

UNKNOWN_AXIS = "unknow_axis"  # spelled as the browser receives it
MISSING = "?"

#: Where each computable axis is read in a clone.  Axes absent from this table
#: (lenCDR3, lenJunction, insert_*...) were never computed by the original and
#: yield UNKNOWN_AXIS.
AXIS_PATHS: dict[str, tuple[str, ...]] = {
    "id": ("id",), "top": ("top",), "germline": ("germline",), "name": ("name",), "reads": ("reads",),
    "seg5": ("seg", "5", "name"), "seg4": ("seg", "4", "name"), "seg4a": ("seg", "4a", "name"),
    "seg4b": ("seg", "4b", "name"), "seg3": ("seg", "3", "name"),
    "evalue": ("seg", "evalue", "val"), "evalue_left": ("seg", "evalue_left", "val"),
    "evalue_right": ("seg", "evalue_right", "val"),
    "seg5_delRight": ("seg", "5", "delRight"), "seg3_delLeft": ("seg", "3", "delLeft"),
    "seg4_delRight": ("seg", "4", "delRight"), "seg4_delLeft": ("seg", "4", "delLeft"),
    "seg5_stop": ("seg", "5", "stop"), "seg3_start": ("seg", "3", "start"),
    "seg4_stop": ("seg", "4", "stop"), "seg4_start": ("seg", "4", "start"),
    "cdr3_stop": ("seg", "cdr3", "stop"), "cdr3_start": ("seg", "cdr3", "start"),
    "junction_stop": ("seg", "junction", "stop"), "junction_start": ("seg", "junction", "start"),
    "productive": ("seg", "junction", "productive"),
    "lenSeqAverage": ("_average_read_length",),
    "warnings": ("warn",), "sequence": ("sequence",),
}
ROUNDED_AXIS = "lenSeqAverage"
_LOOKUP_ERRORS = (KeyError, IndexError, TypeError, ValueError, OverflowError, AttributeError)


def preset_distributions() -> list[list[str]]:
    """The ``-D`` preset: every axis alone, then with every other axis (959 lists)."""
    preset = []
    for first in AVAILABLE_AXES:
        preset.append([first])
        preset.extend([first, second] for second in AVAILABLE_AXES if second != first)
    return preset


def parse_distributions(values: Sequence[str] | None, preset: bool = False) -> list[list[str]]:
    """Turn ``-d`` values ("axis1,axis2") into axis lists, without duplicates, after the preset."""
    result = preset_distributions() if preset else []
    for value in values or ():
        axes = value.split(",")
        if axes not in result:
            result.append(axes)
    return result


# --------------------------------------------------------------------------- rounding


def round_read_length(value: Any) -> float:
    """Round a read length to the nearest integer (half to even) and return it as a float."""
    return round(float(value) / 1.0) * 1.0


def round_lengths_in_place(lengths: list) -> bool:
    """Round every element of a clone's ``_average_read_length`` list in place.

    Stops at the first element that is not a number (those before it stay
    rounded), which is what the browser got from the original; returns success.
    """
    try:
        for index, value in enumerate(lengths):
            lengths[index] = round_read_length(value)
    except _LOOKUP_ERRORS:
        return False
    return True


def _rounded_copy(value: Any) -> Any:
    """Value of the lenSeqAverage axis source without touching the clone (MISSING on failure)."""
    if isinstance(value, list):
        copy = list(value)
        return copy if round_lengths_in_place(copy) else MISSING
    return round_read_length(value)


AxisGetter = Callable[[dict, int], Any]


def _unknown_axis(_clone: dict, _sample: int) -> Any:
    return UNKNOWN_AXIS


def _rounded_length(clone: dict, sample: int) -> Any:
    try:
        value = _rounded_copy(clone["_average_read_length"])
        if type(value) is list:
            return value[sample]
        return value
    except _LOOKUP_ERRORS:
        return MISSING


def _path_getter(path: tuple[str, ...]) -> AxisGetter:
    """A fast reader of ``clone[path...]``; a list value gives the sample's element."""
    if len(path) == 1:
        (first,) = path

        def get(clone: dict, sample: int) -> Any:
            try:
                value = clone[first]
                return value[sample] if type(value) is list else value
            except _LOOKUP_ERRORS:
                return MISSING
    elif len(path) == 3:
        first, second, third = path

        def get(clone: dict, sample: int) -> Any:
            try:
                value = clone[first][second][third]
                return value[sample] if type(value) is list else value
            except _LOOKUP_ERRORS:
                return MISSING
    else:  # pragma: no cover - every axis path has 1 or 3 steps today
        def get(clone: dict, sample: int) -> Any:
            try:
                value: Any = clone
                for step in path:
                    value = value[step]
                return value[sample] if type(value) is list else value
            except _LOOKUP_ERRORS:
                return MISSING
    return get


def axis_getter(axis: str) -> AxisGetter:
    """The function giving ``axis``'s value for a clone and a sample index."""
    if axis == ROUNDED_AXIS:
        return _rounded_length
    path = AXIS_PATHS.get(axis)
    return _path_getter(path) if path is not None else _unknown_axis


def axis_value(clone: dict, axis: str, sample: int) -> Any:
    """Value of ``axis`` for ``clone`` in sample ``sample``: MISSING if absent, UNKNOWN_AXIS if not an axis.

    A clone without ``seg`` gives MISSING for every ``seg*`` axis; the read
    length axis is rounded (see round_read_length).
    """
    return axis_getter(axis)(clone, sample)


def _as_key(value: Any) -> Any:
    """Values become object keys: JSON scalars stay as they are, anything else as its JSON text."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    return json.dumps(value)


# --------------------------------------------------------------------------- reads.distribution


class ReadsHistogram:
    """Reads of every clone per sample, kept as value -> count so that memory stays small.

    Integer read counts are summed exactly in any order, so a histogram is enough.
    Once a non-integer appears in a sample, the values that follow are kept in
    order, so that float sums are made in the same order as a straight loop would.
    """

    __slots__ = ("counts", "ordered")

    def __init__(self) -> None:
        self.counts: list[dict[int, int]] = [{}]  # the first sample's slot always exists
        self.ordered: list[list | None] = [None]

    def add(self, reads: list) -> None:
        counts = self.counts
        for sample, value in enumerate(reads):
            if sample >= len(counts):
                counts.append({})
                self.ordered.append(None)
            ordered = self.ordered[sample]
            if ordered is not None:
                ordered.append(value)
            elif type(value) is int:
                bucket = counts[sample]
                bucket[value] = bucket.get(value, 0) + 1
            elif isinstance(value, (int, float)):
                self.ordered[sample] = [value]
            else:
                raise FuseInputError(f"clone reads must be numbers, got {value!r}")

    def distribution(self, segmented: Sequence[Any]) -> dict[str, list]:
        """``reads.distribution`` bucket lists, one value per entry of ``segmented``."""
        result = [[0] * len(segmented) for _ in BUCKETS]
        last = len(BUCKETS) - 1
        for sample, total in enumerate(segmented):
            if sample >= len(self.counts):
                break
            if not self.counts[sample] and not self.ordered[sample]:
                continue  # no clone has reads in this sample
            try:
                if not total > 0:
                    continue
            except TypeError:
                raise FuseInputError(f"reads.segmented must hold numbers, got {total!r}") from None

            def bucket_of(value: Any) -> int:
                ratio = value * 1.0 / total
                for index, threshold in enumerate(BUCKETS):
                    if ratio >= threshold:
                        return index
                return last

            for value, count in self.counts[sample].items():
                result[bucket_of(value)][sample] += value * count
            for value in self.ordered[sample] or ():
                result[bucket_of(value)][sample] += value
        return dict(zip(BUCKET_KEYS, result))


# --------------------------------------------------------------------------- distributions


class DistributionAccumulator:
    """Counts ``[clones, reads]`` per axis value, per distribution and per sample.

    Sample indexes are the positions in the clones' ``reads`` lists; they are
    matched to ``samples.original_names`` when the header is known.  Keys of each
    nested object keep the order in which values were first met along the file.
    """

    def __init__(self, distributions: list[list[str]]):
        self.distributions = distributions
        self.per_sample: list[list[dict]] = []
        self.uses_rounding = any(ROUNDED_AXIS in axes for axes in distributions)
        # per distribution: getters of the inner axes, getter of the last axis
        self._getters = [([axis_getter(axis) for axis in axes[:-1]], axis_getter(axes[-1]))
                         for axes in distributions]

    def add(self, clone: dict, reads: list) -> None:
        for sample, count in enumerate(reads):
            if count == 0:
                continue
            while sample >= len(self.per_sample):
                self.per_sample.append([{} for _ in self.distributions])
            for node, (inner, last) in zip(self.per_sample[sample], self._getters):
                for getter in inner:
                    key = getter(clone, sample)
                    if type(key) is not str:
                        key = _as_key(key)
                    child = node.get(key)
                    if not child:
                        child = node[key] = {}
                    node = child
                key = last(clone, sample)
                if type(key) is not str:
                    key = _as_key(key)
                leaf = node.get(key)
                if not leaf:
                    leaf = node[key] = [0, 0]
                leaf[0] += 1
                leaf[1] += count

    def repertoires(self, names: Sequence[str], path: str) -> dict[str, list[dict]]:
        """``distributions.repertoires`` for one input, keyed by sample name."""
        if len(set(names)) != len(names):
            raise FuseInputError(f"{path}: the same sample name appears twice in samples.original_names, "
                                 "distributions (-d) cannot be computed")
        result = {}
        for sample, name in enumerate(names):
            tables = self.per_sample[sample] if sample < len(self.per_sample) else None
            result[name] = [{"axes": axes, "values": tables[index] if tables else {}}
                            for index, axes in enumerate(self.distributions)]
        return result


def rounding_applies(reads: Sequence[Any], samples: int) -> bool:
    """Whether the original rounded this clone's read lengths: non-zero reads in a named sample."""
    return any(count != 0 for count in reads[:samples])


__all__ = [
    "AVAILABLE_AXES", "BUCKETS", "BUCKET_KEYS", "DistributionAccumulator", "ReadsHistogram",
    "axis_getter", "axis_value", "parse_distributions", "preset_distributions", "round_lengths_in_place", "rounding_applies",
]
