"""How stored values are shown: field labels and units from the study schema, display units.

Numbers are stored in the template's unit (``unit`` in each field's metadata).
A few are shown in the unit users read on their consoles instead:
dose-area product in cGy·cm² (stored as Gy·m², the RDSR unit; fluoroscopy
consoles and OpenREM show cGy·cm²).
:data:`SHOWN_UNITS` is the one place that says so; pages, list filters and
their headings all go through :func:`shown`.
"""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import Schema, fields

#: stored unit -> (shown unit, power of ten: shown = stored * 10**scale)
SHOWN_UNITS: dict[str, tuple[str, int]] = {
    "Gy·m²": ("cGy·cm²", 6),
}


@dataclass(frozen=True)
class Shown:
    """A unit values are shown in, and how to get there from the stored unit."""

    unit: str | None
    scale: int = 0  # shown value = stored value * 10**scale

    def from_stored(self, value: float) -> float:
        """Convert a stored value to the shown unit."""
        return value * 10**self.scale if self.scale >= 0 else value / 10**-self.scale

    def to_stored(self, value: float) -> float:
        """Convert a value in the shown unit to the stored unit (dividing by an exact power of ten)."""
        return value / 10**self.scale if self.scale >= 0 else value * 10**-self.scale


def shown(unit: str | None) -> Shown:
    """Return how values stored in ``unit`` are shown."""
    if unit in SHOWN_UNITS:
        return Shown(*SHOWN_UNITS[unit])
    return Shown(unit)


#: Words of field names written as users write them (abbreviations of the standard).
WORDS: dict[str, str] = {
    "uid": "UID", "uids": "UIDs", "sop": "SOP", "ct": "CT", "dlp": "DLP", "dap": "DAP", "rp": "RP",
    "agd": "AGD", "kvp": "kVp", "ctdivol": "CTDIvol", "ctdiw": "CTDIw", "xray": "X-ray", "pet": "PET",
    "sha256": "SHA-256", "id": "ID",
}  # fmt: skip


def label_of(field: fields.Field | None, name: str) -> str:
    """Return a field's label from its metadata, or its name made readable."""
    if field is not None and field.metadata.get("label"):
        return str(field.metadata["label"])
    text = " ".join(WORDS.get(word, word) for word in name.split("_"))
    return text[:1].upper() + text[1:]


def unit_of(field: fields.Field | None) -> str | None:
    """Return the stored unit declared in a field's metadata."""
    return None if field is None else field.metadata.get("unit")


def nested_schema(field: fields.Field | None) -> Schema | None:
    """Return the schema of a nested field or of a list of nested documents."""
    if isinstance(field, fields.List):
        field = field.inner
    if isinstance(field, fields.Nested) and isinstance(field.schema, Schema):
        return field.schema
    return None
