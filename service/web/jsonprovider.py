"""JSON for API clients: datetimes as ISO 8601 strings, keys in document order, the patient key only for ``pid``."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from flask import Response, has_request_context
from flask.json.provider import DefaultJSONProvider

from service.access.redact import redact


def json_default(value: Any) -> Any:
    """Convert what ``json`` cannot encode: dates and times to ISO 8601, other scalars to numbers or text."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes):
        raise TypeError("bytes are never sent to clients; convert them before serialising")
    # BSON scalars (ObjectId, Int64, Decimal128) have faithful text forms
    return str(value)


def dumps(value: Any, **kwargs: Any) -> str:
    """Serialise ``value`` with :func:`json_default` (for the CLI as well as the web)."""
    return json.dumps(value, default=json_default, ensure_ascii=False, **kwargs)


class JSONProvider(DefaultJSONProvider):
    """Flask's provider with ISO 8601 datetimes and the document's own key order."""

    sort_keys = False
    default = staticmethod(json_default)  # type: ignore[assignment]

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """Answer with JSON; remove the patient key (in place) unless the request's user holds ``pid``.

        Every JSON answer goes through here (``jsonify``), so a route added later
        that returns study documents cannot leak the key.
        """
        if has_request_context():
            from service.web.auth import may_see_patient_key

            if not may_see_patient_key():
                redact(args)
                redact(kwargs)
        return super().response(*args, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse JSON; nesting too deep for the parser is invalid JSON (a ValueError), not a crash."""
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("The JSON is nested too deeply.") from None
