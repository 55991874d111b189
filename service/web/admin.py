"""The administrators' page of users and API tokens: ``/admin/users`` (the ``admin`` role, every form with CSRF).

What ``doseledger users`` and ``doseledger tokens`` do on the command line:
add a user (with a generated password, shown once, to be changed at first
sign-in), change a user's roles, disable or enable it, reset its password;
make a token for a user (shown once) and revoke one. Each is an event-log
entry naming the administrator. A refused change (an unknown role, a name
taken) comes back to the page with the reason.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from service.access import ROLES, requires
from service.access import tokens as api_tokens
from service.access.accounts import Actor, add_user, reset_password, set_disabled, set_roles
from service.errors import DoseLedgerError
from service.web.apidoc import FORM, HTML, documented, form
from service.web.arguments import single_values
from service.web.auth import request_client
from service.web.context import get_store

bp = Blueprint("admin", __name__)

_NAME = {"type": "string", "description": "A user or token name: letters, digits, `.`, `_`, `-`"}
_ROLES = {"type": "array", "items": {"type": "string", "enum": list(ROLES)}, "description": "The roles ticked"}
_PAGE = ("The page of users and tokens (showing a new password or token once).", HTML)
_USER = {"name": {"description": "The user's name"}}
_ERRORS = {400: "The form's CSRF token is missing or wrong (a browser session)."}


def _changed(body: dict[str, object] | None = None, path: dict[str, object] | None = None) -> object:
    """Describe a form that changes something and goes back to the page (a refusal is shown there)."""
    return documented(
        "administration",
        path=path or _USER,
        body={FORM: body or form()},
        answers={303: ("Done, or refused: back to the page, which says which.", None)},
        errors=_ERRORS,
    )


def _actor() -> Actor:
    return Actor("http", request_client())


def _page(secret: dict[str, str] | None = None) -> Response:
    """Render the users page (with a password or token shown once, if given), never cached."""
    store = get_store()
    page = render_template(
        "admin_users.html", users=store.list_users(), tokens=store.list_tokens(), roles=ROLES, secret=secret
    )
    return Response(page, headers={"Cache-Control": "no-store"})


def _act(change: Callable[[], str]) -> Response:
    """Make a change; back to the page saying what was done, or why it was refused."""
    try:
        message, category = change(), "done"
    except DoseLedgerError as e:
        message, category = str(e), "error"
    flash(message, category)
    return redirect(url_for("admin.users"), 303)


def _reveal(what: str, kind: str, make: Callable[[], str]) -> Response:
    """Make a password or token and show it once on the page, or go back saying why not."""
    try:
        value = make()
    except DoseLedgerError as e:
        flash(str(e), "error")
        return redirect(url_for("admin.users"), 303)
    return _page(secret={"what": what, "value": value, "kind": kind})


def _form() -> dict[str, str]:
    """Return the form's single fields (refusing one sent twice); ``roles`` is read as the list it is."""
    return single_values(MultiDict([(k, v) for k, v in request.form.items(multi=True) if k != "roles"]))


@bp.get("/admin/users")
@requires("admin")
@documented("administration", answers={200: _PAGE})
def users() -> Response:
    """List users and tokens with the forms that change them."""
    return _page()


@bp.post("/admin/users")
@requires("admin")
@documented(
    "administration",
    body={FORM: form("name", name=_NAME, roles=_ROLES)},
    answers={200: _PAGE, 303: ("Refused: back to the page, which says why.", None)},
    errors=_ERRORS,
)
def add() -> Response:
    """Add a user with the roles ticked and a generated password, shown once."""
    name, roles = _form().get("name", ""), request.form.getlist("roles")
    return _reveal(
        f"Password of {name.strip().lower()}", "password", lambda: add_user(get_store(), name, roles, _actor())
    )


@bp.post("/admin/users/<name>/roles")
@requires("admin")
@_changed(form(roles=_ROLES))
def roles(name: str) -> Response:
    """Replace a user's roles with those ticked."""

    def change() -> str:
        held = set_roles(get_store(), name, request.form.getlist("roles"), _actor())
        return f"{name} now holds {', '.join(held) or 'no role'}."

    return _act(change)


@bp.post("/admin/users/<name>/disable")
@requires("admin")
@_changed()
def disable(name: str) -> Response:
    """Disable a user: its sessions and tokens stop working."""
    return _act(lambda: set_disabled(get_store(), name, True, _actor()) or f"{name} is disabled.")


@bp.post("/admin/users/<name>/enable")
@requires("admin")
@_changed()
def enable(name: str) -> Response:
    """Enable a disabled user again."""
    return _act(lambda: set_disabled(get_store(), name, False, _actor()) or f"{name} is enabled.")


@bp.post("/admin/users/<name>/password")
@requires("admin")
@documented(
    "administration",
    path=_USER,
    body={FORM: form()},
    answers={200: _PAGE, 303: ("Refused: back to the page, which says why.", None)},
    errors=_ERRORS,
)
def password(name: str) -> Response:
    """Give a user a new generated password (shown once), to be changed at next sign-in."""
    return _reveal(f"New password of {name}", "password", lambda: reset_password(get_store(), name, _actor()))


@bp.post("/admin/tokens")
@requires("admin")
@documented(
    "administration",
    body={FORM: form("name", "user", name=_NAME, user={"type": "string", "description": "Whose token it is"})},
    answers={200: _PAGE, 303: ("Refused: back to the page, which says why.", None)},
    errors=_ERRORS,
)
def create_token() -> Response:
    """Make an API token for a user; its secret is shown once."""
    form = _form()
    name, user = form.get("name", ""), form.get("user", "")
    return _reveal(
        f"Token {name.strip().lower()}", "token", lambda: api_tokens.create_token(get_store(), name, user, _actor())
    )


@bp.post("/admin/tokens/<name>/revoke")
@requires("admin")
@_changed(path={"name": {"description": "The token's name"}})
def revoke(name: str) -> Response:
    """Revoke a token."""
    return _act(lambda: api_tokens.revoke_token(get_store(), name, _actor()) or f"Token {name} is revoked.")
