"""Hand-built study fragments whose list values are known: one small function, every modality."""

from __future__ import annotations

from datetime import datetime
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
