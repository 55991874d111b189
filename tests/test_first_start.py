"""First start: the first administrator, its password printed and kept in a private file, the session secret."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service import create_app
from service.access import ROLES
from service.access.bootstrap import first_start, secret_key, write_private
from service.config import load_settings
from service.errors import ConfigurationError
from service.storage import Store
from service.storage.embedded import free_port
from service.web.context import close_store
from tests.conftest import ROOT
from tests.signin import make_user
from tests.test_signin import HTML, NEW_PASSWORD, csrf_token, sign_in


def state_dir(test_config: dict[str, Any]) -> Path:
    return Path(test_config["DOSELEDGER_DATA_DIR"]).parent


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_first_request_makes_admin_whose_password_must_be_changed(
    anonymous: FlaskClient, store: Store, test_config: dict[str, Any]
) -> None:
    assert store.count_users() == 0
    assert anonymous.get("/", headers=HTML).status_code == 303
    [admin] = store.list_users()
    assert (admin["name"], admin["roles"], admin["must_change_password"]) == ("admin", list(ROLES), True)
    password_file = state_dir(test_config) / "initial-admin-password"
    assert mode(password_file) == 0o600
    password = password_file.read_text().strip()
    assert len(password) >= 20
    [entry] = [e for e in store.events_after(0) if e["type"] == "user-added"]
    assert (entry["via"], entry["client"], entry["details"]["user"]) == ("service", "first start", "admin")

    response = sign_in(anonymous, "admin", password)
    assert response.headers["Location"].startswith("/account/password")
    form = {"csrf_token": csrf_token(anonymous.get("/account/password", headers=HTML)), "current_password": password}
    anonymous.post("/account/password", data={**form, "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD})
    assert not password_file.exists()  # the password in it no longer works anyway
    assert anonymous.get("/", headers=HTML).status_code == 200


def test_no_admin_is_made_when_there_are_users(store: Store, test_config: dict[str, Any]) -> None:
    settings = load_settings(test_config)
    make_user(store, "alice", ["viewer"])
    assert first_start(store, settings) is None
    assert [user["name"] for user in store.list_users()] == ["alice"]
    assert not (state_dir(test_config) / "initial-admin-password").exists()


def test_first_start_makes_one_admin_and_says_so_once(store: Store, test_config: dict[str, Any]) -> None:
    settings = load_settings(test_config)
    message = first_start(store, settings)
    assert message is not None and "admin" in message and str(state_dir(test_config)) in message
    password = (state_dir(test_config) / "initial-admin-password").read_text().strip()
    assert password in message
    assert first_start(store, settings) is None and store.count_users() == 1


def test_serve_prints_the_first_password_on_the_console(test_config: dict[str, Any], store: Store) -> None:
    environment = {key: str(value) for key, value in test_config.items() if key != "TESTING"}
    environment.update(DOSELEDGER_SCP_ENABLED="false", DOSELEDGER_PORT=str(free_port()), PATH=os.environ["PATH"])
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", "serve"], env=environment, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert process.stderr is not None
    lines = []
    try:
        for line in process.stderr:
            lines.append(line)
            if "DoseLedger is serving" in line:
                break
    finally:
        process.terminate()
        process.communicate(timeout=60)
    console = "".join(lines)
    password = (state_dir(test_config) / "initial-admin-password").read_text().strip()
    assert f"\n    {password}\n" in console and "made the first user, admin" in console
    assert store.find_user("admin")["must_change_password"] is True


def test_the_session_secret_is_made_once_private_and_reused(test_config: dict[str, Any], store: Store) -> None:
    make_user(store, "alice", ["viewer"])
    first = create_app(test_config)
    try:
        sign_in(first.test_client(), "alice")
        path = state_dir(test_config) / "secret-key"
        assert mode(path) == 0o600 and first.secret_key == path.read_text().strip()
        assert secret_key(load_settings(test_config)) == first.secret_key  # a second process reads the same
    finally:
        close_store(first)


def test_a_configured_secret_key_is_used_and_nothing_is_written(test_config: dict[str, Any]) -> None:
    settings = load_settings({**test_config, "DOSELEDGER_SECRET_KEY": "k" * 40})
    assert secret_key(settings) == "k" * 40
    assert not (state_dir(test_config) / "secret-key").exists()


def test_a_private_file_made_exclusively_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "secret"
    write_private(path, "one\n", exclusive=True)
    with pytest.raises(FileExistsError):
        write_private(path, "two\n", exclusive=True)
    assert path.read_text() == "one\n" and mode(path) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret"]  # nothing left aside


def test_an_unwritable_state_folder_is_said_so(store: Store, test_config: dict[str, Any]) -> None:
    folder = state_dir(test_config)
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("a file where the folder should be")
    settings = load_settings(test_config)
    message = first_start(store, settings)
    assert message is not None and "could not be written" in message and "copy it now" in message
    with pytest.raises(ConfigurationError, match="DOSELEDGER_SECRET_KEY"):
        secret_key(settings)
