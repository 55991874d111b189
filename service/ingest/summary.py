"""Derive a study's ``summary`` block from its merged sections (DESIGN.md).

The summary is what lists, exports and audits read first, so it is computed
once at write time. Every total prefers the accumulated blocks the modality
reported and falls back to adding up the events when a block lacks a value.
Units: DLP mGy·cm, DAP Gy·m², dose at RP Gy, fluoro time s, AGD mGy,
administered activity MBq (the template units). Radiopharmaceutical
administrations count as events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from service.codes import stored_key

LEFT, RIGHT = "left", "right"

#: Laterality codes (SNOMED CT, CID 244 and the breast structures of TID 10005) by side.
SIDES = {"7771000": LEFT, "80248007": LEFT, "24028007": RIGHT, "73056007": RIGHT}


def _total(values: Iterable[Any]) -> float | None:
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return float(f"{sum(numbers):.12g}") if numbers else None


def _first(*candidates: float | None) -> float | None:
    return next((c for c in candidates if c is not None), None)


def _laterality(entry: dict[str, Any]) -> str | None:
    key = stored_key(entry.get("laterality"))  # SNOMED RT codes (G-A101...) count as their SNOMED CT code
    return SIDES.get(key[1]) if key and key[0] == "SCT" else None


def _agd(planes: list[dict[str, Any]], events: list[dict[str, Any]], side: str) -> float | None:
    accumulated = [
        entry.get("accumulated_average_glandular_dose")
        for plane in planes
        for entry in plane.get("accumulated_average_glandular_dose", [])
        if isinstance(entry, dict) and _laterality(entry) == side
    ]
    from_events = [e.get("average_glandular_dose") for e in events if _laterality(e) == side]
    return _first(_total(accumulated), _total(from_events))


def summarise(doc: dict[str, Any]) -> dict[str, Any]:
    """Return the summary block of a study document."""
    ct = doc.get("ct", {})
    ct_events = ct.get("events", [])
    projection = doc.get("projection", {})
    planes = [p for p in projection.get("accumulated", []) or [] if isinstance(p, dict)]
    xray_events = projection.get("events", [])
    administrations = doc.get("radiopharmaceutical", {}).get("administrations", [])
    return {
        "number_of_events": len(ct_events) + len(xray_events) + len(administrations),
        "total_dlp": _first(
            (ct.get("accumulated") or {}).get("ct_dose_length_product_total"),
            _total(e.get("dlp") for e in ct_events),
        ),
        "max_ctdivol": max(
            (e["mean_ctdivol"] for e in ct_events if isinstance(e.get("mean_ctdivol"), int | float)),
            default=None,
        ),
        "total_dap": _first(
            _total(p.get("dose_area_product_total") for p in planes),
            _total(e.get("dose_area_product") for e in xray_events),
        ),
        "total_rp_dose": _first(
            _total(p.get("dose_rp_total") for p in planes),
            _total(e.get("dose_rp") for e in xray_events),
        ),
        "total_fluoro_time": _total(p.get("total_fluoro_time") for p in planes),
        "total_agd_left": _agd(planes, xray_events, LEFT),
        "total_agd_right": _agd(planes, xray_events, RIGHT),
        "total_administered_activity": _total(a.get("administered_activity") for a in administrations),
    }
