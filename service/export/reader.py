"""The studies of an export, read in slices (:mod:`service.reading.slices`) in the list's order.

First the keys of every study the list selects, by date windows: its ``_id``
and weight, the fields it is ordered by, and its number of events (the CSV
header needs the most events in one study before its first row). They are sorted here as
MongoDB sorts (:func:`service.reading.slices.sort_like_mongodb`), then the
studies are read by batches of ``_id``, in that order. Memory holds the keys
(about 200 bytes a study) and one batch of studies.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol

from schemas.query import StudyQuery
from service.reading.filters import date_bounds, match_filter, study_sort
from service.reading.slices import WEIGHT, WEIGHT_FIELD, batched, sort_like_mongodb, windowed

#: the key holding a study's number of events of the exported modality (computed by the database)
EVENTS = "_events"
#: the keys of studies: their _id and weight (service.reading.slices), then the fields of their order
Keys = list[dict[str, Any]]


class ExportStore(Protocol):
    """What an export reads through (implemented by :class:`service.storage.Store`)."""

    def study_keys(
        self, window: dict[str, Any], conditions: Keys, fields: Mapping[str, Any], *, seconds: float | None
    ) -> Keys:
        """Return ``_id`` and ``fields`` of the studies in a date window meeting ``conditions``, within ``seconds``."""

    def studies_by_id(self, ids: list[Any], fields: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Return the studies with these ``_id``s, in that order."""


def selection(store: ExportStore, query: StudyQuery, events_path: str, *, now: datetime) -> tuple[Keys, int]:
    """Return the keys of every study ``query`` lists, in its order, and the most events in one of them."""
    match, (low, high) = match_filter(query), date_bounds(query)
    order = study_sort(query)
    size = {"$size": {"$ifNull": [f"${events_path}", []]}}
    fields = {**dict.fromkeys((path for path, _ in order), 1), EVENTS: size, WEIGHT: WEIGHT_FIELD}

    def read(window: dict[str, Any], seconds: float | None) -> Keys:
        return store.study_keys(window, [match], fields, seconds=seconds)

    windows = windowed(low, high, now=now, read=read, undated=low is None and high is None)
    keys = sort_like_mongodb([key for window in windows for key in window], order)
    return [{"_id": key["_id"], WEIGHT: key[WEIGHT]} for key in keys], max((key[EVENTS] for key in keys), default=0)


def studies(store: ExportStore, keys: Keys, fields: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Yield the studies of ``keys`` (from :func:`selection`) in their order, with ``fields``, batch by batch."""

    def read(batch: Keys) -> Keys:
        return store.studies_by_id([key["_id"] for key in batch], fields)

    for found in batched(keys, read, lambda key: int(key[WEIGHT])):
        yield from found
