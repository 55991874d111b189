"""Parse DICOM DA, TM and DT values (PS3.5 6.2) leniently.

Missing or unparseable values give None; UTC offsets are ignored, because
modalities send local wall-clock time and the study's clock is what users see.
Datetimes are stored as naive BSON dates holding that local time.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Any

_TIME = re.compile(r"^(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?)?$")
_DATETIME = re.compile(r"^(\d{8})(\d{2,6}(?:\.\d{1,6})?)?([+-]\d{4})?$")


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def parse_date(value: Any) -> datetime | None:
    """Return a DA value (``20180131``) as a datetime at midnight, or None."""
    text = _text(value).replace("-", "").replace(".", "")
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return datetime(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def parse_time_of_day(value: Any) -> time | None:
    """Return a TM value (``130426.214000``, offsets ignored) as a time, or None."""
    text = re.split(r"[+-]", _text(value))[0]
    match = _TIME.match(text)
    if not match:
        return None
    hour, minute, second, fraction = match.groups()
    try:
        return time(
            int(hour),
            int(minute or 0),
            min(int(second or 0), 59),  # leap second 60 is allowed by DICOM
            int((fraction or "0").ljust(6, "0")),
        )
    except ValueError:
        return None


def parse_time(value: Any) -> str | None:
    """Return a TM value as ``HH:MM:SS[.ffffff]``, or None."""
    parsed = parse_time_of_day(value)
    return parsed.isoformat() if parsed else None


def parse_datetime(value: Any) -> datetime | None:
    """Return a DT value as a naive datetime (offset ignored; date only -> midnight)."""
    match = _DATETIME.match(_text(value))
    if not match:
        return None
    day = parse_date(match.group(1))
    if day is None:
        return None
    if not match.group(2):
        return day
    clock = parse_time_of_day(match.group(2))
    return datetime.combine(day.date(), clock) if clock else None


def combine(day: Any, clock: Any) -> datetime | None:
    """Return a DA and a TM value as one datetime (midnight when the time is missing)."""
    parsed_day = parse_date(day)
    if parsed_day is None:
        return None
    parsed_clock = parse_time_of_day(clock)
    return datetime.combine(parsed_day.date(), parsed_clock) if parsed_clock else parsed_day
