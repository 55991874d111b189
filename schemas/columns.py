"""Flatten study documents into rows of cells, one column per labelled schema field.

The study schema (``schemas.study``) is the single definition of every column:
a field's ``label`` and ``unit`` metadata make its header ('Mean CTDIvol
(mGy)'), its marshmallow type says how its value becomes a cell. Numbers are
given in the unit the pages show (``schemas.display``: dose-area product in
cGy·cm², stored as Gy·m²), so an export reads like the list it came from. CSV and XLSX
exports, and any page that tabulates studies, use these columns, so a field
added to the schema appears everywhere at once and no header list is kept by
hand.

Walking a schema:

* a labelled scalar field is one column (numbers stay numbers, date-times stay
  date-times, text stays text);
* a coded value is one column holding its code meaning (its code value when
  the meaning is missing);
* a nested schema is walked in place; its fields carry their own labels;
* a list of sub-documents (the X-ray sources of a CT event) gives one column
  per sub-field: the value itself when one entry has it, else every entry's
  value joined with `` | `` (so a dual-source scan reads '120 | 100');
* a list of plain values is one column, joined the same way;
* a free-form mapping (``dose_check``) is one column of compact JSON text;
* fields without a label (bookkeeping: ``reports``, ``revision``...) are not
  exported; blocks and lists without a label are walked all the same.

When two columns of one table would share a header, each is prefixed with the
label (or the name) of the list or block it comes from: 'Summary: Total fluoro
time (s)' and 'Accumulated: Total fluoro time (s)'.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import Schema, fields

from schemas.display import label_of, nested_schema, shown, unit_of
from schemas.study import CodedValue, Number, When

#: What a cell holds: text, a number, a date-time, or nothing.
Cell = str | int | float | datetime | None
Reader = Callable[[Mapping[str, Any]], Cell]

JOIN = " | "


@dataclass(frozen=True)
class Column:
    """One exported column: its header and how to read its cell from a document or event."""

    header: str
    read: Reader
    path: str  # dotted path of the field from the document or event ("patient.age_years")
    context: str = ""  # label of the block or list it comes from, to tell equal headers apart


def header(field: fields.Field) -> str:
    """Return the column header of a field: its label, and the unit it is shown in, in brackets."""
    unit = shown(unit_of(field)).unit
    return f"{field.metadata['label']} ({unit})" if unit else str(field.metadata["label"])


def getter(path: Sequence[str]) -> Callable[[Mapping[str, Any]], Any]:
    """Return a function reading ``path`` from nested mappings (None where a step is missing)."""
    if len(path) == 1:
        (key,) = path
        return lambda doc: doc.get(key)

    def get(doc: Mapping[str, Any]) -> Any:
        value: Any = doc
        for key in path:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return value

    return get


def _number(value: Any) -> Cell:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _when(value: Any) -> Cell:
    return value if isinstance(value, datetime) else None


def _text(value: Any) -> Cell:
    return None if value is None else str(value)


def _coded(value: Any) -> Cell:
    if not isinstance(value, Mapping):
        return _text(value)
    meaning = value.get("code_meaning")
    return str(meaning) if meaning is not None else _text(value.get("code_value"))


def _mapping(value: Any) -> Cell:
    return json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False) if value else None


def _is_coded(field: fields.Field) -> bool:
    return isinstance(field, fields.Nested) and isinstance(field.schema, CodedValue)


#: How a stored value becomes a cell, by field type (text for any other type).
CONVERTERS: tuple[tuple[type[fields.Field], Callable[[Any], Cell]], ...] = (
    (Number, _number),
    (fields.Number, _number),
    (When, _when),
    (fields.Dict, _mapping),
)


def converter(field: fields.Field) -> Callable[[Any], Cell]:
    """Return how a stored value of ``field`` becomes a cell (numbers in the unit pages show)."""
    if _is_coded(field):
        return _coded
    convert = next((convert for kind, convert in CONVERTERS if isinstance(field, kind)), _text)
    unit = shown(unit_of(field))
    if convert is _number and unit.scale:
        return lambda value: None if (number := _number(value)) is None else unit.from_stored(number)
    return convert


def _join(cells: list[Cell]) -> Cell:
    present = [c for c in cells if c is not None]
    if len(present) <= 1:
        return present[0] if present else None
    return JOIN.join(c.isoformat(sep=" ") if isinstance(c, datetime) else str(c) for c in present)


def _listed(outer: Callable[[Mapping[str, Any]], Any], inner: Reader) -> Reader:
    """Read ``inner`` from every entry of the list at ``outer`` and join the results."""

    def read(doc: Mapping[str, Any]) -> Cell:
        entries = outer(doc)
        if not isinstance(entries, list):
            return None
        return _join([inner(e) for e in entries if isinstance(e, Mapping)])

    return read


def _scalar(field: fields.Field, path: Sequence[str], context: str) -> Column:
    get = getter(path)
    if isinstance(field, fields.List):
        each = converter(field.inner)

        def convert(value: Any) -> Cell:
            return _join([each(v) for v in value]) if isinstance(value, list) else None

    else:
        convert = converter(field)
    return Column(header(field), lambda doc: convert(get(doc)), ".".join(path), context)


def walk(
    schema: Schema, path: tuple[str, ...] = (), *, skip: frozenset[str] = frozenset(), context: str = ""
) -> list[Column]:
    """Return the columns of ``schema``'s labelled fields, read from ``path`` of a document."""
    found: list[Column] = []
    for name, field in schema.fields.items():
        if name in skip:
            continue
        block = label_of(field, name)
        if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
            found += _list_columns(field, (*path, name), block)
        elif isinstance(field, fields.Nested) and not _is_coded(field):
            found += walk(field.schema, (*path, name), context=block)
        elif "label" in field.metadata:
            found.append(_scalar(field, (*path, name), context))
    return found


def _list_columns(field: fields.List, path: tuple[str, ...], label: str) -> list[Column]:
    """Return one column per labelled field of a list's entries, joining the entries' values."""
    outer = getter(path)
    return [
        Column(c.header, _listed(outer, c.read), ".".join((*path, c.path)), label)
        for c in walk(field.inner.schema, context=label)
    ]


def distinct_headers(columns: list[Column]) -> list[Column]:
    """Prefix headers that occur more than once with the label of their block."""
    counts: dict[str, int] = {}
    for column in columns:
        counts[column.header] = counts.get(column.header, 0) + 1
    repeated = {name for name, count in counts.items() if count > 1}
    return [
        Column(f"{c.context}: {c.header}", c.read, c.path, c.context) if c.header in repeated and c.context else c
        for c in columns
    ]


def schema_at(schema: Schema, path: Sequence[str]) -> Schema | None:
    """Return the schema of the sub-document (or list entry) at ``path``, or None if undeclared."""
    found: Schema | None = schema
    for name in path:
        found = nested_schema(found.fields.get(name)) if found else None
    return found


def read_row(columns: Sequence[Column], doc: Mapping[str, Any]) -> list[Cell]:
    """Return the cells of ``doc`` under ``columns``."""
    return [column.read(doc) for column in columns]
