"""How sets are named and measured on screen: the strings the browser and its users read.

Pure functions, no database: the callers decide (through the permission service)
whether the user may see a patient's identity and pass that decision in.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .models import GENERIC, PATIENT, RUN

SIZE_PREFIXES = ("", "k", "M", "G", "T", "P", "E")
TYPE_LETTERS = {PATIENT: "p", RUN: "r", GENERIC: "s"}
LETTER_TYPES = {letter: set_type for set_type, letter in TYPE_LETTERS.items()}
UNNAMED_SET = "Unnamed Sample Set"
_ID_STRING_TAIL = re.compile(r"\((\d+)\)\s*$")


def format_size(size: int | float | None) -> str:
    """Three significant digits with an SI prefix (`5.33 kB`, `72.2 kB`); `0` for nothing."""
    if not size:
        return "0"
    value = float(size)
    prefix = SIZE_PREFIXES[0]
    for prefix in SIZE_PREFIXES:
        if value < 1000:
            break
        value /= 1000
    if value > 100 or not prefix:
        return f"{value:.0f} {prefix}B"
    if value > 10:
        return f"{value:.1f} {prefix}B"
    return f"{value:.2f} {prefix}B"


def format_date(value: dt.date | None) -> str:
    return value.isoformat() if value is not None else ""


def patient_name(first_name: str | None, last_name: str | None, may_see_identity: bool) -> str:
    """`Last First` for those with the `anon` right, else the first three letters of the last name."""
    last, first = last_name or "", first_name or ""
    return f"{last} {first}" if may_see_identity else last[:3]


def patient_display_name(sample_set_id: int, first_name: str | None, last_name: str | None,
                         may_see_identity: bool, viewer_is_admin: bool) -> str:
    """The list/page name; admins also get the set id, never more of the name."""
    name = patient_name(first_name, last_name, may_see_identity)
    return f"{name} ({sample_set_id})" if viewer_is_admin else name


def set_name(sample_type: str, detail, may_see_identity: bool = False) -> str:
    """The plain name of a set from its detail row (patients possibly anonymised)."""
    if sample_type == PATIENT:
        return patient_name(detail.first_name, detail.last_name, may_see_identity)
    return detail.name or (UNNAMED_SET if sample_type == GENERIC else "")


def id_string(sample_type: str, sample_set_id: int, name: str, date: dt.date | None = None) -> str:
    """The token the upload form's set picker uses: `:p Doe John (1970-01-02) (42)`."""
    letter = TYPE_LETTERS[sample_type]
    when = f" ({date.isoformat()})" if date is not None else ""
    return f":{letter} {name}{when} ({sample_set_id})"


@dataclass(frozen=True)
class SetToken:
    sample_type: str
    sample_set_id: int


def parse_id_string(token: str) -> SetToken | None:
    """The type (second character) and id (last parentheses) of a picker token, or None."""
    token = (token or "").strip()
    match = _ID_STRING_TAIL.search(token)
    if len(token) < 2 or token[0] != ":" or token[1] not in LETTER_TYPES or match is None:
        return None
    return SetToken(LETTER_TYPES[token[1]], int(match.group(1)))


def parse_filter(text: str | None, tag_prefix: str = "#") -> tuple[list[str], list[str]]:
    """Split a search box into plain words and tag names (`#MRD` → `MRD`)."""
    words: list[str] = []
    tags: list[str] = []
    for token in (text or "").split():
        if token.startswith(tag_prefix):
            if len(token) > len(tag_prefix):
                tags.append(token[len(tag_prefix):])
        else:
            words.append(token)
    return words, tags
