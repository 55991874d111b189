"""Signing in with a browser session: the form, CSRF, failures logged and slowed, passwords to change, sign-out."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from service.access.signin import MAX_FAILURES
from service.storage import Store
from tests.signin import PASSWORD, make_user

HTML = {"Accept": "text/html"}
NEW_PASSWORD = "a much longer secret 42"


def csrf_token(response: TestResponse) -> str:
    """Return the CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(client: FlaskClient, name: str, password: str = PASSWORD, **extra: str) -> TestResponse:
    """Fill in and send the sign-in form as a browser would."""
    token = csrf_token(client.get("/login", headers=HTML))
    return client.post("/login", data={"csrf_token": token, "name": name, "password": password, **extra}, headers=HTML)


def events(store: Store, kind: str) -> list[dict]:
    return [entry for entry in store.events_after(0, 1000) if entry["type"] == kind]


def test_signing_in_starts_a_session_that_reaches_the_pages(anonymous: FlaskClient, store: Store) -> None:
    make_user(store, "alice", ["viewer"])
    assert anonymous.get("/", headers=HTML).status_code == 303
    response = sign_in(anonymous, "Alice", next="/ct?station_name=CT1")  # names are folded to lower case
    assert response.status_code == 303 and response.headers["Location"] == "/ct?station_name=CT1"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert anonymous.get("/", headers=HTML).status_code == 200
    assert anonymous.get("/api/studies").status_code == 200  # the API takes the session too
    assert anonymous.get("/api/exports/CT.csv").status_code == 403  # alice is not an exporter
    [entry] = events(store, "signed-in")
    assert entry["client"] == "alice@127.0.0.1" and entry["via"] == "http"


def test_the_sign_in_form_needs_its_csrf_token(anonymous: FlaskClient, store: Store) -> None:
    make_user(store, "alice", ["viewer"])
    anonymous.get("/login", headers=HTML)
    refused = anonymous.post("/login", data={"name": "alice", "password": PASSWORD}, headers=HTML)
    assert refused.status_code == 400 and "CSRF" in refused.get_data(as_text=True)
    wrong = anonymous.post("/login", data={"name": "alice", "password": PASSWORD, "csrf_token": "forged"})
    assert wrong.status_code == 400
    assert anonymous.get("/", headers=HTML).status_code == 303  # not signed in


def test_every_state_changing_request_of_a_session_needs_the_csrf_token(anonymous: FlaskClient, store: Store) -> None:
    make_user(store, "root", ["admin", "importer", "viewer"])
    sign_in(anonymous, "root")
    for method, url in (("PUT", "/api/reference-levels"), ("POST", "/api/imports"), ("POST", "/admin/users")):
        response = anonymous.open(
            url, method=method, data=b"name,quantity,value,unit\n", headers={"Accept": "application/json"}
        )
        assert response.status_code == 400 and response.get_json()["code"] == "csrf-failed", url
    token = csrf_token(anonymous.get("/admin/users", headers=HTML))
    accepted = anonymous.put(
        "/api/reference-levels",
        data=b"name,quantity,value,unit\n",
        content_type="text/csv",
        headers={"X-CSRFToken": token},
    )
    assert accepted.status_code == 200


def test_a_wrong_password_is_logged_and_shown_without_saying_which_part_was_wrong(
    anonymous: FlaskClient, store: Store
) -> None:
    make_user(store, "alice", ["viewer"])
    for name in ("alice", "nobody"):
        response = sign_in(anonymous, name, "not the password")
        assert response.status_code == 200 and "The user name or password is not right." in response.get_data(
            as_text=True
        )
    entries = events(store, "sign-in-failed")
    assert [(e["client"], e["details"]["user"], e["outcome"]) for e in entries] == [
        ("127.0.0.1", "alice", "refused"),
        ("127.0.0.1", "nobody", "refused"),
    ]
    assert all("not the password" not in str(entry) for entry in store.events_after(0, 1000))


def test_repeated_failures_from_one_address_are_slowed(anonymous: FlaskClient, store: Store) -> None:
    make_user(store, "alice", ["viewer"])
    for _ in range(MAX_FAILURES):
        assert sign_in(anonymous, "alice", "guess").status_code == 200
    slowed = sign_in(anonymous, "alice")  # even the right password waits
    assert slowed.status_code == 429 and int(slowed.headers["Retry-After"]) > 800
    assert "Too many failed sign-ins from 127.0.0.1" in slowed.get_data(as_text=True)
    assert len(events(store, "sign-in-failed")) == MAX_FAILURES  # the refused ones are not logged again
    other = anonymous.application.test_client()
    assert sign_in_from(other, "10.9.8.7").status_code == 303  # another address is not slowed


def sign_in_from(client: FlaskClient, address: str) -> TestResponse:
    environ = {"REMOTE_ADDR": address}
    token = csrf_token(client.get("/login", environ_base=environ))
    return client.post(
        "/login", data={"csrf_token": token, "name": "alice", "password": PASSWORD}, environ_base=environ
    )


def test_a_success_clears_the_count(anonymous: FlaskClient, store: Store) -> None:
    make_user(store, "alice", ["viewer"])
    for _ in range(MAX_FAILURES - 1):
        sign_in(anonymous, "alice", "guess")
    assert sign_in(anonymous, "alice").status_code == 303
    assert store.sign_in_failures("127.0.0.1", since=store.events_after(0, 1)[0]["at"]) == []


def test_a_disabled_user_cannot_sign_in_and_its_session_ends(anonymous: FlaskClient, store: Store) -> None:
    make_user(store, "alice", ["viewer"])
    sign_in(anonymous, "alice")
    store.update_user("alice", {"disabled": True}, bump_session=True)
    assert anonymous.get("/", headers=HTML).status_code == 303
    refused = sign_in(anonymous, "alice")
    assert refused.status_code == 200 and "disabled" in refused.get_data(as_text=True)


def test_a_password_set_by_someone_else_must_be_changed_first(anonymous: FlaskClient, store: Store) -> None:
    make_user(store, "alice", ["viewer"], must_change=True)
    response = sign_in(anonymous, "alice", next="/ct")
    assert response.headers["Location"] == "/account/password?next=/ct"
    assert anonymous.get("/", headers=HTML).headers["Location"] == "/account/password"
    api = anonymous.get("/api/studies")
    assert api.status_code == 403 and "/account/password" in api.get_json()["message"]
    page = anonymous.get("/account/password", headers=HTML)
    assert "choose your own" in page.get_data(as_text=True)
    form = {"csrf_token": csrf_token(page), "current_password": PASSWORD, "next": "/ct"}
    short = anonymous.post("/account/password", data={**form, "new_password": "short", "repeat_password": "short"})
    assert short.status_code == 400 and "at least 12 characters" in short.get_data(as_text=True)
    changed = anonymous.post(
        "/account/password", data={**form, "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD}
    )
    assert changed.status_code == 303 and changed.headers["Location"] == "/ct"
    assert anonymous.get("/", headers=HTML).status_code == 200  # the same session goes on
    assert [e["client"] for e in events(store, "password-changed")] == ["alice@127.0.0.1"]
    assert store.find_user("alice")["must_change_password"] is False


def test_a_password_change_ends_the_users_other_sessions(app: Flask, store: Store) -> None:
    make_user(store, "alice", ["viewer"])
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, "alice")
    sign_in(phone, "alice")
    page = laptop.get("/account/password", headers=HTML)
    form = {"csrf_token": csrf_token(page), "current_password": PASSWORD}
    laptop.post("/account/password", data={**form, "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD})
    assert laptop.get("/", headers=HTML).status_code == 200
    assert phone.get("/", headers=HTML).status_code == 303
    assert sign_in(phone, "alice", NEW_PASSWORD).status_code == 303


def test_the_current_password_is_checked(anonymous: FlaskClient, store: Store) -> None:
    make_user(store, "alice", ["viewer"])
    sign_in(anonymous, "alice")
    token = csrf_token(anonymous.get("/account/password", headers=HTML))
    response = anonymous.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": "wrong",
            "new_password": NEW_PASSWORD,
            "repeat_password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 400 and "current password is not right" in response.get_data(as_text=True)


def test_signing_out_needs_a_post_with_the_csrf_token(anonymous: FlaskClient, store: Store) -> None:
    make_user(store, "alice", ["viewer"])
    sign_in(anonymous, "alice")
    home = anonymous.get("/", headers=HTML)
    assert anonymous.get("/logout").status_code == 404  # no such page (a GET could be forged by any link)
    assert anonymous.post("/logout").status_code == 400
    assert anonymous.get("/", headers=HTML).status_code == 200  # still signed in
    response = anonymous.post("/logout", data={"csrf_token": csrf_token(home)})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert anonymous.get("/", headers=HTML).status_code == 303
    assert [e["client"] for e in events(store, "signed-out")] == ["alice@127.0.0.1"]


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"]
)
def test_the_page_after_signing_in_is_never_another_site(anonymous: FlaskClient, store: Store, target: str) -> None:
    make_user(store, "alice", ["viewer"])
    assert sign_in(anonymous, "alice", next=target).headers["Location"] == "/"


def test_a_session_ends_after_the_configured_hours(test_config: dict, store: Store) -> None:
    from service import create_app
    from service.web.context import close_store

    app = create_app({**test_config, "DOSELEDGER_SESSION_HOURS": "3"})
    try:
        assert app.permanent_session_lifetime.total_seconds() == 3 * 3600
        make_user(store, "alice", ["viewer"])
        response = sign_in(app.test_client(), "alice")
    finally:
        close_store(app)
    assert "Expires=" in response.headers["Set-Cookie"]
