"""How stored values are shown: field labels and units from the study schema, display units.

Numbers are stored in the template's unit (``unit`` in each field's metadata).
A few are shown in the unit users read on their consoles instead:
dose-area product in cGy·cm² (stored as Gy·m², the RDSR unit; fluoroscopy
consoles and OpenREM show cGy·cm²), and the tube current-time product in mAs
(stored as µAs, the unit of TID 10003 and of the image header's Exposure in µAs).
:data:`SHOWN_UNITS` is the one place that says so; pages, list filters and
their headings all go through :func:`shown`.

Numbers are shown by :func:`format_number`, the one formatter of pages and
audit tables (exports keep full precision): thousands separators, a fixed
number of significant figures (:data:`FIGURES`, or a field's ``figures``
metadata) but never fewer than the integer digits, trailing zeros after the
decimal point dropped (a whole value reads as whole), never exponent notation,
and an empty string for a missing or non-finite value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from marshmallow import Schema, fields

#: significant figures a number is shown with, unless its field's metadata says ``figures``
FIGURES = 4

#: stored unit -> (shown unit, power of ten: shown = stored * 10**scale)
SHOWN_UNITS: dict[str, tuple[str, int]] = {
    "Gy·m²": ("cGy·cm²", 6),
    "µAs": ("mAs", -3),
}


@dataclass(frozen=True)
class Shown:
    """A unit values are shown in, and how to get there from the stored unit."""

    unit: str | None
    scale: int = 0  # shown value = stored value * 10**scale
    figures: int = FIGURES

    def from_stored(self, value: float) -> float:
        """Convert a stored value to the shown unit."""
        return value * 10**self.scale if self.scale >= 0 else value / 10**-self.scale

    def to_stored(self, value: float) -> float:
        """Convert a value in the shown unit to the stored unit (dividing by an exact power of ten)."""
        return value / 10**self.scale if self.scale >= 0 else value * 10**-self.scale

    def format(self, value: Any) -> str:
        """Return a stored number as shown: in the shown unit, formatted by :func:`format_number`."""
        if not _is_number(value):
            return ""
        return format_number(self.from_stored(value), self.figures)


def shown(unit: str | None, figures: int | None = None) -> Shown:
    """Return how values stored in ``unit`` are shown (with ``figures`` significant figures)."""
    unit_shown, scale = SHOWN_UNITS.get(unit or "", (unit, 0))
    return Shown(unit_shown, scale, figures or FIGURES)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def format_number(value: Any, figures: int = FIGURES, *, separators: bool = True) -> str:
    """Format a number for reading: ``46881`` -> ``46,881``, ``16.2604`` -> ``16.26``, ``5.1e-05`` -> ``0.000051``.

    ``separators=False`` leaves out the thousands separators (CSV cells, which a
    spreadsheet could read with a decimal comma).
    """
    if not _is_number(value):
        return ""
    grouping = "," if separators else ""
    if isinstance(value, int) or value == 0:
        return f"{round(value):{grouping}}"
    decimals = max(figures - 1 - math.floor(math.log10(abs(value))), 0)
    rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)  # 200.5 -> 201, as read
    text = f"{rounded:{grouping}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def shown_field(field: fields.Field | None) -> Shown:
    """Return how a schema field's values are shown: its unit and its ``figures`` metadata."""
    return shown(unit_of(field), None if field is None else field.metadata.get("figures"))


#: Words of field names written as users write them (abbreviations of the standard).
WORDS: dict[str, str] = {
    "uid": "UID", "uids": "UIDs", "sop": "SOP", "ct": "CT", "dlp": "DLP", "dap": "DAP", "rp": "RP",
    "agd": "AGD", "kvp": "kVp", "ctdivol": "CTDIvol", "ctdiw": "CTDIw", "xray": "X-ray", "pet": "PET",
    "sha256": "SHA-256", "id": "ID", "ii": "II",
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
