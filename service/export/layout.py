"""What an export of each list modality holds: its columns, events and protocol sheets.

Columns come from the study schema (``schemas.columns``); the modality
registry (:mod:`service.modalities`) says which section's events are
exported, which event field names the per-protocol sheets, and which of the
per-study summary totals belong to the modality (a CT export has no DAP
column). Projection modalities (fluoroscopy, radiography, mammography) group
by acquisition protocol, like CT; nuclear medicine groups its administrations
by radiopharmaceutical agent.

Each event's *protocol* is the key of its sheet. A coded protocol (a
radiopharmaceutical) is keyed by its code, normalised as
:func:`service.codes.stored_key` does (SNOMED RT as SNOMED CT), never by its
meaning, and offers the sheet its name as the audits read it
(:func:`service.audits.names.raw_name_of`: its meaning, or the text sent
beside it); one sent as text only is keyed by that text, like a plain-text
protocol (a CT acquisition protocol), which is its own name.

Rows:

* a *study row* holds the study's columns, then each event's columns in turn
  (``E1 Mean CTDIvol (mGy)``, ``E2 ...``) stretching to the right, as many
  event groups as the study with most events needs;
* an *event row* holds the study's columns, then one event's columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from schemas.columns import Cell, Column, distinct_headers, read_row, schema_at, walk
from schemas.study import Study
from service.audits.names import raw_name_of
from service.codes import CodeKey, stored_key
from service.modalities import MODALITIES, SECTIONS, Modality

STUDY = Study()
#: What an event's protocol sheet is keyed by: a code, a text, or nothing.
ProtocolKey = CodeKey | str | None


@dataclass(frozen=True)
class Flat:
    """One study flattened: its own cells, and the cells, protocol and protocol name of each of its events."""

    cells: list[Cell]
    events: list[list[Cell]]
    protocols: list[ProtocolKey]
    names: list[str | None]  # the name each event offers its protocol's sheet


@dataclass(frozen=True)
class Layout:
    """The columns of one modality's export and how to find its events."""

    modality: str
    shape: Modality  # the registry entry: section, events, protocol field, summary totals
    study_columns: tuple[Column, ...]
    event_columns: tuple[Column, ...]

    @property
    def events_path(self) -> str:
        """Return the dotted path of the event array in a study document."""
        return self.shape.events_path

    def projection(self) -> dict[str, int]:
        """Return the MongoDB projection that fetches what the columns read."""
        roots = {column.path.split(".")[0] for column in self.study_columns}
        return {"_id": 0, self.shape.section: 1, **dict.fromkeys(sorted(roots - {self.shape.section}), 1)}

    def events(self, doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """Return the study's events of this modality's section."""
        found = (doc.get(self.shape.section) or {}).get(self.shape.events) or []
        return [event for event in found if isinstance(event, Mapping)]

    @cached_property
    def protocol_index(self) -> int | None:
        """Return the position, among the event columns, of the one that names the per-protocol sheets."""
        return next((i for i, c in enumerate(self.event_columns) if c.path == self.shape.protocol), None)

    @property
    def protocol_header(self) -> str:
        """Return the header of the event column that names the per-protocol sheets."""
        index = self.protocol_index
        return "Protocol" if index is None else self.event_columns[index].header

    def study_headers(self, events: int) -> list[str]:
        """Return the headers of study rows with ``events`` event groups."""
        return [c.header for c in self.study_columns] + [
            f"E{n} {c.header}" for n in range(1, events + 1) for c in self.event_columns
        ]

    def event_headers(self) -> list[str]:
        """Return the headers of event rows."""
        return [c.header for c in (*self.study_columns, *self.event_columns)]

    def study_row(self, cells: list[Cell], events: list[list[Cell]], groups: int) -> list[Cell]:
        """Return a study row: its cells, then ``groups`` event groups (empty where it has fewer events)."""
        row = list(cells)
        for event in events[:groups]:
            row += event
        return row + [None] * (len(self.event_columns) * max(groups - len(events), 0))

    def flatten(self, doc: Mapping[str, Any]) -> Flat:
        """Return the study's own cells, and each event's cells, protocol and protocol name."""
        found = self.events(doc)
        events = [read_row(self.event_columns, event) for event in found]
        keys = [self.protocol(event, cells) for event, cells in zip(found, events, strict=True)]
        return Flat(read_row(self.study_columns, doc), events, [k for k, _ in keys], [n for _, n in keys])

    def protocol(self, event: Mapping[str, Any], cells: list[Cell]) -> tuple[ProtocolKey, str | None]:
        """Return the key of the event's protocol sheet and the name it offers: a code and its meaning, or a text."""
        index = self.protocol_index
        if index is None:
            return None, None
        raw = raw_name_of(self.modality, self.shape.protocol, event)
        name = raw if isinstance(raw, str) and raw else None
        code = stored_key(event.get(self.shape.protocol))
        if code is not None:
            return code, name
        text = name if cells[index] is None else str(cells[index])
        return text, text


def _study_columns(shape: Modality) -> list[Column]:
    """Return the study's fields, its summary totals of this modality, then its section's own values."""
    summary = schema_at(STUDY, ["summary"])
    by_path = {c.path: c for c in walk(summary, ("summary",), context="Summary")} if summary else {}
    section = schema_at(STUDY, [shape.section])
    return [
        *walk(STUDY, skip=frozenset({"summary", *SECTIONS})),
        *(by_path[path] for path in (f"summary.{name}" for name in shape.summary) if path in by_path),
        *(walk(section, (shape.section,), skip=frozenset({shape.events})) if section else []),
    ]


@cache
def layout(modality: str) -> Layout:
    """Return the export layout of a list modality ("CT", "RF", "DX", "MG", "NM")."""
    shape = MODALITIES[modality]
    event_schema = schema_at(STUDY, [shape.section, shape.events])
    study = _study_columns(shape)
    # Distinct over both: an event row holds the study's columns and the event's.
    columns = distinct_headers([*study, *(walk(event_schema) if event_schema else [])])
    return Layout(modality, shape, tuple(columns[: len(study)]), tuple(columns[len(study) :]))
