"""The study page, as a medical physicist reads it: header, totals, one events table per modality.

The page leads with who and where (date, station, model, patient age, sex,
height, weight, the test-patient flag), then the study's totals with their
units (per plane in a biplane room), then one compact table of events per list
modality of the study (:mod:`service.web.events_table`). UIDs and hashes go to
a collapsed "Identifiers" section (:mod:`service.web.identifiers`), and every
other stored value to a collapsed "More about this study": every stored value
is on the page somewhere. Pure: no Flask here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas.display import Shown, label_of, shown_field
from schemas.study import Summary
from service.errors import InvalidArgument
from service.modalities import MODALITIES, list_modalities
from service.web.events_table import FILTER_NAMES, EventTable, events_table
from service.web.identifiers import report_events, split_identifiers
from service.web.present import describe, field_at, pluck, text, when

#: fields the header and the totals show, left out of "More about this study"
SHOWN_ABOVE: dict[str, tuple[str, ...]] = {
    "patient": ("age_years", "sex", "height_m", "weight_kg", "not_patient_indicator"),
    "equipment": ("station_name", "manufacturer", "manufacturer_model_name"),
}
#: the longest value an argument of the page may have (a code as ``scheme:value``, a page number)
MAX_VALUE = 100
TOP_SHOWN = ("study_date_time", "study_description", "accession_number", "modalities", "summary")


@dataclass(frozen=True)
class Total:
    """A total of the study with its unit; in a biplane room, each plane's part as (plane, value)."""

    label: str
    text: str
    unit: str | None
    planes: list[tuple[str, str]]


@dataclass(frozen=True)
class Fact:
    """A value of the header: label, text (empty when not recorded) and unit."""

    label: str
    text: str
    unit: str | None = None


@dataclass
class StudyView:
    """Everything the study page shows, in its order."""

    title: str
    facts: list[Fact]
    patient: list[Fact]
    totals: list[Total]
    tables: list[EventTable]
    more: list[Any]
    identifiers: list[Any]
    arguments: dict[str, str]

    def arguments_for(self, table: EventTable, **changes: Any) -> dict[str, str]:
        """Return the page's arguments with some of one table's changed (None drops one), for links."""
        found = dict(self.arguments)
        for suffix, value in changes.items():
            found.pop(f"{table.prefix}-{suffix}", None)
            if value is not None:
                found[f"{table.prefix}-{suffix}"] = str(value)
        return found

    def arguments_without(self, table: EventTable) -> dict[str, str]:
        """Return the page's arguments without any of one table's (its filters off, its first page)."""
        return {k: v for k, v in self.arguments.items() if not k.startswith(f"{table.prefix}-")}


# -- header and totals -----------------------------------------------------------------------


def _fact(document: Mapping[str, Any], path: str, label: str | None = None) -> Fact:
    declared = field_at(path)
    unit = shown_field(declared)
    value = pluck(document, path)
    return Fact(label or label_of(declared, path.rsplit(".", 1)[-1]), text(value, unit), unit.unit)


def header_facts(document: Mapping[str, Any]) -> list[Fact]:
    """Return the header's facts of the study: date, station, model and accession number."""
    equipment = document.get("equipment") or {}
    model = " ".join(str(v) for v in (equipment.get("manufacturer"), equipment.get("manufacturer_model_name")) if v)
    return [
        Fact("Date", when(document.get("study_date_time"))),
        _fact(document, "equipment.station_name", "Station"),
        Fact("Model", model),
        _fact(document, "accession_number", "Accession"),
    ]


def patient_facts(document: Mapping[str, Any]) -> list[Fact]:
    """Return the header's facts of the patient: age (in years, else as sent), sex, height and weight."""
    age = _fact(document, "patient.age_years")
    if not age.text:
        age = _fact(document, "patient.age", "Age")
    return [
        age,
        _fact(document, "patient.sex"),
        _fact(document, "patient.height_m"),
        _fact(document, "patient.weight_kg"),
    ]


def totals(document: Mapping[str, Any]) -> list[Total]:
    """Return the study's totals (the registry's summary fields of its list modalities), per plane in a biplane room."""
    summary, declared = document.get("summary") or {}, Summary().fields
    keys = list_modalities(document.get("modalities") or [])
    per_plane = {name: block for key in keys for name, block in MODALITIES[key].per_plane}
    shown = []
    for name in dict.fromkeys(n for key in keys for n in MODALITIES[key].summary):
        unit = shown_field(declared.get(name))
        if summary.get(name) is not None:
            planes = _planes(document, per_plane[name], unit) if name in per_plane else []
            shown.append(Total(label_of(declared.get(name), name), text(summary[name], unit), unit.unit, planes))
    return shown


def _planes(document: Mapping[str, Any], name: str, unit: Shown) -> list[tuple[str, str]]:
    """Return (plane, value) of an accumulated field of each plane of a biplane room; none for one plane."""
    planes = [p for p in (document.get("projection") or {}).get("accumulated") or [] if isinstance(p, dict)]
    if len(planes) < 2:
        return []
    return [(text(p.get("acquisition_plane")), text(p.get(name), unit)) for p in planes if p.get(name) is not None]


# -- the page --------------------------------------------------------------------------------


def check_arguments(document: Mapping[str, Any], args: Mapping[str, str]) -> None:
    """Raise :class:`InvalidArgument` naming each argument this study's page does not take."""
    known = {
        f"{key.lower()}-{suffix}"
        for key in list_modalities(document.get("modalities") or [])
        for suffix in ("page", *(FILTER_NAMES.get(n, n) for n in MODALITIES[key].event_filters))
    }
    expected = ", ".join(sorted(known)) or "none"
    errors = {name: [f"Unknown argument; this study's page takes {expected}."] for name in sorted(set(args) - known)}
    errors.update({name: [f"Expected at most {MAX_VALUE} characters."] for name in args if len(args[name]) > MAX_VALUE})
    if errors:
        raise InvalidArgument(errors)


def _rest(document: Mapping[str, Any]) -> dict[str, Any]:
    """Return what the header, the totals and the events tables do not show."""
    rest = {name: value for name, value in document.items() if name not in TOP_SHOWN}
    for block, names in SHOWN_ABOVE.items():
        if isinstance(rest.get(block), dict):
            rest[block] = {k: v for k, v in rest[block].items() if k not in names}
    for key in list_modalities(document.get("modalities") or []):
        modality = MODALITIES[key]
        if isinstance(rest.get(modality.section), dict):
            rest[modality.section] = {k: v for k, v in rest[modality.section].items() if k != modality.events}
    return rest


def study_view(document: Mapping[str, Any], args: Mapping[str, str]) -> StudyView:
    """Return what the study page shows of ``document`` for the request's arguments."""
    check_arguments(document, args)
    keys = list_modalities(document.get("modalities") or [])
    tables = [t for t in (events_table(document, MODALITIES[k], args) for k in keys) if t is not None]
    kept, identifiers = split_identifiers(_rest(document))
    identifiers = report_events(identifiers or {}, document)
    named = " and ".join(MODALITIES[k].title for k in keys)
    title = document.get("study_description") or document.get("requested_procedure_description")
    return StudyView(
        title=str(title or (f"{named} study" if named else "Study")),
        facts=header_facts(document),
        patient=patient_facts(document),
        totals=totals(document),
        tables=tables,
        more=describe(kept),
        identifiers=describe(identifiers),
        arguments={name: value for name, value in args.items() if value},
    )
