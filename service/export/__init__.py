"""CSV and XLSX exports of the studies a list shows (DESIGN.md, Interfaces).

``layout`` says what each modality's export holds (columns from the study
schema), ``core`` holds an export in progress, ``csv`` and ``xlsx`` write it.
This module runs one export for the API and the command line alike:
:func:`start_export` builds the query, reads the keys of the selection in
slices with the most events in one study (:mod:`service.export.reader`: no
database operation holds the server long, and a bad argument or an
unreachable database fails before any byte is sent) and reads the modality's
standard names once
(:mod:`service.export.standard`: a column of standard names after each raw
name that can be mapped, empty where a name has no mapping), and
:func:`export_bytes` produces the file's bytes and records the export in the
event log when they are all out, or when the reader went away.

CSV bytes are produced as the studies are read. An XLSX file cannot be sent
before it is complete (it is a zip whose directory comes last), so it is
written to an anonymous temporary file first and then sent from there (an
XLSX failure is therefore a proper error response); memory stays flat either
way. The studies are read ahead in a thread (:mod:`service.export.readahead`).
Both run in the request's own thread, so the threaded server keeps answering
other requests meanwhile.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from schemas.query import StudyQuery
from service.audits.names import StandardNames
from service.errors import InvalidArgument, TooWide
from service.export import reader
from service.export.core import MAX_COLUMNS, ROWS, Export
from service.export.csv import csv_chunks
from service.export.layout import layout
from service.export.readahead import read_ahead
from service.export.standard import with_standard_names
from service.export.xlsx import write_xlsx
from service.storage import Store

#: Bytes read from the XLSX temporary file per chunk sent.
FILE_CHUNK = 1 << 16


def start_export(
    store: Store,
    query: StudyQuery,
    fmt: str,
    *,
    rows: str = "study",
    via: str = "",
    client: str = "",
    now: datetime | None = None,
) -> Export:
    """Prepare an export of every study ``query`` lists, in its order (the studies are read on first read).

    ``rows`` is the CSV's layout (:data:`service.export.core.ROWS`). The keys of
    the selection are read here in slices (:mod:`service.export.reader`; ``now``
    is where their date windows start), so a bad argument or an unreachable
    database fails before any byte is sent. A wide CSV that would exceed
    Excel's columns is refused (:class:`TooWide`), and the refusal logged,
    before anything is written. Test patients are left out unless the query
    asks for them (``StudyQuery.for_reports``).
    """
    query = query.for_reports()
    if rows not in ROWS or (rows != "study" and fmt != "csv"):
        raise InvalidArgument({"layout": [_layout_expected(fmt)]})
    modality = query.modality or ""
    shape = with_standard_names(layout(modality), StandardNames.of(modality, store.standard_names(modality)))
    keys, most = reader.selection(store, query, shape.events_path, now=now or datetime.now())
    export = Export(shape, (), query.arguments(), most if FORMATS[fmt].counts_first and rows == "study" else 0, rows)
    if export.width() > MAX_COLUMNS:
        refuse_too_wide(store, export, fmt, via=via, client=client)
    export.studies = read_ahead(reader.studies(store, keys, shape.projection()))
    return export


def _layout_expected(fmt: str) -> str:
    if fmt != "csv":
        return "Expected study: layout=events is for CSV (an XLSX export has one event per row in its protocol sheets)."
    return f"Expected one of {', '.join(ROWS)}."


def refuse_too_wide(store: Store, export: Export, fmt: str, *, via: str, client: str) -> None:
    """Log and raise the refusal of a wide export with more columns than a spreadsheet opens."""
    modality, width = export.layout.modality, export.width()
    message = (
        f"A {modality} {fmt.upper()} with one study per row would have {width:,} columns (the study with most "
        f"events has {export.most_events}), more than the {MAX_COLUMNS:,} Excel opens; ask for layout=events "
        "(one event per row; `doseledger export --layout events`), or narrow the filters."
    )
    details = {"modality": modality, "format": fmt, "filters": dict(export.arguments), "columns": width}
    store.append_event("export", via=via, client=client, message=message, outcome="refused", details=details)
    raise TooWide(message)


def _csv_bytes(export: Export, exported_at: datetime) -> Iterator[bytes]:
    return (chunk.encode("utf-8") for chunk in csv_chunks(export))


def _xlsx_bytes(export: Export, exported_at: datetime) -> Iterator[bytes]:
    handle = tempfile.TemporaryFile()  # noqa: SIM115 -- closed by _read_chunks
    try:
        write_xlsx(export, handle, exported_at=exported_at)
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return _read_chunks(handle)


def _read_chunks(handle: IO[bytes]) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(FILE_CHUNK):
            yield chunk


@dataclass(frozen=True)
class Format:
    """An export format: its media type and how its bytes are produced."""

    mimetype: str
    produce: Callable[[Export, datetime], Iterator[bytes]]
    counts_first: bool  # needs the most events in one study before writing (read with the selection's keys)


FORMATS: dict[str, Format] = {
    "csv": Format("text/csv", _csv_bytes, counts_first=True),
    "xlsx": Format("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _xlsx_bytes, False),
}


def filename(export: Export, fmt: str, exported_at: datetime) -> str:
    """Return the file name offered for an export: ``doseledger-ct-20260101-120000.xlsx``."""
    return f"doseledger-{export.layout.modality.lower()}-{exported_at:%Y%m%d-%H%M%S}.{fmt}"


def export_bytes(
    store: Store, export: Export, fmt: str, *, via: str, client: str, exported_at: datetime
) -> Iterator[bytes]:
    """Return the export's bytes; the export is recorded in the event log once they are out.

    An XLSX file is complete before this returns (a failure raises here, before
    any byte is sent); CSV is produced while the bytes are read.
    """
    try:
        chunks = FORMATS[fmt].produce(export, exported_at)
    except Exception:
        export.close()
        record(store, export, fmt, via=via, client=client, outcome="failed")
        raise
    return _recorded(chunks, store, export, fmt, via=via, client=client)


def _recorded(
    chunks: Iterator[bytes], store: Store, export: Export, fmt: str, *, via: str, client: str
) -> Iterator[bytes]:
    """Yield ``chunks``, then record the export: exported, failed, or aborted by the reader."""
    outcome = "aborted"
    try:
        yield from chunks
        outcome = "exported"
    except Exception:
        outcome = "failed"
        raise
    finally:
        export.close()
        record(store, export, fmt, via=via, client=client, outcome=outcome)


def record(store: Store, export: Export, fmt: str, *, via: str, client: str, outcome: str) -> int:
    """Append the export to the event log: who, which filters, how many studies and events."""
    done = {"exported": "Exported", "aborted": "Stopped after", "failed": "Failed after"}[outcome]
    rows = " (one event per row)" if export.rows == "events" else ""
    message = (
        f"{done} {export.studies_written} {export.layout.modality} studies ({export.events_written} events) "
        f"as {fmt.upper()}{rows}; filters: {export.describe_filters()}"
    ) + "".join(f"; {note}" for note in export.notes)
    details = {
        "modality": export.layout.modality,
        "format": fmt,
        "filters": dict(export.arguments),
        "studies": export.studies_written,
        "events": export.events_written,
        **({"layout": export.rows} if export.rows != "study" else {}),
        **({"notes": list(export.notes)} if export.notes else {}),
    }
    return store.append_event("export", via=via, client=client, message=message, outcome=outcome, details=details)
