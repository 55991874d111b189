"""The form fields of ``POST /api/patient-sizes`` (the options of ``doseledger patient-sizes``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from service.errors import InvalidArgument


def _column(what: str) -> fields.String:
    return fields.String(
        required=True, validate=validate.Length(min=1, error=f"Expected the name of the column of {what}.")
    )


class PatientSizesForm(Schema):
    """Which columns of the file hold what, and how to apply it."""

    class Meta:
        unknown = RAISE

    id_column = _column("the accession numbers (or Study Instance UIDs with si_uid)")
    height_column = _column("the heights in cm")
    weight_column = _column("the weights in kg")
    si_uid = fields.Boolean(load_default=False)  # the id column holds Study Instance UIDs
    overwrite = fields.Boolean(load_default=False)  # replace heights and weights studies already have


def parse_size_form(form: Mapping[str, str]) -> dict[str, Any]:
    """Return the parsed form, or raise :class:`InvalidArgument` naming each bad field."""
    try:
        parsed: dict[str, Any] = PatientSizesForm().load(dict(form))
    except ValidationError as e:
        raise InvalidArgument(e.normalized_messages()) from e
    return parsed
