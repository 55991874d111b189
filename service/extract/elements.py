r"""Read element values of SR content items quickly, by tag (PS3.5 6.2).

pydicom converts an element on first access: character set decoding, value
validation, DS/IS number types. Most values of a dose report are short ASCII
text (code values, UIDs, value types, numbers as DS text), for which the raw
bytes decoded as ASCII are already the value, so :func:`value` returns those
directly and leaves every other element (non-ASCII text, binary VRs) to
pydicom's converters. ISO 2022 text (``\ISO 2022 IR 87`` Japanese, IR 149
Korean...) is 7-bit too, but switches character sets with escape sequences
(ESC, 0x1B): bytes holding an escape are decoded with the data set's
character sets, never taken as ASCII. Several values (``a\b``) come back as a list, a
sequence as its items. :func:`value` reads pydicom Datasets and the light
:class:`~service.extract.content.Item` alike.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from pydicom.charset import convert_encodings
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.values import convert_value

from service.errors import InvalidDoseReport
from service.extract.content import Item, MalformedContent, Syntax, implicit_vr, read_items
from service.extract.structure import describe, problem

#: A content, measurement or code item: a pydicom Dataset or a light Item
ContentItem = Dataset | Item

# Content item, measurement and code sequence attributes (PS3.3 C.17.3, C.18.1, 8.8).
CONCEPT_NAME, VALUE_TYPE, CONTENT = 0x0040A043, 0x0040A040, 0x0040A730
MEASURED_VALUE, UNITS_CODE, CONCEPT_CODE = 0x0040A300, 0x004008EA, 0x0040A168
NUMERIC_VALUE, FLOATING_POINT_VALUE = 0x0040A30A, 0x0040A161
TEXT_VALUE, UID_VALUE, PERSON_NAME = 0x0040A160, 0x0040A124, 0x0040A123
DATETIME_VALUE, DATE_VALUE, TIME_VALUE, REFERENCED_SOP = 0x0040A120, 0x0040A121, 0x0040A122, 0x00081199
REFERENCED_SOP_CLASS, REFERENCED_SOP_INSTANCE = 0x00081150, 0x00081155
CODE_VALUE, CODING_SCHEME, CODE_MEANING, LONG_CODE_VALUE = 0x00080100, 0x00080102, 0x00080104, 0x00080119

#: Text VRs whose ASCII bytes are the value; a backslash separates several values in these.
MULTI_VALUED_TEXT = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "SH", "TM", "UI", "PN"})
#: Text VRs of one value, in which a backslash is a character like any other.
SINGLE_VALUED_TEXT = frozenset({"LT", "ST", "UT", "UC", "UR"})
ASCII_TEXT = MULTI_VALUED_TEXT | SINGLE_VALUED_TEXT
#: ISO 2022 escape (PS3.5 6.1.2.5): what follows is in another character set.
ESCAPE = 0x1B


def is_plain_ascii(raw: bytes) -> bool:
    """Tell whether raw text bytes are ASCII with no ISO 2022 escape sequence, so they are the value as they are."""
    return raw.isascii() and ESCAPE not in raw


def _from_ascii(raw: bytes, vr: str) -> str | list[str]:
    text = raw.decode("ascii")
    if vr in SINGLE_VALUED_TEXT:
        return text.rstrip(" \x00")
    if "\\" not in text:
        return text.strip(" \x00")
    parts = [part.strip(" \x00") for part in text.rstrip(" \x00").split("\\")]
    return parts if len(parts) > 1 else parts[0]


def value(ds: ContentItem, tag: int, default: Any = None) -> Any:
    """Return the value of element ``tag`` of ``ds`` (``default`` when absent)."""
    if type(ds) is Item:
        return _item_value(ds, tag, default)
    try:
        element = ds.get_item(tag)
    except KeyError:
        return default
    if element is None:
        return default
    if isinstance(element, RawDataElement):
        raw, vr = element.value, element.VR
        if raw is not None and vr in ASCII_TEXT and is_plain_ascii(raw):
            return _from_ascii(raw, vr)
    return ds[tag].value


def _item_value(item: Item, tag: int, default: Any) -> Any:
    element = item.get(tag)
    if element is None:
        return default
    if type(element) is list:
        return element
    vr, raw = element
    if vr in ASCII_TEXT and is_plain_ascii(raw) and implicit_vr(tag) != "SQ":
        return _from_ascii(raw, vr)
    found = problem(tag, vr, len(raw))
    if found:
        raise InvalidDoseReport(f"{found} (in a content item)")
    syntax = item.syntax
    try:
        return convert_value(vr, syntax.raw(tag, vr, raw), syntax.encodings)
    except Exception as e:  # pydicom's converters raise many types on bad bytes; each means "cannot be read"
        raise InvalidDoseReport(f"its element {describe(tag)} ({vr}) in a content item cannot be decoded") from e


#: per thread, the raw Content Sequence bytes last read and their items (a report is read by several steps)
_last_read = threading.local()


def content_items(ds: Dataset) -> Sequence[ContentItem]:
    """Return the root content items of an SR document (PS3.3 C.17.3), read from their raw bytes if not yet parsed."""
    try:
        element = ds.get_item(CONTENT)
    except KeyError:
        return []
    if not isinstance(element, RawDataElement):
        return element.value if element is not None and element.value else []
    if not element.value:
        return []
    last = getattr(_last_read, "items", (None, []))
    if last[0] is not element.value:
        charset = ds.get("SpecificCharacterSet") or "ISO_IR 6"
        syntax = Syntax(bool(element.is_implicit_VR), element.is_little_endian, convert_encodings(charset))
        try:
            last = _last_read.items = (element.value, read_items(element.value, syntax))
        except MalformedContent as e:
            raise InvalidDoseReport(f"its Content Sequence is malformed (bytes counted from its value): {e}") from e
    return last[1]
