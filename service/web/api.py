"""The HTTP API: imports, studies, event log, health.

``POST /api/imports`` answers per object. One ``application/dicom`` body gives
that object's result; a multipart request (field ``files``) gives
``{"results": [...]}``. Status: 201 when something was created, 200 when every
object was merged or a duplicate, the rejection's 4xx (400 not DICOM, 413 too
large, 422 not a dose report or invalid) in the uniform error shape with the
results in ``errors`` when every object was rejected, and 207 Multi-Status when
a batch mixes accepted and rejected objects (each result says which).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType
from werkzeug.http import parse_options_header

from schemas.api import BINARY, EventLogPage, Health, ImportBatch, ImportResult, ImportUpload, StudyPage
from schemas.query import EventLogArgs, StudyQuerySchema, parse_study_query
from schemas.study import Study
from service.access import requires
from service.errors import InvalidDoseReport, NotADoseObject, NotDicom, RejectedObject, TooLarge
from service.ingest.grouped import ingest_together
from service.ingest.pipeline import Outcome, Pipeline
from service.reading import listing
from service.storage import deadline
from service.web.apidoc import documented
from service.web.auth import request_client
from service.web.context import get_pipeline, get_settings, get_store
from service.web.errors import error_response, status_of

bp = Blueprint("api", __name__)

DICOM_TYPES = ("application/dicom", "application/octet-stream")
NO_FILES = (
    "The multipart request has no readable field 'files' (a part whose headers are not UTF-8 is dropped); "
    "send the objects in it."
)
_REJECTION_STATUS = {
    cls.code: status_of(cls) for cls in (RejectedObject, NotDicom, TooLarge, NotADoseObject, InvalidDoseReport)
}


_RESULTS = {"oneOf": [ImportResult, ImportBatch]}
_X_FILENAME = {
    "in": "header",
    "name": "X-Filename",
    "required": False,
    "schema": {"type": "string"},
    "description": "The object's name for the event log (or Content-Disposition: attachment; filename=...)",
}


@bp.post("/api/imports")
@requires("importer")
@documented(
    "imports",
    headers=(_X_FILENAME,),
    body={"application/dicom": BINARY, "application/octet-stream": BINARY, "multipart/form-data": ImportUpload},
    answers={
        200: ("Every object merged into a study or already recorded (one object, or a batch).", _RESULTS),
        201: ("An object created a study (one object, or a batch without rejections).", _RESULTS),
        207: ("A batch of which some objects were rejected and some accepted; each result says which.", ImportBatch),
    },
    errors={
        400: "Not DICOM (empty, truncated, not a DICOM file), or a multipart request without files.",
        413: "The object is larger than DOSELEDGER_MAX_UPLOAD_BYTES (refused unread, logged).",
        415: "The body is neither application/dicom nor multipart/form-data.",
        422: "Not a dose report, or an invalid one (`errors` holds each result).",
    },
)
def create_import() -> Response:
    """Import one DICOM object (body) or several (multipart field ``files``).

    Every object is logged and its bytes kept, rejected ones included. A batch whose
    objects were all rejected answers their common status (400 when they differ).
    """
    pipeline = get_pipeline()
    client = request_client()
    try:
        if request.mimetype == "multipart/form-data":
            uploads = request.files.getlist("files")
            objects = ((upload.read(), upload.filename or f"files[{n}]") for n, upload in enumerate(uploads))
            outcomes = ingest_together(pipeline, objects, via="http", client=client)  # each study written once
            if not outcomes:
                return error_response("no-files", 400, NO_FILES)
            return _batch_response(outcomes)
        if request.mimetype not in DICOM_TYPES:
            raise UnsupportedMediaType(
                f"Send one object as application/dicom or several as multipart/form-data field 'files', "
                f"not {request.mimetype or 'a body without Content-Type'}."
            )
        data = request.get_data(cache=False)
        if len(data) > pipeline.max_bytes:  # a body without Content-Length, read one byte past the limit
            raise RequestEntityTooLarge()
        outcome = pipeline.ingest(data, name=_body_name(), via="http", client=client)
    except RequestEntityTooLarge:
        if not _body_over_the_limit(pipeline.max_bytes):
            return _single_response(_refuse_parts(pipeline, client))
        outcome = pipeline.refuse_too_large(request.content_length, name=_body_name(), via="http", client=client)
    return _single_response(outcome)


def _body_over_the_limit(max_bytes: int) -> bool:
    """Tell whether a 413 from Werkzeug was for the body's size, rather than the number of multipart parts."""
    if request.content_length is not None:
        return request.content_length > max_bytes
    return request.mimetype != "multipart/form-data" or bool(getattr(request.stream, "is_exhausted", True))


def _refuse_parts(pipeline: Pipeline, client: str) -> Outcome:
    """Refuse a multipart request with more parts than Werkzeug parses (MAX_FORM_PARTS)."""
    parts = request.max_form_parts
    reason = (
        f"The multipart request has more than {parts} parts, the limit of parts in one request "
        f"(Flask's MAX_FORM_PARTS); nothing in it was stored. Send at most {parts} objects per request."
    )
    return pipeline.refuse_too_large(
        request.content_length, name="multipart request", via="http", client=client, reason=reason
    )


def _body_name() -> str:
    """Return the name the client gave the body (X-Filename or Content-Disposition)."""
    name = request.headers.get("X-Filename")
    if not name:
        disposition = request.headers.get("Content-Disposition", "")
        name = parse_options_header(disposition)[1].get("filename", "")
    return name or "request body"


def _status(outcome: Outcome) -> int:
    if outcome.rejected:
        return _REJECTION_STATUS.get(outcome.code or "", 422)
    return 201 if outcome.outcome == "created" else 200


def _single_response(outcome: Outcome) -> Response:
    if outcome.rejected:
        return error_response(outcome.code or "rejected", _status(outcome), outcome.message, [outcome.as_dict()])
    response = jsonify(outcome.as_dict())
    response.status_code = _status(outcome)
    return response


def _batch_response(outcomes: list[Outcome]) -> Response:
    results = [outcome.as_dict() for outcome in outcomes]
    rejected = [outcome for outcome in outcomes if outcome.rejected]
    if rejected and len(rejected) == len(outcomes):
        statuses = {_status(outcome) for outcome in rejected}
        status = statuses.pop() if len(statuses) == 1 else 400
        message = f"All {len(outcomes)} objects were rejected: " + " ".join(o.message for o in rejected)
        return error_response("rejected", status, message, results)
    response = jsonify({"results": results, "counts": _counts(outcomes)})
    if rejected:
        response.status_code = 207
    else:
        response.status_code = 201 if any(o.outcome == "created" for o in outcomes) else 200
    return response


def _counts(outcomes: Iterable[Outcome]) -> dict[str, int]:
    counts = dict.fromkeys(("created", "merged", "duplicate", "rejected"), 0)
    for outcome in outcomes:
        counts[outcome.outcome] += 1
    return counts


@bp.get("/api/studies")
@requires("viewer")
@documented(
    "studies", query=StudyQuerySchema, answers={200: ("One page of studies, newest first by default.", StudyPage)}
)
def list_studies() -> Response:
    """Return one page of studies: ``{"total", "total_exact", "items", "next"}`` (arguments: schemas.query)."""
    page = listing.list_studies(get_store(), parse_study_query(request.args), now=datetime.now())
    return jsonify({"total": page.total, "total_exact": page.total_exact, "items": page.items, "next": page.next})


@bp.get("/api/studies/<study_instance_uid>")
@requires("viewer")
@documented(
    "studies",
    path={"study_instance_uid": {"description": "The Study Instance UID"}},
    answers={200: ("The study document (date-times ISO 8601).", Study)},
    errors={404: "There is no study with this UID."},
)
def get_study(study_instance_uid: str) -> Response:
    """Return one study document."""
    return jsonify(get_store().get_study(study_instance_uid))


@bp.get("/api/event-log")
@requires("viewer")
@documented("event log", query=EventLogArgs, answers={200: ("Entries after `after`, in order.", EventLogPage)})
def list_events() -> Response:
    """Return event-log entries after ``after``, in order, at most ``limit``."""
    args: dict[str, Any] = EventLogArgs().load(request.args.to_dict())
    events = get_store().events_after(args["after"], args["limit"])
    last = events[-1]["seq"] if events else args["after"]
    return jsonify({"events": events, "last_seq": last})


@bp.get("/healthz")
@requires(None)
@documented("operations", answers={200: ("The service and its database answer.", Health)})
def healthz() -> Response:
    """Answer 200 when the database answers ping within DOSELEDGER_HEALTH_TIMEOUT (503 otherwise)."""
    with deadline(get_settings().health_timeout):  # opening the store on first use included
        get_store().ping()
    return jsonify({"status": "ok", "database": "ok"})
