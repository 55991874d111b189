"""XLSX export: Summary, All data, then one sheet per protocol, written in constant memory.

The workbook follows the original brief for every modality:

* **Summary**: what was exported (modality, filters, counts, time), then how
  often each study description, requested procedure and protocol occurs, each
  followed by its standard names where it has them (standard view and
  radiopharmaceutical too: :mod:`service.export.standard`);
* **All data**: one study per row, its events stretching to the right;
* one sheet per protocol, alphabetically by name: one event per row, the
  study's columns first (a study with three events of one protocol gives
  three rows). A coded protocol (a radiopharmaceutical) is one sheet per code,
  named by the first of its meanings in code-point order, as the audits name
  the code's rows (:mod:`service.export.layout`, :mod:`service.export.spool`);
  a code whose name another sheet has too is named with its code after it
  (``FDG 35321007 (SCT)``), whatever the order of the studies. Summary counts
  the events of each sheet under its name, with the code after a name that
  two sheets share (``FDG [35321007 (SCT)]``, as the audits' charts write it).

XlsxWriter's ``constant_memory`` mode flushes each row to a temporary file
when the next row of that sheet starts, so rows must be written in order
within a sheet, and every sheet must exist, in its final order, before rows
go to any of them; the All data header must also know how many event groups
to name. The studies are therefore read from the database once, flattened and
counted into a :class:`~service.export.spool.Spool` on disk, and then written
from it: each study's row to All data and each of its events to its protocol
sheet as it comes (sheets are independent, so this interleaving is allowed).
Summary is complete from the counts before the first row. Each sheet holds
one open temporary file. Strings are written with ``write_string`` (never
read as formulas), numbers with ``write_number``, date-times as Excel dates.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from itertools import zip_longest
from typing import IO, Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from schemas.columns import Cell
from service.codes import code_text
from service.export.core import MAX_COLUMNS, Export
from service.export.layout import ProtocolKey
from service.export.spool import Spool
from service.export.standard import standard_after, standard_columns

MAX_ROWS = 1_048_576  # Excel's limits
MAX_SHEET_NAME = 31
SUMMARY, ALL_DATA, NO_PROTOCOL = "Summary", "All data", "No protocol name"
#: Study fields whose values Summary counts (with the protocols of the events).
COUNTED = ("study_description", "requested_procedure_description")
_NOT_IN_SHEET_NAME = re.compile(r"[\[\]:*?/\\\x00-\x1f]")


def sheet_names(
    keys: Iterable[ProtocolKey], reserved: Iterable[str], names: Mapping[ProtocolKey, str] | None = None
) -> dict[ProtocolKey, str]:
    """Name a sheet for each protocol by Excel's rules: 31 characters at most, some characters banned, unique.

    Characters Excel refuses (square brackets, colon, asterisk, question mark,
    slashes and control characters) become ``_``; names are compared ignoring
    case, and a repeat gets `` (2)``, `` (3)``... in the order of ``keys``;
    events without a protocol go to :data:`NO_PROTOCOL`. Each is named by
    :func:`protocol_name` from ``names`` (the spool's; a text is its own name),
    with its code after a name that another protocol has too (``FDG 35321007 (SCT)``,
    as Summary writes ``FDG [35321007 (SCT)]``).
    """
    taken = {name.casefold() for name in (*reserved, "History")}
    found_names: dict[ProtocolKey, str] = {}
    for key, (text, code) in _named(list(keys), names or {}).items():
        suffix = f" {code}" if code else ""
        cleaned = _NOT_IN_SHEET_NAME.sub("_", text or "").strip().strip("'")
        base = (cleaned[: MAX_SHEET_NAME - len(suffix)].rstrip() + suffix if cleaned else "") or NO_PROTOCOL
        found, number = base, 2
        while found.casefold() in taken:
            suffix = f" ({number})"
            found, number = base[: MAX_SHEET_NAME - len(suffix)].rstrip() + suffix, number + 1
        taken.add(found.casefold())
        found_names[key] = found
    return found_names


def _named(keys: list[ProtocolKey], names: Mapping[ProtocolKey, str]) -> dict[ProtocolKey, tuple[str | None, str]]:
    """Return each protocol's name, and its code (as text) where another protocol has that name too, else ''."""
    named = {key: protocol_name(key, names) for key in keys}
    shared = Counter(named.values())
    return {
        key: (text, code_text(key) if isinstance(key, tuple) and shared[text] > 1 else "")
        for key, text in named.items()
    }


def alphabetical(keys: Iterable[ProtocolKey], names: Mapping[ProtocolKey, str] | None = None) -> list[ProtocolKey]:
    """Sort protocols by name ignoring case, then as written, then codes in code order before texts; none last."""

    def order(key: ProtocolKey) -> tuple[Any, ...]:
        text = protocol_name(key, names or {})
        return (
            text is None,
            (text or "").casefold(),
            text or "",
            isinstance(key, str),
            key if isinstance(key, tuple) else (),
        )

    return sorted(keys, key=order)


def protocol_name(key: ProtocolKey, names: Mapping[ProtocolKey, str]) -> str | None:
    """Return a protocol's name: a code's first meaning (the code itself when it has none), a text itself."""
    if isinstance(key, tuple):
        return names.get(key) or code_text(key)
    return key


def protocol_counts(counts: Mapping[ProtocolKey, int], names: Mapping[ProtocolKey, str]) -> dict[str | None, int]:
    """Return the events of each protocol by its name, a code added to a name that two protocols share."""
    return {
        f"{text} [{code}]" if code else text: counts[key] for key, (text, code) in _named(list(counts), names).items()
    }


class Sheet:
    """A worksheet written top to bottom, one row after another."""

    def __init__(self, worksheet: Worksheet, dates: Format) -> None:
        self.worksheet, self.dates, self.next_row = worksheet, dates, 0

    def append(self, cells: Iterable[Cell], style: Format | None = None) -> None:
        """Write the next row: text as text, numbers as numbers, date-times as dates."""
        if self.next_row >= MAX_ROWS:
            return  # Summary says how many rows were left out
        ws, row = self.worksheet, self.next_row
        for col, value in enumerate(cells):
            if value is None:
                continue
            if isinstance(value, str):
                ws.write_string(row, col, value, style)
            elif isinstance(value, datetime):
                ws.write_datetime(row, col, value, self.dates)
            else:
                ws.write_number(row, col, value, style)
        self.next_row += 1


class Workbook:
    """The sheets of one export, laid out from what the spool counted."""

    def __init__(self, target: str | IO[bytes], export: Export, spool: Spool) -> None:
        self.book = xlsxwriter.Workbook(target, {"constant_memory": True})
        self.bold = self.book.add_format({"bold": True})
        self.dates = self.book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.export, self.spool, layout = export, spool, export.layout
        self.summary, self.all_data = self._sheet(SUMMARY), self._sheet(ALL_DATA)
        fits = _groups_that_fit(len(layout.study_columns), len(layout.event_columns))
        self.groups = min(spool.most_events, fits)
        if spool.most_events > self.groups:
            export.notes.append(
                f"All data shows the first {self.groups} of up to {spool.most_events} events of each study "
                f"(Excel's {MAX_COLUMNS:,} columns); every event is in its protocol sheet"
            )
        self.all_data.append(layout.study_headers(self.groups), self.bold)
        names = sheet_names(alphabetical(spool.protocols, spool.names), [SUMMARY, ALL_DATA], spool.names)
        self.protocols = {key: self._sheet(name) for key, name in names.items()}
        for sheet in self.protocols.values():
            sheet.append(layout.event_headers(), self.bold)

    def _sheet(self, name: str) -> Sheet:
        worksheet = self.book.add_worksheet(name)
        worksheet.freeze_panes(1, 0)
        return Sheet(worksheet, self.dates)

    def write_studies(self) -> None:
        """Write every study to All data and each of its events to its protocol's sheet."""
        layout = self.export.layout
        for flat in self.spool:
            self.all_data.append(layout.study_row(flat.cells, flat.events, self.groups))
            for protocol, event in zip(flat.protocols, flat.events, strict=True):
                self.protocols[protocol].append(flat.cells + event)

    def write_summary(self, exported_at: datetime) -> None:
        """Fill the Summary sheet: what was exported, then the frequency tables."""
        layout, sheet = self.export.layout, self.summary
        for label, value in self._facts(exported_at):
            sheet.append([label, value])
        sheet.append([])
        spool, studies, events = self.spool, layout.study_columns, layout.event_columns
        headers = [
            *((studies[i].header, "Studies") for i in spool.values),
            (layout.protocol_header, "Events"),
            *((events[i].header, "Events") for i in spool.event_values),
        ]
        sheet.append([cell for pair in headers for cell in (*pair, None)], self.bold)
        protocols = protocol_counts(spool.protocols, spool.names)
        counters = (*spool.values.values(), protocols, *spool.event_values.values())
        tables = [_by_frequency(counter) for counter in counters]
        for entries in zip_longest(*tables, fillvalue=(None, None)):
            sheet.append([cell for name, count in entries for cell in (name, count, None)])

    def _facts(self, exported_at: datetime) -> list[tuple[str, Cell]]:
        export, spool = self.export, self.spool
        facts: list[tuple[str, Cell]] = [
            ("Modality", export.layout.modality),
            ("Filters", export.describe_filters()),
            ("Studies", export.studies_written),
            ("Events", export.events_written),
            ("Exported at (UTC)", exported_at),
        ]
        facts += [("Note", f"{note}.") for note in export.notes]
        left_out = sum(max(count + 1 - MAX_ROWS, 0) for count in (spool.studies, *spool.protocols.values()))
        if left_out:
            facts.append(("Note", f"{left_out} rows beyond Excel's {MAX_ROWS} rows per sheet are left out."))
        return facts

    def close(self) -> None:
        """Assemble the workbook file."""
        self.book.close()


def _groups_that_fit(study_columns: int, event_columns: int) -> int:
    return (MAX_COLUMNS - study_columns) // event_columns if event_columns else 0


def _by_frequency(counts: Mapping[Any, int]) -> list[tuple[Any, int]]:
    """Return (value, count) pairs, most frequent first, then alphabetically, empty values last."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0] is None, str(item[0] or "")))


def write_xlsx(export: Export, target: str | IO[bytes], *, exported_at: datetime) -> None:
    """Write an export as an XLSX workbook to a path or a binary file: read and count, then write."""
    layout = export.layout
    paths = [column.path for column in layout.study_columns]
    counted = [i for path in COUNTED for i in standard_after(layout.study_columns, paths.index(path))]
    with Spool(counted, standard_columns(layout.event_columns)) as spool:
        spool.add_all(export)
        workbook = Workbook(target, export, spool)
        try:
            workbook.write_summary(exported_at)
            workbook.write_studies()
        finally:
            workbook.close()
