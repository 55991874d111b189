"""Hand-built study fragments whose list values are known: one small function, every modality."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

LEFT = {"code_value": "7771000", "coding_scheme_designator": "SCT", "code_meaning": "Left"}
RIGHT = {"code_value": "24028007", "coding_scheme_designator": "SCT", "code_meaning": "Right"}
SOP_CLASSES = {
    "ct": "1.2.840.10008.5.1.4.1.1.88.67",
    "projection": "1.2.840.10008.5.1.4.1.1.88.67",
    "radiopharmaceutical": "1.2.840.10008.5.1.4.1.1.88.68",
}


def _event(modality: str, uid: str, dose: float, protocol: str, n: int) -> dict[str, Any]:
    """Return one event whose main dose is ``dose`` (DLP, DAP, AGD or activity)."""
    if modality == "CT":
        return {"irradiation_event_uid": uid, "acquisition_protocol": protocol, "dlp": dose, "mean_ctdivol": dose / 10}
    if modality == "NM":
        return {"radiopharmaceutical_administration_event_uid": uid, "administered_activity": dose}
    event: dict[str, Any] = {"irradiation_event_uid": uid, "acquisition_protocol": protocol}
    if modality == "MG":
        return {**event, "average_glandular_dose": dose, "laterality": LEFT if n % 2 else RIGHT}
    return {**event, "dose_area_product": dose}


def _section(modality: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    if modality == "CT":
        return {"ct": {"events": events}}
    if modality == "NM":
        return {"radiopharmaceutical": {"administrations": events}}
    return {"projection": {"events": events}}


def fragment(
    uid: str,
    *,
    modality: str = "CT",
    when: datetime | None = datetime(2024, 3, 1, 9, 30),
    station: str | None = "CT1",
    doses: tuple[float, ...] = (100.0,),
    protocol: str = "Chest",
    description: str = "Chest CT",
    age: float | None = 50.0,
    weight: float | None = 70.0,
    **study: Any,
) -> dict[str, Any]:
    """Return an extraction fragment of one study with one event per dose."""
    events = [_event(modality, f"{uid}.{n}", dose, protocol, n) for n, dose in enumerate(doses)]
    document = {
        "study_instance_uid": uid,
        "modalities": [modality],
        "study_date_time": when,
        "accession_number": f"ACC-{uid}",
        "study_description": description,
        "requested_procedure_description": f"{description} requested",
        "patient": {"age_years": age, "weight_kg": weight, "sex": "F", "not_patient_indicator": None},
        "equipment": {
            "manufacturer": "Acme Medical",
            "manufacturer_model_name": "Model 9",
            "station_name": station,
            "institution_name": "General Hospital",
        },
        **_section(modality, events),
        "report": {
            "sop_instance_uid": f"{uid}.99",
            "sop_class_uid": SOP_CLASSES[next(iter(_section(modality, [])))],
            "kind": "rdsr",
            "sha256": uid.replace(".", "").rjust(64, "0"),
            "received_at": datetime(2024, 3, 2),
            "via": "http",
        },
    }
    for name, value in study.items():
        block, _, field = name.partition("__")
        if field:
            document[block][field] = value
        else:
            document[name] = value
    return document


def _code(value: str, scheme: str, meaning: str) -> dict[str, str]:
    return {"code_value": value, "coding_scheme_designator": scheme, "code_meaning": meaning}


FLUOROSCOPY = _code("P5-06000", "SRT", "Fluoroscopy")
ACQUISITION = _code("113611", "DCM", "Stationary Acquisition")
PLANES = (_code("113620", "DCM", "Plane A"), _code("113621", "DCM", "Plane B"))
COPPER = _code("C-127F9", "SRT", "Copper or Copper compound")
REFERENCE_POINT = _code("113860", "DCM", "15cm from Isocenter toward Source")


def _interventional_event(uid: str, n: int, start: datetime) -> dict[str, Any]:
    """Return event ``n`` of a biplane interventional study, with every field a Siemens Artis zee report carries."""
    acquisition = n % 7 == 0
    when = start + timedelta(seconds=17 * n)
    return {
        "irradiation_event_uid": f"{uid}.{n}",
        "source_sop_instance_uid": f"{uid}.99",
        "acquisition_plane": PLANES[n % 2],
        "date_time_started": when,
        "irradiation_event_type": ACQUISITION if acquisition else FLUOROSCOPY,
        "acquisition_protocol": "DSA 2F/s" if acquisition else "FL Card Low",
        "reference_point_definition": REFERENCE_POINT,
        "target_region": _code("T-D0010", "SRT", "Entire body"),
        "dose_area_product": 0.0000012 * (1 + n % 13) * (8 if acquisition else 1),
        "dose_rp": 0.00077 * (1 + n % 11) * (6 if acquisition else 1),  # 2.5 Gy in all: above the alert level
        "positioner_primary_angle": -30.0 + n % 61,
        "positioner_secondary_angle": 12.5 - n % 25,
        "xray_filters": [
            {
                "xray_filter_type": _code("113650", "DCM", "Strip filter"),
                "xray_filter_material": COPPER,
                "xray_filter_thickness_minimum": 0.2 * (n % 3),
                "xray_filter_thickness_maximum": 0.2 * (n % 3),
            }
        ],
        "fluoro_mode": _code("113631", "DCM", "Pulsed"),
        "pulse_rate": 15.0 if n % 3 else 7.5,
        "number_of_pulses": 20 + n % 90,
        "exposure_time": 120.5 + n,
        "irradiation_duration": round((20 + n % 90) / (15.0 if n % 3 else 7.5), 2),
        "focal_spot_size": 0.4 if n % 2 else 0.7,
        "distance_source_to_detector": 1050.0 + n % 150,
        "distance_source_to_isocenter": 785.0,
        "table_longitudinal_position": -250.5 + n,
        "table_lateral_position": 12.0,
        "table_height_position": 151.8,
        "kvp": 70.0 + n % 30,
        "xray_tube_current": 250.0 + n % 500,
        "pulse_width": 5.4 + n % 4,
        "exposure": 9586.0 + 37 * n,
        "ii_field_size": 220.0 if n % 4 else 320.0,
        "comment": f'<FluoroData><SceneCounter SRData="{n}"/><Time SRData="{when:%d-%b-%y %H:%M:%S}"/></FluoroData>',
    }


def _plane_totals(plane: dict[str, str], events: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the accumulated block of one plane: the sums of its events (as a report states them)."""
    fluoro = [e for e in events if e["irradiation_event_type"] is FLUOROSCOPY]
    return {
        "acquisition_plane": plane,
        "reference_point_definition": REFERENCE_POINT,
        "dose_area_product_total": sum(e["dose_area_product"] for e in events),
        "dose_rp_total": sum(e["dose_rp"] for e in events),
        "fluoro_dose_area_product_total": sum(e["dose_area_product"] for e in fluoro),
        "total_fluoro_time": sum(e["exposure_time"] for e in fluoro) / 1000,
        "total_number_of_radiographic_frames": sum(e["number_of_pulses"] for e in events if e not in fluoro),
    }


def interventional_study(
    uid: str, *, events: int = 316, start: datetime = datetime(2024, 3, 1, 9, 30)
) -> dict[str, Any]:
    """Return a biplane interventional (RF) study of ``events`` events from one report, as extraction makes it."""
    made = [_interventional_event(uid, n, start) for n in range(events)]
    planes = [_plane_totals(plane, [e for e in made if e["acquisition_plane"] is plane]) for plane in PLANES]
    study = fragment(uid, modality="RF", when=start, station="ANGIO2", description="Coronary angiography and PCI")
    study["projection"] = {"accumulated": planes, "events": made}
    study["equipment"].update(manufacturer="Siemens", manufacturer_model_name="AXIOM-Artis")
    return study
