"""Access control: the roles a user can hold and the role each route declares.

Every view declares the role it needs with :func:`requires` (``None``: open to
anyone, as ``/healthz`` is). The declaration is read off the view function, so
the route table, the README's route -> role table and the tests all come from
the one place a route is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

#: the roles, like OpenREM's groups; a user may hold several
ROLES: dict[str, str] = {
    "viewer": "home, lists, study pages, audits, event log",
    "exporter": "CSV and XLSX exports, audit CSV",
    "importer": "imports and patient sizes",
    "admin": "reference levels, standard names, alert rules, users and tokens, deleting studies",
    "pid": "the patient key and the links between one patient's studies",
}

#: the attribute of a view function that holds its declared role
ATTRIBUTE = "required_role"

View = TypeVar("View", bound=Callable[..., object])


def requires(role: str | None) -> Callable[[View], View]:
    """Declare that a view needs ``role`` (``None``: open to anyone)."""
    if role is not None and role not in ROLES:
        raise ValueError(f"unknown role {role!r}; the roles are {', '.join(ROLES)}")

    def declare(view: View) -> View:
        setattr(view, ATTRIBUTE, role)
        return view

    return declare


def declared_role(view: Callable[..., object]) -> str | None:
    """Return the role a view declared; raise ``LookupError`` for a view that declared none."""
    if not hasattr(view, ATTRIBUTE):
        raise LookupError(f"the view {view.__module__}.{view.__qualname__} declares no role (service.access.requires)")
    return getattr(view, ATTRIBUTE)
