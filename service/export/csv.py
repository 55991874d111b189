"""CSV: the one writer of every CSV the service sends, and the exports written with it.

:class:`SafeWriter` is how the service writes CSV (exports and audit tables
alike): text a spreadsheet would run as a formula is neutralised, date-times
are written as ``YYYY-MM-DD HH:MM:SS`` (local time as the modality sent it),
numbers in Python's shortest exact form, missing values as empty cells.

An export is one study per row, its events stretching to the right, or one
event per row; streamed in chunks. The wide layout (``rows="study"``) is
refused by :func:`service.export.start_export` when it would exceed Excel's
16,384 columns; the long one (``rows="events"``) repeats the study's columns
before each event, and gives a study without events one row with empty event
columns. The text starts with a UTF-8 byte order mark so that Excel reads
accented and CJK names correctly (Python readers open it with
``encoding="utf-8-sig"``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from io import StringIO
from typing import Any, Protocol

from schemas.columns import Cell
from service.export.core import Export

BOM = "\ufeff"
#: Rows per chunk handed to the HTTP response or the file.
CHUNK_ROWS = 200
#: First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Text(Protocol):
    def write(self, text: str, /) -> Any: ...


@dataclass(frozen=True)
class Figure:
    """A number already written out (rounded as a page shows it): written as it is, never neutralised."""

    text: str


def neutralise(text: str) -> str:
    """Prefix text that a spreadsheet would run as a formula with an apostrophe."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def safe_cell(value: Any) -> str | int | float:
    """Return a value as a CSV cell: text neutralised, date-times without ``T``, None empty."""
    if value is None:
        return ""
    if isinstance(value, Figure):
        return value.text
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, int | float):
        return value
    return neutralise(str(value))


class SafeWriter:
    """Write CSV rows (CRLF line ends) whose cells go through :func:`safe_cell`: no cell runs as a formula."""

    def __init__(self, target: _Text) -> None:
        self._writer = csv.writer(target, lineterminator="\r\n")

    def writerow(self, cells: Iterable[Any]) -> None:
        """Write one row."""
        self._writer.writerow([safe_cell(value) for value in cells])


def _rows(export: Export) -> Iterator[list[Cell]]:
    """Yield the header, then the rows of the export's layout."""
    layout, groups = export.layout, export.most_events
    if export.rows == "events":
        yield list(layout.event_headers())
        empty = [None] * len(layout.event_columns)
        for flat in export:
            for event in flat.events or [empty]:
                yield flat.cells + event
        return
    yield list(layout.study_headers(groups))
    for flat in export:
        yield layout.study_row(flat.cells, flat.events, groups)


def csv_chunks(export: Export) -> Iterator[str]:
    """Yield the CSV text of an export in chunks of :data:`CHUNK_ROWS` rows."""
    buffer = StringIO()
    writer = SafeWriter(buffer)
    buffer.write(BOM)
    for count, row in enumerate(_rows(export)):
        writer.writerow(row)
        if count % CHUNK_ROWS == 0 and count:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
