"""Directory sign-in against a real OpenLDAP server (Debian's slapd, started here on a free loopback port)."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service import create_app
from service.access.directory import directory_roles, normal_dn
from service.config import load_settings
from service.errors import ConfigurationError, NotSignedIn
from service.storage import Store
from service.storage.embedded import free_port
from service.web.context import close_store
from tests import slapd
from tests.signin import make_user
from tests.test_signin import HTML, sign_in

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"(tag|type)Map is deprecated", category=DeprecationWarning)
    import ldap3

ROLE_GROUPS = (
    f"viewer=cn=physicists,{slapd.GROUPS};viewer=cn=dl-admins,{slapd.GROUPS};admin=CN=dl-admins, {slapd.GROUPS}"
)


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[slapd.Slapd]:
    """Return a running slapd with the people and groups of tests/slapd.py."""
    slapd.require()
    server = slapd.Slapd(tmp_path_factory.mktemp("slapd"), free_port())
    server.start()
    yield server
    server.stop()


def ldap_config(directory: slapd.Slapd, **more: str) -> dict[str, str]:
    return {
        "DOSELEDGER_LDAP_URL": directory.url,
        "DOSELEDGER_LDAP_BIND_DN": f"uid={{username}},{slapd.PEOPLE}",
        "DOSELEDGER_LDAP_GROUP_BASE": slapd.GROUPS,
        "DOSELEDGER_LDAP_ROLE_GROUPS": ROLE_GROUPS,
        **more,
    }


@pytest.fixture
def ldap_app(directory: slapd.Slapd, test_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app({**test_config, **ldap_config(directory)})
    yield app
    close_store(app)


def test_a_directory_user_signs_in_with_the_roles_of_their_groups(ldap_app: Flask, store: Store) -> None:
    client = ldap_app.test_client()
    response = sign_in(client, "alice", "wonderland", next="/ct")
    assert response.status_code == 303 and response.headers["Location"] == "/ct"
    user = store.find_user("alice")
    assert (user["source"], user["roles"], user["password_hash"]) == ("ldap", ["viewer"], None)
    assert client.get("/", headers=HTML).status_code == 200
    assert client.get("/admin/users", headers=HTML).status_code == 403
    [entry] = [e for e in store.events_after(0) if e["type"] == "signed-in"]
    assert entry["client"] == "alice@127.0.0.1"


def test_several_groups_give_several_roles(ldap_app: Flask, store: Store) -> None:
    client = ldap_app.test_client()
    assert sign_in(client, "bob", "builder of things").status_code == 303
    assert store.find_user("bob")["roles"] == ["viewer", "admin"]
    assert client.get("/admin/users", headers=HTML).status_code == 200


def test_a_wrong_password_or_an_unknown_name_fails_and_is_logged(ldap_app: Flask, store: Store) -> None:
    client = ldap_app.test_client()
    for name, password in (("alice", "looking glass"), ("nobody", "wonderland")):
        page = sign_in(client, name, password)
        assert "The user name or password is not right." in page.get_data(as_text=True)
    assert [e["details"]["user"] for e in store.events_after(0) if e["type"] == "sign-in-failed"] == ["alice", "nobody"]
    assert store.find_user("alice") is None and store.find_user("nobody") is None


def test_someone_in_no_mapped_group_is_told_so(ldap_app: Flask, store: Store) -> None:
    page = sign_in(ldap_app.test_client(), "carol", "no groups for me")
    assert "none of the groups that give a role" in page.get_data(as_text=True)
    assert store.find_user("carol") is None


def test_a_local_account_is_never_checked_against_the_directory(ldap_app: Flask, store: Store) -> None:
    make_user(store, "admin", ["admin"])
    page = sign_in(ldap_app.test_client(), "admin", "directory admin")  # the directory's admin, not ours
    assert "not right" in page.get_data(as_text=True)


def test_an_empty_password_never_binds(directory: slapd.Slapd, test_config: dict[str, Any]) -> None:
    settings = load_settings({**test_config, **ldap_config(directory)})
    assert directory_roles(settings, "alice", "") is None  # an anonymous bind would "succeed"
    assert directory_roles(settings, "alice", "wonderland") == ["viewer"]


def test_roles_follow_the_directory_at_each_sign_in(directory: slapd.Slapd, ldap_app: Flask, store: Store) -> None:
    group = f"cn=dl-admins,{slapd.GROUPS}"
    member = f"uid=alice,{slapd.PEOPLE}"
    root = ldap3.Connection(ldap3.Server(directory.url), slapd.ROOT_DN, slapd.ROOT_PASSWORD, auto_bind=True)
    try:
        assert root.modify(group, {"member": [(ldap3.MODIFY_ADD, [member])]})
        sign_in(ldap_app.test_client(), "alice", "wonderland")
        assert store.find_user("alice")["roles"] == ["viewer", "admin"]
        assert root.modify(group, {"member": [(ldap3.MODIFY_DELETE, [member])]})
    finally:
        root.unbind()
    sign_in(ldap_app.test_client(), "alice", "wonderland")
    assert store.find_user("alice")["roles"] == ["viewer"]


def test_a_directory_user_disabled_here_cannot_sign_in(ldap_app: Flask, store: Store) -> None:
    sign_in(ldap_app.test_client(), "alice", "wonderland")
    store.update_user("alice", {"disabled": True})
    page = sign_in(ldap_app.test_client(), "alice", "wonderland")
    assert "disabled" in page.get_data(as_text=True)


def test_the_users_entry_can_be_looked_up_as_active_directory_needs(
    directory: slapd.Slapd, test_config: dict[str, Any]
) -> None:
    settings = load_settings(
        {
            **test_config,
            **ldap_config(
                directory, DOSELEDGER_LDAP_USER_BASE=slapd.PEOPLE, DOSELEDGER_LDAP_USER_FILTER="(uid={username})"
            ),
        }
    )
    assert directory_roles(settings, "bob", "builder of things") == ["viewer", "admin"]
    wrong_filter = load_settings(
        {
            **test_config,
            **ldap_config(
                directory, DOSELEDGER_LDAP_USER_BASE=slapd.PEOPLE, DOSELEDGER_LDAP_USER_FILTER="(cn=nobody-{username})"
            ),
        }
    )
    assert directory_roles(wrong_filter, "bob", "builder of things") is None


def test_an_unreachable_directory_is_said_so(test_config: dict[str, Any], tmp_path: Path) -> None:
    port = free_port()
    settings = load_settings(
        {**test_config, **ldap_config(slapd.Slapd(tmp_path, port)), "DOSELEDGER_LDAP_TIMEOUT": "2"}
    )
    with pytest.raises(NotSignedIn, match="cannot be reached"):
        directory_roles(settings, "alice", "wonderland")
    gc.collect()  # a socket left open by the failed connect would be reported here, not in a later test


def test_an_incomplete_directory_setting_stops_the_start(test_config: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="DOSELEDGER_LDAP_GROUP_BASE"):
        load_settings(
            {
                "DOSELEDGER_LDAP_URL": "ldap://dc.example.org",
                "DOSELEDGER_LDAP_BIND_DN": "{username}@example.org",
                "DOSELEDGER_LDAP_ROLE_GROUPS": ROLE_GROUPS,
            }
        )
    with pytest.raises(ConfigurationError, match="role=group DN"):
        load_settings({"DOSELEDGER_LDAP_ROLE_GROUPS": "superuser=cn=x,dc=y"})
    with pytest.raises(ConfigurationError, match="ldap:// or ldaps://"):
        load_settings({"DOSELEDGER_LDAP_URL": "dc.example.org"})


def test_group_names_compare_without_case_or_spaces() -> None:
    assert normal_dn("CN=DL-Admins, OU=Groups,DC=Example , DC=org") == "cn=dl-admins,ou=groups,dc=example,dc=org"
