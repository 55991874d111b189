"""What of a study document a merge changed: the part that needs validating again (schemas.study.validate_study).

``validate_study(document, before=stored)``: merging shares, by identity, every
event and report it leaves as it was (:mod:`service.ingest.merge`), and those
were valid when they were written; so only the rest is read again, and an error
still names each item by its place in its list. One more image merged into a
study of 900 validates its own event, not 900.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields


def changed(document: dict[str, Any], before: dict[str, Any], schema: Schema) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``document`` without the list items it shares with ``before``, and where each item left sits."""
    view: dict[str, Any] = {}
    places: dict[str, Any] = {}
    for key, value in document.items():
        old, field = before.get(key), schema.fields.get(key)
        if isinstance(field, fields.Nested) and isinstance(value, dict) and isinstance(old, dict):
            view[key], places[key] = changed(value, old, field.schema)
        elif isinstance(field, fields.List) and isinstance(field.inner, fields.Nested) and _lists(value, old):
            shared = {id(item) for item in old}
            places[key] = [n for n, item in enumerate(value) if id(item) not in shared]
            view[key] = [value[n] for n in places[key]]
        else:
            view[key] = value
    return view, places


def placed(errors: Any, places: dict[str, Any]) -> Any:
    """Return the errors of a :func:`changed` view with list items numbered by their place in the document."""
    if not isinstance(errors, dict):
        return errors
    found: dict[Any, Any] = {}
    for key, value in errors.items():
        where = places.get(key)
        if isinstance(where, list) and isinstance(value, dict):
            found[key] = {where[n] if isinstance(n, int) and n < len(where) else n: item for n, item in value.items()}
        elif isinstance(where, dict):
            found[key] = placed(value, where)
        else:
            found[key] = value
    return found


def _lists(*values: Any) -> bool:
    return all(isinstance(value, list) for value in values)


def changed_errors(schema: Schema, document: dict[str, Any], before: dict[str, Any]) -> Any:
    """Return ``schema``'s errors of what ``document`` does not share with ``before``, placed as in ``document``."""
    view, places = changed(document, before, schema)
    return placed(schema.validate(view), places)
