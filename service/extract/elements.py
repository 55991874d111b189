r"""Read element values of SR content items quickly, by tag (PS3.5 6.2).

pydicom converts an element on first access: character set decoding, value
validation, DS/IS number types. Most values of a dose report are short ASCII
text (code values, UIDs, value types, numbers as DS text), for which the raw
bytes decoded as ASCII are already the value, so :func:`value` returns those
directly and leaves every other element (sequences, non-ASCII text, binary
VRs, implicit-VR files) to pydicom. Several values (``a\b``) come back as a list.
"""

from __future__ import annotations

from typing import Any

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

# Content item, measurement and code sequence attributes (PS3.3 C.17.3, C.18.1, 8.8).
CONCEPT_NAME, VALUE_TYPE, CONTENT = 0x0040A043, 0x0040A040, 0x0040A730
MEASURED_VALUE, UNITS_CODE, CONCEPT_CODE = 0x0040A300, 0x004008EA, 0x0040A168
NUMERIC_VALUE, FLOATING_POINT_VALUE = 0x0040A30A, 0x0040A161
TEXT_VALUE, UID_VALUE, PERSON_NAME = 0x0040A160, 0x0040A124, 0x0040A123
DATETIME_VALUE, DATE_VALUE, TIME_VALUE, REFERENCED_SOP = 0x0040A120, 0x0040A121, 0x0040A122, 0x00081199
CODE_VALUE, CODING_SCHEME, CODE_MEANING, LONG_CODE_VALUE = 0x00080100, 0x00080102, 0x00080104, 0x00080119

#: Text VRs whose ASCII bytes are the value; a backslash separates several values in these.
MULTI_VALUED_TEXT = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "SH", "TM", "UI", "PN"})
#: Text VRs of one value, in which a backslash is a character like any other.
SINGLE_VALUED_TEXT = frozenset({"LT", "ST", "UT", "UC", "UR"})


def _from_ascii(raw: bytes, vr: str) -> str | list[str]:
    text = raw.decode("ascii").rstrip(" \x00")
    if vr in SINGLE_VALUED_TEXT:
        return text
    parts = [part.strip(" \x00") for part in text.split("\\")]
    return parts if len(parts) > 1 else parts[0]


def value(ds: Dataset, tag: int, default: Any = None) -> Any:
    """Return the value of element ``tag`` of ``ds`` (``default`` when absent)."""
    try:
        element = ds.get_item(tag)
    except KeyError:
        return default
    if element is None:
        return default
    if isinstance(element, RawDataElement):
        raw, vr = element.value, element.VR
        if raw is not None and (vr in MULTI_VALUED_TEXT or vr in SINGLE_VALUED_TEXT) and raw.isascii():
            return _from_ascii(raw, vr)
    return ds[tag].value
