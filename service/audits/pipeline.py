"""Audit pipelines defined once, as data, and instantiated with parameters.

Each audit is a JSON file in ``definitions/``; the stages the audits share
(statistics, standard names, reference levels, the pipeline templates) are in
``common.json``. The same files are read by the ``mongosh`` scripts
(``scripts/mongosh/lib/audit.js``), so the service, the HTTP API and a
physicist at the shell run one definition. Pure: no database here.

Statistics are exact: a group's values are pushed, sorted, and the quartiles
interpolated linearly between ranks (like numpy's default and Excel's
PERCENTILE.INC), because MongoDB's ``$median``/``$percentile`` accumulators are
t-digest approximations while SecantusDB's are exact, so the two would differ.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from service.errors import InvalidArgument

HERE = Path(__file__).resolve().parent
DEFINITIONS = HERE / "definitions"
COMMON = HERE / "common.json"


@dataclass(frozen=True)
class Audit:
    """One audit: its name, title, template, parameters and constants."""

    name: str
    title: str
    template: str
    parameters: tuple[str, ...]
    constants: Mapping[str, Any]
    quantity: str | None = None
    group: str | None = None


@cache
def common() -> dict[str, Any]:
    """Return the shared parts of every pipeline (``common.json``)."""
    return json.loads(COMMON.read_text(encoding="utf-8"))


@cache
def audits() -> dict[str, Audit]:
    """Return every audit defined in ``definitions/``, by name."""
    found = {}
    for path in sorted(DEFINITIONS.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        found[data["name"]] = Audit(
            name=data["name"],
            title=data["title"],
            template=data["template"],
            parameters=tuple(data["parameters"]),
            constants=data["constants"],
            quantity=data.get("quantity"),
            group=data.get("group"),
        )
    return found


def describe(audit: Audit) -> dict[str, Any]:
    """Return what ``GET /api/audits`` says of an audit: name, title, parameters, quantity."""
    shared = common()
    quantity = shared["quantities"].get(audit.quantity) if audit.quantity else None
    return {
        "name": audit.name,
        "title": audit.title,
        "group": audit.group,
        "quantity": {"name": audit.quantity, **quantity} if quantity else None,
        "parameters": {name: shared["parameters"][name] for name in audit.parameters},
    }


def parse_choices(audit: Audit, args: Mapping[str, str]) -> dict[str, str]:
    """Return the audit's parameter choices from ``args`` (defaults for those not given).

    Raises :class:`InvalidArgument` naming each parameter whose value is not one of its choices.
    """
    shared = common()["parameters"]
    choices, errors = {}, {}
    for name in audit.parameters:
        value = (args.get(name) or "").strip() or shared[name]["default"]
        if value not in shared[name]["choices"]:
            errors[name] = [f"Expected one of {', '.join(shared[name]['choices'])}."]
        choices[name] = value
    if errors:
        raise InvalidArgument(errors)
    return choices


def instantiate(
    audit: Audit,
    choices: Mapping[str, str],
    *,
    match: Mapping[str, Any],
    alert_match: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Return the audit's pipeline with every ``{"$param": NAME}`` replaced (see ``common.json``).

    ``choices`` are those of :func:`parse_choices`; a parameter not chosen takes its default.
    """
    shared = common()
    values: dict[str, Any] = {**shared["fragments"], **shared["defaults"]}
    for name in audit.parameters:
        values[name] = shared["values"][name][choices.get(name, shared["parameters"][name]["default"])]
    values.update(audit.constants)
    values.update(quantity=audit.quantity, match=dict(match), alert_match=dict(alert_match or {}))
    return _substitute(shared["templates"][audit.template], values)


def _substitute(node: Any, values: Mapping[str, Any]) -> Any:
    """Replace parameters in ``node``; splice list values into the list that holds them."""
    if isinstance(node, list):
        out: list[Any] = []
        for item in node:
            replaced = _substitute(item, values)
            out.extend(replaced if _is_param(item) and isinstance(replaced, list) else [replaced])
        return out
    if _is_param(node):
        name = node["$param"]
        if name not in values:
            raise KeyError(f"pipeline parameter {name!r} has no value")
        return _substitute(copy.deepcopy(values[name]), values)
    if isinstance(node, dict):
        return {key: _substitute(value, values) for key, value in node.items()}
    return node


def _is_param(node: Any) -> bool:
    return isinstance(node, dict) and set(node) == {"$param"}


def alert_match(levels: Mapping[str, Any]) -> dict[str, Any]:
    """Return the ``$match`` of studies above any alert level.

    ``levels`` maps a rule's name to ``{"modalities": [...], "stations": [...], "levels": {summary field: level}}``
    (:func:`service.alerts.rules.audit_levels`, in the summary's units; no stations: all).
    """
    clauses = []
    for group in levels.values():
        where = {"modalities": {"$in": group["modalities"]}}
        if group.get("stations"):
            where["equipment.station_name"] = {"$in": group["stations"]}
        clauses += [{**where, f"summary.{field}": {"$gt": level}} for field, level in group["levels"].items()]
    return {"$or": clauses} if clauses else {"study_instance_uid": {"$in": []}}


def name_fields() -> dict[str, tuple[str, ...]]:
    """Return, per modality, the fields whose names the audits group (and can map to standard names)."""
    found: dict[str, dict[str, None]] = {}
    for audit in audits().values():
        if "name_field" in audit.constants:
            found.setdefault(audit.constants["modality"], {})[audit.constants["name_field"]] = None
    return {modality: tuple(names) for modality, names in found.items()}
