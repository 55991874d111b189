"""Query arguments of the API, parsed and checked by marshmallow schemas."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate


class EventLogArgs(Schema):
    """Arguments of ``GET /api/event-log``."""

    class Meta:
        """Refuse arguments the endpoint does not know."""

        unknown = RAISE

    after = fields.Integer(load_default=0, validate=validate.Range(min=0), metadata={"label": "After seq"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000), metadata={"label": "Page size"})
