"""Walk a DICOM SR content tree into nested dictionaries (PS3.3 C.17.3).

One walker serves every dose template. A :class:`Template` says, per concept,
where a container goes (folded into its parent, a single sub-document, or an
array of sub-documents), which unit a number is stored in and which numbers are
counts. Everything else follows the document rules of DESIGN.md: a field is the
snake_case of the concept's standard code meaning, a coded value is a
``{code_value, coding_scheme_designator, code_meaning}`` dict. Concepts are
matched by (scheme, code value), never by meaning text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset

from service import units
from service.codes import CodeKey, normalised, snake_case, standard_name
from service.errors import InvalidDoseReport
from service.extract import lenient
from service.extract.content import MAX_NESTING
from service.extract.dicomtime import parse_date, parse_datetime, parse_time
from service.extract.elements import (
    CODE_MEANING,
    CODE_VALUE,
    CODING_SCHEME,
    CONCEPT_CODE,
    CONCEPT_NAME,
    CONTENT,
    DATE_VALUE,
    DATETIME_VALUE,
    LONG_CODE_VALUE,
    MEASURED_VALUE,
    PERSON_NAME,
    REFERENCED_SOP,
    REFERENCED_SOP_CLASS,
    REFERENCED_SOP_INSTANCE,
    TEXT_VALUE,
    TIME_VALUE,
    UID_VALUE,
    UNITS_CODE,
    VALUE_TYPE,
    ContentItem,
    content_items,
)
from service.extract.elements import value as _value

Notes = list[str]


def code_key(item: ContentItem) -> CodeKey:
    """Return the normalised (scheme, value) of a code sequence item."""
    scheme = str(_value(item, CODING_SCHEME, "") or "")
    return normalised(scheme, str(_value(item, CODE_VALUE, "") or _value(item, LONG_CODE_VALUE, "") or ""))


def coded(item: ContentItem) -> dict[str, str]:
    """Return a coded value as stored: code value, scheme and meaning as sent."""
    return {
        "code_value": str(_value(item, CODE_VALUE, "") or _value(item, LONG_CODE_VALUE, "") or ""),
        "coding_scheme_designator": str(_value(item, CODING_SCHEME, "") or ""),
        "code_meaning": str(_value(item, CODE_MEANING, "") or ""),
    }


def field_name(key: CodeKey, code_item: ContentItem, overrides: Mapping[CodeKey, str]) -> str:
    """Name a concept from the standard's meaning, falling back to the meaning sent in ``code_item``."""
    name = overrides.get(key) or standard_name(key)
    if name:
        return name
    return snake_case(str(_value(code_item, CODE_MEANING, ""))) or f"{key[0]}_{key[1]}".lower()


@dataclass(frozen=True)
class Node:
    """Where a container or repeating item lands in its parent.

    ``key`` None folds the container's children into the parent; a dotted key
    (``dose_check.alert``) nests; ``repeats`` makes it an array of sub-documents.
    """

    key: str | None
    repeats: bool = False


@dataclass(frozen=True)
class Template:
    """The concept tables that drive the walk for one template family."""

    nodes: Mapping[CodeKey, Node] = field(default_factory=dict)
    units: Mapping[CodeKey, str] = field(default_factory=dict)
    integers: frozenset[CodeKey] = frozenset()
    names: Mapping[CodeKey, str] = field(default_factory=dict)


def _put(target: dict[str, Any], path: str, value: Any, repeats: bool, notes: Notes) -> None:
    """Place ``value`` at ``path``; a second value for a single field keeps both."""
    *parents, name = path.split(".")
    for parent in parents:
        target = target.setdefault(parent, {})
        if not isinstance(target, dict):
            raise InvalidDoseReport(f"its content gives {parent} both as a value and as a container of {name}")
    if repeats and isinstance(target.get(name, []), list):
        target.setdefault(name, []).append(value)
    elif name not in target:
        target[name] = value
    elif target[name] != value:
        existing = target[name]
        target[name] = [*existing, value] if isinstance(existing, list) else [existing, value]
        notes.append(f"{name} occurs more than once where the template allows one; kept every value")


def _fold(target: dict[str, Any], child: dict[str, Any], notes: Notes) -> None:
    for name, value in child.items():
        if isinstance(value, list) and isinstance(target.get(name), list):
            target[name].extend(value)
        else:
            _put(target, name, value, False, notes)


class Walker:
    """Turn content items into a dict following a :class:`Template`."""

    def __init__(self, template: Template, notes: Notes) -> None:
        self.template = template
        self.notes = notes
        self._depth = 0
        self.readers: dict[str, Callable[[ContentItem, CodeKey, str], Any]] = {
            "CONTAINER": self._container,
            "NUM": self._num,
            "CODE": self._code,
            "TEXT": self._text,
            "UIDREF": lambda item, key, name: str(_value(item, UID_VALUE, "")).strip() or None,
            "PNAME": lambda item, key, name: str(_value(item, PERSON_NAME, "")) or None,
            "DATETIME": lambda item, key, name: parse_datetime(_value(item, DATETIME_VALUE)),
            "DATE": lambda item, key, name: parse_date(_value(item, DATE_VALUE)),
            "TIME": lambda item, key, name: parse_time(_value(item, TIME_VALUE)),
            "COMPOSITE": self._reference,
            "IMAGE": self._reference,
            "WAVEFORM": self._reference,
        }

    def walk(self, items: Iterable[ContentItem]) -> dict[str, Any]:
        """Return the dict built from a sequence of content items (nested at most MAX_NESTING deep)."""
        if self._depth >= MAX_NESTING:
            raise InvalidDoseReport(f"its content items are nested more than {MAX_NESTING} deep")
        self._depth += 1
        out: dict[str, Any] = {}
        try:
            for item in items:
                self._item(item, out)
        finally:
            self._depth -= 1
        return out

    def _item(self, item: ContentItem, out: dict[str, Any]) -> None:
        names = _value(item, CONCEPT_NAME)
        if not names:
            return
        key = code_key(names[0])
        name = field_name(key, names[0], self.template.names)
        value_type = str(_value(item, VALUE_TYPE, ""))
        reader = self.readers.get(value_type)
        if reader is None:
            self.notes.append(f"{name}: value type {value_type or '(none)'} is not read")
            return
        value = reader(item, key, name)
        node = self.template.nodes.get(key)
        if value_type == "CONTAINER":
            if node is not None and node.key is None:
                _fold(out, value, self.notes)
            else:
                _put(out, node.key if node else name, value, bool(node and node.repeats), self.notes)
            return
        children = self.walk(_value(item, CONTENT, ()))
        if value is None and not children:
            return
        if node is not None and node.repeats:
            entry = {name: value} if value is not None else {}
            _fold(entry, children, self.notes)
            _put(out, node.key or name, entry, True, self.notes)
            return
        if value is not None:
            _put(out, name, value, False, self.notes)
        _fold(out, children, self.notes)

    def _code(self, item: ContentItem, key: CodeKey, name: str) -> dict[str, str] | None:
        concepts = _value(item, CONCEPT_CODE)
        return coded(concepts[0]) if concepts else None

    def _text(self, item: ContentItem, key: CodeKey, name: str) -> str | None:
        return lenient.repair_text(str(_value(item, TEXT_VALUE, "")).strip(), name, self.notes) or None

    def _container(self, item: ContentItem, key: CodeKey, name: str) -> dict[str, Any]:
        return self.walk(_value(item, CONTENT, []))

    def _reference(self, item: ContentItem, key: CodeKey, name: str) -> dict[str, str] | None:
        refs = _value(item, REFERENCED_SOP)
        if not refs:
            return None
        return {
            "referenced_sop_class_uid": str(_value(refs[0], REFERENCED_SOP_CLASS, "")),
            "referenced_sop_instance_uid": str(_value(refs[0], REFERENCED_SOP_INSTANCE, "")),
        }

    def _num(self, item: ContentItem, key: CodeKey, name: str) -> float | int | dict[str, Any] | None:
        measured = _value(item, MEASURED_VALUE)
        if not measured:
            self.notes.append(f"{name}: empty measured value sequence, value left out")
            return None
        value = lenient.numeric_value(measured[0], name, self.notes)
        if value is None:
            return None
        unit_items = _value(measured[0], UNITS_CODE)
        sent = str(_value(unit_items[0], CODE_VALUE, "")).strip() if unit_items else ""
        wanted = self.template.units.get(key)
        if wanted is not None:
            value = self._to_unit(value, sent, wanted, name)
        elif sent and units.parse_or_none(sent) not in (None, ((), 1.0)):
            return {"value": value, "unit": sent}
        if value is not None and key in self.template.integers:
            value = lenient.integer_count(value, name, self.notes)
        return value

    def _to_unit(self, value: float, sent: str, wanted: str, name: str) -> float | None:
        if units.parse_or_none(wanted) == ((), 1.0):
            return value  # a count or ratio: whatever annotation was sent, nothing converts
        if not sent:
            self.notes.append(f"{name}: no unit sent, taken to be {wanted}")
            return value
        try:
            converted = units.convert(value, sent, wanted)
        except units.UnknownUnit:
            self.notes.append(f"{name}: unit {sent!r} cannot be converted to {wanted}; value left out")
            return None
        if sent != wanted and not units.same_unit(sent, wanted):
            self.notes.append(f"{name}: converted {value} {sent} to {converted} {wanted}")
        return converted


def walk(ds: Dataset, template: Template, notes: Notes) -> dict[str, Any]:
    """Walk the content tree of SR document ``ds`` with ``template``; append what was repaired to ``notes``."""
    return Walker(template, notes).walk(content_items(ds))


def has_root_concept(ds: Dataset, concepts: frozenset[CodeKey]) -> bool:
    """Tell whether a root content item of SR document ``ds`` names one of ``concepts``."""
    for item in content_items(ds):
        names = _value(item, CONCEPT_NAME)
        if names and code_key(names[0]) in concepts:
            return True
    return False


def document_title(ds: Dataset) -> CodeKey | None:
    """Return the (scheme, value) of an SR document's title, or None."""
    title = _value(ds, CONCEPT_NAME)
    return code_key(title[0]) if title else None


def describe_code(item: Dataset) -> str:
    """Describe a code for error messages: ``(126000, DCM) Imaging Measurement Report``."""
    return f"({item.get('CodeValue', '')}, {item.get('CodingSchemeDesignator', '')}) {item.get('CodeMeaning', '')}"
