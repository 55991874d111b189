"""Exports over HTTP: ``GET /api/exports/<modality>.csv`` and ``.xlsx`` with the list's filters.

The arguments are those of ``GET /api/studies`` and the list pages
(:mod:`schemas.query`), so a list's URL becomes its export by changing the
path; every matching study is exported, in the list's order, whatever page
the list showed. ``layout=events`` gives a CSV of one event per row (the
default, ``study``, one study per row). The answer is streamed (see
:mod:`service.export`).
"""

from __future__ import annotations

from flask import Blueprint, Response, request, stream_with_context

from schemas.query import StudyQuerySchema, parse_study_query
from service.access import requires
from service.export import FORMATS, export_bytes, filename, start_export
from service.export.core import ROWS
from service.modalities import MODALITIES
from service.storage import utcnow
from service.web.apidoc import CSV, XLSX, documented
from service.web.auth import request_client
from service.web.context import get_store

bp = Blueprint("exports", __name__)


_LAYOUT = {
    "name": "layout",
    "schema": {"type": "string", "enum": list(ROWS), "default": "study"},
    "description": "CSV only: `study`, one study per row with its events to the right; `events`, one event per row",
}


@bp.get("/api/exports/<modality>.<any(csv, xlsx):fmt>")
@requires("exporter")
@documented(
    "exports",
    query=(StudyQuerySchema(exclude=("modality", "page_size", "after")), _LAYOUT),
    path={"modality": {"enum": list(MODALITIES), "description": "The list modality"}},
    answers={200: ("The file, streamed.", {**CSV, **XLSX})},
    errors={
        400: "layout=events asked of an XLSX export.",
        422: "A one-study-per-row CSV would be wider than Excel's 16,384 columns (`too-wide`): ask for layout=events.",
    },
)
def export(modality: str, fmt: str) -> Response:
    """Send the studies of a modality's list, filtered like the list, as CSV or XLSX."""
    query = parse_study_query({k: v for k, v in request.args.items() if k != "layout"}, modality=modality)
    store, exported_at, client = get_store(), utcnow(), request_client()
    rows = request.args.get("layout", "study")
    started = start_export(store, query, fmt, rows=rows, via="http", client=client)
    chunks = export_bytes(store, started, fmt, via="http", client=client, exported_at=exported_at)
    disposition = f'attachment; filename="{filename(started, fmt, exported_at)}"'
    return Response(
        stream_with_context(chunks), mimetype=FORMATS[fmt].mimetype, headers={"Content-Disposition": disposition}
    )
