"""Hand-built study fragments for the audit tests: every value chosen, so every statistic is known."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

NOW = datetime(2026, 1, 1)
XRAY_DOSE_SR = "1.2.840.10008.5.1.4.1.1.88.67"
_numbers = itertools.count(1)


def _coded(meaning: str) -> dict[str, str]:
    return {"code_value": meaning.upper()[:8], "coding_scheme_designator": "99TEST", "code_meaning": meaning}


def study(
    modality: str,
    *,
    when: datetime,
    station: str = "ST1",
    description: str = "STUDY",
    section: dict[str, Any],
) -> dict[str, Any]:
    """Return a fragment of one study (as extraction makes them) holding ``section``."""
    uid = f"1.2.826.0.1.3680043.10.998.{next(_numbers)}"
    return {
        "study_instance_uid": uid,
        "modalities": [modality],
        "study_date_time": when,
        "study_description": description,
        "patient": {},
        "equipment": {"station_name": station},
        **section,
        "report": {
            "sop_instance_uid": f"{uid}.1",
            "sop_class_uid": XRAY_DOSE_SR,
            "kind": "rdsr",
            "sha256": f"{uid}.sha",
            "received_at": NOW,
            "via": "cli",
            "context": {},
            "notes": [],
        },
    }


def events(prefix: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Number ``rows`` as events with unique irradiation event UIDs."""
    return [{"irradiation_event_uid": f"{prefix}.{next(_numbers)}", **row} for row in rows]


def ct(protocol_dlps: list[tuple[str, float]], **kwargs: Any) -> dict[str, Any]:
    """Return a CT study with one event per (protocol, DLP); CTDIvol is DLP / 10."""
    rows = [{"acquisition_protocol": p, "dlp": d, "mean_ctdivol": d / 10} for p, d in protocol_dlps]
    return study("CT", section={"ct": {"events": events("ct", rows)}}, **kwargs)


def fluoro(dap: float, rp_dose: float, fluoro_time: float, protocols: list[str], **kwargs: Any) -> dict[str, Any]:
    """Return a fluoroscopy study with these totals (DAP in Gy·m²) and one event per protocol."""
    share = len(protocols)
    rows = [
        {"acquisition_protocol": p, "dose_area_product": dap / share, "dose_rp": rp_dose / share,
         "irradiation_duration": fluoro_time / share}
        for p in protocols
    ]  # fmt: skip
    planes = [{"dose_area_product_total": dap, "dose_rp_total": rp_dose, "total_fluoro_time": fluoro_time}]
    return study("RF", section={"projection": {"accumulated": planes, "events": events("rf", rows)}}, **kwargs)


def radiography(protocol_daps: list[tuple[str, float]], **kwargs: Any) -> dict[str, Any]:
    """Return a radiography study with one exposure per (protocol, DAP in Gy·m²)."""
    rows = [{"acquisition_protocol": p, "dose_area_product": d} for p, d in protocol_daps]
    return study("DX", section={"projection": {"events": events("dx", rows)}}, **kwargs)


def mammography(exposures: list[tuple[str, float, float]], **kwargs: Any) -> dict[str, Any]:
    """Return a mammography study with one exposure per (view, thickness mm, AGD mGy)."""
    rows = [
        {"image_view": _coded(view), "compression_thickness": thickness, "average_glandular_dose": agd}
        for view, thickness, agd in exposures
    ]
    return study("MG", section={"projection": {"events": events("mg", rows)}}, **kwargs)


def nuclear(agent: str, activity_mbq: float, **kwargs: Any) -> dict[str, Any]:
    """Return a radiopharmaceutical study with one administration (activity in MBq, as stored)."""
    row = {"radiopharmaceutical_agent": _coded(agent), "administered_activity": activity_mbq}
    rows = [{"radiopharmaceutical_administration_event_uid": f"nm.{next(_numbers)}", **row}]
    return study("NM", section={"radiopharmaceutical": {"administrations": rows}}, **kwargs)


#: CT files of the corpus used by the audit tests: one cumulative study (Multi-1..3) and two scanners more
CORPUS_CT = (
    "CT-RDSR-Siemens-Multi-1.dcm",
    "CT-RDSR-Siemens-Multi-2.dcm",
    "CT-RDSR-Siemens-Multi-3.dcm",
    "CT-RDSR-GEPixelMed.dcm",
    "CT-RDSR-ToshibaPixelMed.dcm",
)


def ct_studies() -> list[dict[str, Any]]:
    """Return four CT studies: 'HEAD ROUTINE' DLPs 10-40 on CT-NORTH in January 2025,
    'Routine Head' 50 and 70 and 'CHEST' 200 on CT-SOUTH in February."""
    return [
        ct([("HEAD ROUTINE", 10.0), ("HEAD ROUTINE", 20.0)], when=datetime(2025, 1, 6, 9, 15),
           station="CT-NORTH", description="CT HEAD"),
        ct([("HEAD ROUTINE", 30.0), ("HEAD ROUTINE", 40.0)], when=datetime(2025, 1, 7, 10, 0),
           station="CT-NORTH", description="CT HEAD"),
        ct([("Routine Head", 50.0), ("Routine Head", 70.0)], when=datetime(2025, 2, 3, 9, 30),
           station="CT-SOUTH", description="Head CT"),
        ct([("CHEST", 200.0)], when=datetime(2025, 2, 4, 14, 5), station="CT-SOUTH", description="CHEST"),
    ]  # fmt: skip


def seed_ct(store: Any) -> Any:
    """Save :func:`ct_studies` in ``store`` and return it."""
    for fragment in ct_studies():
        store.save_fragment(fragment, now=NOW)
    return store
