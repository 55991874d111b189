"""Alert routes: the rule table, the alerts and their answers, the alerts and rules pages, the study page's part.

- ``GET /api/alert-rules`` (viewer): the table in force; ``PUT`` (admin) replaces it whole (JSON).
- ``GET /api/alerts?state=open&modality=RF&station_name=CATH1&limit=100`` (viewer): newest first.
- ``POST /api/alerts/<id>/acknowledge`` and ``/close`` (admin): JSON ``{"comment": ...}``, or the
  alerts page's form (CSRF), which is sent back to the page.
- ``GET /alerts`` (viewer): open alerts first, filtered by state, modality and station.
- ``GET /alert-rules`` (viewer) and ``POST /alert-rules`` (admin, the table's JSON in a form).
- ``study_alerts(study)`` (a template function): the study page's alerts and, for ``pid``, the
  patient's cumulative values, shown by ``_alerts.html``.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for

from schemas.alert_rules import TableSchema, parse_alert_rules, read_alert_rules
from schemas.api import Alert, Alerts, AlertTable
from service.access import requires
from service.alerts.records import STATES, alert_filter, answer
from service.alerts.rules import public_table, replace_rules
from service.alerts.view import alert_json, alert_rows, cumulative_values
from service.errors import InvalidArgument
from service.modalities import MODALITIES
from service.web.apidoc import FORM, HTML, JSON, SEE_OTHER, documented, form
from service.web.arguments import single_values
from service.web.auth import may_see_patient_key, request_client
from service.web.context import get_store

bp = Blueprint("alerts", __name__)

#: the arguments of an alert listing
LIST_ARGUMENTS = ("state", "modality", "station_name", "limit")
MAX_LIMIT = 500

_LISTING = tuple(
    {**argument, "allowEmptyValue": True}  # an empty field of the page's filter form is no filter
    for argument in (
        {"name": "state", "schema": {"type": "string", "enum": list(STATES)}},
        {"name": "modality", "schema": {"type": "string", "enum": list(MODALITIES)}},
        {"name": "station_name", "schema": {"type": "string"}},
        {"name": "limit", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 100}},
    )
)
_ALERT = {"alert": {"description": "The alert's identifier"}}
_COMMENT = {"type": "string", "description": "Who or why, for the record (needed to close)"}


def _answered(what: str) -> object:
    """Describe acknowledging or closing an alert: JSON gets the alert, the page's form goes back to the page."""
    return documented(
        "alerts",
        path=_ALERT,
        body={JSON: {"type": "object", "properties": {"comment": _COMMENT}}, FORM: form(comment=_COMMENT)},
        answers={200: (f"The alert, {what} (a JSON request).", Alert), 303: SEE_OTHER},
        errors={
            400: "No comment where one is needed, or one too long.",
            404: "There is no such alert.",
            409: "The alert is in a state this answer cannot follow.",
        },
    )


def _listing(args: dict[str, str], *, open_first: bool) -> list[dict[str, Any]]:
    """Return the alerts the arguments ask for; refuse an unknown or malformed argument (400)."""
    unknown = sorted(set(args) - set(LIST_ARGUMENTS))
    if unknown:
        raise InvalidArgument({name: [f"Unknown argument; expected {', '.join(LIST_ARGUMENTS)}."] for name in unknown})
    limit = args.get("limit") or "100"
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
        raise InvalidArgument({"limit": [f"Expected a whole number from 1 to {MAX_LIMIT}."]})
    filter = alert_filter(args.get("state"), args.get("modality"), args.get("station_name"))
    return get_store().find_alerts(filter, open_first=open_first, limit=int(limit))


@bp.get("/api/alert-rules")
@requires("viewer")
@documented("alerts", answers={200: ("The table in force.", AlertTable)})
def list_rules() -> Response:
    """Return the alert-rule table in force."""
    return jsonify(public_table(get_store()))


@bp.put("/api/alert-rules")
@requires("admin")
@documented(
    "alerts",
    body={JSON: TableSchema},
    answers={200: ("The new table, in force.", AlertTable)},
    errors={400: "A rule or route is not valid (each error names its place in the table)."},
)
def put_rules() -> Response:
    """Replace the whole alert-rule table with the JSON body."""
    table = parse_alert_rules(request.get_json(silent=True))
    return jsonify(replace_rules(get_store(), table, via="http", client=request_client()))


@bp.get("/api/alerts")
@requires("viewer")
@documented("alerts", query=_LISTING, answers={200: ("The alerts, newest first.", Alerts)})
def list_alerts() -> Response:
    """List alerts, newest first, filtered by state, modality and station."""
    alerts = _listing(single_values(request.args), open_first=False)
    return jsonify({"alerts": [alert_json(alert) for alert in alerts]})


def _answer(alert: str, action: str) -> Response:
    """Acknowledge or close an alert; a form goes back to the alerts page, JSON gets the alert."""
    if request.is_json:
        body = request.get_json(silent=True)
        comment = body.get("comment") if isinstance(body, dict) else None
        if comment is not None and not isinstance(comment, str):
            raise InvalidArgument({"comment": ["Expected text."]})
        return jsonify(alert_json(answer(get_store(), alert, action, comment, via="http", client=request_client())))
    form = single_values(request.form)
    changed = answer(get_store(), alert, action, form.get("comment"), via="http", client=request_client())
    study = changed["study_description"] or changed["study_instance_uid"]
    flash(f"Alert {changed['rule']} on {study}: {changed['state']}.")
    back = form.get("next", "")
    return redirect(back if back.startswith("/alerts") else url_for(".alerts_page"), 303)


@bp.post("/api/alerts/<alert>/acknowledge")
@requires("admin")
@_answered("acknowledged")
def acknowledge(alert: str) -> Response:
    """Acknowledge an alert (who, when, an optional comment)."""
    return _answer(alert, "acknowledge")


@bp.post("/api/alerts/<alert>/close")
@requires("admin")
@_answered("closed")
def close(alert: str) -> Response:
    """Close an alert (who, when, and why: a comment is needed)."""
    return _answer(alert, "close")


@bp.get("/alerts")
@requires("viewer")
@documented("pages", query=_LISTING, answers={200: ("The page.", HTML)})
def alerts_page() -> str:
    """Show the alerts, open ones first, with the filter form."""
    args = single_values(request.args)
    alerts = _listing(args, open_first=True)
    return render_template(
        "alerts.html",
        rows=alert_rows(alerts),
        args=args,
        states=STATES,
        modalities=list(MODALITIES),
        current="alerts",
        here=request.full_path.rstrip("?"),
    )


def _rules_page(text: str | None = None, errors: dict[str, Any] | None = None) -> str:
    table = public_table(get_store())
    shown = {key: table[key] for key in ("rules", "routes")}
    return render_template(
        "alert_rules.html",
        table=table,
        text=text or json.dumps(shown, indent=2, ensure_ascii=False),
        errors=errors,
        current="alerts",
    )


@bp.get("/alert-rules")
@requires("viewer")
@documented("pages", answers={200: ("The page.", HTML)})
def rules_page() -> str:
    """Show the alert rules and routes; an administrator can edit the table."""
    return _rules_page()


@bp.post("/alert-rules")
@requires("admin")
@documented(
    "pages",
    body={FORM: form("table", table={"type": "string", "description": "The table as JSON"})},
    answers={303: ("Saved: back to the page.", None), 400: ("Refused: the form again, with the errors.", HTML)},
)
def save_rules_page() -> Response | tuple[str, int]:
    """Replace the table with the JSON of the page's form; back to the form with the errors if it is refused."""
    text = single_values(request.form).get("table", "")
    try:
        table = read_alert_rules(text)
    except InvalidArgument as e:
        return _rules_page(text, e.errors), 400
    saved = replace_rules(get_store(), table, via="http", client=request_client())
    flash(f"Alert rules saved (version {saved['version']}).")
    return redirect(url_for(".rules_page"), 303)


@bp.app_template_global()
def study_alerts(study: dict[str, Any]) -> dict[str, Any]:
    """Return what the study page shows of alerts: the study's, and (``pid`` only) the patient's cumulative values."""
    store = get_store()
    alerts = store.find_alerts({"study_instance_uid": study.get("study_instance_uid")}, limit=100)
    cumulative = cumulative_values(store, study) if may_see_patient_key() else []
    return {"alerts": alert_rows(alerts), "cumulative": cumulative}
