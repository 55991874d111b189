"""Read the header modules every dose object carries (PS3.3 C.7).

General Study, Patient, Patient Study and General Equipment modules become the
study-level fields of DESIGN.md. Patient name, ID and birth date are read only
to compute age and the not-patient indicator; they are never returned.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from service.extract.dicomtime import combine, parse_date
from service.extract.lenient import Notes, repair_text

#: Days per unit of a DICOM Age String (PS3.5 Table 6.2-1, AS).
AGE_UNIT_DAYS = {"D": 1.0, "W": 7.0, "M": 365.25 / 12, "Y": 365.25}

DEFAULT_NOT_PATIENT_PATTERNS = ("phy", "test", "qa")


def text(ds: Dataset, keyword: str, notes: Notes | None = None) -> str | None:
    r"""Return an attribute as stripped text (several values joined by ``\\``), or None."""
    value = ds.get(keyword)
    if value is None:
        return None
    if isinstance(value, MultiValue):
        value = "\\".join(str(v).strip() for v in value)
    value = str(value).strip()
    if notes is not None:
        value = repair_text(value, keyword, notes)
    return value or None


def number(ds: Dataset, keyword: str) -> float | None:
    """Return a DS/IS/FL attribute as a float, or None when missing or unreadable."""
    value = ds.get(keyword)
    if value in (None, ""):
        return None
    try:
        return float(value[0] if isinstance(value, MultiValue) else value)
    except (TypeError, ValueError):
        return None


def age_years(age: str | None, birth: datetime | None, study: datetime | None) -> float | None:
    """Return age in decimal years: from birth and study dates, else from the Age String."""
    if birth and study and study >= birth:
        return round((study - birth).days / 365.25, 1)
    if age and len(age) >= 2 and age[:-1].strip().isdigit() and age[-1].upper() in AGE_UNIT_DAYS:
        return round(int(age[:-1]) * AGE_UNIT_DAYS[age[-1].upper()] / 365.25, 1)
    return None


def _matches(value: str, patterns: Sequence[str]) -> list[str]:
    found = []
    for pattern in patterns:
        glob = pattern.lower() if any(c in pattern for c in "*?[") else f"*{pattern.lower()}*"
        if fnmatch.fnmatchcase(value.lower(), glob):
            found.append(pattern.lower())
    return sorted(found)


def not_patient_indicator(ds: Dataset, patterns: Sequence[str]) -> str | None:
    """Say which not-patient patterns the patient ID and name match, never the values.

    A plain keyword matches anywhere, case-insensitively; a pattern with
    ``*``, ``?`` or ``[`` is a glob. The result reads ``IDs: qa | Names: phy``.
    """
    ids = _matches(text(ds, "PatientID") or "", patterns)
    names = _matches(text(ds, "PatientName") or "", patterns)
    if not ids and not names:
        return None
    return f"IDs: {' '.join(ids)} | Names: {' '.join(names)}"


def study_fields(ds: Dataset, notes: Notes) -> dict[str, Any]:
    """Read the General Study module (and the request attributes)."""
    requested = text(ds, "RequestedProcedureDescription", notes)
    for request in ds.get("RequestAttributesSequence", []):
        requested = requested or text(request, "RequestedProcedureDescription", notes)
    return {
        "study_instance_uid": text(ds, "StudyInstanceUID"),
        "study_date_time": combine(ds.get("StudyDate"), ds.get("StudyTime")),
        "accession_number": text(ds, "AccessionNumber", notes),
        "study_id": text(ds, "StudyID", notes),
        "study_description": text(ds, "StudyDescription", notes),
        "requested_procedure_description": requested,
        "operators_name": text(ds, "OperatorsName", notes),
        "performing_physician_name": text(ds, "PerformingPhysicianName", notes),
        "referring_physician_name": text(ds, "ReferringPhysicianName", notes),
    }


def patient_fields(
    ds: Dataset, study_date_time: datetime | None, patterns: Sequence[str], notes: Notes
) -> dict[str, Any]:
    """Read the Patient and Patient Study modules, without identifying data."""
    age = text(ds, "PatientAge")
    return {
        "age": age,
        "age_years": age_years(age, parse_date(ds.get("PatientBirthDate")), study_date_time),
        "sex": text(ds, "PatientSex", notes),
        "weight_kg": number(ds, "PatientWeight"),
        "height_m": number(ds, "PatientSize"),
        "not_patient_indicator": not_patient_indicator(ds, patterns),
    }


def equipment_fields(ds: Dataset, notes: Notes) -> dict[str, Any]:
    """Read the General Equipment module."""
    return {
        "manufacturer": text(ds, "Manufacturer", notes),
        "manufacturer_model_name": text(ds, "ManufacturerModelName", notes),
        "station_name": text(ds, "StationName", notes),
        "institution_name": text(ds, "InstitutionName", notes),
        "institution_address": text(ds, "InstitutionAddress", notes),
        "institutional_department_name": text(ds, "InstitutionalDepartmentName", notes),
        "device_serial_number": text(ds, "DeviceSerialNumber", notes),
        "software_versions": text(ds, "SoftwareVersions", notes),
    }
