"""Check how a data set's elements are encoded before extraction reads them (PS3.5 6.2, 7.1, 7.5).

pydicom converts an element when it is first read, and an element that breaks
PS3.5 then raises whatever its converter raises: a VR that is no VR, a
binary value whose length is not a multiple of its size, a sequence encoded
as text (so that code expecting items gets a string or a number), sequences
nested until Python's recursion limit. Extraction would fail deep inside with
an exception that says nothing to the sender. :func:`check` finds these first
and refuses the object with a sentence naming the element; :func:`problem` is
the same test for one element, which the Content Sequence reader uses.

:func:`check` runs when extraction has failed unexpectedly (it converts every
sequence, which a good report would pay for on every import): a report broken
in its encoding is then refused naming the element; anything else is a fault
of the extractor, which the caller reports as such.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.valuerep import VR

from service.errors import InvalidDoseReport
from service.extract.content import MAX_NESTING, implicit_vr

#: VRs whose values are a whole number of fixed-size binary numbers (PS3.5 Table 6.2-1)
VALUE_SIZES = {
    "AT": 4, "FD": 8, "FL": 4, "OD": 8, "OF": 4, "OL": 4, "OV": 8,
    "OW": 2, "SL": 4, "SS": 2, "SV": 8, "UL": 4, "US": 2, "UV": 8,
}  # fmt: skip
KNOWN_VRS = frozenset(str(vr) for vr in VR)
#: the Content Sequence: read from its bytes by service.extract.content, which checks it itself
CONTENT_SEQUENCE = 0x0040A730


def describe(tag: int) -> str:
    """Name an element for messages: ``(0040,A043) ConceptNameCodeSequence``."""
    name = keyword_for_tag(tag)
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})" + (f" {name}" if name else "")


def problem(tag: int, vr: str | None, length: int) -> str | None:
    """Say what is wrong with the encoding of one element, or return None when nothing is."""
    expected = implicit_vr(tag)
    if vr is None:
        vr = expected
    if vr not in KNOWN_VRS:
        return f"its element {describe(tag)} has the value representation {vr!r}, which is not one of DICOM's"
    if expected == "SQ" and vr not in ("SQ", "UN"):
        return f"its element {describe(tag)} is encoded as {vr}, not as the sequence (SQ) it must be"
    size = VALUE_SIZES.get(vr)
    if size and length % size:
        return f"its element {describe(tag)} ({vr}) is {length} bytes long, not a multiple of {size}"
    return None


def check(ds: Dataset, depth: int = 0) -> None:
    """Refuse ``ds`` when an element, or one in its sequences, is encoded in a way no reader can take."""
    if depth > MAX_NESTING:
        raise InvalidDoseReport(f"it nests sequences more than {MAX_NESTING} deep")
    for tag in list(ds.keys()):
        if tag == CONTENT_SEQUENCE and depth == 0:
            continue
        element = _read(ds, tag, ds.get_item)
        if element is None:
            continue
        raw = element.value if isinstance(element, RawDataElement) else b""
        found = problem(tag, element.VR, len(raw) if isinstance(raw, bytes) else 0)
        if found:
            raise InvalidDoseReport(found)
        if tag.is_private or (element.VR != "SQ" and implicit_vr(tag) != "SQ"):
            continue  # only sequences are read into items; private ones are no extractor's
        element = _read(ds, tag, ds.__getitem__)
        if element is not None and element.VR == "SQ":
            for item in element.value:
                check(item, depth + 1)


def _read(ds: Dataset, tag: int, read: Callable[[int], DataElement | RawDataElement]) -> Any:
    """Read element ``tag`` of ``ds`` with pydicom; a failure is the object's fault."""
    try:
        return read(tag)
    except Exception as e:  # pydicom raises many types on malformed bytes; each means "cannot be read"
        raise InvalidDoseReport(f"its element {describe(tag)} cannot be decoded") from e
