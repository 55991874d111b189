"""Repairs for values that break the standard, one small function each.

Each function returns the best value it can (or None to leave the value out)
and appends a note saying what it did; ingest writes the notes to the event log.
Vendor- and model-specific repairs name the vendor, model and sample file.
"""

from __future__ import annotations

import re

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

Notes = list[str]

_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


def numeric_value(measured: Dataset, name: str, notes: Notes) -> float | None:
    """Read a Measured Value item's number (PS3.3 C.18.1), repairing what can be.

    Prefers Floating Point Value (FD) when present. Handles a DS with several
    values, comma decimals and any other text that is not a number.
    """
    if "FloatingPointValue" in measured:
        return float(measured.FloatingPointValue)
    raw = measured.get("NumericValue")
    if raw is None or raw == "":
        notes.append(f"{name}: no numeric value, value left out")
        return None
    if isinstance(raw, MultiValue):
        return multi_valued_number(raw, name, notes)
    if isinstance(raw, int | float):
        return float(raw)
    return number_from_text(str(raw), name, notes)


def multi_valued_number(values: MultiValue, name: str, notes: Notes) -> float | None:
    """Take a Numeric Value that holds several numbers (VM > 1, invalid) as its first."""
    numbers = [number_from_text(str(v), name, notes) for v in values]
    numbers = [n for n in numbers if n is not None]
    if not numbers:
        return None
    notes.append(f"{name}: {len(values)} values sent where one is allowed; kept the first, {numbers[0]}")
    return numbers[0]


def number_from_text(text: str, name: str, notes: Notes) -> float | None:
    """Read a number from DS text, accepting a comma as the decimal mark.

    Text that holds more than one number (Toshiba Aquilion ONE sends
    ``10.50/ 15.00`` for a variable helical pitch's standard deviation,
    CT-RDSR-Toshiba_MultiValSD.dcm) is left out: no single value is right.
    """
    stripped = text.strip()
    if _NUMBER.match(stripped):
        if "," in stripped:
            notes.append(f"{name}: comma decimal {stripped!r} read as {stripped.replace(',', '.')}")
        return float(stripped.replace(",", "."))
    notes.append(f"{name}: {stripped!r} is not a number; value left out")
    return None


def integer_count(value: float, name: str, notes: Notes) -> int | float:
    """Store a count as an integer; a fractional count is kept as sent and noted."""
    if float(value).is_integer():
        return int(value)
    notes.append(f"{name}: count {value} is not a whole number; kept as sent")
    return value


def repair_text(value: str, name: str, notes: Notes) -> str:
    """Repair text whose bytes were UTF-8 but declared as Latin-1 (ISO_IR 100).

    Siemens SOMATOM Definition Flash writes UTF-8 under ISO_IR 100
    (CT-RDSR-Siemens_Flash-TAP-SS.dcm: protocol ``testæøå`` decodes as
    ``testÃ¦Ã¸Ã¥``). Text is re-decoded only when its Latin-1 bytes form valid
    UTF-8, which mis-declared UTF-8 always does and real Latin-1 text practically
    never does.
    """
    if value.isascii():
        return value
    try:
        repaired = value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value
    notes.append(f"{name}: UTF-8 text under a Latin-1 character set declaration; read {value!r} as {repaired!r}")
    return repaired
