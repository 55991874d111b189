"""Turn stored values into what pages show: formatted numbers and dates, list columns, detail trees.

Labels and units come from the study schema's field metadata
(:mod:`schemas.study`), converted to the shown unit by :mod:`schemas.display`;
a value the schema does not declare (reports keep everything they carry) is
shown under its field name made readable. Nothing here escapes: templates do
(Jinja autoescaping), so every DICOM string reaches the page as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from marshmallow import Schema

from schemas.display import Shown, label_of, nested_schema, shown, unit_of
from schemas.query import MAIN_QUANTITY, TEXT_FILTERS
from schemas.study import Study, Summary
from service.codes import is_coded

#: List modality -> page title.
TITLES: dict[str, str] = {
    "CT": "CT",
    "RF": "Fluoroscopy",
    "DX": "Radiography",
    "MG": "Mammography",
    "NM": "Nuclear medicine",
}
#: List modality -> its key columns (summary fields) after the common ones.
KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "CT": ("number_of_events", "total_dlp", "max_ctdivol"),
    "RF": ("number_of_events", "total_dap", "total_rp_dose", "total_fluoro_time"),
    "DX": ("number_of_events", "total_dap"),
    "MG": ("number_of_events", "total_agd_left", "total_agd_right"),
    "NM": ("total_administered_activity",),
}
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
STUDY = Study()
HIDDEN = frozenset({"_id"})
#: Blocks of the detail page that come first, in this order; the others follow in stored order.
FIRST_BLOCKS = ("patient", "equipment", "summary")


def number(value: float, unit: Shown | None = None) -> str:
    """Format a number in its shown unit with up to 6 significant digits."""
    if unit is not None:
        value = unit.from_stored(value)
    return f"{value:.6g}" if isinstance(value, float) else str(value)


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
        return str(value.get("code_meaning") or f"{value['code_value']} ({value['coding_scheme_designator']})")
    if isinstance(value, list):
        return ", ".join(text(item, unit) for item in value)
    return str(value)


def code_of(value: Any) -> str | None:
    """Return a coded value's code as "value (scheme)", or the codes of a list of them."""
    if is_coded(value):
        return f"{value['code_value']} ({value['coding_scheme_designator']})"
    codes = [code_of(item) for item in value] if isinstance(value, list) else []
    return ", ".join(c for c in codes if c) or None


@dataclass(frozen=True)
class Column:
    """A column of a list page: label, shown unit and the summary field it reads."""

    name: str
    label: str
    unit: Shown

    def cell(self, row: dict[str, Any]) -> str:
        """Return this column's text for a list row."""
        value = (row.get("summary") or {}).get(self.name)
        return "" if value is None else number(value, self.unit)


def key_columns(modality: str) -> list[Column]:
    """Return the key columns of a modality's list, labelled from the summary schema."""
    summary = Summary().fields
    return [Column(n, label_of(summary[n], n), shown(unit_of(summary[n]))) for n in KEY_COLUMNS[modality]]


def dose_label(modality: str) -> str:
    """Return the label of a modality's dose range, with its unit."""
    quantity = MAIN_QUANTITY[modality]
    return f"{quantity.label} ({quantity.shown.unit})"


def field_at(path: str) -> Any:
    """Return the schema field at a dotted document path (``equipment.station_name``), if declared."""
    schema: Schema | None = STUDY
    found = None
    for part in path.split("."):
        found = schema.fields.get(part) if schema is not None else None
        schema = nested_schema(found)
    return found


def filter_label(name: str) -> str:
    """Return the label of a text filter, from the schema field it searches."""
    return label_of(field_at(TEXT_FILTERS[name][0]), name)


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
    label, unit = label_of(declared, name), shown(unit_of(declared))
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
    for modality, title in TITLES.items():
        rows = [t for t in tallies if t["modality"] == modality and t["count"] > 0]
        stations = [Station(t.get("station_name"), t["count"], t.get("latest")) for t in rows]
        stations.sort(key=lambda s: (-s.count, s.name or ""))
        groups.append(HomeGroup(modality, title, sum(s.count for s in stations), stations))
    return groups
