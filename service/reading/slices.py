"""Read a large selection in slices, each one short database operation (audits and exports).

SecantusDB answers one operation at a time: while it runs one long aggregation
or gathers a 100,000-study result, every import, page and C-STORE waits for it
(issue #20: an audit over 3,472 studies held an import for 65 s). Audits and
exports therefore read in two steps, each a series of bounded operations:

1. **keys** (:func:`windowed`): the ``_id`` of the matching studies, their
   weight (1 + their events) and whatever an order needs, by date windows
   newest first. Each window is sized from the number of studies the one
   before held, aiming at :data:`WINDOW_KEYS` (reading keys costs SecantusDB
   some 0.1-0.3 ms a study); an empty one makes the next four times as wide. A window
   that outlives :data:`SLICE_LIMIT` (a burst of studies after a quiet
   period, or a filter that reads many studies to keep few) is abandoned and
   read again as four, down to :data:`SMALLEST_SPAN` below which it gets the
   long deadline, and the next windows are kept below half its width (a
   ceiling that then widens again by a quarter a window). Studies without a
   date come last, in one operation.
2. **studies** (:func:`batched`): the studies themselves, or an aggregation
   over them, by batches of ``_id`` (read through the ``_id`` index) of at
   most :data:`BATCH_STUDIES` studies and :data:`BATCH_WEIGHT` events.

Sizes come from counts, not from the time operations take: under load every
operation takes longer while it waits its turn, and slices sized by time
would shrink without end. So no operation of an audit or export holds the
server much longer than a tenth of a second on this project's 2-core machine,
whatever the database's size, and arrivals are served between them. Pure
logic: the caller gives the read functions.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from service.errors import DatabaseTimeout
from service.modalities import MODALITIES
from service.reading.filters import DATE, date_clause

T = TypeVar("T")
R = TypeVar("R")

#: studies each date window aims at
WINDOW_KEYS = 200
#: seconds after which a date window is abandoned and read as four smaller ones
SLICE_LIMIT = 0.5
#: the first date window (newest first), and the narrowest a window is split to
FIRST_SPAN, SMALLEST_SPAN = timedelta(days=1), timedelta(minutes=1)
#: windows stop here; one last window takes everything older
FLOOR = datetime(1900, 1, 1)
#: how much one window may grow or shrink the next (times, and 1 / times)
GROWTH = 4.0
#: a batch of studies holds at most this many studies, and this much weight (1 + events, each)
BATCH_STUDIES, BATCH_WEIGHT = 40, 400
#: the key a study's weight is read into with its keys, and its expression (1 + its events of every section)
WEIGHT = "_weight"
WEIGHT_FIELD = {
    "$add": [
        1,
        *({"$size": {"$ifNull": [f"${path}", []]}} for path in sorted({m.events_path for m in MODALITIES.values()})),
    ]
}

#: ``read(clause, seconds)``: the keys of the studies matching a date clause, within ``seconds``
#: (None: the long deadline); raises :class:`DatabaseTimeout` when they pass
ReadWindow = Callable[[dict[str, Any], float | None], list[T]]
Window = tuple[datetime | None, datetime | None]


def windowed(
    low: datetime | None, high: datetime | None, *, now: datetime, read: ReadWindow[T], undated: bool
) -> Iterator[list[T]]:
    """Yield what ``read`` finds in date windows covering [low, high) newest first, then undated studies.

    The first window is open upwards when ``high`` is None (clocks of modalities
    run ahead), the last open downwards when ``low`` is None. ``undated`` adds
    the studies without a date-time (one operation) at the end.
    """
    walk = _Walk(now=now, floor=FLOOR if low is None else max(low, FLOOR), read=read)
    top = high
    while True:
        start = now if top is None else top
        last = start - walk.floor <= walk.span  # compared before subtracting: no underflow near year 1
        window = (low, top) if last else (start - walk.span, top)
        yield from walk.read_window(window)
        if last:
            break
        top = window[0]
    if undated:
        yield read({DATE: None}, None)


class _Walk:
    """The state of a walk through date windows: the next span, and the ceiling a slow window set."""

    def __init__(self, *, now: datetime, floor: datetime, read: ReadWindow[T]) -> None:
        self.now, self.floor, self.read = now, floor, read
        self.span = FIRST_SPAN
        self.ceiling: timedelta | None = None

    def read_window(self, window: Window) -> Iterator[list[Any]]:
        """Read one window within SLICE_LIMIT, or as four smaller ones; size the next window."""
        bottom, top = window
        width = (self.now if top is None else top) - (self.floor if bottom is None else bottom)
        try:
            found = self.read(date_clause(bottom, top), SLICE_LIMIT if width > SMALLEST_SPAN else None)
        except DatabaseTimeout:
            if width <= SMALLEST_SPAN:
                raise
            self.ceiling = min(self.ceiling or width, width) / 2
            yield from self._split(window, width)
            return
        yield found
        factor = min(GROWTH, max(1 / GROWTH, WINDOW_KEYS / max(len(found), 1)))
        self.span = max(SMALLEST_SPAN, width * factor)
        if self.ceiling is not None:
            self.ceiling *= 1.25
            self.span = min(self.span, self.ceiling)

    def _split(self, window: Window, width: timedelta) -> Iterator[list[Any]]:
        """Read a window as four, newest first (the outer ones keep the window's open ends)."""
        bottom, top = window
        start = self.now if top is None else top
        edges = [top, *(start - width * n / 4 for n in (1, 2, 3)), bottom]
        for upper, lower in itertools.pairwise(edges):
            yield from self.read_window((lower, upper))


def batched(
    items: Sequence[T], read: Callable[[list[T]], R], weight: Callable[[T], int] = lambda item: 1
) -> Iterator[R]:
    """Yield ``read(batch)`` for consecutive batches of ``items`` of BATCH_STUDIES and BATCH_WEIGHT at most.

    An item heavier than BATCH_WEIGHT alone (a study of thousands of events) is a batch of its own.
    """
    batch: list[T] = []
    load = 0
    for item in items:
        heavy = weight(item)
        if batch and (len(batch) == BATCH_STUDIES or load + heavy > BATCH_WEIGHT):
            yield read(batch)
            batch, load = [], 0
        batch.append(item)
        load += heavy
    if batch:
        yield read(batch)


# -- MongoDB's sort order, for keys sorted here ---------------------------------------------------------------------

#: BSON types in MongoDB's comparison order (null and missing first); bool before int, its subclass
_RANKS: tuple[tuple[type | tuple[type, ...], int], ...] = (
    (bool, 8),
    ((int, float), 2),
    (str, 3),
    (bytes, 6),
    (datetime, 9),
)


def bson_order(value: Any) -> tuple[int, Any]:
    """Return a key that orders values as MongoDB sorts them: null and missing, numbers, text, ..., dates.

    The types a sort key of DoseLedger holds (null, numbers, text, dates, an
    ObjectId) compare exactly; others keep MongoDB's order of types only.
    """
    if value is None:
        return (1, 0)
    for kinds, rank in _RANKS:
        if isinstance(value, kinds):
            return (rank, value)
    if type(value).__name__ == "ObjectId":  # pymongo's, not imported here (storage alone talks pymongo)
        return (7, str(value))
    return (4 if isinstance(value, dict) else 5 if isinstance(value, list) else 10, repr(value))


def sort_like_mongodb(rows: list[dict[str, Any]], spec: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
    """Return ``rows`` sorted as ``$sort`` with ``spec`` ((dotted path, 1 or -1), ...) sorts them."""
    ordered = list(rows)
    for path, direction in reversed(spec):  # stable sorts, least significant key first
        ordered.sort(key=lambda row, path=path: bson_order(dotted(row, path)), reverse=direction < 0)
    return ordered


def dotted(document: Any, path: str) -> Any:
    """Return the value at a dotted path of nested documents, or None."""
    for part in path.split("."):
        if not isinstance(document, dict):
            return None
        document = document.get(part)
    return document
