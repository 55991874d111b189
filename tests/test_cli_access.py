"""``doseledger users`` and ``doseledger tokens``: accounts and tokens from the command line, each change logged."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask

from service.access.passwords import verify_password
from service.access.tokens import digest
from service.storage import Store
from tests.signin import with_token


def test_users_add_generates_a_password_without_a_terminal(
    runner: Any, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    result = runner.invoke(["users", "add", "Alice", "--role", "viewer", "--role", "exporter"])
    assert result.exit_code == 0, result.stderr
    assert "Added user alice with roles viewer, exporter." in result.stdout
    password = result.stdout.split("first sign-in): ")[1].strip()
    user = store.find_user("alice")
    assert user["roles"] == ["viewer", "exporter"] and user["must_change_password"] is True
    assert verify_password(user["password_hash"], password) and password not in str(user)
    [entry] = [e for e in store.events_after(0) if e["type"] == "user-added"]
    assert entry["via"] == "cli" and "@" in entry["client"]


def test_users_add_asks_on_a_terminal(runner: Any, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    answers = iter(["typed password 123", "typed password 123"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    result = runner.invoke(["users", "add", "bob", "--role", "admin"])
    assert result.exit_code == 0 and "Password" not in result.stdout
    assert verify_password(store.find_user("bob")["password_hash"], "typed password 123")


def test_users_refuses_what_cannot_be(runner: Any, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    unknown = runner.invoke(["users", "add", "eve", "--role", "superuser"])
    assert unknown.exit_code == 2 and "Unknown role superuser" in unknown.stderr
    bad_name = runner.invoke(["users", "add", "e ve", "--role", "viewer"])
    assert bad_name.exit_code == 2 and "not a usable user name" in bad_name.stderr
    runner.invoke(["users", "add", "eve", "--role", "viewer"])
    again = runner.invoke(["users", "add", "EVE", "--role", "viewer"])
    assert again.exit_code == 2 and "already a user named 'eve'" in again.stderr
    missing = runner.invoke(["users", "disable", "nobody"])
    assert missing.exit_code == 2 and "no user named 'nobody'" in missing.stderr


def test_users_list_roles_disable_enable_password(runner: Any, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert "No users yet" in runner.invoke(["users", "list"]).stdout
    runner.invoke(["users", "add", "root", "--role", "admin"])
    runner.invoke(["users", "add", "carol", "--role", "viewer"])
    assert runner.invoke(["users", "roles", "carol", "viewer", "pid"]).stdout == "carol now holds viewer, pid.\n"
    assert runner.invoke(["users", "disable", "carol"]).stdout == "carol is disabled.\n"
    listing = runner.invoke(["users", "list"]).stdout.splitlines()
    assert listing == ["carol\tviewer,pid\tlocal\tdisabled", "root\tadmin\tlocal\tmust change password"]
    assert runner.invoke(["users", "enable", "carol"]).stdout == "carol is enabled.\n"
    reset = runner.invoke(["users", "password", "carol"]).stdout
    assert verify_password(store.find_user("carol")["password_hash"], reset.rsplit(": ", 1)[1].strip())
    kinds = [e["type"] for e in store.events_after(0) if e["type"].startswith(("user", "password"))]
    assert kinds == ["user-added", "user-added", "user-roles", "user-disabled", "user-enabled", "password-reset"]


def test_the_last_admin_keeps_the_role(runner: Any, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    runner.invoke(["users", "add", "root", "--role", "admin"])
    refused = runner.invoke(["users", "roles", "root", "viewer"])
    assert refused.exit_code == 2 and "last enabled administrator" in refused.stderr
    assert runner.invoke(["users", "disable", "root"]).exit_code == 2
    runner.invoke(["users", "add", "second", "--role", "admin"])
    assert runner.invoke(["users", "disable", "root"]).exit_code == 0


def test_tokens_create_list_revoke(runner: Any, store: Store, app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert runner.invoke(["tokens", "list"]).stdout == "No tokens yet.\n"
    runner.invoke(["users", "add", "router", "--role", "importer", "--role", "viewer"])
    created = runner.invoke(["tokens", "create", "Orthanc", "--user", "router"])
    assert created.exit_code == 0 and "Token orthanc for router" in created.stdout
    secret = created.stdout.splitlines()[-1]
    assert secret.startswith("dl_") and len(secret) >= 40
    [record] = store.list_tokens()
    assert record["user"] == "router" and "hash" not in record
    assert store.find_token(digest(secret))["name"] == "orthanc" and secret not in str(store.db.tokens.find_one())
    client = with_token(app.test_client(), secret)
    assert client.get("/api/studies").status_code == 200
    listing = runner.invoke(["tokens", "list"]).stdout
    assert listing.startswith("orthanc\trouter\tmade ") and listing.rstrip().endswith("in use")
    assert runner.invoke(["tokens", "revoke", "orthanc"]).stdout == "Token orthanc is revoked.\n"
    assert client.get("/api/studies").status_code == 401
    assert "\trevoked " in runner.invoke(["tokens", "list"]).stdout
    again = runner.invoke(["tokens", "revoke", "orthanc"])
    assert again.exit_code == 2 and "no token named 'orthanc' in use" in again.stderr
    reused = runner.invoke(["tokens", "create", "orthanc", "--user", "router"])
    assert reused.exit_code == 2 and "never reused" in reused.stderr
    unknown_user = runner.invoke(["tokens", "create", "other", "--user", "nobody"])
    assert unknown_user.exit_code == 2 and "no user named 'nobody'" in unknown_user.stderr
    kinds = [e["type"] for e in store.events_after(0) if e["type"].startswith("token")]
    assert kinds == ["token-created", "token-revoked"]


def test_an_import_with_a_token_names_the_user_and_token(
    runner: Any, store: Store, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.samples import ct_report_bytes

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    runner.invoke(["users", "add", "router", "--role", "importer"])
    secret = runner.invoke(["tokens", "create", "orthanc", "--user", "router"]).stdout.splitlines()[-1]
    client = with_token(app.test_client(), secret)
    response = client.post("/api/imports", data=ct_report_bytes(), content_type="application/dicom")
    assert response.status_code == 201
    entries = [e for e in store.events_after(0) if e["type"] in ("received", "created")]
    assert {e["client"] for e in entries} == {"router[token orthanc]@127.0.0.1"}
