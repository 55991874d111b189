"""Every route declares the role it needs (service.access.requires)."""

from __future__ import annotations

import pytest
from flask import Flask

from service.access import ROLES, SIGNED_IN, declared_role, requires

#: endpoints Flask adds itself, which serve no data
FLASK_OWN = {"static", "pages.static"}


def test_every_route_declares_a_known_role_or_none(app: Flask) -> None:
    undeclared, unknown = [], []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in FLASK_OWN:
            continue
        try:
            role = declared_role(app.view_functions[rule.endpoint])
        except LookupError:
            undeclared.append(rule.rule)
            continue
        if role is not None and role != SIGNED_IN and role not in ROLES:
            unknown.append((rule.rule, role))
    assert undeclared == [] and unknown == []


def test_only_the_health_check_signing_in_and_out_and_the_metrics_are_open(app: Flask) -> None:
    open_routes = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in FLASK_OWN and declared_role(app.view_functions[rule.endpoint]) is None
    ]
    # /metrics answers only DOSELEDGER_METRICS_ALLOWED_ADDRESSES (tests/test_metrics.py)
    assert sorted(open_routes) == ["/healthz", "/login", "/logout", "/metrics"]


def test_an_unknown_role_is_refused_when_declared() -> None:
    with pytest.raises(ValueError, match="unknown role 'superuser'"):
        requires("superuser")


def test_a_view_without_a_declaration_is_named() -> None:
    def view() -> str:
        return ""

    with pytest.raises(LookupError, match="declares no role"):
        declared_role(view)
