"""Every route, called without credentials, with each role, with a revoked token: 401, 403 or served, as declared.

The table comes from ``app.url_map`` and the views' declarations (tests/routes.py),
so a route added later is called here too, and the README's route -> role
table must list it with the same role.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from service.access import ROLES, SIGNED_IN
from service.storage import Store
from tests.conftest import ROOT
from tests.routes import Route, readme_rows, routes
from tests.signin import client_with_roles, make_token, make_user, with_token

JSON = {"Accept": "application/json"}
AUTH = (401, 403)


def call(client: FlaskClient, route: Route, **kwargs: object) -> TestResponse:
    """Call a route with an empty body, asking for JSON errors."""
    return client.open(route.url, method=route.method, headers=JSON, **kwargs)


def served(response: TestResponse) -> bool:
    """Tell whether the request got past sign-in: any answer but 401, 403 and a server error."""
    return response.status_code not in AUTH and response.status_code < 500


def test_the_table_has_the_routes_we_know(app: Flask) -> None:
    table = {(route.method, route.rule): route.role for route in routes(app)}
    assert table[("PUT", "/api/reference-levels")] == "admin"
    assert table[("POST", "/api/imports")] == "importer"
    assert table[("GET", "/api/exports/<modality>.<any(csv, xlsx):fmt>")] == "exporter"
    assert table[("GET", "/healthz")] is None and table[("GET", "/account/password")] == SIGNED_IN
    assert len(table) >= 30


def test_without_credentials_every_closed_route_answers_401(app: Flask, anonymous: FlaskClient) -> None:
    wrong = []
    for route in routes(app):
        response = call(anonymous, route)
        if route.role is None:
            ok = served(response)
        else:
            body = response.get_json(silent=True) or {}
            ok = response.status_code == 401 and set(body) == {"code", "status", "message", "errors"}
            ok = ok and response.headers.get("WWW-Authenticate", "").startswith("Bearer")
        if not ok:
            wrong.append((route.method, route.url, response.status_code))
    assert wrong == []


def test_a_browser_without_a_session_is_sent_to_the_sign_in_page(app: Flask, anonymous: FlaskClient) -> None:
    pages = [r for r in routes(app) if r.method == "GET" and not r.api and r.role is not None]
    assert {"/", "/audits", "/admin/users"} <= {r.url for r in pages}
    for route in pages:
        response = anonymous.get(route.url, headers={"Accept": "text/html"})
        assert response.status_code == 303, route.url
        assert response.headers["Location"].startswith("/login?next="), route.url


def _check_role(client: FlaskClient, routes_: list[Route], held: set[str]) -> list[tuple[str, str, int, str]]:
    """Call every route; return those whose answer is not what ``held`` roles should get."""
    wrong = []
    for route in routes_:
        response = call(client, route)
        if route.role in (None, SIGNED_IN) or route.role in held:
            ok = served(response)
        else:
            message = (response.get_json(silent=True) or {}).get("message", "")
            ok = response.status_code == 403 and f"'{route.role}'" in message
        if not ok:
            wrong.append((route.method, route.url, response.status_code, response.get_data(as_text=True)[:200]))
    return wrong


def test_each_role_reaches_its_routes_and_is_refused_the_others_with_403_naming_the_role(app: Flask) -> None:
    table = list(routes(app))
    for role in (*ROLES, None):
        client = client_with_roles(app, [role] if role else [])
        assert _check_role(client, table, {role} if role else set()) == [], role


def test_a_role_that_depends_on_an_argument(app: Flask) -> None:
    conditional = [route for route in routes(app) if route.when]
    assert ("GET", "/api/audits/<name>", (("format=csv", "exporter"),)) in [
        (r.method, r.rule, r.when) for r in conditional
    ]
    for route in conditional:
        for condition, role in route.when:
            argument = dict([condition.split("=", 1)])
            alone = client_with_roles(app, [route.role])
            refused = alone.open(route.url, method=route.method, headers=JSON, query_string=argument)
            assert refused.status_code == 403 and f"'{role}'" in refused.get_json()["message"]
            both = client_with_roles(app, [route.role, role])
            assert served(both.open(route.url, method=route.method, headers=JSON, query_string=argument))


def test_csv_audits_need_the_exporter_role(client_with: Callable[..., FlaskClient]) -> None:
    viewer = client_with("viewer")
    assert viewer.get("/api/audits/workload").status_code == 200
    refused = viewer.get("/api/audits/workload?format=csv")
    assert refused.status_code == 403 and "'exporter'" in refused.get_json()["message"]
    answer = client_with("viewer", "exporter").get("/api/audits/workload?format=csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"


def test_a_revoked_token_is_refused_everywhere_but_the_open_routes(app: Flask, store: Store) -> None:
    make_user(store, "router", ROLES)
    secret = make_token(store, "router", "old-router")
    assert store.revoke_token("old-router")
    client = with_token(app.test_client(), secret)
    wrong = []
    for number, route in enumerate(routes(app)):
        # each call from its own address, so that the failures do not add up to the 429 of too many
        response = call(client, route, environ_overrides={"REMOTE_ADDR": f"127.0.1.{number}"})
        ok = served(response) if route.role is None else response.status_code == 401
        if not ok:
            wrong.append((route.method, route.url, response.status_code))
    assert wrong == []
    assert "revoked" in call(client, next(r for r in routes(app) if r.role == "viewer")).get_json()["message"]


def test_a_disabled_users_token_stops_working(app: Flask, store: Store) -> None:
    client = client_with_roles(app, ["viewer"], "carol")
    assert client.get("/api/studies").status_code == 200
    store.update_user("carol", {"disabled": True})
    assert client.get("/api/studies").status_code == 401


def test_a_token_acts_with_its_users_roles_of_the_moment(app: Flask, store: Store) -> None:
    client = client_with_roles(app, ["viewer"], "dave")
    assert client.get("/api/exports/CT.csv").status_code == 403
    store.update_user("dave", {"roles": ["viewer", "exporter"]})
    assert client.get("/api/exports/CT.csv").status_code == 200


def test_other_authorization_schemes_are_refused_naming_bearer(anonymous: FlaskClient) -> None:
    response = anonymous.get("/api/studies", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert response.status_code == 401 and "Bearer" in response.get_json()["message"]


def test_the_patient_key_filter_needs_pid(client_with: Callable[..., FlaskClient]) -> None:
    for url in ("/api/studies?patient_key=abc", "/ct?patient_key=abc", "/api/exports/CT.csv?patient_key=abc"):
        refused = client_with("viewer", "exporter").get(url, headers=JSON)
        assert refused.status_code == 403 and "'pid'" in refused.get_json()["message"], url
        assert client_with("viewer", "exporter", "pid").get(url, headers=JSON).status_code not in AUTH, url


def test_the_readme_lists_every_route_with_its_declared_role(app: Flask) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("### Route -> role")
    section = readme[start : readme.index("\n### ", start + 1)]
    listed = [line for line in section.splitlines() if re.match(r"^\| `[A-Z]+ /", line)]
    expected = readme_rows(app)
    assert listed == expected, "README's route -> role table should be:\n" + "\n".join(expected)
