"""The study page, as a medical physicist reads it: header, totals, one events table per modality.

The page leads with who and where (date, station, model, patient age, sex,
height, weight, the test-patient flag), then the study's totals with their
units, then one compact table of events per list modality of the study, whose
columns come from the modality registry (:mod:`service.modalities`: key
quantities first, in the order a physicist reads them). The rest of each event
is in an expandable row; values every event shares are shown once above its
table; UIDs and hashes go to a collapsed "Identifiers" section, and every other
stored value to a collapsed "More about this study". Every stored value is on
the page somewhere.

A table shows :data:`EVENTS_PER_PAGE` events at a time and can be filtered by
the coded fields the registry names (event type, plane), through URL arguments
prefixed with the modality (``rf-type``, ``rf-plane``, ``rf-page``), so a
filtered view is a link and works without JavaScript. Pure: no Flask here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from markupsafe import Markup, escape
from marshmallow import fields

from schemas.display import Shown, label_of, nested_schema, shown_field
from schemas.study import Number, Summary
from service.codes import stored_key
from service.errors import InvalidArgument
from service.modalities import MODALITIES, EventColumn, Modality, list_modalities
from service.web.identifiers import report_events, split_identifiers
from service.web.present import code_of, describe, event_field, field_at, pluck, text, when

#: events a table shows at a time
EVENTS_PER_PAGE = 100
#: fields the header and the totals show, left out of "More about this study"
SHOWN_ABOVE: dict[str, tuple[str, ...]] = {
    "patient": ("age_years", "sex", "height_m", "weight_kg", "not_patient_indicator"),
    "equipment": ("station_name", "manufacturer", "manufacturer_model_name"),
}
TOP_SHOWN = ("study_date_time", "study_description", "accession_number", "modalities", "summary")
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


@dataclass(frozen=True)
class Total:
    """A total of the study with its unit; in a biplane room, each plane's part as (plane, value)."""

    label: str
    text: str
    unit: str | None
    planes: list[tuple[str, str]]


@dataclass(frozen=True)
class Fact:
    """A value of the header: label, text (empty when not recorded) and unit."""

    label: str
    text: str
    unit: str | None = None


@dataclass
class StudyView:
    """Everything the study page shows, in its order."""

    title: str
    facts: list[Fact]
    patient: list[Fact]
    totals: list[Total]
    tables: list[EventTable]
    more: list[Any]
    identifiers: list[Any]
    arguments: dict[str, str]

    def arguments_for(self, table: EventTable, **changes: Any) -> dict[str, str]:
        """Return the page's arguments with some of one table's changed (None drops one), for links."""
        found = dict(self.arguments)
        for suffix, value in changes.items():
            found.pop(f"{table.prefix}-{suffix}", None)
            if value is not None:
                found[f"{table.prefix}-{suffix}"] = str(value)
        return found

    def arguments_without(self, table: EventTable) -> dict[str, str]:
        """Return the page's arguments without any of one table's (its filters off, its first page)."""
        return {k: v for k, v in self.arguments.items() if not k.startswith(f"{table.prefix}-")}


# -- header and totals -----------------------------------------------------------------------


def _fact(document: Mapping[str, Any], path: str, label: str | None = None) -> Fact:
    declared = field_at(path)
    unit = shown_field(declared)
    value = pluck(document, path)
    return Fact(label or label_of(declared, path.rsplit(".", 1)[-1]), text(value, unit), unit.unit)


def header_facts(document: Mapping[str, Any]) -> list[Fact]:
    """Return the header's facts of the study: date, station, model and accession number."""
    equipment = document.get("equipment") or {}
    model = " ".join(str(v) for v in (equipment.get("manufacturer"), equipment.get("manufacturer_model_name")) if v)
    return [
        Fact("Date", when(document.get("study_date_time"))),
        _fact(document, "equipment.station_name", "Station"),
        Fact("Model", model),
        _fact(document, "accession_number", "Accession"),
    ]


def patient_facts(document: Mapping[str, Any]) -> list[Fact]:
    """Return the header's facts of the patient: age (in years, else as sent), sex, height and weight."""
    age = _fact(document, "patient.age_years")
    if not age.text:
        age = _fact(document, "patient.age", "Age")
    return [
        age,
        _fact(document, "patient.sex"),
        _fact(document, "patient.height_m"),
        _fact(document, "patient.weight_kg"),
    ]


def totals(document: Mapping[str, Any]) -> list[Total]:
    """Return the study's totals (the registry's summary fields of its list modalities), per plane in a biplane room."""
    summary, declared = document.get("summary") or {}, Summary().fields
    keys = list_modalities(document.get("modalities") or [])
    per_plane = {name: block for key in keys for name, block in MODALITIES[key].per_plane}
    shown = []
    for name in dict.fromkeys(n for key in keys for n in MODALITIES[key].summary):
        unit = shown_field(declared.get(name))
        if summary.get(name) is not None:
            planes = _planes(document, per_plane[name], unit) if name in per_plane else []
            shown.append(Total(label_of(declared.get(name), name), text(summary[name], unit), unit.unit, planes))
    return shown


def _planes(document: Mapping[str, Any], name: str, unit: Shown) -> list[tuple[str, str]]:
    """Return (plane, value) of an accumulated field of each plane of a biplane room; none for one plane."""
    planes = [p for p in (document.get("projection") or {}).get("accumulated") or [] if isinstance(p, dict)]
    if len(planes) < 2:
        return []
    return [(text(p.get("acquisition_plane")), text(p.get(name), unit)) for p in planes if p.get(name) is not None]


# -- events tables ---------------------------------------------------------------------------


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


def events_table(document: Mapping[str, Any], modality: Modality, args: Mapping[str, str]) -> EventTable | None:
    """Return the events table of one list modality of the study (None when it has no such events)."""
    events = [e for e in pluck(document, modality.events_path) or [] if isinstance(e, dict)]
    if not events:
        return None
    key = modality.key
    columns = [c for c in modality.event_columns if _shown(c, events)]
    kept = [split_identifiers(e) for e in events]
    described = [_without(k, [c.path for c in columns]) for k, _ in kept]
    common = _common(described)
    filters = [_filter(modality, name, events, args) for name in modality.event_filters]
    if len(events) < FILTER_FROM:
        filters = [f for f in filters if f.chosen]
    filters = [f for f in filters if len(f.options) > 1 or f.chosen]  # a choice of one is no choice
    chosen = [n for n, event in enumerate(events) if all(f.keeps(event) for f in filters)]
    pages = max(1, -(-len(chosen) // EVENTS_PER_PAGE))
    page = min(_page(args, f"{key.lower()}-page"), pages)
    start = (page - 1) * EVENTS_PER_PAGE
    day = document["study_date_time"].date() if isinstance(document.get("study_date_time"), datetime) else None
    schema = nested_schema(field_at(modality.events_path))
    uids = [found or {} for _, found in kept]
    same = _common(uids)
    rows = [
        EventRow(n + 1, [_cell(events[n], c, key, day) for c in columns],
                 describe({k: v for k, v in described[n].items() if k not in common}, schema))
        for n in chosen[start : start + EVENTS_PER_PAGE]
    ]  # fmt: skip
    return EventTable(
        key=key, title=f"{modality.title} events", count=len(events), heads=[_head(key, c) for c in columns],
        rows=rows, filters=filters, common=describe(common, schema), shown=len(chosen), first=start + 1,
        page=page, pages=pages, common_identifiers=describe(same, schema),
        identifiers=[
            (n + 1, describe({k: v for k, v in uids[n].items() if k not in same}, schema))
            for n in chosen[start : start + EVENTS_PER_PAGE]
        ],
    )  # fmt: skip


def _page(args: Mapping[str, str], name: str) -> int:
    raw = args.get(name, "") or "1"
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        raise InvalidArgument({name: [f"Expected a page number from 1 to {MAX_PAGE}."]})
    return int(raw)


# -- the page --------------------------------------------------------------------------------


def check_arguments(document: Mapping[str, Any], args: Mapping[str, str]) -> None:
    """Raise :class:`InvalidArgument` naming each argument this study's page does not take."""
    known = {
        f"{key.lower()}-{suffix}"
        for key in list_modalities(document.get("modalities") or [])
        for suffix in ("page", *(FILTER_NAMES.get(n, n) for n in MODALITIES[key].event_filters))
    }
    unknown = sorted(set(args) - known)
    if unknown:
        expected = ", ".join(sorted(known)) or "none"
        raise InvalidArgument({name: [f"Unknown argument; this study's page takes {expected}."] for name in unknown})


def _rest(document: Mapping[str, Any]) -> dict[str, Any]:
    """Return what the header, the totals and the events tables do not show."""
    rest = {name: value for name, value in document.items() if name not in TOP_SHOWN}
    for block, names in SHOWN_ABOVE.items():
        if isinstance(rest.get(block), dict):
            rest[block] = {k: v for k, v in rest[block].items() if k not in names}
    for key in list_modalities(document.get("modalities") or []):
        modality = MODALITIES[key]
        if isinstance(rest.get(modality.section), dict):
            rest[modality.section] = {k: v for k, v in rest[modality.section].items() if k != modality.events}
    return rest


def study_view(document: Mapping[str, Any], args: Mapping[str, str]) -> StudyView:
    """Return what the study page shows of ``document`` for the request's arguments."""
    check_arguments(document, args)
    keys = list_modalities(document.get("modalities") or [])
    tables = [t for t in (events_table(document, MODALITIES[k], args) for k in keys) if t is not None]
    kept, identifiers = split_identifiers(_rest(document))
    identifiers = report_events(identifiers or {}, document)
    named = " and ".join(MODALITIES[k].title for k in keys)
    title = document.get("study_description") or document.get("requested_procedure_description")
    return StudyView(
        title=str(title or (f"{named} study" if named else "Study")),
        facts=header_facts(document),
        patient=patient_facts(document),
        totals=totals(document),
        tables=tables,
        more=describe(kept),
        identifiers=describe(identifiers),
        arguments={name: value for name, value in args.items() if value},
    )
