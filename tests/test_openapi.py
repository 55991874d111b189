"""The API description lists every route with its role, and is a valid OpenAPI 3.1 document."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, jsonify
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from service.access import SIGNED_IN, argument_roles, declared_role, requires
from service.access.redact import PID_ARGUMENTS
from service.web.apidoc import documented, operation_of
from service.web.openapi import build_spec

ROOT = Path(__file__).resolve().parent.parent
#: Flask's own endpoints, which serve files
STATIC = {"static", "pages.static"}
METHODS = {"get", "put", "post", "delete", "patch"}


def routes(app: Flask) -> set[tuple[str, str]]:
    """Return (method, OpenAPI path) of every route of ``app``, read from its url map."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in STATIC:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        found |= {(method.lower(), path) for method in rule.methods or () if method.lower() in METHODS}
    return found


def operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    """Return (method, path) of every operation of a description."""
    return {(method, path) for path, item in spec["paths"].items() for method in item if method in METHODS}


def test_the_description_lists_every_route_and_nothing_else(app: Flask) -> None:
    listed = operations(build_spec(app))
    assert routes(app) - listed == set(), "routes the description does not list"
    assert listed - routes(app) == set(), "operations without a route"
    assert len(listed) >= 20


def test_every_route_declares_its_contract(app: Flask) -> None:
    undescribed = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in STATIC and operation_of(app.view_functions[rule.endpoint]) is None
    ]
    assert undescribed == [], "decorate these views with service.web.apidoc.documented"


def test_every_operation_is_in_a_listed_group(app: Flask) -> None:
    spec = build_spec(app)
    listed = [tag["name"] for tag in spec["tags"]]
    used = {operation["tags"][0] for item in spec["paths"].values() for operation in item.values()}
    assert used <= set(listed) and listed[:2] == ["imports", "studies"]


def test_a_route_added_without_a_description_is_listed_and_found_undescribed(app: Flask) -> None:
    @app.get("/api/novelty")
    @requires("viewer")
    def novelty() -> Any:
        """Answer something new."""
        return jsonify({})

    spec = build_spec(app)
    assert ("get", "/api/novelty") in operations(spec)
    assert spec["paths"]["/api/novelty"]["get"]["tags"] == ["undescribed"]
    assert operation_of(novelty) is None


def test_each_operation_names_the_role_its_route_declares(app: Flask) -> None:
    spec = build_spec(app)
    for rule in app.url_map.iter_rules():
        if rule.endpoint in STATIC:
            continue
        role = declared_role(app.view_functions[rule.endpoint])
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            operation = spec["paths"][path][method.lower()]
            assert operation.get("x-required-role") == role, (method, path)
            names = {parameter["name"] for parameter in operation["parameters"] if parameter["in"] == "query"}
            pid = {name: "pid" for name in PID_ARGUMENTS if name in names}
            if role is None:
                assert operation["security"] == [] and "401" not in operation["responses"]
            else:
                assert operation["security"] == [{"bearerToken": []}, {"sessionCookie": []}]
                assert {"401", "403", "429"} <= set(operation["responses"])
                assert (f"`{role}`" if role != SIGNED_IN else "a signed-in user") in operation["description"]
            expected = {**argument_roles(app.view_functions[rule.endpoint]), **pid}
            assert operation.get("x-argument-roles", {}) == expected, (method, path)


def test_arguments_that_need_more_name_the_role(app: Flask) -> None:
    spec = build_spec(app)
    audit = spec["paths"]["/api/audits/{name}"]["get"]
    assert audit["x-argument-roles"] == {"format=csv": "exporter", "patient_key": "pid"}
    assert "With `format=csv`, also `exporter`. With `patient_key` given, also `pid`." in audit["description"]
    assert spec["paths"]["/api/studies"]["get"]["x-argument-roles"] == {"patient_key": "pid"}


def test_the_description_is_valid_openapi_3_1(app: Flask) -> None:
    spec = build_spec(app)
    assert spec["openapi"] == "3.1.0"
    validate(json.loads(json.dumps(spec)))  # raises, naming the place, when it is not


def test_every_error_answer_has_the_error_shape(app: Flask) -> None:
    spec = build_spec(app)
    error = spec["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "status", "message", "errors"} and error["additionalProperties"] is False
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                content = response["content"]
                if "application/json" in content:
                    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
                else:  # a form page answering with the form again (the sign-in page's 429)
                    assert set(content) == {"text/html"} and path == "/login", (method, path, status)


def test_arguments_bodies_and_answers_come_from_the_schemas(app: Flask) -> None:
    spec = build_spec(app)
    studies = spec["paths"]["/api/studies"]["get"]
    arguments = {parameter["name"]: parameter for parameter in studies["parameters"]}
    assert arguments["page_size"]["schema"] == {"type": "integer", "default": 50, "minimum": 1, "maximum": 500}
    assert arguments["modality"]["schema"]["enum"] == ["CT", "RF", "DX", "MG", "NM"]
    assert arguments["date_from"]["schema"]["format"] == "date" and arguments["date_from"]["allowEmptyValue"]
    imports = spec["paths"]["/api/imports"]["post"]
    assert set(imports["requestBody"]["content"]) == {
        "application/dicom",
        "application/octet-stream",
        "multipart/form-data",
    }
    assert set(imports["responses"]) >= {"200", "201", "207", "400", "413", "415", "422"}
    sizes = spec["paths"]["/api/patient-sizes"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    sizes_schema = spec["components"]["schemas"][sizes["$ref"].rsplit("/", 1)[1]]
    assert sizes_schema["properties"]["file"] == {
        "type": "string",
        "format": "binary",
        "description": "The RIS export (CSV with a header row)",
    }
    levels = spec["paths"]["/api/reference-levels"]["put"]["requestBody"]["content"]
    assert set(levels) == {"text/csv", "application/json"}
    study = spec["components"]["schemas"]["Summary"]["properties"]["total_dlp"]
    assert study == {"type": ["number", "null"], "minimum": 0, "description": "Total DLP (mGy·cm)", "x-unit": "mGy·cm"}


def test_openapi_json_is_served_to_signed_in_users(client: FlaskClient, anonymous: FlaskClient, app: Flask) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json() == json.loads(json.dumps(build_spec(app)))
    assert anonymous.get("/api/openapi.json").status_code == 401


def test_a_view_describes_itself_with_the_decorator() -> None:
    @documented("tests", answers={200: ("Fine.", None)}, errors={404: "Never."})
    def view() -> None:
        """Do nothing."""

    declared = operation_of(view)
    assert declared is not None and declared.tag == "tests" and declared.errors == {404: "Never."}


def test_vendored_swagger_ui_is_the_locked_version() -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text())
    version = lock["packages"]["node_modules/swagger-ui-dist"]["version"]
    script = (ROOT / "service/web/static/vendor/swagger-ui/swagger-ui-bundle.js").read_text()
    assert f'PACKAGE_VERSION:"{version}"' in script
    assert f"| {version} |" in (ROOT / "service/web/static/vendor/README.md").read_text()


def test_the_reference_page_uses_no_cdn_and_no_inline_script(client: FlaskClient) -> None:
    page = client.get("/api/docs").get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(source.startswith(("/", "#", "data:")) for source in sources)
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    for source in (s for s in sources if "/static/" in s):
        with client.get(source) as asset:
            assert asset.status_code == 200, source


@pytest.mark.parametrize("width", [1280, 390])
def test_the_reference_page_shows_every_operation(page: Any, width: int) -> None:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/api/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=30000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/studies/{study_instance_uid}" in [path.replace("\u200b", "") for path in paths]
    assert len(paths) >= 20 and errors == []
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    page.screenshot(path=str(ROOT / "test-artifacts" / f"api-docs-{width}.png"), full_page=False)
