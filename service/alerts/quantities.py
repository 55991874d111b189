"""What an alert rule can watch, per list modality: study totals, event values, cumulative sums.

A quantity is read from the study document (:mod:`schemas.study`) in the unit its
schema field declares; a rule's level may be given in any unit of the same
dimension (``Gy.cm2`` for a DAP stored in ``Gy.m2``), converted with
:mod:`service.units`, as reference levels are (:mod:`schemas.audits`). A
quantity that has reference levels names the audit quantity they are kept under
(``common.json``: ``dap`` in cGy·cm²...) and the field whose (standard) name
they are looked up by. Pure: no database here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from marshmallow import Schema

from schemas.display import unit_of
from schemas.study import Administration, CtEvent, ProjectionEvent, Summary
from service.modalities import MODALITIES

#: a count of studies: its "unit"
STUDIES = "{studies}"


@dataclass(frozen=True)
class Quantity:
    """One value a rule can compare with a level."""

    name: str  # what a rule's ``quantity`` says
    scope: str  # "study" (summary fields) or "event" (a field of each event)
    fields: tuple[str, ...]  # summary fields (the largest counts: MG's two breasts), or the event field
    ucum: str  # the unit the document stores it in (UCUM)
    reference: str | None = None  # the audit quantity of its reference levels (common.json), if any
    name_field: str | None = None  # the field whose standard name its reference level is kept under

    def value(self, holder: dict[str, Any]) -> float | None:
        """Return the quantity from a study's summary (or one event), or None when it is missing."""
        found = [holder.get(field) for field in self.fields]
        numbers = [v for v in found if isinstance(v, int | float) and not isinstance(v, bool)]
        return max(numbers) if numbers else None


def ucum(unit: str) -> str:
    """Read a unit as people write it (``cGy·cm²``) as UCUM (``cGy.cm2``)."""
    return unit.strip().replace("·", ".").replace("*", ".").replace("²", "2").replace("³", "3")


def _unit(schema: Schema, field: str) -> str:
    unit = unit_of(schema.fields[field])
    assert unit is not None, f"{type(schema).__name__}.{field} declares no unit"
    return ucum(unit)


def _study(name: str, reference: str | None, *fields: str) -> Quantity:
    fields = fields or (name,)
    return Quantity(name, "study", fields, _unit(Summary(), fields[0]), reference, "study_description")


def _event(schema: Schema, name: str, reference: str, name_field: str) -> Quantity:
    return Quantity(name, "event", (name,), _unit(schema, name), reference, name_field)


@cache
def study_quantities() -> dict[str, dict[str, Quantity]]:
    """Return, per list modality, the study totals a rule can watch (``study_total``, ``cumulative``)."""
    return {
        "CT": {"total_dlp": _study("total_dlp", "dlp")},
        "RF": {
            "total_dap": _study("total_dap", "dap"),
            "total_rp_dose": _study("total_rp_dose", "rp_dose"),
            "total_fluoro_time": _study("total_fluoro_time", "fluoro_time"),
        },
        "DX": {"total_dap": _study("total_dap", "dap")},
        "MG": {"agd_per_breast": _study("agd_per_breast", "agd", "total_agd_left", "total_agd_right")},
        "NM": {"total_administered_activity": _study("total_administered_activity", "administered_activity")},
    }


@cache
def event_quantities() -> dict[str, dict[str, Quantity]]:
    """Return, per list modality, the values of one event a rule can watch (``event_value``)."""
    ct, projection = CtEvent(), ProjectionEvent()
    return {
        "CT": {
            "mean_ctdivol": _event(ct, "mean_ctdivol", "ctdivol", "acquisition_protocol"),
            "dlp": _event(ct, "dlp", "dlp", "acquisition_protocol"),
        },
        "RF": {
            "dose_area_product": _event(projection, "dose_area_product", "dap", "acquisition_protocol"),
            "dose_rp": _event(projection, "dose_rp", "rp_dose", "acquisition_protocol"),
        },
        "DX": {"dose_area_product": _event(projection, "dose_area_product", "dap", "acquisition_protocol")},
        "MG": {"average_glandular_dose": _event(projection, "average_glandular_dose", "agd", "image_view")},
        "NM": {
            "administered_activity": _event(
                Administration(), "administered_activity", "administered_activity", "radiopharmaceutical_agent"
            )
        },
    }


def cumulative_quantities(modality: str) -> dict[str, Quantity]:
    """Return what a patient's studies of ``modality`` can be summed by: totals, or a count of studies."""
    count = Quantity("study_count", "study", (), STUDIES)
    return {**study_quantities()[modality], "study_count": count}


def quantities_for(kind: str, modality: str) -> dict[str, Quantity]:
    """Return the quantities a rule of ``kind`` on ``modality`` may name (none for ``dose_check``)."""
    if kind in ("study_total",):
        return study_quantities()[modality]
    if kind == "event_value":
        return event_quantities()[modality]
    if kind == "reference_multiple":
        return {**study_quantities()[modality], **event_quantities()[modality]}
    if kind == "cumulative":
        return cumulative_quantities(modality)
    return {}


def events_of(document: dict[str, Any], modality: str) -> list[dict[str, Any]]:
    """Return the events of ``document`` that a list modality's rules look at."""
    entry = MODALITIES[modality]
    events = (document.get(entry.section) or {}).get(entry.events) or []
    return [event for event in events if isinstance(event, dict)]
