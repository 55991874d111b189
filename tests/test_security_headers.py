"""Security headers on every answer, cookies, and templates that a strict Content-Security-Policy lets work."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from service import create_app
from service.storage import Store
from service.web.context import close_store
from service.web.headers import CONTENT_SECURITY_POLICY
from tests.conftest import ROOT
from tests.signin import make_user
from tests.test_signin import sign_in

TEMPLATES = sorted((ROOT / "service/web/templates").glob("*.html"))


def test_every_kind_of_answer_carries_the_headers(client: FlaskClient, anonymous: FlaskClient) -> None:
    answers = [
        client.get("/", headers={"Accept": "text/html"}),
        client.get("/api/studies"),
        client.get("/static/doseledger.css"),
        client.get("/no/such/page", headers={"Accept": "text/html"}),
        anonymous.get("/api/studies"),
        anonymous.get("/login"),
        client.get("/healthz"),
    ]
    for response in answers:
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, response.request.path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        response.close()  # the static file's
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY and "style-src 'self';" in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY and "unsafe" not in CONTENT_SECURITY_POLICY


def test_pages_with_secrets_are_not_cached(client: FlaskClient, anonymous: FlaskClient) -> None:
    assert anonymous.get("/login").headers["Cache-Control"] == "no-store"
    assert client.get("/admin/users").headers["Cache-Control"] == "no-store"


def test_cookies_are_secure_behind_tls(test_config: dict[str, Any], store: Store) -> None:
    make_user(store, "alice", ["viewer"])
    app = create_app({**test_config, "DOSELEDGER_SECURE_COOKIES": "true"})
    try:
        cookie = sign_in(app.test_client(), "alice").headers["Set-Cookie"]
    finally:
        close_store(app)
    assert cookie.startswith("doseledger_session=")
    assert {"Secure", "HttpOnly", "SameSite=Lax"} <= {part.strip() for part in cookie.split(";")}


def test_a_token_client_gets_no_cookie(client: FlaskClient) -> None:
    response = client.get("/", headers={"Accept": "text/html"})
    assert response.status_code == 200 and "Set-Cookie" not in response.headers


def test_templates_have_no_inline_script_or_style() -> None:
    """A strict CSP blocks inline code and styles: every script and style is a file of static/."""
    assert TEMPLATES
    for template in TEMPLATES:
        text = template.read_text(encoding="utf-8")
        assert "<style" not in text and not re.search(r"\sstyle=", text), template.name
        assert not re.search(r"\son[a-z]+=", text), template.name  # onclick= and the like
        assert not re.search(r"javascript:", text, re.IGNORECASE), template.name
        for script in re.findall(r"<script\b[^>]*>", text):
            assert 'src="' in script or 'type="application/json"' in script, (template.name, script)


def test_static_scripts_set_no_inline_style_attributes() -> None:
    for script in (ROOT / "service/web/static").glob("*.js"):
        text = script.read_text(encoding="utf-8")
        assert "setAttribute('style'" not in text and 'setAttribute("style"' not in text, script.name
        assert not re.search(r"innerHTML\s*=.*style=", text), script.name
