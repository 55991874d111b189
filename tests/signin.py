"""Signed-in test clients: users and tokens written straight to the store (no event-log entries, no argon2 per test).

The ``client`` fixture of ``conftest.py`` carries the token of a user holding
every role, so tests of what routes do need not care about sign-in; tests of
sign-in itself use :func:`client_with_roles` and an anonymous client.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from flask import Flask
from flask.testing import FlaskClient

from service.access import ROLES
from service.access.passwords import hash_password
from service.access.tokens import PREFIX, digest
from service.storage import Store
from service.storage.connection import utcnow
from service.web.context import get_store

#: the password of every user made here
PASSWORD = "correct horse battery staple"
#: the user and token of the ``client`` fixture (the event log's client: ``tester[token tests]@127.0.0.1``)
TEST_USER, TEST_TOKEN = "tester", "tests"


@functools.cache
def password_hash() -> str:
    """Return the argon2 hash of :data:`PASSWORD` (made once per session: argon2 is slow on purpose)."""
    return hash_password(PASSWORD)


def make_user(
    store: Store, name: str, roles: Iterable[str], *, must_change: bool = False, disabled: bool = False
) -> None:
    """Write a local user with password :data:`PASSWORD`."""
    now = utcnow()
    store.insert_user(
        {
            "name": name,
            "roles": list(roles),
            "source": "local",
            "password_hash": password_hash(),
            "disabled": disabled,
            "must_change_password": must_change,
            "session_version": 0,
            "created_at": now,
            "updated_at": now,
            "created_by": "tests",
        }
    )


def secret_of(token: str) -> str:
    """Return the secret of the test token named ``token`` (made up from the name: tests only)."""
    return f"{PREFIX}test-{token}-{'x' * 32}"


def make_token(store: Store, user: str, name: str) -> str:
    """Write a token for ``user`` named ``name``; return its secret."""
    store.insert_token(
        {
            "name": name,
            "user": user,
            "hash": digest(secret_of(name)),
            "created_at": utcnow(),
            "created_by": "tests",
            "revoked_at": None,
        }
    )
    return secret_of(name)


def with_token(client: FlaskClient, secret: str) -> FlaskClient:
    """Make ``client`` send ``Authorization: Bearer secret`` with every request."""
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client


def client_with_roles(
    app: Flask, roles: Iterable[str], name: str | None = None, token: str | None = None
) -> FlaskClient:
    """Return a client of ``app`` carrying a token of user ``name`` holding ``roles`` (made if new)."""
    roles = list(roles)
    name = name or ("-".join(roles) if roles else "noroles")
    token = token or f"{name}-token"
    with app.app_context():
        store = get_store()
        if store.find_user(name) is None:
            make_user(store, name, roles)
            make_token(store, name, token)
    return with_token(app.test_client(), secret_of(token))


def signed_in_client(app: Flask) -> FlaskClient:
    """Return a client of ``app`` carrying the token of :data:`TEST_USER`, who holds every role."""
    return client_with_roles(app, ROLES, TEST_USER, TEST_TOKEN)
