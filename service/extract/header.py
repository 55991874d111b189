"""Read the header modules every dose object carries (PS3.3 C.7).

General Study, Patient, Patient Study and General Equipment modules become the
study-level fields of DESIGN.md. Patient name, ID and birth date are read only
to compute age and the not-patient indicator; they are never returned. An
object that went through ingest has lost them and carries what was derived from
them (with the patient key) in DoseLedger's private block
(:mod:`service.extract.identity`), which is read instead.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from service.extract.dicomtime import combine, parse_date
from service.extract.identity import read_identity
from service.extract.lenient import Notes, repair_text

#: Days per unit of a DICOM Age String (PS3.5 Table 6.2-1, AS).
AGE_UNIT_DAYS = {"D": 1.0, "W": 7.0, "M": 365.25 / 12, "Y": 365.25}

DEFAULT_NOT_PATIENT_PATTERNS = ("phy", "test", "qa")
#: Ages computed from dates outside these bounds come from placeholder birth dates.
EARLIEST_BIRTH_YEAR = 1880
MAX_AGE_YEARS = 130


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


def stated_age(age: str | None) -> tuple[float, float] | None:
    """Return a DICOM Age String (``067Y``) as (years, the years of one of its units), or None."""
    if age and len(age) >= 2 and age[:-1].strip().isdigit() and age[-1].upper() in AGE_UNIT_DAYS:
        unit = AGE_UNIT_DAYS[age[-1].upper()] / 365.25
        return int(age[:-1]) * unit, unit
    return None


def computed_age(birth: datetime | None, study: datetime | None, notes: Notes) -> float | None:
    """Return the age in years from birth and study dates, leaving out (and noting) an implausible one.

    Placeholder birth dates are common (``17000101``, ``19000101``, ``99990101``):
    an age from a birth date before 1880, a negative one or one over 130 years is
    no age at all.
    """
    if birth is None or study is None:
        return None
    years = (study - birth).days / 365.25
    if birth.year < EARLIEST_BIRTH_YEAR or not 0 <= years <= MAX_AGE_YEARS:
        notes.append(
            f"age_years: birth date {birth:%Y-%m-%d} and study date {study:%Y-%m-%d} give {years:.1f} years, "
            "which is not a plausible age; not computed"
        )
        return None
    return years


def age_years(
    age: str | None, birth: datetime | None, study: datetime | None, notes: Notes | None = None
) -> float | None:
    """Return age in decimal years: the stated Patient's Age, refined by the dates when they agree.

    The stated age wins. The birth and study dates give the age more precisely
    (``042Y`` born 1974-01-14, seen 2016-12-06: 42.9), so that figure is used
    when it agrees with the stated age (within one of its units), and alone
    when no age is stated. A disagreement keeps the stated age and is noted.
    """
    notes = notes if notes is not None else []
    return age_from(age, computed_age(birth, study, notes), notes)


def age_from(age: str | None, computed: float | None, notes: Notes) -> float | None:
    """Return age in decimal years from the stated age and the age the dates give (see :func:`age_years`)."""
    stated = stated_age(age)
    if stated is None:
        return round(computed, 1) if computed is not None else None
    years, unit = stated
    if computed is None or years - unit <= computed < years + 2 * unit:
        return round(computed if computed is not None else years, 1)
    notes.append(f"age_years: the dates give {computed:.1f} years but Patient's Age is {age}; kept the stated age")
    return round(years, 1)


def positive(ds: Dataset, keyword: str, name: str, notes: Notes) -> float | None:
    """Return a size or weight, leaving out 0 (how PET and fluoroscopy rooms send 'not entered') and below."""
    value = number(ds, keyword)
    if value is not None and value <= 0:
        notes.append(f"{name}: {keyword} {value:g} means not known; left out")
        return None
    return value


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
    """Read the Patient and Patient Study modules, without identifying data.

    ``key`` is there only when the DoseLedger block holds one: extraction has
    no secret to compute it with.
    """
    age = text(ds, "PatientAge")
    kept = read_identity(ds)
    fields = {
        "age": age,
        "age_years": age_years(age, parse_date(ds.get("PatientBirthDate")), study_date_time, notes),
        "sex": text(ds, "PatientSex", notes),
        "weight_kg": positive(ds, "PatientWeight", "weight_kg", notes),
        "height_m": positive(ds, "PatientSize", "height_m", notes),
        "not_patient_indicator": not_patient_indicator(ds, patterns),
    }
    if kept is None:
        return fields
    fields["not_patient_indicator"] = kept.not_patient_indicator
    fields["age_years"] = age_from(age, kept.age_from_dates, notes)
    return {**fields, "key": kept.key} if kept.key else fields


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
