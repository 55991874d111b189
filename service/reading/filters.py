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

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from schemas.query import MAIN_QUANTITY, MODALITIES, ORDERS, RANGE_FILTERS, TEXT_FILTERS, StudyQuery
from service.errors import InvalidArgument

#: The list modalities' sections: a text filter on another section's field does not apply to them.
#: (Written to service/audits/filters.json for mongosh with the tables of schemas.query.)
SECTIONS: dict[str, tuple[str, ...]] = {
    "CT": ("ct",),
    "RF": ("projection",),
    "DX": ("projection",),
    "MG": ("projection",),
    "NM": ("ct", "projection", "radiopharmaceutical"),
}
ALL_SECTIONS = frozenset(("ct", "projection", "radiopharmaceutical"))
DATE = "study_date_time"
TIE_BREAK = "study_instance_uid"  # unique: makes every ordering total
MAX_OFFSET = 2**53  # larger than any list; keeps skip() and offset + page size within int64


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
    sections = SECTIONS.get(modality or "", ALL_SECTIONS)
    return [p for p in TEXT_FILTERS[name] if p.split(".")[0] not in ALL_SECTIONS or p.split(".")[0] in sections]


def _any_of(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    return conditions[0] if len(conditions) == 1 else {"$or": conditions}


def _between(low: float | None, high: float | None) -> dict[str, float]:
    return {op: value for op, value in (("$gte", low), ("$lte", high)) if value is not None}


def _conditions(query: StudyQuery) -> list[dict[str, Any]]:
    """Return one condition per filter given, besides the date range."""
    found: list[dict[str, Any]] = []
    if query.modality:
        found.append({"modalities": MODALITIES[query.modality]})
    for name, text in query.text:
        found.append(_any_of([{path: contains(text)} for path in _paths(name, query.modality)]))
    for stem, low, high in query.ranges:
        found.append({RANGE_FILTERS[stem]: _between(low, high)})
    if query.modality and (query.dose_min is not None or query.dose_max is not None):
        quantity = MAIN_QUANTITY[query.modality]
        low, high = (None if v is None else quantity.shown.to_stored(v) for v in (query.dose_min, query.dose_max))
        found.append(_any_of([{f"summary.{name}": _between(low, high)} for name in quantity.fields]))
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
    return [f"summary.{field}" for field in MAIN_QUANTITY[query.modality or ""].fields]


def study_sort(query: StudyQuery) -> list[tuple[str, int]]:
    """Return the sort of ``query``: its ordering, then the Study Instance UID to break ties."""
    direction = -1 if query.order.startswith("-") else 1
    return [(path, direction) for path in (*sort_fields(query), TIE_BREAK)]


# -- paging ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Where the previous page ended: a position in date order, or an offset in any other order."""

    order: str
    offset: int = 0  # for orderings other than date, descending
    last_date: datetime | None = None  # for date descending: the last study shown...
    last_uid: str | None = None  # ...and its UID (ties on the date are broken by UID)
    undated: bool = False  # the dated studies are all shown; paging through undated ones


def keyset(query: StudyQuery) -> bool:
    """Tell whether ``query`` pages by date windows and keyset (newest first) rather than by offset."""
    return query.order == "-study_date_time"


def encode_cursor(cursor: Cursor) -> str:
    """Return ``cursor`` as the opaque ``next`` token."""
    data = {
        "o": cursor.order,
        "n": cursor.offset,
        "d": cursor.last_date.isoformat() if cursor.last_date else None,
        "u": cursor.last_uid,
        "x": cursor.undated,
    }
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(query: StudyQuery) -> Cursor | None:
    """Return the cursor of ``query.after``; raise :class:`InvalidArgument` if it is not one of ours."""
    if query.after is None:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(query.after + "=" * (-len(query.after) % 4)))
        if not _token_types(data):
            raise TypeError("a token field has the wrong type")
        cursor = Cursor(
            order=data["o"],
            offset=data["n"],
            last_date=datetime.fromisoformat(data["d"]) if data["d"] else None,
            last_uid=data["u"],
            undated=data["x"],
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as e:
        raise InvalidArgument({"after": ["Expected the token of a previous answer's next."]}) from e
    if cursor.last_date is not None and cursor.last_date.tzinfo is not None:
        raise InvalidArgument({"after": ["Expected the token of a previous answer's next."]})
    if cursor.order != query.order or not 0 <= cursor.offset <= MAX_OFFSET:
        raise InvalidArgument({"after": [f"Expected a token made for order={query.order}."]})
    return cursor


def _token_types(data: Any) -> bool:
    """Tell whether a decoded token has the types :func:`encode_cursor` writes (no coercion of others)."""
    return (
        isinstance(data, dict)
        and isinstance(data.get("o"), str)
        and type(data.get("n")) is int
        and isinstance(data.get("d"), str | None)
        and isinstance(data.get("u"), str | None)
        and isinstance(data.get("x"), bool)
    )


#: Date windows of the newest-first pager: the first spans this far back from now...
FIRST_WINDOW = timedelta(days=31)
#: ...and each next one this many times as far, until the window reaches the floor.
WINDOW_GROWTH = 4
#: Windows stop here; one last window takes everything older.
WINDOW_FLOOR = datetime(1970, 1, 1)


def date_windows(
    low: datetime | None, high: datetime | None, *, now: datetime
) -> Iterator[tuple[datetime | None, datetime | None]]:
    """Yield [from, before) windows covering [low, high) newest first, each wider than the last.

    The first window is open upwards when ``high`` is None (clocks of modalities
    run ahead), the last is open downwards when ``low`` is None.
    """
    span = FIRST_WINDOW
    top = high
    floor = WINDOW_FLOOR if low is None else max(low, WINDOW_FLOOR)
    while True:
        start = (high or now) if top is None else top
        if start - floor <= span:  # compared before subtracting: a date near year 1 cannot underflow
            yield (low, top)
            return
        bottom = start - span
        yield (bottom, top)
        top, span = bottom, span * WINDOW_GROWTH
