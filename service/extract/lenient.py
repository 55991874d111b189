"""Lenient readers for values that break the standard in ways any vendor may send.

One signature: ``read(raw, name, notes) -> value``. Each returns the best value
it can (or None to leave the value out) and appends a note saying what it did;
ingest writes the notes to the event log. The docstrings name the file where
the problem was first seen, but the repair is general. Vendor-specific fixes
are in :mod:`service.extract.vendors`.
"""

from __future__ import annotations

import re

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from service.extract.elements import FLOATING_POINT_VALUE, NUMERIC_VALUE, value

Notes = list[str]

_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


def numeric_value(measured: Dataset, name: str, notes: Notes) -> float | None:
    """Read a Measured Value item's number (PS3.3 C.18.1), repairing what can be.

    Prefers Floating Point Value (FD) when present. Handles a DS with several
    values, comma decimals and any other text that is not a number.
    """
    floating = value(measured, FLOATING_POINT_VALUE)
    if floating is not None:
        return float(floating)
    raw = value(measured, NUMERIC_VALUE)
    if raw is None or raw == "":
        notes.append(f"{name}: no numeric value, value left out")
        return None
    if isinstance(raw, MultiValue | list):
        return multi_valued_number(raw, name, notes)
    if isinstance(raw, int | float):
        return float(raw)
    return number_from_text(str(raw), name, notes)


def multi_valued_number(values: MultiValue | list[str], name: str, notes: Notes) -> float | None:
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


#: A number as free text writes it: sign, digits, a point or comma decimal mark.
TEXT_NUMBER = r"([+-]?\d+(?:[.,]\d+)?)"


def labelled_numbers(text: str, label: str, name: str, notes: Notes) -> list[tuple[tuple[str, ...], float]]:
    r"""Find each number that follows ``label`` in free text, however it is laid out.

    ``label`` is a regular expression (case-insensitive; its groups are returned
    with each number); between it and the number any of ``=``, ``:`` and spaces
    may stand (``TotalDLP=1210.50``, ``Total DLP: 1210,50 mGy.cm``). Vendors
    write dose values into comment attributes this way (GE CT dose screens,
    see :func:`service.extract.vendors.ge_dose_screen_comments`).
    """
    pattern = re.compile(label + r"\s*[=:]?\s*" + TEXT_NUMBER, re.IGNORECASE)
    found = []
    for match in pattern.finditer(text):
        number = number_from_text(match.group(match.lastindex or 0), name, notes)
        if number is not None:
            found.append((match.groups()[:-1], number))
    return found


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


def comma_separated_values(raw: str, name: str, notes: Notes) -> list[str]:
    """Split a multi-valued attribute on backslashes, and on commas where a vendor used those.

    Carestream (KODAK) DR 7500 writes two filters as ``ALUMINUM,COPPER`` in one
    value (DX-Im-Carestream_DR7500-2.dcm); a CS value never holds a comma.
    """
    values = [v.strip() for v in raw.split("\\") if v.strip()]
    if any("," in v for v in values):
        notes.append(f"{name}: values separated by commas ({raw!r}); read as {raw.count(',') + 1} values")
        values = [part.strip() for v in values for part in v.split(",") if part.strip()]
    return values


def comma_separated_numbers(ds: Dataset, keyword: str, count: int, notes: Notes) -> list[float | None]:
    """Return ``count`` numbers of a DS attribute that may separate them with commas (see above).

    Carestream DR 7500 sends Filter Thickness Minimum as ``1.06,0.206`` for two
    filters (DX-Im-Carestream_DR7500-2.dcm). With a single value expected, a
    comma is a decimal mark instead (:func:`number_from_text`).
    """
    raw = ds.get(keyword)
    if raw is None or raw == "" or count == 0:
        return [None] * count
    texts = [str(v) for v in raw] if isinstance(raw, MultiValue) else [str(raw)]
    if count > 1 and len(texts) == 1 and texts[0].count(",") == count - 1:
        texts = comma_separated_values(texts[0], keyword, notes)
    numbers = [number_from_text(t, keyword, notes) for t in texts[:count]]
    return numbers + [None] * (count - len(numbers))


def ordered_thicknesses(low: float | None, high: float | None, material: str, notes: Notes) -> dict[str, float | None]:
    """Return filter thickness minimum and maximum, swapped when sent the wrong way round.

    Carestream DR 7500 sends minimum 1.06 and maximum 0.94 mm of aluminium
    (DX-Im-Carestream_DR7500-2.dcm).
    """
    if low is not None and high is not None and low > high:
        notes.append(f"{material} filter: thickness minimum {low} exceeds maximum {high}; swapped")
        low, high = high, low
    return {"xray_filter_thickness_minimum": low, "xray_filter_thickness_maximum": high}
