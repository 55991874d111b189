"""API tokens: ``Authorization: Bearer <token>`` for scripts and routers, each tied to a user and its roles.

A token is ``dl_`` and 43 random URL-safe characters (256 bits), shown once
when it is made; the store keeps only its SHA-256 (a slow hash buys nothing
for a secret that long), its name, its user and when it was made and revoked.
A token acts with its user's roles of the moment: a role taken from the user
is taken from its tokens, and a disabled user's tokens stop working. Names are
never reused, so the event log's ``alice[token orthanc]`` names one token for good.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING

from service.access.accounts import Actor, Identity, check_name, find_user, identity_of
from service.errors import NotFound
from service.storage.connection import utcnow

if TYPE_CHECKING:
    from service.storage import Store

PREFIX = "dl_"


def digest(secret: str) -> str:
    """Return the SHA-256 (hex) under which a token's secret is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(store: Store, name: str, user: str, by: Actor) -> str:
    """Make a token named ``name`` for ``user``; return its secret (shown once, never stored)."""
    name, owner = check_name(name, "token"), find_user(store, user)
    secret = PREFIX + secrets.token_urlsafe(32)
    store.insert_token(
        {
            "name": name,
            "user": owner["name"],
            "hash": digest(secret),
            "created_at": utcnow(),
            "created_by": by.client,
            "revoked_at": None,
        }
    )
    message = f"Token {name} was made for user {owner['name']}."
    store.append_event(
        "token-created", via=by.via, client=by.client, outcome="done", message=message, details={"token": name}
    )
    return secret


def revoke_token(store: Store, name: str, by: Actor) -> None:
    """Revoke the token named ``name``; raise :class:`NotFound` if there is no such token in use."""
    if not store.revoke_token(name.strip().lower()):
        raise NotFound(f"There is no token named {name!r} in use (see the list of tokens).")
    message = f"Token {name} was revoked."
    store.append_event(
        "token-revoked", via=by.via, client=by.client, outcome="done", message=message, details={"token": name}
    )


def identify(store: Store, secret: str) -> Identity | None:
    """Return the identity a token's secret stands for; ``None`` if unknown, revoked, or its user disabled."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    token = store.find_token(digest(secret))
    if token is None or token.get("revoked_at") is not None:
        return None
    user = store.find_user(token["user"])
    if user is None or user.get("disabled"):
        return None
    return identity_of(user, token=token["name"])
