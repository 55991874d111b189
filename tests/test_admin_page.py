"""The administrators' page ``/admin/users``: users and tokens changed by a signed-in admin, every form with CSRF."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from service.access.passwords import verify_password
from service.storage import Store
from tests.signin import make_user, with_token
from tests.test_signin import HTML, csrf_token, sign_in


def admin_session(app: Flask, store: Store) -> FlaskClient:
    make_user(store, "root", ["admin", "viewer"])
    client = app.test_client()
    sign_in(client, "root")
    return client


def post(client: FlaskClient, url: str, **form: object) -> TestResponse:
    token = csrf_token(client.get("/admin/users", headers=HTML))
    return client.post(url, data={"csrf_token": token, **form}, headers=HTML)


def shown_secret(response: TestResponse) -> str:
    match = re.search(r'<code id="secret">([^<]+)</code>', response.get_data(as_text=True))
    assert match, "no secret shown"
    return match.group(1)


def test_the_page_lists_users_and_tokens(app: Flask, store: Store) -> None:
    client = admin_session(app, store)
    page = client.get("/admin/users", headers=HTML)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "root" in text and "No tokens yet." in text
    assert re.search(r'href="/admin/users"\s+aria-current="page">Users</a>', text)


def test_adding_a_user_shows_its_password_once(app: Flask, store: Store) -> None:
    client = admin_session(app, store)
    response = post(client, "/admin/users", name="Alice", roles=["viewer", "exporter"])
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    password = shown_secret(response)
    user = store.find_user("alice")
    assert user["roles"] == ["viewer", "exporter"] and verify_password(user["password_hash"], password)
    assert password not in client.get("/admin/users", headers=HTML).get_data(as_text=True)
    [entry] = [e for e in store.events_after(0) if e["type"] == "user-added"]
    assert entry["client"] == "root@127.0.0.1" and entry["via"] == "http"
    newcomer = app.test_client()
    assert sign_in(newcomer, "alice", password).headers["Location"].startswith("/account/password")


def test_roles_disable_enable_and_a_new_password(app: Flask, store: Store) -> None:
    client = admin_session(app, store)
    make_user(store, "carol", ["viewer"])
    done = post(client, "/admin/users/carol/roles", roles=["viewer", "pid"])
    assert done.status_code == 303
    assert "carol now holds viewer, pid." in client.get("/admin/users", headers=HTML).get_data(as_text=True)
    assert store.find_user("carol")["roles"] == ["viewer", "pid"]
    post(client, "/admin/users/carol/disable")
    assert store.find_user("carol")["disabled"] is True
    post(client, "/admin/users/carol/enable")
    assert store.find_user("carol")["disabled"] is False
    password = shown_secret(post(client, "/admin/users/carol/password"))
    user = store.find_user("carol")
    assert verify_password(user["password_hash"], password) and user["must_change_password"] is True


def test_a_refused_change_comes_back_with_the_reason(app: Flask, store: Store) -> None:
    client = admin_session(app, store)
    post(client, "/admin/users/root/roles", roles=["viewer"])
    text = client.get("/admin/users", headers=HTML).get_data(as_text=True)
    assert "root is the last enabled administrator" in text and store.find_user("root")["roles"] == ["admin", "viewer"]
    post(client, "/admin/users", name="bad name", roles=["viewer"])
    assert "not a usable user name" in client.get("/admin/users", headers=HTML).get_data(as_text=True)


def test_tokens_made_and_revoked_on_the_page(app: Flask, store: Store) -> None:
    client = admin_session(app, store)
    make_user(store, "router", ["importer"])
    secret = shown_secret(post(client, "/admin/tokens", name="orthanc", user="router"))
    router = with_token(app.test_client(), secret)
    assert router.get("/api/studies").status_code == 403  # an importer, not a viewer
    assert router.post("/api/imports", data=b"", content_type="application/dicom").status_code == 400
    page = client.get("/admin/users", headers=HTML).get_data(as_text=True)
    assert "orthanc" in page and secret not in page
    post(client, "/admin/tokens/orthanc/revoke")
    assert router.post("/api/imports", data=b"", content_type="application/dicom").status_code == 401
    assert "revoked" in client.get("/admin/users", headers=HTML).get_data(as_text=True)


def test_the_forms_need_their_csrf_token(app: Flask, store: Store) -> None:
    client = admin_session(app, store)
    for url in ("/admin/users", "/admin/users/root/disable", "/admin/tokens"):
        assert client.post(url, data={"name": "x", "user": "root"}, headers=HTML).status_code == 400, url
    assert store.find_user("x") is None and store.list_tokens() == []


def test_only_admins_reach_the_page(app: Flask, store: Store) -> None:
    make_user(store, "alice", ["viewer"])
    client = app.test_client()
    sign_in(client, "alice")
    refused = client.get("/admin/users", headers=HTML)
    assert refused.status_code == 403 and "needs the role &#39;admin&#39;" in refused.get_data(as_text=True)
    assert "/admin/users" not in client.get("/", headers=HTML).get_data(as_text=True)  # no link in the menu
