"""web2py values -> values for our columns.

web2py wrote booleans as 'T'/'F', dates as DATE/DATETIME (or text on SQLite),
and ran MySQL in non-strict mode, so old rows may hold zero dates
('0000-00-00'), impossible dates or over-long strings. Each converter returns
the value for our column and, when the value had to be changed, the kind of
change, so the report can count them without failing the import.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Integer, String, Text
from sqlalchemy.sql.schema import Column

# Kinds of changes a converter may report.
ZERO_DATE = "zero date -> NULL"
BAD_DATE = "unreadable date -> NULL"
BAD_NUMBER = "unreadable number -> NULL"
TRUNCATED = "text cut to the column length"
BAD_UTF8 = "bytes not in UTF-8 (replaced)"

Converted = tuple[Any, "str | None"]
Converter = Callable[[Any], Converted]


def _text_of(value: Any) -> tuple[str, str | None]:
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8"), None
        except UnicodeDecodeError:
            return bytes(value).decode("utf-8", errors="replace"), BAD_UTF8
    return str(value), None


def to_bool(value: Any) -> Converted:
    """web2py's reading: a value starting with t/T is true, anything else false; '' is NULL."""
    if value is None or isinstance(value, bool):
        return value, None
    if isinstance(value, (int, float)):
        return bool(value), None
    text, _ = _text_of(value)
    if text == "":
        return None, None
    return text[:1] in ("t", "T"), None


def to_int(value: Any) -> Converted:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value, None
    if isinstance(value, bool):
        return int(value), None
    if isinstance(value, float):
        return int(value), None
    text, _ = _text_of(value)
    text = text.strip()
    if text == "":
        return None, None
    try:
        return int(text), None
    except ValueError:
        try:
            return int(float(text)), None
        except ValueError:
            return None, BAD_NUMBER


def _parse_date_text(text: str) -> Converted:
    text = text.strip()
    if text == "":
        return None, None
    if text.startswith("0000-00-00"):
        return None, ZERO_DATE
    for pattern in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                    "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, pattern), None
        except ValueError:
            continue
    return None, BAD_DATE


def to_datetime(value: Any) -> Converted:
    """DATETIME (naive server-local time, kept as is); a DATE becomes midnight."""
    if value is None or isinstance(value, dt.datetime):
        return value, None
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day), None
    text, _ = _text_of(value)
    return _parse_date_text(text)


def to_date(value: Any) -> Converted:
    if value is None:
        return None, None
    if isinstance(value, dt.datetime):
        return value.date(), None
    if isinstance(value, dt.date):
        return value, None
    text, _ = _text_of(value)
    parsed, problem = _parse_date_text(text)
    return (parsed.date() if parsed is not None else None), problem


def text_converter(max_length: int | None) -> Converter:
    def to_text(value: Any) -> Converted:
        if value is None:
            return None, None
        if isinstance(value, (dt.date, dt.datetime)):
            return str(value), None
        text, problem = _text_of(value)
        if max_length is not None and len(text) > max_length:
            return text[:max_length], TRUNCATED
        return text, problem
    return to_text


def converter_for(column: Column) -> Converter:
    """The converter matching one of our columns' types."""
    kind = column.type
    if isinstance(kind, Boolean):
        return to_bool
    if isinstance(kind, DateTime):
        return to_datetime
    if isinstance(kind, Date):
        return to_date
    if isinstance(kind, (Integer, BigInteger)):
        return to_int
    if isinstance(kind, String) and not isinstance(kind, Text):
        return text_converter(kind.length)
    return text_converter(None)
