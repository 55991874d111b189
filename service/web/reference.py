"""The API's description and its reference page: ``/api/openapi.json`` and ``/api/docs``.

Both need the role ``viewer``, like the rest of the read-only API: the
description holds no data, but a hospital's service answers nobody it does not
know, and everyone who uses the API holds ``viewer``. The page is Swagger UI,
served from ``static/vendor/swagger-ui`` (no CDN) and started by
``static/api_docs.js`` (no inline script).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template

from schemas.api import OPENAPI_DOCUMENT
from service.access import requires
from service.web.apidoc import HTML, documented
from service.web.openapi import build_spec

bp = Blueprint("reference", __name__)

_EXTENSION = "openapi"


def app_spec() -> dict[str, Any]:
    """Return the current application's description, built on first use."""
    state = current_app.extensions.setdefault(_EXTENSION, {})
    if "spec" not in state:
        state["spec"] = build_spec(current_app._get_current_object())  # type: ignore[attr-defined]
    spec: dict[str, Any] = state["spec"]
    return spec


@bp.get("/api/openapi.json")
@requires("viewer")
@documented("reference", answers={200: ("The OpenAPI 3.1 description.", OPENAPI_DOCUMENT)}, database=False)
def openapi_json() -> Response:
    """Return this API's description (OpenAPI 3.1)."""
    return jsonify(app_spec())


@bp.get("/api/docs")
@requires("viewer")
@documented("reference", answers={200: ("The reference page.", HTML)}, database=False)
def docs() -> str:
    """Show the API reference (Swagger UI over /api/openapi.json)."""
    return render_template("api_docs.html", current="api")
