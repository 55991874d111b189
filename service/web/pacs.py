"""Query/retrieve routes: remote PACS nodes, their runs, and the page that lists them.

- ``GET /api/pacs``, ``GET /api/pacs/<node>``: the nodes; ``POST /api/pacs`` adds
  one (JSON, :mod:`schemas.pacs`), ``DELETE /api/pacs/<node>`` deletes one (409
  while it has a run under way); ``POST /api/pacs/<node>/echo`` sends it a C-ECHO
  (502 naming the problem when it fails).
- ``POST /api/pacs/<node>/queries`` starts a run in the background (JSON criteria;
  202 with the run and its ``Location``; 409 when the node has one under way);
  ``GET /api/pacs/<node>/queries`` lists its latest runs; ``GET
  /api/pacs/<node>/queries/<id>`` follows one (with its failed studies);
  ``GET .../<id>/studies?status=&limit=`` lists its studies; ``POST .../<id>/cancel``
  cancels it.
Every change is made by :mod:`service.dicomnet.management`, which logs who made
it (the signed-in user or token). The pages are in :mod:`service.web.pacs_pages`.

Changes and C-ECHO need ``admin``; reading needs ``viewer``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from schemas.api import RUN, Nodes
from schemas.pacs import NodeSchema, RunSchema, parse_criteria, parse_node
from service.access import requires
from service.dicomnet import management
from service.dicomnet.nodes import Node
from service.dicomnet.progress import STUDY_STATES
from service.dicomnet.schedule import start_run
from service.dicomnet.selection import QUERY_MODALITIES
from service.errors import InvalidArgument, NotFound
from service.storage import utcnow
from service.web.apidoc import JSON, documented
from service.web.auth import request_client
from service.web.context import get_pipeline, get_settings, get_store

bp = Blueprint("pacs", __name__)

#: the most study records one answer lists
MAX_STUDIES = 1000

_NODE = {"name": {"description": "The node's name"}}
_RUN = {**_NODE, "run_id": {"description": "The run's identifier"}}
_UNKNOWN = {404: "There is no such node, or run of it."}


def present_run(run: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Return a run as the API shows it, with ``id``, ``interrupted`` (waits to be resumed), ``all_modalities``."""
    shown = {key: value for key, value in run.items() if key not in ("_id", "active_node", "schedule_key")}
    lease = run.get("lease_until")
    shown["id"] = str(run["_id"])
    shown["interrupted"] = bool(run.get("active_node") and lease is not None and lease < now)
    shown["all_modalities"] = set(run["criteria"]["modalities"]) == set(QUERY_MODALITIES)
    return shown


def node_of(name: str) -> Node:
    """Return the node ``name``; 404 naming the nodes there are when there is none."""
    return Node.from_document(get_store().pacs_node(name))


def run_of(name: str, run_id: str) -> dict[str, Any]:
    """Return a run of node ``name``; 404 when there is none, or it is another node's."""
    run = get_store().get_run(run_id)
    if run["node"] != name:
        raise NotFound(f"Run {run_id} is not a run of PACS node {name!r}.")
    return run


@bp.get("/api/pacs")
@requires("viewer")
@documented("pacs", answers={200: ("The nodes.", Nodes)})
def list_nodes() -> Response:
    """List the remote nodes."""
    return jsonify({"nodes": get_store().pacs_nodes()})


@bp.post("/api/pacs")
@requires("admin")
@documented(
    "pacs",
    body={JSON: NodeSchema},
    answers={201: ("The node, added.", NodeSchema)},
    errors={400: "A field is not valid.", 409: "A node of this name exists."},
)
def add_node() -> tuple[Response, int]:
    """Add a remote node."""
    node = parse_node(request.get_json(silent=True))
    management.add_node(get_store(), node, via="http", client=request_client())
    return jsonify(node.as_document()), 201


@bp.get("/api/pacs/<name>")
@requires("viewer")
@documented("pacs", path=_NODE, answers={200: ("The node.", NodeSchema)}, errors=_UNKNOWN)
def show_node(name: str) -> Response:
    """Show one remote node."""
    return jsonify(node_of(name).as_document())


@bp.delete("/api/pacs/<name>")
@requires("admin")
@documented("pacs", path=_NODE, answers={204: ("Deleted.", None)}, errors={**_UNKNOWN, 409: "It has a run under way."})
def delete_node(name: str) -> tuple[str, int]:
    """Delete a remote node (its runs stay listed)."""
    management.delete_node(get_store(), name, via="http", client=request_client())
    return "", 204


@bp.post("/api/pacs/<name>/echo")
@requires("admin")
@documented(
    "pacs",
    path=_NODE,
    answers={
        200: (
            "It answered.",
            {
                "type": "object",
                "required": ["node", "status", "seconds"],
                "properties": {"node": {"type": "string"}, "status": {"const": "ok"}, "seconds": {"type": "number"}},
            },
        )
    },
    errors={**_UNKNOWN, 502: "The node did not answer the C-ECHO (the message says why)."},
)
def echo_node(name: str) -> Response:
    """Send a C-ECHO to a node and say how long it took."""
    settings = get_settings()
    node, seconds = management.echo_node(get_store(), name, settings.scp_ae_title, settings.pacs_timeout)
    return jsonify({"node": node.name, "status": "ok", "seconds": round(seconds, 3)})


@bp.post("/api/pacs/<name>/queries")
@requires("admin")
@documented(
    "pacs",
    path=_NODE,
    body={JSON: RunSchema},
    answers={202: ("The run, started in the background (its URL in `Location`).", RUN)},
    errors={**_UNKNOWN, 400: "A criterion is not valid.", 409: "The node has a run under way."},
)
def start_query(name: str) -> tuple[Response, int, dict[str, str]]:
    """Start a query/retrieve run of a node in the background."""
    criteria = parse_criteria(request.get_json(silent=True))
    node_of(name)
    run = start_run(get_pipeline(), get_settings(), name, criteria, trigger="api", client=request_client(), via="http")
    location = url_for(".show_query", name=name, run_id=run["_id"])
    return jsonify(present_run(run, utcnow())), 202, {"Location": location}


@bp.get("/api/pacs/<name>/queries")
@requires("viewer")
@documented(
    "pacs",
    path=_NODE,
    answers={
        200: (
            "Its latest runs, newest first.",
            {"type": "object", "properties": {"runs": {"type": "array", "items": RUN}}},
        )
    },
    errors=_UNKNOWN,
)
def list_queries(name: str) -> Response:
    """List the latest runs of a node, newest first."""
    node_of(name)
    now = utcnow()
    return jsonify({"runs": [present_run(run, now) for run in get_store().runs(name)]})


@bp.get("/api/pacs/<name>/queries/<run_id>")
@requires("viewer")
@documented("pacs", path=_RUN, answers={200: ("The run, with its failed studies.", RUN)}, errors=_UNKNOWN)
def show_query(name: str, run_id: str) -> Response:
    """Follow one run: its state, counts and failed studies."""
    run = present_run(run_of(name, run_id), utcnow())
    run["failures"] = get_store().run_studies(run_id, status="failed", limit=MAX_STUDIES)
    return jsonify(run)


@bp.get("/api/pacs/<name>/queries/<run_id>/studies")
@requires("viewer")
@documented(
    "pacs",
    path=_RUN,
    query=(
        {"name": "status", "schema": {"type": "string", "enum": list(STUDY_STATES)}, "allowEmptyValue": True},
        {"name": "limit", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_STUDIES}},
    ),
    answers={200: ("Its studies.", {"type": "object", "properties": {"studies": {"type": "array"}}})},
    errors=_UNKNOWN,
)
def list_query_studies(name: str, run_id: str) -> Response:
    """List the studies of one run, in the order it takes them (``status``, ``limit`` optional)."""
    run_of(name, run_id)
    status = request.args.get("status") or None
    if status is not None and status not in STUDY_STATES:
        raise InvalidArgument({"status": [f"Expected one of {', '.join(STUDY_STATES)}."]})
    try:
        limit = int(request.args.get("limit", MAX_STUDIES))
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_STUDIES:
        raise InvalidArgument({"limit": [f"Expected a whole number from 1 to {MAX_STUDIES}."]})
    return jsonify({"studies": get_store().run_studies(run_id, status=status, limit=limit)})


@bp.post("/api/pacs/<name>/queries/<run_id>/cancel")
@requires("admin")
@documented(
    "pacs", path=_RUN, answers={202: ("The run, to stop.", RUN)}, errors={**_UNKNOWN, 409: "The run has ended."}
)
def cancel_query(name: str, run_id: str) -> tuple[Response, int]:
    """Cancel a run: it stops before its next request (at once if no process runs it)."""
    run_of(name, run_id)
    run = management.cancel_run(get_store(), run_id, via="http", client=request_client())
    return jsonify(present_run(run, utcnow())), 202
