"""CSV export: one study per row, its events stretching to the right, streamed in chunks.

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


def csv_chunks(export: Export) -> Iterator[str]:
    """Yield the CSV text of an export in chunks of :data:`CHUNK_ROWS` rows."""
    groups = export.most_events
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(export.layout.study_headers(groups))
    for count, flat in enumerate(export, start=1):
        writer.writerow([_cell(v) for v in export.layout.study_row(flat.cells, flat.events, groups)])
        if count % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
