"""Short sample names for ``-c/--compress``: drop what all original names share."""
from __future__ import annotations

from typing import Sequence


def _common_prefix_length(names: Sequence[str], limit: int) -> int:
    length = 0
    while length < limit and all(name[length] == names[0][length] for name in names):
        length += 1
    return length


def _common_suffix_length(names: Sequence[str], limit: int) -> int:
    length = 0
    while length < limit and all(name[-1 - length] == names[0][-1 - length] for name in names):
        length += 1
    return length


def longest_common_substring(names: Sequence[str]) -> str:
    """Longest string found in every name; among equals, the leftmost one in the first name."""
    if not names:
        return ""
    first = names[0]
    for size in range(min(len(name) for name in names), 0, -1):
        for start in range(len(first) - size + 1):
            candidate = first[start:start + size]
            if all(candidate in name for name in names[1:]):
                return candidate
    return ""


def interesting_substrings(names: Sequence[str], target_length: int = 6, replacement: str = "-") -> list[str]:
    """Names stripped of their common prefix, then suffix, then longest common substring.

    Stops as soon as every name is at most ``target_length`` characters long.
    """
    names = list(names)
    if not names or max(len(name) for name in names) <= target_length:
        return names
    shortest = min(len(name) for name in names)
    prefix = _common_prefix_length(names, shortest)
    parts = [name[prefix:] for name in names]
    if max(len(part) for part in parts) <= target_length:
        return parts
    suffix = _common_suffix_length(names, shortest - prefix)
    parts = [name[prefix:len(name) - suffix] for name in names]
    if max(len(part) for part in parts) <= target_length:
        return parts
    common = longest_common_substring(parts)
    if common:
        parts = [part.replace(common, replacement) for part in parts]
    return parts
