"""Schemas of query/retrieve: a remote PACS node, and what a run asks for.

A node: ``{name, ae_title, host, port, retrieve, move_destination}`` (``retrieve``
``move`` or ``get``, default ``move``; ``move_destination`` an AE title, default
DoseLedger's own). A run: ``{date_from, date_to, modalities, stations,
exclude_stations, descriptions, exclude_descriptions}``, dates YYYY-MM-DD
(inclusive), modalities from :data:`service.dicomnet.selection.QUERY_MODALITIES`
(default all), each text filter a list of up to 20 texts matched as
case-insensitive "contains" (a single text is taken as a list of one).
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from service.dicomnet.nodes import RETRIEVE_METHODS, Node, is_ae_title
from service.dicomnet.selection import QUERY_MODALITIES, TEXT_FILTERS, Criteria
from service.errors import InvalidArgument

#: a node's name: what the CLI and the URLs call it
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
#: a host name or an IPv4 or IPv6 address
HOST = r"^[A-Za-z0-9.:-]{1,253}$"
#: the longest date range of one run (a back-fill of decades is several runs)
MAX_RUN_DAYS = 366 * 30
MAX_TEXTS = 20


def _ae_title(value: str) -> None:
    if not is_ae_title(value):
        raise ValidationError("Expected an AE title: 1 to 16 printable ASCII characters without '\\'.")


_TEXT = fields.String(validate=validate.Length(min=1, max=64, error="Expected 1 to 64 characters."))


class NodeSchema(Schema):
    """One remote node."""

    class Meta:
        unknown = RAISE

    name = fields.String(
        required=True,
        validate=validate.Regexp(NAME, error="Expected 1 to 64 letters, digits, '_', '.' or '-', starting with one."),
    )
    ae_title = fields.String(required=True, validate=_ae_title)
    host = fields.String(required=True, validate=validate.Regexp(HOST, error="Expected a host name or IP address."))
    port = fields.Integer(required=True, strict=True, validate=validate.Range(1, 65535, error="Expected 1 to 65535."))
    retrieve = fields.String(
        load_default="move", validate=validate.OneOf(RETRIEVE_METHODS, error="Expected move or get.")
    )
    move_destination = fields.String(load_default=None, allow_none=True, validate=_ae_title)


class RunSchema(Schema):
    """What one run asks for."""

    class Meta:
        unknown = RAISE

    date_from = fields.Date(required=True)
    date_to = fields.Date(required=True)
    modalities = fields.List(
        fields.String(
            validate=validate.OneOf(QUERY_MODALITIES, error=f"Expected one of {', '.join(QUERY_MODALITIES)}.")
        ),
        load_default=list(QUERY_MODALITIES),
        validate=validate.Length(min=1, error="Expected at least one modality."),
    )
    stations = fields.List(_TEXT, load_default=[], validate=validate.Length(max=MAX_TEXTS))
    exclude_stations = fields.List(_TEXT, load_default=[], validate=validate.Length(max=MAX_TEXTS))
    descriptions = fields.List(_TEXT, load_default=[], validate=validate.Length(max=MAX_TEXTS))
    exclude_descriptions = fields.List(_TEXT, load_default=[], validate=validate.Length(max=MAX_TEXTS))

    @pre_load
    def _lists(self, data: Any, **kwargs: Any) -> Any:
        """Take a single text as a list of one, and modalities in any case."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name in (*TEXT_FILTERS, "modalities"):
            if isinstance(data.get(name), str):
                data[name] = [data[name]]
        if isinstance(data.get("modalities"), list):
            data["modalities"] = [m.upper() if isinstance(m, str) else m for m in data["modalities"]]
        return data

    @validates_schema
    def _range(self, data: dict[str, Any], **kwargs: Any) -> None:
        """Refuse a reversed or an overlong date range."""
        days = (data["date_to"] - data["date_from"]).days
        if days < 0:
            raise ValidationError("Expected a date on or after date_from.", "date_to")
        if days > MAX_RUN_DAYS:
            raise ValidationError(f"Expected at most {MAX_RUN_DAYS} days after date_from; split the range.", "date_to")


def _load(schema: Schema, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidArgument({"body": ["Expected a JSON object."]})
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as e:
        messages = e.messages if isinstance(e.messages, dict) else {"_schema": e.messages}
        raise InvalidArgument(messages) from e
    return loaded


def parse_node(data: Any) -> Node:
    """Validate a node; raise :class:`InvalidArgument` naming each bad field."""
    return Node(**_load(NodeSchema(), data))


def parse_criteria(data: Any) -> Criteria:
    """Validate what a run asks for; raise :class:`InvalidArgument` naming each bad field."""
    loaded = _load(RunSchema(), data)
    return Criteria(
        loaded["date_from"],
        loaded["date_to"],
        modalities=tuple(dict.fromkeys(loaded["modalities"])),
        **{name: tuple(loaded[name]) for name in TEXT_FILTERS},
    )
