"""Reading ids out of request parameters, the same way in every domain."""
from __future__ import annotations

from typing import Iterable

MAX_ID = 2**31  # ids are 32-bit INT columns, as in web2py


def parse_id(value: object) -> int | None:
    """A positive database id from a parameter (int, digit string, or a one-item list), else None."""
    if isinstance(value, (list, tuple)):
        value = value[0] if len(value) == 1 else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < MAX_ID else None
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
        return number if 0 < number < MAX_ID else None
    return None


def parse_ids(values: Iterable[object]) -> list[int] | None:
    """All ids parsed, in order and without repeats; None if any is malformed."""
    ids: list[int] = []
    for value in values:
        parsed = parse_id(value)
        if parsed is None:
            return None
        if parsed not in ids:
            ids.append(parsed)
    return ids
