"""Access control: the roles a user can hold and the role each route declares.

Every view declares the role it needs with :func:`requires` (``None``: open to
anyone, as ``/healthz`` is; :data:`SIGNED_IN`: anyone signed in, whatever their
roles). The declaration is read off the view function, so the route table, the
README's route -> role table and the tests all come from the one place a route
is written; ``service.web.auth`` enforces it for every request.

Modules: :mod:`.accounts` (users), :mod:`.tokens` (API tokens), :mod:`.signin`
(passwords checked, failures slowed), :mod:`.directory` (LDAP), :mod:`.passwords`
(argon2), :mod:`.bootstrap` (first start), :mod:`.redact` (what only ``pid`` sees).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

#: the roles, like OpenREM's groups; a user may hold several
ROLES: dict[str, str] = {
    "viewer": "home, lists, study pages, audits, event log",
    "exporter": "CSV and XLSX exports, audit CSV",
    "importer": "imports and patient sizes",
    "admin": "reference levels, standard names, alert rules, users and tokens, deleting studies",
    "pid": "the patient key and the links between one patient's studies",
}

#: not a role: any signed-in user or token, whatever roles it holds (changing one's own password)
SIGNED_IN = "signed-in"

#: the attribute of a view function that holds its declared role
ATTRIBUTE = "required_role"
#: the attribute holding the further roles some argument values need ("format=csv" -> "exporter")
ARGUMENT_ATTRIBUTE = "argument_roles"

View = TypeVar("View", bound=Callable[..., object])


def requires(role: str | None, *, when: Mapping[str, str] | None = None) -> Callable[[View], View]:
    """Declare that a view needs ``role`` (``None``: open to anyone), and more for some arguments.

    ``when`` maps ``"argument=value"`` to a role needed as well when the request
    carries that argument with that value: ``when={"format=csv": "exporter"}``.
    """
    for needed in (role, *(when or {}).values()):
        if needed is not None and needed != SIGNED_IN and needed not in ROLES:
            raise ValueError(f"unknown role {needed!r}; the roles are {', '.join(ROLES)}")
    conditions = dict(when or {})
    if any("=" not in condition for condition in conditions):
        raise ValueError(f"write each condition as 'argument=value', not {sorted(conditions)}")

    def declare(view: View) -> View:
        setattr(view, ATTRIBUTE, role)
        setattr(view, ARGUMENT_ATTRIBUTE, conditions)
        return view

    return declare


def argument_roles(view: Callable[..., object]) -> dict[str, str]:
    """Return the further roles a view declared for argument values (``{"format=csv": "exporter"}``)."""
    return dict(getattr(view, ARGUMENT_ATTRIBUTE, {}))


def roles_for(view: Callable[..., object], arguments: Mapping[str, str]) -> list[str]:
    """Return the roles a request with ``arguments`` needs (beyond being signed in) at a declared view."""
    declared = declared_role(view)
    needed = [declared] if declared not in (None, SIGNED_IN) else []
    for condition, role in argument_roles(view).items():
        name, _, value = condition.partition("=")
        if arguments.get(name) == value and role not in needed:
            needed.append(role)
    return needed  # type: ignore[return-value]


def declared_role(view: Callable[..., object]) -> str | None:
    """Return the role a view declared; raise ``LookupError`` for a view that declared none."""
    if not hasattr(view, ATTRIBUTE):
        raise LookupError(f"the view {view.__module__}.{view.__qualname__} declares no role (service.access.requires)")
    return getattr(view, ATTRIBUTE)
