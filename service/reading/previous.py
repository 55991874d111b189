"""The way back through a list: the paging token of the page before the one shown.

A list page is asked for with ``after`` (the position of the last study of the
page before it). Its previous page ends with that study, so it starts
``page_size`` studies earlier: the token of the previous page is the position
of the ``page_size``-th study before that one, or none when fewer studies come
first (the previous page is then the first page).

Orderings by offset go back by subtracting the page size. The newest-first
order (keyset) reads the studies before a position nearest first: the studies
of the same date-time with a greater UID, then date windows upwards from that
date-time, each wider than the last, as the forward pager reads them
downwards, so going back costs what going forward costs. Before an undated
study come the undated ones with a greater UID, then the oldest dated ones
(a read over the whole selection: undated studies are rare).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from schemas.query import StudyQuery
from service.reading.filters import DATE, TIE_BREAK, date_bounds, date_clause, match_filter
from service.reading.listing import FIRST_WINDOW, WINDOW_GROWTH, Cursor, StudyReader, encode_cursor, keyset

#: fields read of each study before a position: enough to make a token
POSITION_FIELDS = (DATE, TIE_BREAK)


def previous_token(store: StudyReader, query: StudyQuery, cursor: Cursor, *, now: datetime) -> str | None:
    """Return the ``after`` token of the page before the one ``cursor`` starts, or None if that is the first page."""
    if not keyset(query):
        offset = cursor.offset - query.page_size
        return encode_cursor(Cursor(order=query.order, offset=offset)) if offset > 0 else None
    before = _studies_before(store, query, cursor, query.page_size, now=now)
    if len(before) < query.page_size:
        return None
    last = before[query.page_size - 1]
    when = last.get(DATE)
    return encode_cursor(Cursor(order=query.order, last_date=when, last_uid=last[TIE_BREAK], undated=when is None))


def upward_windows(
    low: datetime, high: datetime | None, *, now: datetime
) -> Iterator[tuple[datetime, datetime | None]]:
    """Yield [from, before) windows covering [low, high) oldest first, each wider than the last.

    The last window is open upwards when ``high`` is None (clocks of modalities run ahead).
    """
    span, bottom = FIRST_WINDOW, low
    while True:
        top = bottom + span
        if top >= (high or now):
            yield (bottom, high)
            return
        yield (bottom, top)
        bottom, span = top, span * WINDOW_GROWTH


def _studies_before(
    store: StudyReader, query: StudyQuery, cursor: Cursor, wanted: int, *, now: datetime
) -> list[dict[str, Any]]:
    """Return up to ``wanted`` studies that come before ``cursor`` in the newest-first order, nearest first."""
    match = match_filter(query)
    low, high = date_bounds(query)
    rows: list[dict[str, Any]] = []

    def read(condition: dict[str, Any], sort: list[tuple[str, int]]) -> None:
        if len(rows) < wanted:
            found = store.find_studies(
                {**condition, **match}, sort=sort, limit=wanted - len(rows), fields=POSITION_FIELDS
            )
            rows.extend(found)

    if cursor.undated or cursor.last_date is None:
        read({DATE: None, TIE_BREAK: {"$gt": cursor.last_uid}}, [(TIE_BREAK, 1)])
        dated = date_clause(low, high) or {DATE: {"$type": "date"}}
        read(dated, [(DATE, 1), (TIE_BREAK, 1)])
        return rows
    read({DATE: cursor.last_date, TIE_BREAK: {"$gt": cursor.last_uid}}, [(TIE_BREAK, 1)])
    for bottom, top in upward_windows(cursor.last_date, high, now=now):
        if len(rows) >= wanted:
            break
        window = date_clause(bottom, top)
        if bottom == cursor.last_date:  # that date-time's own studies were read above
            window[DATE] = {**window[DATE], "$gt": window[DATE].pop("$gte")}
        read(window, [(DATE, 1), (TIE_BREAK, 1)])
    return rows
