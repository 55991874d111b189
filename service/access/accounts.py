"""Local accounts: who is signed in, and what administrators do to users (add, roles, disable, passwords).

Every change is an event-log entry naming who made it (:class:`Actor`). A
password set by someone else (the first start, ``doseledger users add``, the
admin page) must be changed at the user's first sign-in. User names are
lower case letters, digits, ``.``, ``_`` and ``-``; names are compared in lower
case, as directories compare them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from service.access import ROLES
from service.access.passwords import generate_password, hash_password, password_problem, verify_password
from service.errors import InvalidArgument, NotFound
from service.storage.connection import utcnow

if TYPE_CHECKING:
    from service.storage import Store

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"


@dataclass(frozen=True)
class Actor:
    """Who does something, as the event log names them: how (``http``, ``cli``) and who (``client``)."""

    via: str
    client: str


@dataclass(frozen=True)
class Identity:
    """A signed-in user, or a token acting for one: the name, the roles, and the token's name if any."""

    user: str
    roles: frozenset[str]
    token: str | None = None
    must_change_password: bool = False

    @property
    def who(self) -> str:
        """Name the user, and the token if one is used: ``alice`` or ``alice[token orthanc]``."""
        return f"{self.user}[token {self.token}]" if self.token else self.user

    def client(self, address: str) -> str:
        """Return the event log's ``client``: who, at which address (``alice@10.1.2.3``)."""
        return f"{self.who}@{address}"


def check_name(name: str, what: str = "user") -> str:
    """Return ``name`` in lower case; raise :class:`InvalidArgument` if it is not a usable name."""
    value = name.strip().lower()
    if not NAME.match(value):
        raise InvalidArgument({"name": [f"{name!r} is not a usable {what} name; use {NAME_RULE}."]})
    return value


def check_roles(roles: Iterable[str]) -> list[str]:
    """Return the roles in the order of :data:`ROLES`; raise :class:`InvalidArgument` for an unknown one."""
    given = {role.strip() for role in roles if role.strip()}
    unknown = sorted(given - set(ROLES))
    if unknown:
        raise InvalidArgument({"roles": [f"Unknown role {', '.join(unknown)}; the roles are {', '.join(ROLES)}."]})
    return [role for role in ROLES if role in given]


def identity_of(user: dict[str, Any], token: str | None = None) -> Identity:
    """Return the identity of a stored user (acting through ``token``, if named)."""
    return Identity(
        user=user["name"],
        roles=frozenset(user.get("roles") or ()),
        token=token,
        must_change_password=bool(user.get("must_change_password")) and token is None,
    )


def find_user(store: Store, name: str) -> dict[str, Any]:
    """Return the user named ``name``; raise :class:`NotFound` naming it."""
    user = store.find_user(name.strip().lower())
    if user is None:
        raise NotFound(f"There is no user named {name!r}.")
    return user


def add_user(store: Store, name: str, roles: Iterable[str], by: Actor, password: str | None = None) -> str:
    """Create a local user who must change ``password`` (generated if not given) at first sign-in; return it."""
    name, roles = check_name(name), check_roles(roles)
    password = password or generate_password()
    problem = password_problem(password, name)
    if problem:
        raise InvalidArgument({"password": [problem]})
    now = utcnow()
    store.insert_user(
        {
            "name": name,
            "roles": roles,
            "source": "local",
            "password_hash": hash_password(password),
            "disabled": False,
            "must_change_password": True,
            "session_version": 0,
            "created_at": now,
            "updated_at": now,
            "created_by": by.client,
        }
    )
    _log(store, "user-added", by, f"User {name} was added with roles {_roles_text(roles)}.", user=name, roles=roles)
    return password


def set_roles(store: Store, name: str, roles: Iterable[str], by: Actor) -> list[str]:
    """Replace the roles of a user; return them."""
    user, roles = find_user(store, name), check_roles(roles)
    if "admin" not in roles:
        _keep_an_admin(store, user)
    store.update_user(user["name"], {"roles": roles})
    message = f"User {user['name']} now holds {_roles_text(roles)} (was {_roles_text(user.get('roles') or [])})."
    _log(store, "user-roles", by, message, user=user["name"], roles=roles)
    return roles


def set_disabled(store: Store, name: str, disabled: bool, by: Actor) -> None:
    """Disable a user (its sessions and tokens stop working at once) or enable it again."""
    user = find_user(store, name)
    if disabled:
        _keep_an_admin(store, user)
    store.update_user(user["name"], {"disabled": disabled}, bump_session=disabled)
    kind, word = ("user-disabled", "disabled") if disabled else ("user-enabled", "enabled")
    _log(store, kind, by, f"User {user['name']} was {word}.", user=user["name"])


def reset_password(store: Store, name: str, by: Actor) -> str:
    """Give a local user a new generated password, to be changed at next sign-in; return it."""
    user = find_user(store, name)
    if user.get("source") != "local":
        raise InvalidArgument({"name": [f"{user['name']} signs in through the directory; its password is kept there."]})
    password = generate_password()
    fields = {"password_hash": hash_password(password), "must_change_password": True}
    store.update_user(user["name"], fields, bump_session=True)
    _log(store, "password-reset", by, f"The password of {user['name']} was reset.", user=user["name"])
    return password


def change_password(store: Store, name: str, current: str, new: str, by: Actor) -> None:
    """Change a user's own password after checking the current one."""
    user = find_user(store, name)
    if user.get("source") != "local":
        raise InvalidArgument({"password": ["Your password is kept by the directory; change it there."]})
    if not verify_password(user.get("password_hash"), current):
        raise InvalidArgument({"current_password": ["The current password is not right."]})
    problem = password_problem(new, user["name"]) or (
        "The new password must differ from the current one." if new == current else None
    )
    if problem:
        raise InvalidArgument({"new_password": [problem]})
    fields = {"password_hash": hash_password(new), "must_change_password": False}
    store.update_user(user["name"], fields, bump_session=True)
    _log(store, "password-changed", by, f"User {user['name']} changed their password.", user=user["name"])


def _is_admin(user: dict[str, Any]) -> bool:
    return "admin" in (user.get("roles") or ()) and not user.get("disabled")


def _keep_an_admin(store: Store, losing: dict[str, Any]) -> None:
    """Refuse to take ``admin`` from the last enabled user who holds it (roles removed, or disabled)."""
    if not _is_admin(losing):
        return
    others = [user for user in store.list_users() if user["name"] != losing["name"] and _is_admin(user)]
    if not others:
        raise InvalidArgument(
            {"name": [f"{losing['name']} is the last enabled administrator; give another user the admin role first."]}
        )


def _roles_text(roles: Iterable[str]) -> str:
    return ", ".join(roles) or "no role"


def _log(store: Store, kind: str, by: Actor, message: str, **details: Any) -> None:
    """Write an account event to the event log."""
    store.append_event(kind, via=by.via, client=by.client, outcome="done", message=message, details=details)
