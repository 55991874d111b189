"""The query/retrieve pages, for administrators: nodes and runs, and the forms that change them.

- ``GET /pacs``: the nodes (each with its C-ECHO button and a link to delete it),
  the form to add a node, the form to start a run, the latest runs. ``POST /pacs``
  adds a node; ``POST /pacs/queries`` starts a run and goes to its page.
- ``GET /pacs/<node>/delete`` asks to confirm; ``POST`` deletes (409 while the
  node has a run under way). ``POST /pacs/<node>/echo`` sends a C-ECHO and
  comes back saying how long it took, or why it failed.
- ``GET /pacs/<node>/queries/<id>``: one run and its studies, with a button to
  cancel it while it is under way (``POST .../cancel``). The run page refreshes
  every 10 s while the run is under way (a meta refresh: the pages run no
  script); ``/pacs`` does not, since a refresh would lose what is being typed.

The forms are validated by the API's schemas (:mod:`schemas.pacs`) and changes
are made by :mod:`service.dicomnet.management`, which logs who made them. A
refused form comes back (400, or 409 for a name taken or a node busy) with each
problem beside its field and the values kept; a done one goes back to a page
(303) that says what was done. Every form carries its CSRF token.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from schemas.pacs import parse_criteria, parse_node
from service.access import requires
from service.dicomnet import management
from service.dicomnet.schedule import start_run
from service.dicomnet.selection import QUERY_MODALITIES, TEXT_FILTERS
from service.errors import Conflict, InvalidArgument, NotFound, PacsError
from service.storage import utcnow
from service.web.apidoc import FORM, HTML, SEE_OTHER, documented, form
from service.web.arguments import single_values
from service.web.auth import request_client
from service.web.context import get_pipeline, get_settings, get_store
from service.web.pacs import MAX_STUDIES, node_of, present_run, run_of

bp = Blueprint("pacs_pages", __name__)  # templates and static files: service/web (pages.bp)

#: seconds between two refreshes of a run page while the run is under way
REFRESH = 10
#: the days before today a new run's form starts from
DEFAULT_DAYS = 7
#: the fields of the form that adds a node, and their labels
NODE_FIELDS = {
    "name": "Name",
    "ae_title": "AE title",
    "host": "Host",
    "port": "Port",
    "retrieve": "Retrieve by",
    "move_destination": "Move destination",
}
#: the fields of the form that starts a run, and their labels
RUN_FIELDS = {
    "node": "Node",
    "date_from": "From",
    "date_to": "To",
    "modalities": "Modalities",
    "stations": "Station has",
    "exclude_stations": "Station lacks",
    "descriptions": "Description has",
    "exclude_descriptions": "Description lacks",
}

_TEXT = {"type": "string"}
_NODE = {"name": {"description": "The node's name"}}
_RUN = {**_NODE, "run_id": {"description": "The run's identifier"}}
_TEXTS = {"type": "string", "description": "Texts separated by commas, each matched as case-insensitive 'contains'"}
_NODE_FORM = form(
    "name", "ae_title", "host", "port",
    name=_TEXT, ae_title=_TEXT, host=_TEXT, port=_TEXT,
    retrieve={"type": "string", "enum": ["move", "get"]}, move_destination=_TEXT,
)  # fmt: skip
_RUN_FORM = form(
    "node", "date_from", "date_to",
    node=_TEXT, date_from=_TEXT, date_to=_TEXT,
    modalities={"type": "array", "items": {"type": "string", "enum": list(QUERY_MODALITIES)}},
    **dict.fromkeys(TEXT_FILTERS, _TEXTS),
)  # fmt: skip
_REFUSED = "Refused: the page again, each problem beside its field, the values kept."


def flat_errors(errors: dict[str, Any]) -> dict[str, list[str]]:
    """Return a schema's errors as field -> sentences (a list field's errors by item become the field's)."""
    flat: dict[str, list[str]] = {}
    for field, messages in errors.items():
        if isinstance(messages, dict):
            flat[field] = [text for nested in flat_errors(messages).values() for text in nested]
        else:
            flat[field] = [str(text) for text in messages] if isinstance(messages, list) else [str(messages)]
    return flat


def _filled(values: dict[str, Any], errors: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return a form as its template shows it: the values typed, and the problems by field."""
    return {"typed": values, "errors": flat_errors(errors or {})}


def _run_defaults() -> dict[str, Any]:
    today = date.today()
    dates = {"date_from": (today - timedelta(days=DEFAULT_DAYS)).isoformat(), "date_to": today.isoformat()}
    return _filled({**dates, "modalities": list(QUERY_MODALITIES)})


def _page(status: int = 200, *, node: dict[str, Any] | None = None, run: dict[str, Any] | None = None) -> Response:
    """Render ``/pacs``: the nodes, the forms (as filled, when one was refused), the latest runs."""
    store, now = get_store(), utcnow()
    page = render_template(
        "pacs.html",
        nodes=store.pacs_nodes(),
        runs=[present_run(run, now) for run in store.runs()],
        node_form=node or _filled({"retrieve": "move"}),
        run_form=run or _run_defaults(),
        node_labels=NODE_FIELDS,
        run_labels=RUN_FIELDS,
        modalities=QUERY_MODALITIES,
        current="pacs",
    )
    return Response(page, status=status)


def _form(*multiple: str) -> dict[str, Any]:
    """Return the form's fields (refusing one sent twice, but those of ``multiple``, read as lists)."""
    single = request.form.copy()
    for name in ("csrf_token", *multiple):
        single.poplist(name)
    values: dict[str, Any] = {key: value.strip() for key, value in single_values(single).items()}
    return values | {name: request.form.getlist(name) for name in multiple}


@bp.get("/pacs")
@requires("admin")
@documented("pages", answers={200: ("The page.", HTML)})
def pacs_page() -> Response:
    """Show the remote nodes, the latest runs, and the forms to add a node and to start a run."""
    return _page()


@bp.post("/pacs")
@requires("admin")
@documented(
    "pages",
    body={FORM: _NODE_FORM},
    answers={303: SEE_OTHER, 400: (_REFUSED, HTML), 409: ("The page again, saying so.", HTML)},
    errors={409: "A node of this name exists."},
)
def add_node_page() -> Response:
    """Add a remote node from the page's form, validated as the API validates it."""
    values = _form()
    data: dict[str, Any] = {name: values[name] for name in NODE_FIELDS if values.get(name)}
    if data.get("port", "").isdigit():
        data["port"] = int(data["port"])
    try:
        node = parse_node(data)
        management.add_node(get_store(), node, via="http", client=request_client())
    except InvalidArgument as e:
        return _page(400, node=_filled(values, e.errors))
    except Conflict as e:
        return _page(409, node=_filled(values, {"name": [str(e)]}))
    flash(f"Added PACS node {node.address}.", "done")
    return redirect(url_for(".pacs_page", _anchor="pacs-nodes"), 303)


@bp.get("/pacs/<name>/delete")
@requires("admin")
@documented("pages", path=_NODE, answers={200: ("The confirmation page.", HTML)}, errors={404: "No such node."})
def confirm_delete(name: str) -> str:
    """Ask to confirm deleting a node, saying what stays."""
    return _confirm(name)


def _confirm(name: str, error: str | None = None) -> str:
    store = get_store()
    node = node_of(name)
    return render_template(
        "pacs_delete.html", node=node, active=store.active_run(name), runs=len(store.runs(name)), error=error
    )


@bp.post("/pacs/<name>/delete")
@requires("admin")
@documented(
    "pages",
    path=_NODE,
    body={FORM: form()},
    answers={303: SEE_OTHER, 409: ("The confirmation page again, saying so.", HTML)},
    errors={404: "No such node.", 409: "It has a run under way."},
)
def delete_node_page(name: str) -> Response | tuple[str, int]:
    """Delete a node (its runs stay listed); refused while it has a run under way."""
    try:
        management.delete_node(get_store(), name, via="http", client=request_client())
    except Conflict as e:
        return _confirm(name, str(e)), 409
    flash(f"Deleted PACS node {name}; its runs stay listed.", "done")
    return redirect(url_for(".pacs_page", _anchor="pacs-nodes"), 303)


@bp.post("/pacs/<name>/echo")
@requires("admin")
@documented("pages", path=_NODE, body={FORM: form()}, answers={303: SEE_OTHER}, errors={404: "No such node."})
def echo_page(name: str) -> Response:
    """Send a C-ECHO to a node; back to the page saying how long it took, or why it failed."""
    settings = get_settings()
    try:
        node, seconds = management.echo_node(get_store(), name, settings.scp_ae_title, settings.pacs_timeout)
    except PacsError as e:
        flash(f"C-ECHO failed: {e}", "error")
    else:
        flash(management.echo_message(node, seconds), "done")
    return redirect(url_for(".pacs_page", _anchor="pacs-nodes"), 303)


def _texts(value: str) -> list[str]:
    """Split a text filter of the form: several texts separated by commas."""
    return [text.strip() for text in value.split(",") if text.strip()]


@bp.post("/pacs/queries")
@requires("admin")
@documented(
    "pages",
    body={FORM: _RUN_FORM},
    answers={303: ("Started: to the run's page.", None), 400: (_REFUSED, HTML), 409: ("The page again.", HTML)},
    errors={409: "The node has a run under way."},
)
def start_run_page() -> Response:
    """Start a query/retrieve run of a node in the background, then show its page."""
    values = _form("modalities")
    name, errors = values.get("node", ""), {}
    data = {key: values[key] for key in ("date_from", "date_to", "modalities") if values.get(key)}
    data |= {key: _texts(values.get(key, "")) for key in TEXT_FILTERS}
    try:
        node_of(name)
    except NotFound as e:
        errors["node"] = [str(e) if name else "Choose a node."]
    try:
        criteria = parse_criteria({"modalities": [], **data})
    except InvalidArgument as e:
        errors |= e.errors
    if errors:
        return _page(400, run=_filled(values, errors))
    try:
        run = start_run(
            get_pipeline(), get_settings(), name, criteria, trigger="page", client=request_client(), via="http"
        )
    except Conflict as e:
        return _page(409, run=_filled(values, {"node": [str(e)]}))
    flash(f"Run {run['_id']} of {name} started.", "done")
    return redirect(url_for(".run_page", name=name, run_id=run["_id"]), 303)


@bp.get("/pacs/<name>/queries/<run_id>")
@requires("admin")
@documented("pages", path=_RUN, answers={200: ("The page.", HTML)}, errors={404: "No such node, or run of it."})
def run_page(name: str, run_id: str) -> str:
    """Show one run and its studies, with a button to cancel it while it is under way."""
    run = present_run(run_of(name, run_id), utcnow())
    studies = get_store().run_studies(run_id, limit=MAX_STUDIES)
    refresh = REFRESH if run["status"] in ("queued", "running") else None
    return render_template(
        "pacs_run.html", run=run, studies=studies, limit=MAX_STUDIES, refresh=refresh, current="pacs"
    )


@bp.post("/pacs/<name>/queries/<run_id>/cancel")
@requires("admin")
@documented(
    "pages", path=_RUN, body={FORM: form()}, answers={303: SEE_OTHER}, errors={404: "No such node, or run of it."}
)
def cancel_page(name: str, run_id: str) -> Response:
    """Cancel a run; back to its page, which says whether it stopped at once or stops before its next request."""
    run_of(name, run_id)
    try:
        run = management.cancel_run(get_store(), run_id, via="http", client=request_client())
    except Conflict as e:
        flash(str(e), "error")
    else:
        stopped = run["status"] == "cancelled"
        flash("Run cancelled." if stopped else "Run asked to stop: it stops before its next request.", "done")
    return redirect(url_for(".run_page", name=name, run_id=run_id), 303)
