"""Schema of the alert-rule table: the rules an administrator sets, and where their alerts are sent.

The table is one JSON object, replaced whole (``PUT /api/alert-rules``,
``doseledger alert-rules load FILE``)::

    {"rules": [{"name": "Fluoroscopy dose at RP", "kind": "study_total", "modality": "RF",
                "quantity": "total_rp_dose", "level": 5, "unit": "Gy"}, ...],
     "routes": [{"recipients": ["physicist@example.org"], "modalities": ["RF"], "stations": ["CATH1"]}]}

A rule has a unique name, a list modality (``CT``, ``RF``, ``DX``, ``MG``, ``NM``), the
stations it applies to (none listed: all), and one kind (:data:`KINDS`) with its own
fields. Levels are accepted in any unit of the quantity's dimension
(:mod:`service.alerts.quantities`) and kept as given. A route sends the alerts of
the rules, modalities and stations it lists (none listed: all) to its recipients:
e-mail addresses, or ``https://`` (``http://``) URLs of webhooks.
"""

from __future__ import annotations

import json
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from service.alerts.quantities import STUDIES, quantities_for, ucum
from service.errors import InvalidArgument
from service.modalities import MODALITIES
from service.units import UnknownUnit, convert

#: the kinds of rule, and the fields each needs besides name, kind and modality
KINDS: dict[str, tuple[str, ...]] = {
    "study_total": ("quantity", "level", "unit"),
    "event_value": ("quantity", "level", "unit"),
    "reference_multiple": ("quantity", "multiple"),
    "cumulative": ("quantity", "level", "unit"),
    "dose_check": ("check",),
}
#: what a ``dose_check`` rule looks for in a CT event (NEMA XR-25, DICOM TID 10015)
CHECKS = ("alert", "notification", "either")
#: default window of a cumulative rule: 12 weeks
WINDOW_DAYS = 84
#: at most this many rules and routes in a table
MAX_ROWS = 200

_NAME = validate.Length(min=1, max=100, error="Expected 1 to 100 characters.")
_POSITIVE = validate.Range(min=0, min_inclusive=False, error="Expected a number above 0.")


def _strings(item: validate.Validator, **kwargs: Any) -> fields.List:
    return fields.List(fields.String(validate=item), validate=validate.Length(max=MAX_ROWS), **kwargs)


class RuleSchema(Schema):
    """One rule: name, kind, modality, stations, and its kind's fields."""

    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=_NAME)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS, error="Expected one of {choices}."))
    modality = fields.String(required=True, validate=validate.OneOf(MODALITIES, error="Expected one of {choices}."))
    stations = _strings(_NAME, load_default=list)
    enabled = fields.Boolean(load_default=True)
    quantity = fields.String()
    level = fields.Float(validate=_POSITIVE, allow_nan=False)
    unit = fields.String(validate=validate.Length(min=1, max=40))
    multiple = fields.Float(validate=_POSITIVE, allow_nan=False)
    window_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=3660))
    check = fields.String(validate=validate.OneOf(CHECKS, error="Expected one of {choices}."))
    source = fields.String(validate=validate.Length(max=500))

    @validates_schema
    def _kind_fields(self, data: dict[str, Any], **kwargs: Any) -> None:
        """Require the kind's own fields, refuse others', and check the quantity and unit."""
        kind, optional = data["kind"], {"window_days"} if data["kind"] == "cumulative" else set()
        needed = KINDS[kind]
        others = {"quantity", "level", "unit", "multiple", "window_days", "check"} - set(needed) - optional
        errors = {name: [f"A {kind} rule needs it."] for name in needed if name not in data}
        errors |= {name: [f"A {kind} rule has no {name}."] for name in others if name in data}
        if errors:
            raise ValidationError(errors)
        if "quantity" in needed:
            _check_quantity(data)


def _check_quantity(data: dict[str, Any]) -> None:
    """Refuse a quantity the kind and modality do not have, or a unit of another dimension."""
    known = quantities_for(data["kind"], data["modality"])
    quantity = known.get(data["quantity"])
    if quantity is None:
        raise ValidationError(f"Expected one of {', '.join(known)} for {data['modality']}.", "quantity")
    if "unit" not in data:
        return
    if quantity.ucum == STUDIES:
        if data["unit"] != "studies":
            raise ValidationError("Expected studies: the level of study_count is a number of studies.", "unit")
        return
    try:
        convert(1.0, ucum(data["unit"]), quantity.ucum)
    except UnknownUnit:
        raise ValidationError(f"Expected a unit of {data['quantity']} such as {quantity.ucum}.", "unit") from None


def _recipient(value: str) -> None:
    """Refuse a recipient that is neither an e-mail address nor an http(s) URL."""
    if value.startswith(("https://", "http://")):
        if len(value) > len("https://") and not any(c.isspace() for c in value):
            return
    else:
        local, at, domain = value.rpartition("@")
        if at and local and "." in domain and not any(c.isspace() or c in '<>,;"' for c in value):
            return
    raise ValidationError("Expected an e-mail address (name@example.org) or a webhook URL (https://...).")


class RouteSchema(Schema):
    """Where alerts go: recipients, and the rules, modalities and stations whose alerts they get."""

    class Meta:
        unknown = RAISE

    recipients = fields.List(
        fields.String(validate=_recipient),
        required=True,
        validate=validate.Length(min=1, max=50, error="Expected 1 to 50 recipients."),
    )
    rules = _strings(_NAME, load_default=list)
    modalities = fields.List(
        fields.String(validate=validate.OneOf(MODALITIES, error="Expected one of {choices}.")), load_default=list
    )
    stations = _strings(_NAME, load_default=list)


class TableSchema(Schema):
    """The whole table: rules (unique names) and routes (naming rules of the table)."""

    class Meta:
        unknown = RAISE

    rules = fields.List(fields.Nested(RuleSchema), required=True, validate=validate.Length(max=MAX_ROWS))
    routes = fields.List(fields.Nested(RouteSchema), load_default=list, validate=validate.Length(max=MAX_ROWS))

    @validates_schema
    def _names(self, data: dict[str, Any], **kwargs: Any) -> None:
        """Refuse two rules of one name, and a route naming a rule the table does not have."""
        seen: dict[str, int] = {}
        for number, rule in enumerate(data["rules"]):
            if rule["name"] in seen:
                message = f"Expected a name of its own; rule {seen[rule['name']]} has it."
                raise ValidationError({"rules": {number: {"name": [message]}}})
            seen[rule["name"]] = number
        for number, route in enumerate(data["routes"]):
            unknown = [name for name in route["rules"] if name not in seen]
            if unknown:
                message = f"Expected names of rules of this table, not {', '.join(unknown)}."
                raise ValidationError({"routes": {number: {"rules": [message]}}})


def _flatten(messages: Any, path: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested messages into ``{"rules.2.level": [...]}``."""
    if isinstance(messages, dict):
        out: dict[str, list[str]] = {}
        for key, value in messages.items():
            out |= _flatten(value, f"{path}.{key}" if path else str(key))
        return out
    return {path or "table": messages if isinstance(messages, list) else [str(messages)]}


def parse_alert_rules(data: Any) -> dict[str, Any]:
    """Validate a rule table (parsed JSON); raise :class:`InvalidArgument` naming each bad field."""
    if not isinstance(data, dict):
        raise InvalidArgument({"table": ['Expected a JSON object {"rules": [...], "routes": [...]}.']})
    try:
        table: dict[str, Any] = TableSchema().load(data)
    except ValidationError as e:
        raise InvalidArgument(_flatten(e.messages)) from e
    return table


def read_alert_rules(text: bytes | str) -> dict[str, Any]:
    """Read a rule table from JSON text; raise :class:`InvalidArgument` saying what is wrong."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise InvalidArgument({"table": [f"Expected JSON: {e}."]}) from None
    return parse_alert_rules(data)
