"""Standard-name columns: each raw name that can be mapped is followed by its standard name.

The fields that have standard names are those the audits group by
(:func:`service.audits.names.raw_name_paths`: CT and fluoroscopy study
description and acquisition protocol, radiography acquisition protocol,
mammography view, nuclear medicine radiopharmaceutical). In an export each of
them gets a column right after the raw one, headed ``Standard`` and the raw
column's header (``Standard acquisition protocol``, ``E2 Standard acquisition
protocol``), in CSV, in XLSX All data and in the per-protocol sheets alike.
The raw name is looked up exactly as the audits look it up
(:class:`service.audits.names.StandardNames`: same path, exact match, so
``Head Routine`` does not take the mapping of ``HEAD ROUTINE``; a view or a
radiopharmaceutical by its meaning as sent, a radiopharmaceutical sent as text
only by that text, the audit's ``name_fallback``).

A raw name without a mapping leaves its standard cell **empty**, where the
audits keep the raw name as the group's name. In a spreadsheet the raw name is
in the column beside it, and an empty cell is what tells a physicist which raw
names still need a mapping (Excel's "(Blanks)" filter); repeating the raw name
there would make an unmapped name look like a standard one. The mappings of
the modality are read once per export, when it starts (:func:`with_standard_names`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from schemas.columns import Cell, Column, getter
from service.audits.names import StandardNames, raw_name_fallbacks, raw_name_paths
from service.export.layout import Layout


@dataclass(frozen=True)
class StandardColumn(Column):
    """A column holding the standard name of the raw name in the column before it."""


def standard_header(raw: str) -> str:
    """Return the header of a raw column's standard names: 'View' -> 'Standard view'."""
    keep = raw[1:2].isupper()  # an abbreviation ('CT protocol') keeps its capitals
    return f"Standard {raw if keep else raw[:1].lower() + raw[1:]}"


def with_standard_names(layout: Layout, names: StandardNames) -> Layout:
    """Return ``layout`` with a standard-name column after each raw-name column of its modality."""
    study, events = list(layout.study_columns), list(layout.event_columns)
    prefix = f"{layout.events_path}."
    fallbacks = raw_name_fallbacks().get(layout.modality, {})
    for name_field, path in raw_name_paths().get(layout.modality, {}).items():
        fallback = fallbacks.get(name_field)
        if path.startswith(prefix):
            relative = fallback.removeprefix(prefix) if fallback else None
            _insert(events, name_field, (path.removeprefix(prefix), relative), names)
        else:
            _insert(study, name_field, (path, fallback), names)
    return replace(layout, study_columns=tuple(study), event_columns=tuple(events))


def _insert(columns: list[Column], name_field: str, paths: tuple[str, str | None], names: StandardNames) -> None:
    """Insert the standard-name column of the raw name at ``paths`` (its path, its fallback) after the raw column."""
    path, fallback = paths
    index = next((i for i, c in enumerate(columns) if path == c.path or path.startswith(f"{c.path}.")), None)
    if index is None:
        raise ValueError(f"no export column shows {path}, whose standard names the audits use")
    raw, get = columns[index], getter(path.split("."))
    otherwise = getter(fallback.split(".")) if fallback else lambda doc: None

    def read(doc: Mapping[str, Any]) -> Cell:
        found = get(doc)
        return names.standard(name_field, otherwise(doc) if found is None else found)

    columns.insert(index + 1, StandardColumn(standard_header(raw.header), read, path, raw.context))


def standard_after(columns: tuple[Column, ...], index: int) -> list[int]:
    """Return ``index`` and, when the column there is followed by its standard names, that column's index."""
    following = index + 1 < len(columns) and isinstance(columns[index + 1], StandardColumn)
    return [index, index + 1] if following else [index]


def standard_columns(columns: tuple[Column, ...]) -> list[int]:
    """Return the indices of the standard-name columns among ``columns``."""
    return [i for i, column in enumerate(columns) if isinstance(column, StandardColumn)]
