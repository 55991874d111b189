"""Read an SR content tree from its encoded bytes (PS3.5 7.1, 7.5), one light item per content item.

pydicom turns every sequence item into a Dataset, and a dose report has
thousands of items (GE's 27-event CT report has about 5,000); building them
costs several times more than reading the bytes. Extraction therefore reads
the Content Sequence here: an :class:`Item` maps each tag to its VR and raw
value bytes, or, for a nested sequence, to a list of Items, and
:func:`service.extract.elements.value` converts a value when it is read (with
pydicom's own converters for anything but plain ASCII text). Items and pydicom
Datasets are read through that same accessor, so a Dataset built in code, or a
Content Sequence pydicom has already parsed, is walked the same way.
"""

from __future__ import annotations

import struct
from collections.abc import MutableSequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.valuerep import VR

#: PS3.5 7.5: item, item delimitation and sequence delimitation tags; the undefined length
ITEM, ITEM_END, SEQUENCE_END, UNDEFINED = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD, 0xFFFFFFFF
#: PS3.5 7.1.2: explicit VRs with a 2-byte reserved field and a 4-byte length
LONG_LENGTH_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
#: how deep sequences may nest: a dose report nests about ten levels (TID 10011 under its document);
#: deeper is a broken or hostile object, refused before Python's recursion limit is met
MAX_NESTING = 64
#: the VRs of PS3.5 6.2 by their two encoded bytes, those with a 2-byte length and the others
_SHORT_LENGTH_VRS = {str(vr).encode("ascii"): str(vr) for vr in VR if vr not in LONG_LENGTH_VRS}
_LONG_LENGTH_VRS = {vr.encode("ascii"): vr for vr in LONG_LENGTH_VRS}


class MalformedContent(ValueError):
    """The encoded sequence breaks PS3.5 (cut off, or an item where none can be)."""


@dataclass(frozen=True)
class Syntax:
    """How the values of one data set are encoded: VR explicitness, byte order, character sets."""

    implicit: bool
    little: bool
    encodings: MutableSequence[str] | str

    def raw(self, tag: int, vr: str, value: bytes) -> RawDataElement:
        """Return ``value`` as the RawDataElement pydicom's converters take."""
        return RawDataElement(tag, vr, len(value), value, 0, self.implicit, self.little)


class Item(dict[int, Any]):
    """One sequence item: tag -> ``(VR, raw bytes)``, or the list of Items of a nested sequence."""

    __slots__ = ("syntax",)

    def __init__(self, syntax: Syntax) -> None:
        super().__init__()
        self.syntax = syntax


@lru_cache(maxsize=4096)
def implicit_vr(tag: int) -> str:
    """Return the dictionary VR of ``tag`` (UN for private and unknown tags; the first of ``US or SS``)."""
    try:
        return str(dictionary_VR(tag)).split(" or ")[0]
    except KeyError:
        return "UN"


class _Reader:
    """Parse sequences of one encoded buffer into Items."""

    def __init__(self, data: bytes, syntax: Syntax) -> None:
        self.data = data
        self.syntax = syntax
        order = "<" if syntax.little else ">"
        self.implicit_header = struct.Struct(order + "HHL").unpack_from
        self.explicit_header = struct.Struct(order + "HH2sH").unpack_from
        self.long_length = struct.Struct(order + "L").unpack_from
        self.element_header = self._implicit_element if syntax.implicit else self._explicit_element

    def sequence(self, pos: int, end: int | None, depth: int = 0) -> tuple[list[Item], int]:
        """Read items from ``pos`` to ``end`` (or, when ``end`` is None, to the sequence delimiter)."""
        if depth > MAX_NESTING:
            raise MalformedContent(f"nests sequences more than {MAX_NESTING} deep (at byte {pos})")
        items: list[Item] = []
        stop = len(self.data) if end is None else end
        while pos < stop:
            if pos + 8 > stop:
                raise MalformedContent(f"an item header at byte {pos} runs past byte {stop}")
            group, element, length = self.implicit_header(self.data, pos)
            tag, pos = group << 16 | element, pos + 8
            if tag == SEQUENCE_END:
                return items, pos
            if tag != ITEM:
                raise MalformedContent(f"byte {pos - 8} holds ({group:04X},{element:04X}) where an item must start")
            if length == UNDEFINED:
                item, pos = self.item(pos, None, depth)
            elif pos + length > stop:
                raise MalformedContent(f"an item of {length} bytes at byte {pos} runs past byte {stop}")
            else:
                item, _ = self.item(pos, pos + length, depth)
                pos += length
            items.append(item)
        if end is None:
            raise MalformedContent(f"the data ends at byte {stop} inside a sequence of undefined length")
        return items, pos

    def item(self, pos: int, end: int | None, depth: int) -> tuple[Item, int]:
        """Read one item's elements from ``pos`` to ``end`` (None: to the item delimiter)."""
        item = Item(self.syntax)
        data, header = self.data, self.element_header
        stop = len(data) if end is None else end
        while pos < stop:
            tag, vr, length, pos = header(pos, stop)
            if tag == ITEM_END:
                return item, pos
            if vr == "SQ" or length == UNDEFINED or (vr == "UN" and implicit_vr(tag) == "SQ"):
                item[tag], pos = self._nested(vr, pos, length, stop, depth + 1)
            elif pos + length > stop:
                raise MalformedContent(f"a value of {length} bytes at byte {pos} runs past byte {stop}")
            else:
                item[tag] = (vr, data[pos : pos + length])
                pos += length
        if end is None:
            raise MalformedContent(f"the data ends at byte {stop} inside an item of undefined length")
        return item, pos

    def _nested(self, vr: str, pos: int, length: int, stop: int, depth: int) -> tuple[list[Item], int]:
        """Read a nested sequence; a UN sequence holds implicit VR little endian (PS3.5 6.2.2)."""
        reader = self
        if vr == "UN" and not self.syntax.implicit:
            reader = _Reader(self.data, Syntax(True, True, self.syntax.encodings))
        if length == UNDEFINED:
            return reader.sequence(pos, None, depth)
        if pos + length > stop:
            raise MalformedContent(f"a sequence of {length} bytes at byte {pos} runs past byte {stop}")
        items, _ = reader.sequence(pos, pos + length, depth)
        return items, pos + length

    def _implicit_element(self, pos: int, stop: int) -> tuple[int, str, int, int]:
        """Return (tag, VR, length, value position) of the implicit VR element at ``pos``."""
        if pos + 8 > stop:
            raise MalformedContent(f"an element header at byte {pos} runs past byte {stop}")
        group, element, length = self.implicit_header(self.data, pos)
        tag = group << 16 | element
        return tag, implicit_vr(tag), length, pos + 8

    def _explicit_element(self, pos: int, stop: int) -> tuple[int, str, int, int]:
        """Return (tag, VR, length, value position) of the explicit VR element at ``pos``."""
        if pos + 8 > stop:
            raise MalformedContent(f"an element header at byte {pos} runs past byte {stop}")
        group, element, vr_bytes, length = self.explicit_header(self.data, pos)
        vr = _SHORT_LENGTH_VRS.get(vr_bytes)
        if vr is not None:  # the common case
            return group << 16 | element, vr, length, pos + 8
        tag = group << 16 | element
        if group == 0xFFFE:  # item delimiters have no VR
            return tag, "", 0, pos + 8
        vr = _LONG_LENGTH_VRS.get(vr_bytes)
        if vr is None:  # not a VR: the writer switched to implicit VR here
            return tag, implicit_vr(tag), self.long_length(self.data, pos + 4)[0], pos + 8
        if pos + 12 > stop:
            raise MalformedContent(f"an element header at byte {pos} runs past byte {stop}")
        return tag, vr, self.long_length(self.data, pos + 8)[0], pos + 12


def read_items(value: bytes, syntax: Syntax) -> list[Item]:
    """Return the items of a defined-length sequence value. Raises :class:`MalformedContent`."""
    items, _ = _Reader(value, syntax).sequence(0, len(value))
    return items


def undefined_length_end(data: bytes, start: int, syntax: Syntax) -> int:
    """Return where the undefined-length sequence value starting at ``start`` ends, after its delimiter."""
    _, end = _Reader(data, syntax).sequence(start, None)
    return end
