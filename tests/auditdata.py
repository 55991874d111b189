"""Hand-built study fragments for the audit tests: every value chosen, so every statistic is known."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from service.ingest.document import save_fragment

NOW = datetime(2026, 1, 1)
XRAY_DOSE_SR = "1.2.840.10008.5.1.4.1.1.88.67"
_numbers = itertools.count(1)


def _coded(meaning: str | dict[str, str]) -> dict[str, str]:
    """Return a coded value: ``meaning`` with a code of its own (a coded value given is kept as it is)."""
    if isinstance(meaning, dict):
        return meaning
    return {"code_value": meaning.upper()[:8], "coding_scheme_designator": "99TEST", "code_meaning": meaning}


def coded(value: str, scheme: str, meaning: str) -> dict[str, str]:
    """Return a coded value as the study document stores it (as sent)."""
    return {"code_value": value, "coding_scheme_designator": scheme, "code_meaning": meaning}


def study(
    modality: str,
    *,
    when: datetime,
    station: str = "ST1",
    description: str = "STUDY",
    section: dict[str, Any],
    patient: dict[str, Any] | None = None,
    equipment: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Return a fragment of one study (as extraction makes them) holding ``section``; ``fields`` are top-level."""
    uid = f"1.2.826.0.1.3680043.10.998.{next(_numbers)}"
    return {
        "study_instance_uid": uid,
        "modalities": [modality],
        "study_date_time": when,
        "study_description": description,
        "patient": patient or {},
        "equipment": {"station_name": station, **(equipment or {})},
        **fields,
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


#: Laterality codes (SNOMED CT) of the breasts
BREASTS = {
    "L": {"code_value": "7771000", "coding_scheme_designator": "SCT", "code_meaning": "Left"},
    "R": {"code_value": "24028007", "coding_scheme_designator": "SCT", "code_meaning": "Right"},
}


def mammography(exposures: list[tuple[Any, ...]], **kwargs: Any) -> dict[str, Any]:
    """Return a mammography study with one exposure per (view, thickness mm, AGD mGy[, breast L or R]).

    A view is its meaning (coded under a code of its own) or a coded value (:func:`coded`).
    """
    rows = [
        {"image_view": _coded(view), "compression_thickness": thickness, "average_glandular_dose": agd}
        | ({"laterality": BREASTS[side[0]]} if side else {})
        for view, thickness, agd, *side in exposures
    ]
    return study("MG", section={"projection": {"events": events("mg", rows)}}, **kwargs)


def nuclear(agent: str | dict[str, str] | None, activity_mbq: float, *, text: str | None = None,
            **kwargs: Any) -> dict[str, Any]:  # fmt: skip
    """Return a radiopharmaceutical study with one administration (activity in MBq, as stored).

    The agent is its meaning, a coded value (:func:`coded`), or None with ``text``: sent as text only.
    """
    row: dict[str, Any] = {"administered_activity": activity_mbq}
    if agent is not None:
        row["radiopharmaceutical_agent"] = _coded(agent)
    if text is not None:
        row["radiopharmaceutical_agent_text"] = text
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
        save_fragment(store, fragment, now=NOW)
    return store


def _about(
    station: str,
    description: str,
    maker: str,
    model: str,
    institution: str,
    requested: str,
    accession: str,
    age: float,
    weight: float,
) -> dict[str, Any]:
    """Return the study-level keyword arguments of :func:`study` that the list's text and range filters read."""
    return {
        "station": station,
        "description": description,
        "equipment": {"manufacturer": maker, "manufacturer_model_name": model, "institution_name": institution},
        "patient": {"age_years": age, "weight_kg": weight},
        "requested_procedure_description": requested,
        "accession_number": accession,
    }


def hybrid(**kwargs: Any) -> dict[str, Any]:
    """Return a study of a hybrid angiography room: one CT event ('Head angio CT', DLP 80) and one
    fluoroscopy event ('Angio DSA', DAP 50 cGy·cm²); listed as CT and as RF."""
    section = {
        "ct": {"events": events("ct", [{"acquisition_protocol": "Head angio CT", "dlp": 80.0, "mean_ctdivol": 8.0}])},
        "projection": {"events": events("rf", [{"acquisition_protocol": "Angio DSA", "dose_area_product": 0.00005}])},
    }
    return study("CT", section=section, modalities=["CT", "RF"], **kwargs)


#: the patient key of three of :func:`filter_studies` (an HMAC-SHA256 in hexadecimal)
PATIENT_KEY = "5e" * 32


def filter_studies() -> list[dict[str, Any]]:
    """Return thirteen studies of every list modality on which each list filter selects some, not all.

    Each study is at an hour of its own (January 2025), so the workload audit's
    rows tell which studies a filter selected. Doses: CT total DLP 30, 120, 200, 80 (hybrid);
    RF total DAP 500, 20, 50 (hybrid) cGy·cm²; MG AGD left/right 2.7/1.0, 0.8/2.5, 0.9/1.1 mGy;
    NM administered activity 350, 185 MBq; a CT QA phantom (a test patient), DLP 25.
    The first CT, the first RF and the PET study are one patient's (:data:`PATIENT_KEY`).
    """
    north, south = "North Hospital", "South Clinic"
    slots = (datetime(2025, 1, 6 + day, 8 + day) for day in itertools.count())  # an hour each
    made = [
        ct([("HEAD ROUTINE", 10.0), ("HEAD ROUTINE", 20.0)], when=next(slots),
           **_about("CT-NORTH", "CT HEAD", "Siemens", "SOMATOM Force", north, "Head routine", "ACC-1001", 30, 60)),
        ct([("Routine Head", 50.0), ("Routine Head", 70.0)], when=next(slots),
           **_about("CT-SOUTH", "Head CT (contrast)", "GE", "Revolution", south, "Head trauma", "ACC-2002", 70, 90)),
        ct([("CHEST", 200.0)], when=next(slots),
           **_about("CT-SOUTH", "CHEST", "GE", "Revolution", south, "Chest", "ACC-2003", 55, 80)),
        fluoro(0.0005, 0.1, 60.0, ["HEAD angio", "HEAD angio"], when=next(slots),
               **_about("RF-1", "Cerebral angiography", "Philips", "Allura", north, "Head angio", "ACC-1004", 65, 75)),
        fluoro(0.00002, 0.01, 30.0, ["Abdomen"], when=next(slots),
               **_about("RF-1", "Barium swallow", "Philips", "Allura", north, "Swallow", "ACC-1005", 40, 50)),
        hybrid(when=next(slots),
               **_about("HYBRID-1", "Hybrid angio", "Siemens", "Artis Q", north, "Angio", "ACC-1006", 60, 70)),
        radiography([("Chest PA", 0.00001), ("Chest LAT", 0.00002)], when=next(slots),
                    **_about("DX-1", "Chest X-ray", "Carestream", "DRX", south, "Chest", "ACC-2007", 45, 85)),
        mammography([("cranio-caudal", 45, 1.2, "L"), ("medio-lateral oblique", 50, 1.5, "L"),
                     ("cranio-caudal", 44, 1.0, "R")], when=next(slots),
                    **_about("MG-1", "Screening mammography", "Hologic", "Selenia Dimensions", north, "Screening",
                             "ACC-1008", 52, 65)),
        mammography([("cranio-caudal", 60, 0.8, "L"), ("medio-lateral oblique", 62, 2.5, "R")], when=next(slots),
                    **_about("MG-1", "Screening mammography", "Hologic", "Selenia Dimensions", north, "Screening",
                             "ACC-1009", 58, 72)),
        mammography([("cranio-caudal", 40, 0.9, "L"), ("cranio-caudal", 41, 1.1, "R")], when=next(slots),
                    **_about("MG-2", "Diagnostic mammography", "GE", "Senographe", south, "Lump", "ACC-2010", 47, 68)),
        nuclear("Fluorodeoxyglucose", 350.0, when=next(slots),
                **_about("NM-1", "PET", "Siemens", "Biograph", south, "Staging", "ACC-2011", 63, 77)),
        nuclear("Technetium MDP", 185.0, when=next(slots),
                **_about("NM-1", "Bone scan", "Siemens", "Symbia", south, "Bone", "ACC-2012", 74, 66)),
        ct([("QA phantom", 25.0)], when=next(slots),  # a test patient: audits leave it out unless asked
           **{**_about("CT-NORTH", "QA", "Siemens", "SOMATOM Force", north, "QA", "ACC-1013", 50, 70),
              "patient": {"not_patient_indicator": "IDs: qa | Names: phy"}}),
    ]  # fmt: skip
    for index in (0, 3, 10):
        made[index]["patient"]["key"] = PATIENT_KEY
    return made


def seed_filters(store: Any) -> Any:
    """Save :func:`filter_studies` in ``store`` and return it."""
    for fragment in filter_studies():
        save_fragment(store, fragment, now=NOW)
    return store


#: Coded views and radiopharmaceuticals (``coded_studies``): one code with several meanings or schemes, codes
#: sharing one meaning, text only
CC = coded("399162004", "SCT", "cranio-caudal")
CC_CAPITAL = coded("399162004", "SCT", "Cranio-caudal")  # the same code, another spelling of its meaning
CC_SRT = coded("R-10242", "SRT", "cranio-caudal")  # the same view in SNOMED RT
CC_LOCAL = coded("CC", "99LOCAL", "cranio-caudal")  # another code with the same meaning
MLO = coded("399368009", "SCT", "medio-lateral oblique")

FDG = coded("35321007", "SCT", "Fluorodeoxyglucose F^18^")
FDG_SHORT = coded("35321007", "SCT", "FDG")
FDG_SRT = coded("C-B1031", "SRT", "Fluorodeoxyglucose F^18^")
FDG_LOCAL = coded("FDG18", "99LOCAL", "Fluorodeoxyglucose F^18^")

VIEW = {"modality": "MG", "field": "image_view"}
AGENT = {"modality": "NM", "field": "radiopharmaceutical_agent"}


def coded_studies() -> list[dict[str, Any]]:
    """Return three mammography studies (every exposure 41-48 mm: one band) and seven radiopharmaceutical ones."""
    when = datetime(2025, 3, 3, 9)
    return [
        mammography([(CC, 45, 1.0), (CC_CAPITAL, 46, 2.0), (MLO, 48, 1.5)], when=when, station="MG-1"),
        mammography([(CC_SRT, 44, 4.0), (CC_LOCAL, 41, 8.0)], when=when, station="MG-2"),
        mammography([(CC_CAPITAL, 42, 3.0), (CC_LOCAL, 43, 6.0)], when=when, station="MG-1"),
        nuclear(FDG, 300.0, when=when),
        nuclear(FDG_SHORT, 350.0, when=when),
        nuclear(FDG_SRT, 400.0, when=when),
        nuclear(FDG_LOCAL, 200.0, when=when),
        nuclear(FDG_LOCAL, 220.0, when=when),
        nuclear(None, 250.0, text="FDG", when=when),  # no code: the text the modality sent
        nuclear(None, 270.0, text="FDG", when=when),
    ]
