"""Every route of the app with the role it declared, dummy path values filled in: for the access tests and the README.

Read off ``app.url_map`` and the views' declarations (:func:`service.access.requires`),
so a route added later is in the table, and in the tests, without anyone listing it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from flask import Flask
from werkzeug.routing import BaseConverter, Rule
from werkzeug.routing.converters import AnyConverter, FloatConverter, IntegerConverter, UUIDConverter

from service.access import SIGNED_IN, argument_roles, declared_role
from service.web.auth import STATIC

#: methods Flask answers itself for every route
AUTOMATIC = {"HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Route:
    """One method of one rule: where to call it, and what it declared."""

    method: str
    rule: str
    url: str
    endpoint: str
    role: str | None
    when: tuple[tuple[str, str], ...]

    @property
    def api(self) -> bool:
        """Tell whether the route answers API clients (JSON errors) rather than browsers."""
        return self.rule.startswith("/api/") or self.rule == "/healthz"

    def describe(self) -> str:
        """Return the role column of the README's table."""
        text = {None: "open", SIGNED_IN: "signed in"}.get(self.role, f"`{self.role}`")
        return text + "".join(f"; with `{condition}`: `{role}`" for condition, role in self.when)


def dummy(converter: BaseConverter) -> str:
    """Return a value the converter accepts (the route is then found, whatever the value means)."""
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    if isinstance(converter, IntegerConverter):
        return "1"
    if isinstance(converter, FloatConverter):
        return "1.5"
    if isinstance(converter, UUIDConverter):
        return str(uuid.UUID(int=1))
    return "dummy"


def _url(app: Flask, rule: Rule, method: str) -> str:
    values = {name: dummy(converter) for name, converter in rule._converters.items()}
    adapter = app.url_map.bind("localhost")
    url = adapter.build(rule.endpoint, values, method=method)
    endpoint, _ = adapter.match(url, method=method)
    assert endpoint == rule.endpoint, f"{method} {url} reaches {endpoint}, not {rule.endpoint}: fill {rule.rule} better"
    return url


def routes(app: Flask) -> Iterator[Route]:
    """Yield every method of every declared route (not the static files), in the url map's order."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in STATIC:
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - AUTOMATIC):
            yield Route(
                method,
                rule.rule,
                _url(app, rule, method),
                rule.endpoint,
                declared_role(view),
                tuple(sorted(argument_roles(view).items())),
            )


def readme_rows(app: Flask) -> list[str]:
    """Return the rows of the README's route -> role table, by path and method."""
    ordered = sorted(routes(app), key=lambda route: (route.rule, route.method))
    return [f"| `{route.method} {route.rule}` | {route.describe()} |" for route in ordered]
