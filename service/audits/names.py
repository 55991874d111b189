"""Standard names outside the pipelines: where each audit reads a raw name, and how it is matched.

An audit with ``names=standard`` looks each raw name up in ``standard_names``
(``common.json``, ``values.names.standard``): a ``$lookup`` whose ``$eq``
compares the stored ``raw`` with the name as the document holds it, for the
audit's modality and ``name_field``. That comparison is binary: case,
spaces (leading, trailing, doubled) and accents all count, so ``HEAD ROUTINE``,
``Head Routine`` and ``HEAD ROUTINE `` are three raw names, and a value that
is not text (a missing name) matches nothing. A coded name (a mammography view,
a radiopharmaceutical) is looked up by its meaning as sent, or, where the
document holds none, by the audit's ``name_fallback`` (a radiopharmaceutical
sent as text only: that text); the audits group the names no mapping joins by
their code (``common.json``, ``code_groups``), but each event's standard name
depends on its own name only. :class:`StandardNames` is the one Python copy of
that rule (the exports and the alerts use it); ``tests/test_audit_names.py``
checks it against the audits' own grouping. Pure: no database here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from service.audits.pipeline import audits


@cache
def raw_name_paths() -> dict[str, dict[str, str]]:
    """Return, per modality, each mappable field and the dotted document path the audits read its raw name from.

    ``{"MG": {"image_view": "projection.events.image_view.code_meaning"}, ...}``,
    taken from the ``name`` constant of the audit definitions (a ``$``-prefixed
    field path); an audit naming its groups by any other expression cannot be
    mirrored, and is refused here.
    """
    return _paths("name")


@cache
def raw_name_fallbacks() -> dict[str, dict[str, str]]:
    """Return, per modality, the path read where a mappable field's raw name path holds nothing (where there is one).

    ``{"NM": {"radiopharmaceutical_agent": "radiopharmaceutical.administrations.radiopharmaceutical_agent_text"}}``
    (the ``name_fallback`` constant: a radiopharmaceutical sent as text only is grouped and mapped by that text).
    """
    return _paths("name_fallback")


def _paths(constant: str) -> dict[str, dict[str, str]]:
    """Return, per modality and mappable field, the field path of the audits' ``constant`` (all peers alike)."""
    found: dict[str, dict[str, str]] = {}
    for audit in audits().values():
        constants = audit.constants
        if "name_field" not in constants or constant not in constants:
            continue
        name = constants[constant]
        if not (isinstance(name, str) and name.startswith("$") and not name.startswith("$$")):
            raise ValueError(
                f"audit {audit.name}: its {constant} {name!r} is not a field path, so exports cannot mirror it"
            )
        paths = found.setdefault(constants["modality"], {})
        if paths.setdefault(constants["name_field"], name[1:]) != name[1:]:
            raise ValueError(f"audit {audit.name} reads {constants['name_field']} from another path than its peers")
    return found


def raw_name_of(modality: str, name_field: str, holder: Mapping[str, Any]) -> Any:
    """Return the raw name of ``name_field`` in ``holder`` (a study or an event) as the audits read it.

    A coded value's meaning, or the text beside it where the audit has a ``name_fallback`` and the value holds none.
    """
    value = holder.get(name_field)
    raw = value.get("code_meaning") if isinstance(value, Mapping) else value
    fallback = raw_name_fallbacks().get(modality, {}).get(name_field)
    return holder.get(fallback.rsplit(".", 1)[-1]) if raw is None and fallback else raw


@dataclass(frozen=True)
class StandardNames:
    """The standard-name mappings of one modality, looked up as the audits' ``$lookup`` does."""

    modality: str
    by_field: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # field -> raw -> standard

    @classmethod
    def of(cls, modality: str, mappings: Iterable[Mapping[str, Any]]) -> StandardNames:
        """Keep the ``{modality, field, raw, standard}`` mappings of ``modality`` (as the store lists them)."""
        by_field: dict[str, dict[str, str]] = {}
        for mapping in mappings:
            if mapping.get("modality") == modality:
                by_field.setdefault(mapping["field"], {})[mapping["raw"]] = mapping["standard"]
        return cls(modality, by_field)

    def standard(self, name_field: str, raw: Any) -> str | None:
        """Return the standard name of ``raw``, or None when it has none (exact, case-sensitive match)."""
        if not isinstance(raw, str):
            return None
        return self.by_field.get(name_field, {}).get(raw)
