"""Turn stored values into what pages show: formatted numbers and dates, list columns, detail trees.

Labels and units come from the study schema's field metadata
(:mod:`schemas.study`), converted to the shown unit by :mod:`schemas.display`;
a value the schema does not declare (reports keep everything they carry) is
shown under its field name made readable. Nothing here escapes: templates do
(Jinja autoescaping), so every DICOM string reaches the page as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from marshmallow import Schema

from schemas.display import Shown, label_of, nested_schema, shown_field
from schemas.query import TEXT_FILTERS
from schemas.study import Study, Summary
from service.audits import pipeline
from service.codes import is_coded
from service.modalities import LIST_COLUMNS, MODALITIES

#: ``order`` values in the order the form offers them, with their labels.
ORDER_LABELS: dict[str, str] = {
    "-study_date_time": "Newest first",
    "study_date_time": "Oldest first",
    "station_name": "Station A to Z",
    "-station_name": "Station Z to A",
    "study_description": "Description A to Z",
    "-study_description": "Description Z to A",
    "-total_dose": "Highest dose first",
    "total_dose": "Lowest dose first",
}
#: The list form's choices of ``test_patients`` (schemas.query): "" is the lists' default.
LIST_TEST_PATIENTS: dict[str, str] = {
    "": "Shown, marked test (exports leave them out)",
    "include": "Shown and exported",
    "exclude": "Left out",
    "only": "Only test patients",
}
STUDY = Study()
HIDDEN = frozenset({"_id"})
#: Blocks of the detail page that come first, in this order; the others follow in stored order.
FIRST_BLOCKS = ("patient", "equipment", "summary")


def number(value: float, unit: Shown | None = None) -> str:
    """Format a stored number in its shown unit (:func:`schemas.display.format_number`)."""
    return (unit or Shown(None)).format(value)


def when(value: datetime | date | None) -> str:
    """Format a date-time as YYYY-MM-DD HH:MM (a date as YYYY-MM-DD)."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat() if isinstance(value, date) else ""


def text(value: Any, unit: Shown | None = None) -> str:
    """Return any scalar, coded value or list of them as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return number(value, unit)
    if isinstance(value, datetime | date):
        return when(value)
    if is_coded(value):
        meaning = value.get("code_meaning")
        return superscripts(str(meaning)) if meaning else f"{value['code_value']} ({value['coding_scheme_designator']})"
    if isinstance(value, list):
        return ", ".join(text(item, unit) for item in value)
    return str(value)


SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def superscripts(meaning: str) -> str:
    """Write a code meaning's ``^18^`` (DICOM's mark of a superscript: ``^18^Fluorine``) as ``¹⁸Fluorine``."""
    return re.sub(r"\^(\d+)\^", lambda m: m.group(1).translate(SUPERSCRIPT), meaning)


def code_of(value: Any) -> str | None:
    """Return a coded value's code as "value (scheme)", or the codes of a list of them."""
    if is_coded(value):
        return f"{value['code_value']} ({value['coding_scheme_designator']})"
    codes = [code_of(item) for item in value] if isinstance(value, list) else []
    return ", ".join(c for c in codes if c) or None


@dataclass(frozen=True)
class Column:
    """A column of a list page: the registry's column (or a summary total) with its shown unit."""

    path: str
    label: str
    unit: Shown
    order: str | None = None  # the ``order`` value its header sorts by
    filter: str | None = None  # the text filter its links set
    opens_study: bool = False  # its cell links to the study page
    numeric: bool = False
    fallback: str | None = None  # the path read where ``path`` holds nothing

    def value(self, row: dict[str, Any]) -> Any:
        """Return the stored value this column reads from a list row."""
        found = pluck(row, self.path)
        return pluck(row, self.fallback) if found in (None, []) and self.fallback else found

    def cell(self, row: dict[str, Any]) -> str:
        """Return this column's text for a list row."""
        return text(self.value(row), self.unit)


def pluck(document: Any, path: str) -> Any:
    """Return the value at a dotted path; through a list of sub-documents, every entry's value (once each)."""
    found: Any = document
    for part in path.split("."):
        if isinstance(found, list):
            values = [item.get(part) for item in found if isinstance(item, dict)]
            found = _unique([v for value in values for v in (value if isinstance(value, list) else [value])])
        else:
            found = found.get(part) if isinstance(found, dict) else None
    return found


def _unique(values: list[Any]) -> list[Any] | None:
    """Return the values that are not None, each once, in order (None when there are none)."""
    kept: list[Any] = []
    for value in values:
        if value is not None and value not in kept:
            kept.append(value)
    return kept or None


def list_columns(modality: str) -> list[Column]:
    """Return the columns of a modality's list: the common ones, its own, then its summary totals."""
    entry = MODALITIES[modality]
    common = [
        Column(c.path, c.label, shown_field(field_at(c.path)), c.order, c.filter, c.opens_study, c.numeric, c.fallback)
        for c in (*LIST_COLUMNS, *entry.columns)
    ]
    summary = Summary().fields
    totals = [
        Column(f"summary.{n}", label_of(summary[n], n), shown_field(summary[n]), numeric=True,
               order="total_dose" if n in entry.main else None)
        for n in entry.summary
    ]  # fmt: skip
    return common + totals


@dataclass(frozen=True)
class Charts:
    """The charts above a list: the audits it can draw (name, title) and the list's filters they take."""

    audits: list[tuple[str, str]]
    filters: dict[str, str]


def charts(modality: str, arguments: dict[str, str]) -> Charts | None:
    """Return the charts above a modality's list (the registry's audits), with the list's filters."""
    known = pipeline.audits()
    audits = [(name, known[name].title) for name in MODALITIES[modality].charts if name in known]
    filters = {k: v for k, v in arguments.items() if k != "order"}
    return Charts(audits, {"modality": modality, **filters}) if audits else None


def summary_fields() -> dict[str, dict[str, Any]]:
    """Return each summary field's label, shown unit and scale (shown = stored x 10^scale), for scripts."""
    found = {}
    for name, declared in Summary().fields.items():
        unit = shown_field(declared)
        found[name] = {"label": label_of(declared, name), "unit": unit.unit, "scale": unit.scale}
    return found


def dose_label(modality: str) -> str:
    """Return the label of a modality's dose range, with its unit."""
    quantity = MODALITIES[modality].quantity
    return f"{quantity.label} ({quantity.shown.unit})"


def field_at(path: str) -> Any:
    """Return the schema field at a dotted document path (``equipment.station_name``), if declared."""
    schema: Schema | None = STUDY
    found = None
    for part in path.split("."):
        found = schema.fields.get(part) if schema is not None else None
        schema = nested_schema(found)
    return found


def event_field(modality: str, name: str) -> Any:
    """Return the schema field of an event field of a list modality (``sources.kvp`` through its list)."""
    entry = MODALITIES[modality]
    return field_at(f"{entry.events_path}.{name}")


def filter_label(name: str) -> str:
    """Return the label of a text filter, from the schema field it searches."""
    return label_of(field_at(TEXT_FILTERS[name][0]), name)


def titles() -> dict[str, str]:
    """Return the list modalities' page titles, in the registry's order (navigation and home page)."""
    return {key: modality.title for key, modality in MODALITIES.items()}


# -- the detail page: a generic walk over the stored document -------------------------------


@dataclass
class Value:
    """One labelled value; a coded value's code goes in ``code``."""

    label: str
    text: str
    unit: str | None = None
    code: str | None = None
    kind: str = "value"


@dataclass
class Group:
    """A sub-document: labelled values, groups and tables."""

    label: str
    items: list[Any] = field(default_factory=list)
    kind: str = "group"


@dataclass
class Table:
    """An array of sub-documents (events, sources, reports) as rows and columns."""

    label: str
    columns: list[tuple[str, str | None]]  # (label, shown unit)
    rows: list[list[Any]]  # a cell is a Value, or a Group/Table for nested values
    kind: str = "table"


def _node(name: str, value: Any, schema: Schema | None) -> Value | Group | Table:
    declared = schema.fields.get(name) if schema is not None else None
    label, unit = label_of(declared, name), shown_field(declared)
    if isinstance(value, dict) and not is_coded(value):
        return Group(label, describe(value, nested_schema(declared)))
    if isinstance(value, list) and value and all(isinstance(v, dict) and not is_coded(v) for v in value):
        return _table(label, value, nested_schema(declared))
    return Value(label, text(value, unit), unit.unit, code_of(value))


def _table(label: str, rows: list[dict[str, Any]], schema: Schema | None) -> Table:
    names = list(dict.fromkeys(name for row in rows for name in row))
    heads = [_node(name, None, schema) for name in names]
    columns = [(head.label, getattr(head, "unit", None)) for head in heads]
    cells = [[_node(name, row.get(name), schema) for name in names] for row in rows]
    return Table(label, columns, cells)


def describe(document: dict[str, Any], schema: Schema | None = STUDY) -> list[Value | Group | Table]:
    """Return every stored value of ``document`` as labelled values, groups and tables, in stored order.

    Empty values (None, empty lists) are left out of groups; a table keeps blank cells.
    """
    return [
        _node(name, value, schema)
        for name, value in document.items()
        if name not in HIDDEN and value is not None and value != []
    ]


def detail_blocks(document: dict[str, Any]) -> list[Group | Table]:
    """Return the detail page's blocks: the study's own values, patient, equipment, summary, then the rest."""
    first = {name: i for i, name in enumerate(FIRST_BLOCKS)}
    names = sorted(document, key=lambda name: first.get(name, len(first)))
    nodes = describe({name: document[name] for name in names})
    own = [node for node in nodes if isinstance(node, Value)]
    return [Group("Study", own), *(node for node in nodes if not isinstance(node, Value))]


# -- the filter form and the home page -------------------------------------------------------


@dataclass(frozen=True)
class Range:
    """A pair of inputs of the filter form: ``<stem>_min``/``_max`` or ``date_from``/``date_to``."""

    label: str
    low: str
    high: str
    kind: str = "number"


def filter_form(modality: str) -> tuple[list[tuple[str, str]], list[Range]]:
    """Return the list page's text filters (name, label) and its ranges."""
    texts = [(name, filter_label(name)) for name in TEXT_FILTERS]
    ranges = [
        Range("Study date", "date_from", "date_to", "date"),
        Range("Patient age (years)", "age_min", "age_max"),
        Range("Patient weight (kg)", "weight_min", "weight_max"),
        Range("Number of events", "events_min", "events_max"),
        Range(dose_label(modality), "dose_min", "dose_max"),
    ]
    return texts, ranges


@dataclass(frozen=True)
class Station:
    """A station's line on the home page."""

    name: str | None
    count: int
    latest: datetime | None


@dataclass(frozen=True)
class HomeGroup:
    """A modality's block on the home page."""

    modality: str
    title: str
    count: int
    stations: list[Station]


def home_groups(tallies: list[dict[str, Any]]) -> list[HomeGroup]:
    """Group the per-station tallies by list modality, busiest station first."""
    groups = []
    for modality, title in titles().items():
        rows = [t for t in tallies if t["modality"] == modality and t["count"] > 0]
        stations = [Station(t.get("station_name"), t["count"], t.get("latest")) for t in rows]
        stations.sort(key=lambda s: (-s.count, s.name or ""))
        groups.append(HomeGroup(modality, title, sum(s.count for s in stations), stations))
    return groups
