"""One error shape for API clients, a small HTML page for browsers, never a traceback.

API clients (paths under ``/api/``, ``/healthz``, ``/metrics``, or an ``Accept`` that prefers
JSON) get ``{"code", "status", "message", "errors"}``; browsers get
``error.html``. Errors the service raises on purpose map to statuses here;
anything else is logged with its traceback and answered with a generic 500.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from service.errors import (
    AccessDenied,
    ConfigurationError,
    Conflict,
    DatabaseUnavailable,
    DoseLedgerError,
    InvalidArgument,
    InvalidDoseReport,
    InvalidFile,
    NotADoseObject,
    NotDicom,
    NotFound,
    NotSignedIn,
    PacsError,
    RejectedObject,
    TooLarge,
    TooManyAttempts,
    TooWide,
)

log = logging.getLogger(__name__)

#: error class -> HTTP status; the first matching class in the MRO wins
STATUS: dict[type[DoseLedgerError], int] = {
    NotDicom: 400,
    TooLarge: 413,
    NotADoseObject: 422,
    InvalidDoseReport: 422,
    RejectedObject: 422,
    InvalidArgument: 400,
    InvalidFile: 400,
    TooWide: 422,
    NotFound: 404,
    PacsError: 502,
    DatabaseUnavailable: 503,
    ConfigurationError: 500,
    NotSignedIn: 401,
    AccessDenied: 403,
    Conflict: 409,
    TooManyAttempts: 429,
}

#: machine-readable codes of errors that have no ``code`` attribute
CODES: dict[type[DoseLedgerError], str] = {
    NotFound: "not-found",
    DatabaseUnavailable: "database-unavailable",
    ConfigurationError: "configuration-error",
}


def status_of(error: DoseLedgerError | type[DoseLedgerError]) -> int:
    """Return the HTTP status for an error (class or instance)."""
    cls = error if isinstance(error, type) else type(error)
    for klass in cls.__mro__:
        if klass in STATUS:
            return STATUS[klass]  # type: ignore[index]
    return 500


def code_of(error: DoseLedgerError) -> str:
    """Return the machine-readable code of an error."""
    for klass in type(error).__mro__:
        if klass in CODES:
            return CODES[klass]  # type: ignore[index]
    return str(getattr(error, "code", "error"))


def wants_json() -> bool:
    """Tell whether the client is an API client rather than a browser."""
    if request.path.startswith("/api/") or request.path in ("/healthz", "/metrics"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json"


def error_response(code: str, status: int, message: str, errors: Any = None) -> Response:
    """Build the uniform error response in the form the client wants."""
    if wants_json():
        body = {
            "code": code,
            "status": status,
            "message": message,
            "errors": errors if errors is not None else [],
        }
        response = jsonify(body)
    else:
        response = Response(
            render_template("error.html", code=code, status=status, message=message), mimetype="text/html"
        )
    response.status_code = status
    return response


def _doseledger_error(error: DoseLedgerError) -> Response:
    status = status_of(error)
    if status >= 500:
        log.error("%s: %s", type(error).__name__, error)
    response = error_response(code_of(error), status, str(error), getattr(error, "errors", None))
    if isinstance(error, NotSignedIn):
        response.headers["WWW-Authenticate"] = 'Bearer realm="DoseLedger"'
    if isinstance(error, TooManyAttempts):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    code = (error.name or "error").lower().replace(" ", "-")
    response = error_response(code, status, error.description or error.name)
    if status == 405 and error.get_response().headers.get("Allow"):
        response.headers["Allow"] = error.get_response().headers["Allow"]
    return response


def _csrf_error(error: CSRFError) -> Response:
    return error_response(
        "csrf-failed",
        400,
        f"Refused: {error.description} The form did not come from this DoseLedger page, or its session ended; "
        "reload the page and send it again (API clients: use 'Authorization: Bearer <token>').",
    )


def _validation_error(error: ValidationError) -> Response:
    return error_response("invalid-arguments", 400, "The request arguments are not valid.", error.messages)


def _unexpected(error: Exception) -> Response:
    log.exception("Unhandled error on %s %s", request.method, request.path)
    return error_response("internal-error", 500, "Something went wrong on our side; the error has been logged.")


def init_app(app: Flask) -> None:
    """Register the error handlers on ``app``."""
    app.register_error_handler(DoseLedgerError, _doseledger_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(ValidationError, _validation_error)
    app.register_error_handler(Exception, _unexpected)
