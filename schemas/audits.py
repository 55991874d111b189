"""Schemas of the audits' own data: standard-name mappings and diagnostic reference levels.

A standard name maps a raw name as a modality sent it (an acquisition protocol,
a study description, a mammography view, a radiopharmaceutical) to the name an
administrator chose, per modality and field; the fields that can be mapped are
those the audits group by (:func:`service.audits.pipeline.name_fields`).

A reference level (DRL) is a value of one audit quantity for one standard name.
Tables are accepted in any unit of the quantity's dimension (``Gy.cm2``,
``cGy·cm²``, ``mGy.cm``...) and stored in the unit the audits report
(``common.json`` quantities), so a group's median and its level compare directly.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from service.audits.pipeline import common, name_fields
from service.errors import InvalidArgument
from service.units import UnknownUnit, convert

_TEXT = {"required": True, "validate": validate.Length(min=1, max=200, error="Expected 1 to 200 characters.")}


def _one_of(choices: Iterable[str]) -> validate.OneOf:
    choices = list(choices)
    return validate.OneOf(choices, error=f"Expected one of {', '.join(choices)}.")


class StandardNameSchema(Schema):
    """One mapping: ``{modality, field, raw, standard}``."""

    class Meta:
        unknown = RAISE

    modality = fields.String(required=True, validate=_one_of(name_fields()))
    field = fields.String(required=True, validate=_one_of({f: None for fs in name_fields().values() for f in fs}))
    raw = fields.String(**_TEXT)
    standard = fields.String(**_TEXT)

    @validates_schema
    def _known_field(self, data: dict[str, Any], **kwargs: Any) -> None:
        """Refuse a field that no audit of the modality groups by."""
        known = name_fields()[data["modality"]]
        if data["field"] not in known:
            raise ValidationError(f"Expected one of {', '.join(known)}.", "field")


class ReferenceLevelSchema(Schema):
    """One row of a DRL table: ``{name, quantity, value, unit}``."""

    class Meta:
        unknown = RAISE

    name = fields.String(**_TEXT)
    quantity = fields.String(required=True, validate=_one_of(common()["quantities"]))
    value = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False, error="Expected > 0."))
    unit = fields.String(required=True)

    @validates_schema
    def _known_quantity(self, data: dict[str, Any], **kwargs: Any) -> None:
        """Refuse a unit of another dimension than the quantity's."""
        quantities = common()["quantities"]
        try:
            convert(1.0, _ucum(data["unit"]), quantities[data["quantity"]]["ucum"])
        except UnknownUnit:
            expected = quantities[data["quantity"]]["unit"]
            raise ValidationError(f"Expected a unit of {data['quantity']} such as {expected}.", "unit") from None


def _ucum(unit: str) -> str:
    """Read a unit as people write it (``cGy·cm²``) as UCUM (``cGy.cm2``)."""
    return unit.strip().replace("·", ".").replace("*", ".").replace("²", "2").replace("³", "3")


def _load(schema: Schema, data: Any, where: str = "") -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as e:
        messages = e.messages if isinstance(e.messages, dict) else {"_schema": e.messages}
        raise InvalidArgument({f"{where}{key}": value for key, value in messages.items()}) from e
    return loaded


def parse_standard_name(data: Any) -> dict[str, str]:
    """Validate one mapping; raise :class:`InvalidArgument` naming each bad field."""
    return _load(StandardNameSchema(), data)


def parse_name_modality(modality: str | None) -> str | None:
    """Return the modality a standard-name listing is limited to (``None``: all); refuse an unknown one."""
    known = name_fields()
    if modality is not None and modality not in known:
        raise InvalidArgument({"modality": [f"Expected one of {', '.join(known)}."]})
    return modality


def parse_reference_levels(data: bytes, *, kind: str) -> list[dict[str, Any]]:
    """Read a UTF-8 DRL table (``kind`` ``csv`` with a header row, or ``json``, a list of objects).

    Each level is returned in the audit unit of its quantity, with the value as given kept beside it.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InvalidArgument({"file": [f"Expected UTF-8 text; byte {e.start} is {data[e.start]:#04x}."]}) from None
    rows = _rows(text, kind)
    quantities = common()["quantities"]
    levels = []
    seen: dict[tuple[str, str], int] = {}
    for number, row in enumerate(rows, start=1):
        level = _load(ReferenceLevelSchema(), row, f"row {number}: ")
        key = (level["name"].strip(), level["quantity"])
        if key in seen:
            message = f"Expected one level per name and quantity (row {seen[key]})."
            raise InvalidArgument({f"row {number}: name": [message]})
        seen[key] = number
        quantity = quantities[level["quantity"]]
        levels.append({
            "name": level["name"].strip(),
            "quantity": level["quantity"],
            "value": convert(level["value"], _ucum(level["unit"]), quantity["ucum"]),
            "unit": quantity["unit"],
            "given": f"{level['value']:g} {level['unit'].strip()}",
        })  # fmt: skip
    return levels


def _rows(text: str, kind: str) -> Iterable[Mapping[str, Any]]:
    if kind == "json":
        try:
            rows = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as e:
            raise InvalidArgument({"file": [f"Expected JSON: {e}."]}) from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise InvalidArgument({"file": ["Expected a JSON list of objects {name, quantity, value, unit}."]})
        return rows
    if kind == "csv":
        reader = csv.DictReader(io.StringIO(text))
        try:
            return _csv_rows(reader)
        except csv.Error as e:
            raise InvalidArgument({"file": [f"Line {reader.line_num} is not readable as CSV: {e}."]}) from None
    raise InvalidArgument({"format": ["Expected csv or json."]})


def _csv_rows(reader: csv.DictReader[str]) -> list[dict[str, str]]:
    header = [name.strip() for name in reader.fieldnames or []]
    if not set(ReferenceLevelSchema().fields) <= set(header):
        raise InvalidArgument({"file": [f"Expected a CSV header row name,quantity,value,unit, not {header[:8]}."]})
    # a short row leaves its last columns None: absent, so the schema names them as missing
    return [{k.strip(): v.strip() for k, v in row.items() if k and v is not None} for row in reader]
