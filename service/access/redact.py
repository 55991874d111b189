"""What only the ``pid`` role may see: the patient key, removed from answers and pages for everyone else.

:data:`PID_FIELDS` are study-document paths (``patient.key``); :func:`redact`
removes them wherever a study document, or a part of one, sits in an answer (a
whole document, list items, rows): any mapping holding ``patient`` that holds
``key``. :data:`PID_ARGUMENTS` are request arguments that select by them (the
lists' ``patient_key`` filter); a request carrying one needs ``pid``, whatever
the route.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

#: study-document fields only ``pid`` sees
PID_FIELDS: tuple[str, ...] = ("patient.key",)
#: request arguments only ``pid`` may send
PID_ARGUMENTS: tuple[str, ...] = ("patient_key",)


def redact(value: Any, paths: tuple[str, ...] = PID_FIELDS) -> Any:
    """Remove every field of ``paths`` from ``value`` and whatever it nests, in place; return ``value``."""
    split = [tuple(path.split(".")) for path in paths]
    _walk(value, split)
    return value


def _walk(value: Any, paths: list[tuple[str, ...]]) -> None:
    if isinstance(value, Mapping):
        for path in paths:
            _drop(value, path)
        children: Any = value.values()
    elif isinstance(value, list | tuple):
        children = value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        children = [getattr(value, field.name) for field in dataclasses.fields(value)]
    else:
        return
    for child in children:
        _walk(child, paths)


def _drop(mapping: Any, path: tuple[str, ...]) -> None:
    """Remove ``path`` (parent keys, then the field) from ``mapping`` if it is there."""
    for key in path[:-1]:
        mapping = mapping.get(key) if isinstance(mapping, Mapping) else None
    if isinstance(mapping, dict):
        mapping.pop(path[-1], None)
