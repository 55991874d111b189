"""Audit routes: the audits API, standard names, reference levels, and the audits page.

Routes stay thin: arguments go to :mod:`service.audits.run` and :mod:`schemas.audits`,
data to and from the store.

- ``GET /api/audits``: each audit's name, title, group, quantity and parameters.
- ``GET /api/audits/<name>?<parameters and list filters>``: the rows as JSON, or
  CSV with ``format=csv`` (numbers as the page shows them; ``precision=full`` as computed);
  404 for an unknown audit, 400 naming a bad argument.
- ``GET|POST|DELETE /api/standard-names``: list (``?modality=``), add or replace
  one mapping (JSON ``{modality, field, raw, standard}``), delete one (same
  fields as arguments, ``standard`` not needed).
- ``GET|PUT /api/reference-levels``: the DRL table; PUT replaces it with a CSV
  (``text/csv``) or JSON body of rows ``{name, quantity, value, unit}``.
- ``GET /audits``: the page with charts.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request

from schemas.api import AuditCatalogue, AuditResult, ReferenceLevels, StandardNames
from schemas.audits import (
    ReferenceLevelSchema,
    StandardNameSchema,
    parse_name_modality,
    parse_reference_levels,
    parse_standard_name,
)
from schemas.query import StudyQuerySchema
from service.access import requires
from service.alerts.rules import audit_levels_in_force
from service.audits import pipeline
from service.audits.run import PRECISIONS, find_audit, parse_output, run_audit, to_csv
from service.errors import NotFound
from service.web import present
from service.web.apidoc import CSV, HTML, JSON, documented
from service.web.context import get_store

bp = Blueprint("audits", __name__)  # static files and templates: service/web (pages.bp)
#: the list filters the audits page offers (the API takes every one of the lists')
PAGE_FILTERS = ("date_from", "date_to", "station_name", "study_description", "test_patients")


def _choice(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Describe an audit parameter (service/audits/common.json) as a query argument."""
    choices = ", ".join(f"`{value}`: {meaning}" for value, meaning in spec["choices"].items())
    schema = {"type": "string", "enum": list(spec["choices"]), "default": spec["default"]}
    description = f"{spec['title']} (statistics audits; empty: the default): {choices}"
    return {"name": name, "schema": schema, "allowEmptyValue": True, "description": description}


_PARAMETERS = tuple(_choice(name, spec) for name, spec in pipeline.common()["parameters"].items())
_FORMAT = {"name": "format", "schema": {"type": "string", "enum": ["json", "csv"], "default": "json"}}
_PRECISION = {
    "name": "precision",
    "schema": {"type": "string", "enum": list(PRECISIONS), "default": PRECISIONS[0]},
    "description": "CSV numbers as the audits page shows them (`shown`), or as computed (`full`)",
}
_NAME_MODALITY = {"name": "modality", "schema": {"type": "string", "enum": list(pipeline.name_fields())}}
_NAME_KEY = tuple(
    {"name": name, "required": True, "schema": {"type": "string"}} for name in ("modality", "field", "raw")
)


def _alert_levels() -> dict[str, Any]:
    """Return the high-dose audit's levels: the enabled study-total alert rules in force."""
    return audit_levels_in_force(get_store())


@bp.get("/api/audits")
@requires("viewer")
@documented("audits", answers={200: ("The audits.", AuditCatalogue)}, database=False)
def list_audits() -> Response:
    """List the audits with their parameters."""
    return jsonify({"audits": [pipeline.describe(audit) for audit in pipeline.audits().values()]})


@bp.get("/api/audits/<name>")
@requires("viewer", when={"format=csv": "exporter"})
@documented(
    "audits",
    path={"name": {"enum": list(pipeline.audits()), "description": "The audit"}},
    query=(*_PARAMETERS, StudyQuerySchema(exclude=("order", "page_size", "after")), _FORMAT, _PRECISION),
    answers={200: ("The rows, as JSON or (format=csv) as CSV.", {JSON: AuditResult, **CSV})},
    errors={404: "There is no audit of this name."},
)
def show_audit(name: str) -> Response:
    """Run one audit with the request's parameters and filters; JSON, or CSV with ``format=csv``."""
    output, precision = parse_output(request.args)
    result = run_audit(get_store(), name, request.args, alert_levels=_alert_levels())
    if output == "json":
        return jsonify(result.as_json())
    disposition = f'attachment; filename="{result.audit.name}.csv"'
    return Response(to_csv(result, precision), mimetype="text/csv", headers={"Content-Disposition": disposition})


@bp.get("/api/standard-names")
@requires("viewer")
@documented("audits", query=(_NAME_MODALITY,), answers={200: ("The mappings.", StandardNames)})
def list_standard_names() -> Response:
    """List the standard-name mappings, optionally of one modality."""
    return jsonify({"standard_names": get_store().standard_names(parse_name_modality(request.args.get("modality")))})


@bp.post("/api/standard-names")
@requires("admin")
@documented(
    "audits",
    body={JSON: StandardNameSchema},
    answers={201: ("The mapping, as stored.", StandardNameSchema)},
)
def add_standard_name() -> tuple[Response, int]:
    """Add (or replace) the mapping of one raw name."""
    mapping = parse_standard_name(request.get_json(silent=True))
    get_store().set_standard_name(mapping)
    return jsonify(mapping), 201


@bp.delete("/api/standard-names")
@requires("admin")
@documented(
    "audits",
    query=_NAME_KEY,
    answers={204: ("Deleted.", None)},
    errors={404: "There is no mapping of this raw name."},
)
def delete_standard_name() -> tuple[str, int]:
    """Delete the mapping of one raw name (``modality``, ``field``, ``raw`` arguments)."""
    key = {name: request.args.get(name, "") for name in ("modality", "field", "raw")}
    if not get_store().delete_standard_name(parse_standard_name({**key, "standard": "-"})):
        raise NotFound(f"There is no standard name for {key['raw']!r} ({key['modality']} {key['field']}).")
    return "", 204


@bp.get("/api/reference-levels")
@requires("viewer")
@documented("audits", answers={200: ("The levels, in the audits' units.", ReferenceLevels)})
def list_reference_levels() -> Response:
    """List the diagnostic reference levels, in the audits' units."""
    return jsonify({"reference_levels": get_store().reference_levels()})


@bp.put("/api/reference-levels")
@requires("admin")
@documented(
    "audits",
    body={"text/csv": {"type": "string"}, JSON: {"type": "array", "items": ReferenceLevelSchema}},
    answers={200: ("The new table, in the audits' units.", ReferenceLevels)},
    errors={400: "A row is not valid (each error names its row and column), or the body is not UTF-8 CSV or JSON."},
)
def replace_reference_levels() -> Response:
    """Replace the DRL table with the CSV or JSON body."""
    kind = "csv" if request.mimetype in ("text/csv", "text/plain") else "json"
    levels = parse_reference_levels(request.get_data(), kind=kind)
    get_store().replace_reference_levels(levels)
    return jsonify({"reference_levels": levels})


@bp.get("/audits")
@requires("viewer")
@documented(
    "pages",
    query=({"name": "audit", "schema": {"type": "string", "enum": list(pipeline.audits())}},),
    answers={200: ("The page.", HTML)},
    errors={404: "There is no audit of this name."},
    database=False,
)
def audits_page() -> str:
    """Show the audits page."""
    catalogue = [pipeline.describe(audit) for audit in pipeline.audits().values()]
    statistics = [audit for audit in catalogue if audit["parameters"]]
    selected = request.args.get("audit", "ct_dlp_by_protocol")
    find_audit(selected)  # an unknown audit is a 404 naming the known ones, as in the API
    filters = {name: request.args[name] for name in PAGE_FILTERS if request.args.get(name)}
    return render_template(
        "audits.html",
        audits=statistics,
        selected=selected,
        filters=filters,
        renderer=request.args.get("renderer"),
        catalogue=catalogue,
        alert_levels=_alert_levels(),
        summary_fields=present.summary_fields(),
        current="audits",
    )
