"""Deleting a study: ``DELETE /api/studies/<uid>`` and the study page's delete button, for admins.

The API takes the reason as JSON ``{"reason": "..."}``, or as a form field or
query argument ``reason``; it is required (400 without it). The page is a
plain form, so it works without JavaScript: the study page links to a
confirmation page (``GET /studies/<uid>/delete``) that shows what will go and
asks for the reason; posting it deletes the study and says what was done.
Both log who (the signed-in user or token and the address, as every route does), when and why
(:func:`service.retention.delete_study`).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template, request

from service.access import requires
from service.errors import InvalidArgument
from service.retention import MAX_REASON, check_reason, delete_study
from service.web.apidoc import FORM, HTML, JSON, documented, form
from service.web.auth import request_client
from service.web.context import get_store

bp = Blueprint("deletion", __name__)

_UID = {"study_instance_uid": {"description": "The Study Instance UID"}}
_REASON = {"type": "string", "minLength": 1, "maxLength": MAX_REASON, "description": "Why (kept in the event log)"}
_GONE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["study_instance_uid", "deleted", "originals", "seq"],
    "properties": {
        "study_instance_uid": {"type": "string"},
        "deleted": {"type": "boolean", "const": True},
        "originals": {"type": "integer", "minimum": 0, "description": "Kept originals deleted with it"},
        "seq": {"type": "integer", "minimum": 1, "description": "The event-log entry of the deletion"},
    },
}


@bp.delete("/api/studies/<study_instance_uid>")
@requires("admin")
@documented(
    "studies",
    path=_UID,
    query=({"name": "reason", "schema": _REASON, "description": "Why, when not sent as JSON"},),
    body={JSON: {"type": "object", "properties": {"reason": _REASON}}},
    answers={200: ("Deleted: what went, and the event-log entry.", _GONE)},
    errors={400: "No reason given, or one that is not text.", 404: "There is no study with this UID."},
)
def delete_study_api(study_instance_uid: str) -> Response:
    """Delete one study with its originals and tally counts; answer what went and the event-log ``seq``."""
    body = request.get_json(silent=True) if request.is_json else None
    if request.is_json and not isinstance(body, dict):
        raise InvalidArgument({"body": ['Send a JSON object such as {"reason": "..."}.']})
    reason = body.get("reason") if body else request.values.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise InvalidArgument({"reason": [f"Expected text, found {type(reason).__name__}."]})
    deleted = delete_study(get_store(), study_instance_uid, reason=reason or "", via="http", client=request_client())
    return jsonify(
        {"study_instance_uid": study_instance_uid, "deleted": True, "originals": deleted.originals, "seq": deleted.seq}
    )


@bp.get("/studies/<study_instance_uid>/delete")
@requires("admin")
@documented("pages", path=_UID, answers={200: ("The confirmation page.", HTML)}, errors={404: "No such study."})
def confirm_delete(study_instance_uid: str) -> str:
    """Show what deleting the study removes, and ask for the reason."""
    return render_template("delete.html", study=get_store().get_study(study_instance_uid), max_reason=MAX_REASON)


@bp.post("/studies/<study_instance_uid>/delete")
@requires("admin")
@documented(
    "pages",
    path=_UID,
    body={FORM: form("reason", reason=_REASON)},
    answers={200: ("Deleted: the page says what went.", HTML), 400: ("No reason: the page asks again.", HTML)},
    errors={404: "No such study."},
)
def delete_study_page(study_instance_uid: str) -> tuple[str, int] | str:
    """Delete the study with the reason given; without one, ask again (400)."""
    reason = request.form.get("reason", "")
    try:
        check_reason(reason)
    except InvalidArgument as e:
        study = get_store().get_study(study_instance_uid)
        page = render_template("delete.html", study=study, max_reason=MAX_REASON, error=e.errors["reason"][0])
        return page, 400
    deleted = delete_study(get_store(), study_instance_uid, reason=reason, via="http", client=request_client())
    return render_template("delete.html", deleted=deleted, reason=reason.strip())
