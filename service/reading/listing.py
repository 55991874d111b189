"""Pages of the study list: date-windowed keyset paging and bounded counts (DESIGN.md, "Database").

SecantusDB loads and sorts every match of a query before applying its limit,
so a sorted first page over 100,000 studies costs seconds while the same page
bounded to a month costs a tenth of one. The newest-first list (the default)
therefore reads date windows, newest first and each wider than the last
(:func:`date_windows`), until a page is full, and continues after
the last study shown (its date-time and UID: keyset paging, stable while
studies arrive). Studies without a date-time come after all dated ones. Other
orderings page by offset over the whole selection: right on every server, fast
on MongoDB, slower on SecantusDB at scale unless filters narrow the selection.

Counts are bounded too: a selection that fits on its first page is counted by
that page; an unfiltered modality list takes its exact count from the tallies
kept at write time; a filtered one counts window by window until
:data:`COUNT_CAP` matches or :data:`COUNT_BUDGET` seconds, and then says "at
least N" (``total_exact`` false) instead of scanning everything.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from schemas.query import StudyQuery
from service.errors import InvalidArgument
from service.modalities import ROW_FIELDS
from service.reading.filters import DATE, TIE_BREAK, date_bounds, date_clause, match_filter, study_filter, study_sort

MAX_OFFSET = 2**53  # larger than any list; keeps skip() and offset + page size within int64
#: Counting stops at this many matches ("more than N")...
COUNT_CAP = 10_000
#: ...or after this many seconds of counting ("at least N").
COUNT_BUDGET = 0.25


# -- paging tokens and date windows ----------------------------------------------------------------------------------


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


# -- pages ---------------------------------------------------------------------------------


class StudyReader(Protocol):
    """The store functions the list needs (implemented by :class:`service.storage.Store`)."""

    def find_studies(
        self, filter: dict[str, Any], *, sort: list[tuple[str, int]], limit: int, skip: int = 0,
        fields: tuple[str, ...] = (),
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Return the matching studies in ``sort`` order, with only ``fields``."""

    def count_studies_matching(self, filter: dict[str, Any], *, limit: int) -> int:
        """Count the matching studies, stopping at ``limit``."""

    def tallies(self) -> list[dict[str, Any]]:
        """Return ``{modality, station_name, count, latest}`` per list modality and station."""


@dataclass(frozen=True)
class Page:
    """One page of the list, its (bounded) total and the token of the next page."""

    items: list[dict[str, Any]]
    total: int
    total_exact: bool
    next: str | None


def _dated_rows(store: StudyReader, query: StudyQuery, cursor: Cursor | None, *, now: datetime) -> list[dict[str, Any]]:
    """Return up to one more than a page of rows, newest first, after ``cursor``."""
    wanted = query.page_size + 1
    match = match_filter(query)
    low, high = date_bounds(query)
    rows: list[dict[str, Any]] = []
    if cursor is None or not cursor.undated:
        if cursor is not None and cursor.last_date is not None:
            ties = {DATE: cursor.last_date, **match, TIE_BREAK: {"$lt": cursor.last_uid}}
            rows += store.find_studies(ties, sort=[(TIE_BREAK, -1)], limit=wanted, fields=ROW_FIELDS)
            high = cursor.last_date
        for bottom, top in date_windows(low, high, now=now):
            if len(rows) >= wanted:
                break
            window = {**date_clause(bottom, top), **match}
            rows += store.find_studies(window, sort=study_sort(query), limit=wanted - len(rows), fields=ROW_FIELDS)
    if len(rows) < wanted and query.date_from is None and query.date_to is None:
        after = {TIE_BREAK: {"$lt": cursor.last_uid}} if cursor is not None and cursor.undated else {}
        undated = {DATE: None, **match, **after}
        rows += store.find_studies(undated, sort=[(TIE_BREAK, -1)], limit=wanted - len(rows), fields=ROW_FIELDS)
    return rows


def _next_cursor(query: StudyQuery, cursor: Cursor | None, items: list[dict[str, Any]]) -> Cursor:
    """Return the cursor just after the last of ``items``."""
    if not keyset(query):
        return Cursor(order=query.order, offset=(cursor.offset if cursor else 0) + len(items))
    last = items[-1]
    when = last.get(DATE)
    return Cursor(order=query.order, last_date=when, last_uid=last[TIE_BREAK], undated=when is None)


def _only_modality(query: StudyQuery) -> bool:
    """Tell whether ``query`` selects a whole modality list (its count is kept in the tallies)."""
    bare = StudyQuery(modality=query.modality, order=query.order, page_size=query.page_size, after=query.after)
    return query.modality is not None and query == bare


def count_studies(store: StudyReader, query: StudyQuery, *, now: datetime) -> tuple[int, bool]:
    """Return the number of studies ``query`` selects, and whether it is exact (else a lower bound)."""
    if _only_modality(query):
        return sum(t["count"] for t in store.tallies() if t["modality"] == query.modality), True
    match, (low, high) = match_filter(query), date_bounds(query)
    deadline = time.monotonic() + COUNT_BUDGET
    total = 0
    for bottom, top in date_windows(low, high, now=now):
        total += store.count_studies_matching({**date_clause(bottom, top), **match}, limit=COUNT_CAP - total)
        if total >= COUNT_CAP or time.monotonic() > deadline:
            return total, False
    if low is None and high is None:
        total += store.count_studies_matching({DATE: None, **match}, limit=COUNT_CAP - total)
    return total, total < COUNT_CAP


class StudyCounter(Protocol):
    """The store function :func:`newest_since` needs."""

    def count_studies_matching(self, filter: dict[str, Any], *, limit: int) -> int:
        """Count the matching studies, stopping at ``limit``."""


def newest_since(store: StudyCounter, query: StudyQuery, limit: int, *, now: datetime) -> datetime | None:
    """Return where the newest date windows holding at least ``limit`` of ``query``'s studies begin.

    None when fewer studies match in all (every one of them is then among the newest).
    Windows widen as they go back, so the studies since then number from ``limit`` to
    about :data:`WINDOW_GROWTH` + 1 times as many when dates are spread evenly; counting
    stops at ``limit``, so the reads stay bounded however many match.
    """
    match, (low, high) = match_filter(query), date_bounds(query)
    total = 0
    for bottom, top in date_windows(low, high, now=now):
        total += store.count_studies_matching({**date_clause(bottom, top), **match}, limit=limit - total)
        if total >= limit:
            return bottom
    return None


def list_studies(store: StudyReader, query: StudyQuery, *, now: datetime) -> Page:
    """Return the page of studies ``query`` asks for."""
    cursor = decode_cursor(query)
    if keyset(query):
        rows = _dated_rows(store, query, cursor, now=now)
    else:
        skip = cursor.offset if cursor else 0
        rows = store.find_studies(
            study_filter(query), sort=study_sort(query), limit=query.page_size + 1, skip=skip, fields=ROW_FIELDS
        )
    items, more = rows[: query.page_size], len(rows) > query.page_size
    if cursor is None and not more:  # one page holds the whole selection: no need to count
        total, exact = len(items), True
    else:
        total, exact = count_studies(store, query, now=now)
    following = encode_cursor(_next_cursor(query, cursor, items)) if more else None
    return Page(items=items, total=total, total_exact=exact, next=following)
