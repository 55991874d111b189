"""The events tables of the study page: one per list modality, key quantities first.

Columns come from the modality registry (:mod:`service.modalities`, ``event_columns``:
key quantities first, in the order a physicist reads them); a column no event
fills is left out, and one marked ``varying`` (the plane) is shown only when
the events differ in it. The rest of each event goes to its expandable row;
values every event shares are shown once; identifiers go apart
(:mod:`service.web.identifiers`). A table shows :data:`EVENTS_PER_PAGE` events
at a time and can be filtered by the coded fields the registry names (event
type, plane) through URL arguments prefixed with the modality (``rf-type``,
``rf-plane``, ``rf-page``), so a filtered view is a link and works without
JavaScript. Pure: no Flask here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from markupsafe import Markup, escape
from marshmallow import fields

from schemas.display import label_of, nested_schema, shown_field
from schemas.study import Number
from service.codes import stored_key
from service.errors import InvalidArgument
from service.modalities import EventColumn, Modality
from service.web.identifiers import split_identifiers
from service.web.present import code_of, describe, event_field, field_at, pluck, text

#: events a table shows at a time
EVENTS_PER_PAGE = 100
#: (argument suffix, event field) of the filters, by the event field the registry names
FILTER_NAMES = {"irradiation_event_type": "type", "ct_acquisition_type": "type", "acquisition_plane": "plane"}
MAX_PAGE = 1_000_000
#: tables of this many events or more offer their filters (fewer are read at a glance)
FILTER_FROM = 6


@dataclass(frozen=True)
class Head:
    """A column of an events table: its label, the unit its values are shown in, and their kind."""

    label: str
    unit: str | None
    kind: str  # "num" (right-aligned), "text" (free text, may break anywhere) or "" (codes, times)

    @property
    def unit_html(self) -> Markup:
        """Return the unit, escaped, allowed to break after a middle dot on a narrow screen (``cGy·cm²``)."""
        return escape(self.unit or "").replace("·", Markup("·<wbr>"))


@dataclass(frozen=True)
class Option:
    """One choice of an events filter: the code as ``scheme:value``, its meaning, how many events have it."""

    value: str
    label: str
    count: int


@dataclass(frozen=True)
class Filter:
    """A filter of an events table: the event field, its URL argument, label, choices and the choice ('' for all)."""

    field: str
    argument: str
    label: str
    options: list[Option]
    chosen: str

    def keeps(self, event: Mapping[str, Any]) -> bool:
        """Tell whether an event passes this filter."""
        return not self.chosen or _code(event.get(self.field)) == self.chosen


@dataclass
class EventRow:
    """One event: its number in the study, its key cells (text, and code of a coded value), and the rest."""

    number: int
    cells: list[tuple[str, str | None]]
    rest: list[Any]


@dataclass
class EventTable:
    """The events of one list modality of a study."""

    key: str
    title: str
    count: int  # events of this modality in the study
    heads: list[Head]
    rows: list[EventRow]
    filters: list[Filter]
    common: list[Any]  # values every event shares, shown once
    shown: int  # events the filters select
    first: int  # position (from 1) of the first row shown among those selected
    page: int
    pages: int
    identifiers: list[tuple[int, list[Any]]] = field(default_factory=list)  # per event shown: number, UIDs
    common_identifiers: list[Any] = field(default_factory=list)  # UIDs every event shares (their report)

    @property
    def prefix(self) -> str:
        """Return the prefix of this table's URL arguments."""
        return self.key.lower()


def clock(value: Any, day: date | None) -> str:
    """Format an event's date-time: the time of day with seconds, the date too when it is not the study's."""
    if not isinstance(value, datetime):
        return text(value)
    return value.strftime("%H:%M:%S") if value.date() == day else value.strftime("%Y-%m-%d %H:%M:%S")


def _read(event: Mapping[str, Any], column: EventColumn) -> Any:
    value = pluck(event, column.path)
    return pluck(event, column.fallback) if value in (None, []) and column.fallback else value


def _shown(column: EventColumn, events: list[dict[str, Any]]) -> bool:
    """Tell whether an events table shows a column: some event has a value, and they differ if they must."""
    values = [_read(e, column) for e in events]
    if column.varying:
        return any(v != values[0] for v in values)
    return any(v not in (None, []) for v in values)


def _cell(event: Mapping[str, Any], column: EventColumn, modality: str, day: date | None) -> tuple[str, str | None]:
    value = _read(event, column)
    if isinstance(value, datetime):
        return clock(value, day), None
    return text(value, shown_field(event_field(modality, column.path))), code_of(value)


def _head(modality: str, column: EventColumn) -> Head:
    declared = event_field(modality, column.path)
    kind = "num" if isinstance(declared, Number) else "text" if isinstance(declared, fields.String) else ""
    return Head(column.label or label_of(declared, column.path), shown_field(declared).unit, kind)


def _without(event: Mapping[str, Any], paths: list[str]) -> dict[str, Any]:
    """Return a copy of an event without the fields at ``paths`` (in every entry of a list on the way)."""
    kept = dict(event)
    for path in paths:
        first, _, rest = path.partition(".")
        if not rest:
            kept.pop(first, None)
        elif isinstance(kept.get(first), list):
            entries = [_without(e, [rest]) if isinstance(e, dict) else e for e in kept[first]]
            kept[first] = [e for e in entries if e]
    return {name: value for name, value in kept.items() if value not in (None, [], {})}


def _common(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the fields every one of several events has with one same value."""
    if len(events) < 2:
        return {}
    first = events[0]
    return {name: value for name, value in first.items() if all(e.get(name) == value for e in events[1:])}


def _code(value: Any) -> str | None:
    """Return a coded value's normalised code as ``scheme:value`` (a filter's choice)."""
    key = stored_key(value)
    return None if key is None else f"{key[0]}:{key[1]}"


def _filter(modality: Modality, name: str, events: list[dict[str, Any]], args: Mapping[str, str]) -> Filter:
    """Return the filter of an events table by the coded event field ``name``, with the events' codes as choices."""
    found: dict[str, list[Any]] = {}
    for event in events:
        code = _code(event.get(name))
        if code is not None:
            found.setdefault(code, []).append(event[name])
    options = [Option(code, text(values[0]), len(values)) for code, values in found.items()]
    argument = f"{modality.key.lower()}-{FILTER_NAMES.get(name, name)}"
    short = next((c.label for c in modality.event_columns if c.path == name and c.label), None)
    label = short or label_of(event_field(modality.key, name), name)
    return Filter(name, argument, label, options, args.get(argument, ""))


@dataclass(frozen=True)
class _Parts:
    """A table's events split: what each row's details show, what every event shares, and their identifiers."""

    described: list[dict[str, Any]]
    common: dict[str, Any]
    uids: list[dict[str, Any]]
    same: dict[str, Any]


def _parts(events: list[dict[str, Any]], columns: list[EventColumn]) -> _Parts:
    kept = [split_identifiers(e) for e in events]
    described = [_without(k, [c.path for c in columns]) for k, _ in kept]
    uids = [found or {} for _, found in kept]
    return _Parts(described, _common(described), uids, _common(uids))


def _filters(modality: Modality, events: list[dict[str, Any]], args: Mapping[str, str]) -> list[Filter]:
    """Return the filters a table offers: from FILTER_FROM events, of fields with several values (or one chosen)."""
    filters = [_filter(modality, name, events, args) for name in modality.event_filters]
    offered = len(events) >= FILTER_FROM
    return [f for f in filters if f.chosen or (offered and len(f.options) > 1)]


def _paged(chosen: list[int], args: Mapping[str, str], name: str) -> tuple[int, int, list[int]]:
    """Return the page asked for (the last if beyond it), the number of pages, and the events on that page."""
    pages = max(1, -(-len(chosen) // EVENTS_PER_PAGE))
    page = min(_page(args, name), pages)
    return page, pages, chosen[(page - 1) * EVENTS_PER_PAGE : page * EVENTS_PER_PAGE]


def events_table(document: Mapping[str, Any], modality: Modality, args: Mapping[str, str]) -> EventTable | None:
    """Return the events table of one list modality of the study (None when it has no such events)."""
    events = [e for e in pluck(document, modality.events_path) or [] if isinstance(e, dict)]
    if not events:
        return None
    key, columns = modality.key, [c for c in modality.event_columns if _shown(c, events)]
    parts, filters = _parts(events, columns), _filters(modality, events, args)
    chosen = [n for n, event in enumerate(events) if all(f.keeps(event) for f in filters)]
    page, pages, shown = _paged(chosen, args, f"{key.lower()}-page")
    day = document["study_date_time"].date() if isinstance(document.get("study_date_time"), datetime) else None
    schema = nested_schema(field_at(modality.events_path))
    rest = {n: describe({k: v for k, v in parts.described[n].items() if k not in parts.common}, schema) for n in shown}
    uids = {n: describe({k: v for k, v in parts.uids[n].items() if k not in parts.same}, schema) for n in shown}
    return EventTable(
        key=key, title=f"{modality.title} events", count=len(events), heads=[_head(key, c) for c in columns],
        rows=[EventRow(n + 1, [_cell(events[n], c, key, day) for c in columns], rest[n]) for n in shown],
        filters=filters, common=describe(parts.common, schema), shown=len(chosen),
        first=(page - 1) * EVENTS_PER_PAGE + 1, page=page, pages=pages,
        common_identifiers=describe(parts.same, schema), identifiers=[(n + 1, uids[n]) for n in shown],
    )  # fmt: skip


def _page(args: Mapping[str, str], name: str) -> int:
    raw = args.get(name, "") or "1"
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        raise InvalidArgument({name: [f"Expected a page number from 1 to {MAX_PAGE}."]})
    return int(raw)
