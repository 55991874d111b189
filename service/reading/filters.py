"""Turn parsed list arguments (:class:`schemas.query.StudyQuery`) into a MongoDB filter and sort.

Pure functions, no database: the list API and pages, the exports and the
audits all build their queries here, so one filter means the same studies
everywhere.

The filter's clauses come in a deliberate order: the date range first, then
the modality, then the rest. MongoDB plans on its own and ignores the order;
SecantusDB serves a filter from the first clause an index covers, so putting
the (narrow) date range first makes a date-windowed page read only the studies
of that window (DESIGN.md, "Database").
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from schemas.query import (
    ORDERS,
    PATIENT_KEY_PATH,
    RANGE_FILTERS,
    TEST_PATIENT_CONDITIONS,
    TEST_PATIENT_PATH,
    TEXT_FILTERS,
    StudyQuery,
)
from service.modalities import MODALITIES, SECTIONS

#: A text filter on a section's field applies to the list modalities that search that section
#: (the registry's ``searched``; written to service/audits/filters.json for mongosh).
ALL_SECTIONS = frozenset(SECTIONS)
DATE = "study_date_time"
TIE_BREAK = "study_instance_uid"  # unique: makes every ordering total


def contains(text: str) -> dict[str, str]:
    """Return a case-insensitive 'contains' condition matching ``text`` literally."""
    return {"$regex": re.escape(text), "$options": "i"}


def start_of(day: date) -> datetime:
    """Return midnight at the start of ``day``."""
    return datetime.combine(day, time.min)


def date_bounds(query: StudyQuery) -> tuple[datetime | None, datetime | None]:
    """Return ``query``'s date range as [from, before): ``date_to`` is inclusive."""
    low = start_of(query.date_from) if query.date_from else None
    high = start_of(query.date_to + timedelta(days=1)) if query.date_to else None
    return low, high


def date_clause(low: datetime | None, high: datetime | None) -> dict[str, Any]:
    """Return the ``study_date_time`` clause of [low, high), or nothing when unbounded."""
    bounds = {op: value for op, value in (("$gte", low), ("$lt", high)) if value is not None}
    return {DATE: bounds} if bounds else {}


def _paths(name: str, modality: str | None) -> list[str]:
    """Return the document paths a text filter searches for this modality."""
    sections = MODALITIES[modality].searched if modality else ALL_SECTIONS
    return [p for p in TEXT_FILTERS[name] if p.split(".")[0] not in ALL_SECTIONS or p.split(".")[0] in sections]


def _any_of(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    return conditions[0] if len(conditions) == 1 else {"$or": conditions}


def _between(low: float | None, high: float | None) -> dict[str, float]:
    return {op: value for op, value in (("$gte", low), ("$lte", high)) if value is not None}


def _conditions(query: StudyQuery) -> list[dict[str, Any]]:
    """Return one condition per filter given, besides the date range."""
    found: list[dict[str, Any]] = []
    if query.modality:
        found.append({"modalities": MODALITIES[query.modality].stored})
    for name, text in query.text:
        found.append(_any_of([{path: contains(text)} for path in _paths(name, query.modality)]))
    for stem, low, high in query.ranges:
        found.append({RANGE_FILTERS[stem]: _between(low, high)})
    if query.modality and (query.dose_min is not None or query.dose_max is not None):
        quantity = MODALITIES[query.modality].quantity
        low, high = (None if v is None else quantity.shown.to_stored(v) for v in (query.dose_min, query.dose_max))
        found.append(_any_of([{f"summary.{name}": _between(low, high)} for name in quantity.fields]))
    if query.test_patients in TEST_PATIENT_CONDITIONS:
        found.append({TEST_PATIENT_PATH: dict(TEST_PATIENT_CONDITIONS[query.test_patients])})
    if query.patient_key is not None:
        found.append({PATIENT_KEY_PATH: query.patient_key})
    return found


def _combine(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge conditions into one flat filter; alternatives (``$or``) go under one ``$and``."""
    flat: dict[str, Any] = {}
    alternatives = [c for c in conditions if "$or" in c]
    for condition in conditions:
        if "$or" not in condition:
            flat.update(condition)
    if len(alternatives) == 1:
        flat.update(alternatives[0])
    elif alternatives:
        flat["$and"] = alternatives
    return flat


def study_filter(query: StudyQuery) -> dict[str, Any]:
    """Return the MongoDB filter selecting the studies ``query`` asks for."""
    return {**date_clause(*date_bounds(query)), **_combine(_conditions(query))}


def match_filter(query: StudyQuery) -> dict[str, Any]:
    """Return the filter without its date range (the pager adds date windows)."""
    return _combine(_conditions(query))


def sort_fields(query: StudyQuery) -> list[str]:
    """Return the document paths ``query`` orders by, before the tie-break."""
    name = query.order.lstrip("-")
    path = ORDERS[name]
    if path is not None:
        return [path]
    return [f"summary.{field}" for field in MODALITIES[query.modality or ""].quantity.fields]


def study_sort(query: StudyQuery) -> list[tuple[str, int]]:
    """Return the sort of ``query``: its ordering, then the Study Instance UID to break ties."""
    direction = -1 if query.order.startswith("-") else 1
    return [(path, direction) for path in (*sort_fields(query), TIE_BREAK)]
