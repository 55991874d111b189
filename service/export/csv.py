"""CSV export: one study per row, its events stretching to the right, or one event per row; streamed in chunks.

The wide layout (``rows="study"``) is refused by :func:`service.export.start_export`
when it would exceed Excel's 16,384 columns; the long one (``rows="events"``)
repeats the study's columns before each event, and gives a study without
events one row with empty event columns.

The text starts with a UTF-8 byte order mark so that Excel reads accented and
CJK names correctly (Python readers open it with ``encoding="utf-8-sig"``).
Date-times are written as ``YYYY-MM-DD HH:MM:SS`` (local time as the modality
sent it), numbers in Python's shortest exact form, missing values as empty
cells. Text that a spreadsheet would run as a formula is neutralised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime

from schemas.columns import Cell
from service.export.core import Export

BOM = "\ufeff"
#: Rows per chunk handed to the HTTP response or the file.
CHUNK_ROWS = 200
#: First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Prefix text that a spreadsheet would run as a formula with an apostrophe."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _cell(value: Cell) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return value


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
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    for count, row in enumerate(_rows(export)):
        writer.writerow([_cell(v) for v in row])
        if count % CHUNK_ROWS == 0 and count:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
