"""One check of every request's query string before any route reads it.

Werkzeug decodes a query string leniently: bytes that are not UTF-8 become
U+FFFD and a repeated argument quietly keeps its first value, so a filter
would match something other than what the client sent. Both are refused here,
for every route at once, as a 400 naming the argument; form fields are read
with :func:`single_values` for the same reason.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from flask import request
from werkzeug.datastructures import MultiDict

from service.errors import InvalidArgument


def check_query_string() -> None:
    """Refuse a query string that is not UTF-8 (RFC 3986 §2.5) or repeats an argument."""
    try:
        unquote_to_bytes(request.query_string).decode("utf-8")
    except UnicodeDecodeError as e:
        message = f"Expected UTF-8 text after percent-decoding; byte {e.start} is {e.object[e.start]:#04x}."
        raise InvalidArgument({"query string": [message]}) from None
    single_values(request.args)


def single_values(arguments: MultiDict[str, str]) -> dict[str, str]:
    """Return query or form arguments as a dict; refuse one given more than once (which would be ambiguous)."""
    repeated = sorted(key for key, values in arguments.lists() if len(values) > 1)
    if repeated:
        raise InvalidArgument({key: ["Expected once; the argument was given more than once."] for key in repeated})
    return arguments.to_dict()
