"""Signing in with a name and password (local account, else the directory), logged and slowed after failures.

Every attempt is an event-log entry: ``signed-in`` naming the user, or
``sign-in-failed`` naming the address and the name typed (never the password).
After :data:`MAX_FAILURES` failures from one address within :data:`WINDOW`, that
address is refused (:class:`TooManyAttempts`, HTTP 429) until the oldest of them
is older than the window; a successful sign-in clears its count. The count is
kept in the database, so every worker process of the service shares it. An
unknown or revoked API token counts as a failure too (:func:`note_bad_token`).

A name with a local account is checked against its local password only; other
names go to the directory when one is configured, so that a directory user
cannot take over a local account such as ``admin``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from service.access.accounts import NAME, Identity, identity_of
from service.access.directory import directory_roles
from service.access.passwords import verify_password
from service.config import Settings
from service.errors import NotSignedIn, TooManyAttempts
from service.storage.connection import utcnow

if TYPE_CHECKING:
    from service.storage import Store

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
WRONG = "The user name or password is not right."


def sign_in(store: Store, settings: Settings, name: str, password: str, address: str) -> Identity:
    """Check a name and password from ``address``; return the identity, or raise saying why not."""
    throttle(store, address)
    name = name.strip().lower()
    try:
        user = _authenticate(store, settings, name, password)
    except NotSignedIn as e:
        _fail(store, address, name, str(e), count=False)
        raise
    if user is None:
        _fail(store, address, name, WRONG)
        raise NotSignedIn(WRONG)
    if user.get("disabled"):
        _fail(store, address, name, "The account is disabled; ask an administrator.")
        raise NotSignedIn("This account is disabled; ask an administrator.")
    store.clear_sign_in_failures(address)
    identity = identity_of(user)
    client = identity.client(address)
    store.append_event("signed-in", via="http", client=client, outcome="done", message=f"{user['name']} signed in.")
    return identity


def _authenticate(store: Store, settings: Settings, name: str, password: str) -> dict[str, Any] | None:
    """Return the user whose password this is (the local one, else the directory's), or ``None``."""
    user = store.find_user(name) if NAME.match(name) else None
    if user is not None and user.get("source") == "local":
        return user if verify_password(user.get("password_hash"), password) else None
    if settings.ldap_url is None or not NAME.match(name):
        verify_password(None, password)  # as long as a real check, so timing does not tell which names exist
        return None
    roles = directory_roles(settings, name, password)
    if roles is None:
        return None
    if not roles:
        raise NotSignedIn(
            "The directory knows you, but you are in none of the groups that give a role in DoseLedger; "
            "ask an administrator."
        )
    if user is not None and user.get("disabled"):
        return user
    return store.upsert_directory_user(name, roles)


def throttle(store: Store, address: str) -> None:
    """Refuse ``address`` if it failed :data:`MAX_FAILURES` times within :data:`WINDOW`."""
    now = utcnow()
    failures = store.sign_in_failures(address, since=now - WINDOW)
    if len(failures) >= MAX_FAILURES:
        wait = max(1, int((failures[-MAX_FAILURES] + WINDOW - now).total_seconds()) + 1)
        raise TooManyAttempts(
            f"Too many failed sign-ins from {address}; try again in {(wait + 59) // 60} minute(s).", retry_after=wait
        )


def note_bad_token(store: Store, address: str) -> None:
    """Count and log a request with an unknown or revoked token (refused with 429 once too many)."""
    throttle(store, address)
    _fail(store, address, None, "An unknown, revoked or disabled user's API token was sent.")


def _fail(store: Store, address: str, name: str | None, reason: str, *, count: bool = True) -> None:
    """Record and log one failed sign-in."""
    if count:
        store.record_sign_in_failure(address, forget_before=utcnow() - WINDOW)
    store.append_event(
        "sign-in-failed",
        via="http",
        client=address,
        outcome="refused",
        message=reason,
        details={"user": name[:64]} if name else None,
    )
