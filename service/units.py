"""Convert UCUM measurement units, so every number is stored in its template's unit.

Only the units that dose reports use are known: a unit is a product of factors
``<prefix><base><exponent>`` separated by ``.`` (UCUM's multiplication), such as
``mGy.cm``, ``dGy.cm2`` or ``Gy.m2``. Curly-brace annotations (``{ratio}``,
``{events}``) are dimensionless counts that never convert.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: UCUM metric prefixes (UCUM Table 2); "da" must be tried before "d".
PREFIXES = {
    "": 1.0,
    "da": 1e1,
    "h": 1e2,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "d": 1e-1,
    "c": 1e-2,
    "m": 1e-3,
    "u": 1e-6,
    "n": 1e-9,
    "p": 1e-12,
}

#: Base units as (dimension, factor to the SI-coherent unit of that dimension).
BASES: dict[str, tuple[str, float]] = {
    "Gy": ("dose", 1.0),
    "m": ("length", 1.0),
    "s": ("time", 1.0),
    "min": ("time", 60.0),
    "h": ("time", 3600.0),
    "d": ("time", 86400.0),
    "wk": ("time", 604800.0),
    "mo": ("time", 2629800.0),  # UCUM mean Julian month
    "a": ("time", 31557600.0),  # UCUM mean Julian year: ages in TID 10023
    "A": ("current", 1.0),
    "V": ("voltage", 1.0),
    "Bq": ("activity", 1.0),
    "Ci": ("activity", 3.7e10),
    "g": ("mass", 1e-3),
    "N": ("force", 1.0),
    "Pa": ("pressure", 1.0),
    "l": ("volume", 1e-3),
    "L": ("volume", 1e-3),
    "Sv": ("equivalent_dose", 1.0),
    "deg": ("angle", 1.0),
}

#: Spellings vendors send that are not UCUM, mapped to the UCUM they mean.
ALIASES = {
    "mAs": "mA.s",
    "uAs": "uA.s",
    "Gym2": "Gy.m2",
    "Gy*m2": "Gy.m2",
    "mGy*cm": "mGy.cm",
    "mGycm": "mGy.cm",
    "mGy.cm.": "mGy.cm",
    "kVp": "kV",
    "sec": "s",
    "mSec": "ms",
    "pulse/s": "{pulse}/s",
}

_FACTOR = re.compile(r"^([A-Za-z]+)(-?\d+)?$")

Dimension = tuple[tuple[str, int], ...]


class UnknownUnit(ValueError):
    """A unit string that this module cannot interpret."""


def _parse_factor(text: str) -> tuple[str, int, float]:
    match = _FACTOR.match(text)
    if not match:
        raise UnknownUnit(text)
    symbol, exponent = match.group(1), int(match.group(2) or 1)
    if symbol in BASES:
        dimension, factor = BASES[symbol]
        return dimension, exponent, factor**exponent
    for prefix in sorted(PREFIXES, key=len, reverse=True):
        if prefix and symbol.startswith(prefix) and symbol[len(prefix) :] in BASES:
            dimension, factor = BASES[symbol[len(prefix) :]]
            return dimension, exponent, (PREFIXES[prefix] * factor) ** exponent
    raise UnknownUnit(text)


@lru_cache(maxsize=256)
def parse(unit: str) -> tuple[Dimension, float]:
    """Return the dimension and the factor to SI-coherent units of a UCUM unit."""
    unit = ALIASES.get(unit.strip(), unit.strip()).replace("^", "")  # Siemens: Gy.cm^2
    unit = re.sub(r"\{[^}]*\}", "", unit).strip(".") or "1"
    if unit == "1" or unit == "%":
        return (), 0.01 if unit == "%" else 1.0
    dimensions: dict[str, int] = {}
    total = 1.0
    numerator, _, denominator = unit.partition("/")  # UCUM division: {pulse}/s, mGy/s
    for text, sign in ((numerator, 1), (denominator, -1)):
        for part in filter(None, text.split(".")):
            dimension, exponent, factor = _parse_factor(part)
            dimensions[dimension] = dimensions.get(dimension, 0) + sign * exponent
            total *= factor**sign
    return tuple(sorted((d, e) for d, e in dimensions.items() if e)), total


def convert(value: float, sent: str, wanted: str) -> float:
    """Convert ``value`` from unit ``sent`` to unit ``wanted``.

    Raises :class:`UnknownUnit` when either unit is unknown or their dimensions
    differ (a DAP sent in mGy cannot become Gy·m²).
    """
    if sent == wanted:
        return value
    sent_dim, sent_factor = parse(sent)
    wanted_dim, wanted_factor = parse(wanted)
    if sent_dim != wanted_dim:
        raise UnknownUnit(f"{sent} cannot be converted to {wanted}")
    # round away binary noise such as 1.0340000000000001e-05
    return float(f"{value * sent_factor / wanted_factor:.12g}")


def parse_or_none(unit: str) -> tuple[Dimension, float] | None:
    """Return :func:`parse` of ``unit``, or None when the unit is unknown."""
    try:
        return parse(unit)
    except UnknownUnit:
        return None


def same_unit(a: str, b: str) -> bool:
    """Tell whether two spellings denote the same unit (``Gym2`` and ``Gy.m2``)."""
    return parse_or_none(a) == parse_or_none(b) is not None
