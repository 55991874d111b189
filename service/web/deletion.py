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
from service.web.auth import request_client
from service.web.context import get_store

bp = Blueprint("deletion", __name__)


@bp.delete("/api/studies/<study_instance_uid>")
@requires("admin")
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
def confirm_delete(study_instance_uid: str) -> str:
    """Show what deleting the study removes, and ask for the reason."""
    return render_template("delete.html", study=get_store().get_study(study_instance_uid), max_reason=MAX_REASON)


@bp.post("/studies/<study_instance_uid>/delete")
@requires("admin")
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
