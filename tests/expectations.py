"""Map the values OpenREM asserts (../shared/corpus/expected.json) onto our documents.

OpenREM's keys follow its relational model (README of the corpus); ours follow
DESIGN.md's nested document. ``RULES`` is the one place that says which key of
theirs is which path of ours, as (regex on their key, our path template). Keys
our design deliberately does not keep (patient name, ID and birth date) are in
``NEVER_STORED``; keys about OpenREM-only features are in ``NOT_APPLICABLE``.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

#: (their key pattern, our path); ``{0}`` is the first group (an index).
RULES: list[tuple[str, str]] = [
    (r"^accession_number$", "accession_number"),
    (r"^study_description$", "study_description"),
    (r"^referring_physician_name$", "referring_physician_name"),
    (r"^generalequipmentmoduleattr\.(\w+)$", "equipment.{0}"),
    (r"^patientstudymoduleattr\.patient_age$", "patient.age"),
    (r"^patientstudymoduleattr\.patient_age_decimal$", "patient.age_years"),
    (r"^patientstudymoduleattr\.patient_size$", "patient.height_m"),
    (r"^patientstudymoduleattr\.patient_weight$", "patient.weight_kg"),
    (r"^patientmoduleattr\.not_patient_indicator$", "patient.not_patient_indicator"),
    (r"^series_instance_uid$", "reports.0.series_instance_uid"),
    (r"^ctradiationdose\.procedure_reported\.(\w+)$", "procedure_reported.{0}"),
    (r"^ctradiationdose\.observercontext\.(\w+)\.(\w+)$", "reports.0.context.{0}.{1}"),
    (r"^ctradiationdose\.observercontext\.(\w+)$", "reports.0.context.{0}"),
    (r"^ctradiationdose\.(\w+)\.(code_meaning|code_value)$", "reports.0.context.{0}.{1}"),
    (r"^ctradiationdose\.(start|end)_of_xray_irradiation$", "reports.0.context.{0}_of_xray_irradiation"),
    (r"^ctradiationdose\.ctaccumulateddosedata\.(\w+)$", "ct.accumulated.{0}"),
    (r"^ctradiationdose\.ctirradiationeventdata\.count$", "ct.events.#"),
    (
        r"^ctradiationdose\.ctirradiationeventdata\[(\d+)\]\.ctxraysourceparameters\.(\w+)$",
        "ct.events.{0}.sources.0.{1}",
    ),
    (
        r"^ctradiationdose\.ctirradiationeventdata\[(\d+)\]\.(?:deviceparticipant|scanninglength)\.(\w+)$",
        "ct.events.{0}.{1}",
    ),
    (r"^ctradiationdose\.ctirradiationeventdata\[(\d+)\]\.(\w+)\.(code_meaning|code_value)$", "ct.events.{0}.{1}.{2}"),
    (r"^ctradiationdose\.ctirradiationeventdata\[(\d+)\]\.(\w+)$", "ct.events.{0}.{1}"),
    (r"^number_of_events$", "summary.number_of_events"),
    (r"^total_dlp$", "summary.total_dlp"),
    # study and patient fields every modality shares
    (r"^(study_instance_uid|study_id|performing_physician_name)$", "{0}"),
    (r"^operator_name$", "operators_name"),
    (r"^patientmoduleattr\.patient_sex$", "patient.sex"),
    (r"^generalequipmentmoduleattr\.unique_equipment_name\.(device_observer_uid)$", "equipment.{0}"),
    # projection x-ray (TID 10001): OpenREM's source, mechanical, detector, kVp, tube current,
    # exposure, filter and grid tables are fields of our event; its *_cid codes drop the suffix.
    (r"^total_(dap|rp_dose|agd_left|agd_right)$", "summary.total_{0}"),
    (r"^total_dap_a$", "projection.accumulated.0.dose_area_product_total"),
    (r"^total_rp_dose_a$", "projection.accumulated.0.dose_rp_total"),
    (r"^number_of_planes$", "projection.accumulated.#"),
    (r"^projectionxrayradiationdose\.procedure_reported\.(\w+)$", "procedure_reported.{0}"),
    (r"^projectionxrayradiationdose\.observercontext\.(\w+)\.(\w+)$", "reports.0.context.{0}.{1}"),
    (r"^projectionxrayradiationdose\.observercontext\.(\w+)$", "reports.0.context.{0}"),
    (r"^projectionxrayradiationdose\.(\w+)\.(code_meaning|code_value)$", "reports.0.context.{0}.{1}"),
    (r"^projectionxrayradiationdose\.accumxraydose\.accumprojxraydose\.(\w+)$", "projection.accumulated.0.{0}"),
    (
        r"^projectionxrayradiationdose\.accumxraydose\.accummammographyxraydose\.count$",
        "projection.accumulated.0.accumulated_average_glandular_dose.#",
    ),
    (
        r"^projectionxrayradiationdose\.accumxraydose\.accummammographyxraydose\[(\d+)\]\.([\w.]+)$",
        "projection.accumulated.0.accumulated_average_glandular_dose.{0}.{1}",
    ),
    (r"^projectionxrayradiationdose\.irradeventxraydata\.count$", "projection.events.#"),
    (
        r"^projectionxrayradiationdose\.irradeventxraydata(?:\[(\d+)\])?\.irradeventxraysourcedata\.xrayfilters\.count$",
        "projection.events.{0}.xray_filters.#",
    ),
    (
        r"^projectionxrayradiationdose\.irradeventxraydata(?:\[(\d+)\])?\.irradeventxraysourcedata\.xrayfilters"
        r"(?:\[(\d+)\])?\.(\w+?)(\.code_meaning)?$",
        "projection.events.{0}.xray_filters.{1}.{2}{3}",
    ),
    (
        r"^projectionxrayradiationdose\.irradeventxraydata(?:\[(\d+)\])?\.(?:irradeventxray\w+data\.)?"
        r"(?:doserelateddistancemeasurements\.|kvp\.|xraytubecurrent\.|exposure\.|xraygrid\.)?"
        r"(?:xrayfilters\.)?([a-z_]+?)(?:_cid)?(\.code_meaning|\.code_value)?$",
        "projection.events.{0}.{1}{2}",
    ),
    # radiopharmaceutical (TID 10021): one administration; organ doses first and last
    (r"^radiopharmaceuticalradiationdose\.(\w+)\.(code_meaning|code_value)$", "reports.0.context.{0}.{1}"),
    (
        r"^radiopharmaceuticalradiationdose\.radiopharmaceuticaladministrationpatientcharacteristics\.([\w.]+)$",
        "radiopharmaceutical.patient_characteristics.{0}",
    ),
    (
        r"^radiopharmaceuticalradiationdose\.radiopharmaceuticaladministrationeventdata\.organdose\[first\]\."
        r"([\w.]+)$",
        "radiopharmaceutical.administrations.0.organ_doses.0.{0}",
    ),
    (
        r"^radiopharmaceuticalradiationdose\.radiopharmaceuticaladministrationeventdata\.organdose\[last\]\."
        r"([\w.]+)$",
        "radiopharmaceutical.administrations.0.organ_doses.-1.{0}",
    ),
    (
        r"^radiopharmaceuticalradiationdose\.radiopharmaceuticaladministrationeventdata\.personparticipant\."
        r"([a-z_]+?)(?:_cid)?(\.code_meaning)?$",
        "radiopharmaceutical.administrations.0.person_participants.0.{0}{1}",
    ),
    (
        r"^radiopharmaceuticalradiationdose\.radiopharmaceuticaladministrationeventdata\.([\w.]+)$",
        "radiopharmaceutical.administrations.0.{0}",
    ),
    # PET series read from image headers (service.extract.nm_images)
    (
        r"^radiopharmaceuticalradiationdose\.petseries\.petseries(?:correction|type)\[(\d+)\]\.(\w+)$",
        "radiopharmaceutical.pet_series.0.{1}.{0}",
    ),
    (
        r"^radiopharmaceuticalradiationdose\.petseries\.petseries(?:correction|type)\[first\]\.(\w+)$",
        "radiopharmaceutical.pet_series.0.{0}.0",
    ),
    (
        r"^radiopharmaceuticalradiationdose\.petseries\.petseries(?:correction|type)\[last\]\.(\w+)$",
        "radiopharmaceutical.pet_series.0.{0}.-1",
    ),
    (r"^radiopharmaceuticalradiationdose\.petseries\.(\w+)$", "radiopharmaceutical.pet_series.0.{0}"),
]

#: OpenREM field names that differ from ours (the snake_case of the standard's code meaning).
RENAMED = {
    "crdr_mechanical_configuration": "cr_dr_mechanical_configuration",  # CR/DR Mechanical Configuration
    "radiopharmaceutical_start_datetime": "radiopharmaceutical_start_date_time",
    "radiopharmaceutical_stop_datetime": "radiopharmaceutical_stop_date_time",
    "reference_authority_text": "reference_authority",
    "radiopharmaceutical_agent_string": "radiopharmaceutical_agent_text",  # the image's free text
    "series_datetime": "series_date_time",
}

NEVER_STORED = re.compile(r"^patientmoduleattr\.patient_(name|id|birth_date)$")

#: OpenREM counts per CT acquisition type; we derive them from the events (code values, CID 10013).
ACQUISITION_TYPE_COUNTS = {
    "number_of_axial": "113804",  # Sequenced Acquisition
    "number_of_spiral": "116152004",  # Spiral Acquisition (SCT; P5-08001 in SRT)
    "number_of_stationary": "113806",  # Stationary Acquisition
    "number_of_const_angle": "113805",  # Constant Angle Acquisition
}


def our_path(key: str) -> str | None:
    """Return our document path for one of OpenREM's keys, or None if no rule matches."""
    for pattern, template in RULES:
        match = re.match(pattern, key)
        if match:
            path = template.format(*(group or "" for group in match.groups()))
            return ".".join(RENAMED.get(part, part) for part in path.replace("..", ".0.").split("."))
    return None


def lookup(doc: Any, path: str) -> Any:
    """Follow a dotted path (list indexes as numbers, ``#`` for a length) into a document."""
    for part in path.split("."):
        if part == "#":
            return len(doc)
        if isinstance(doc, list):
            doc = doc[int(part)] if int(part) < len(doc) else None
        elif isinstance(doc, dict):
            doc = doc.get(part)
        else:
            return None
    return doc


def _normalise(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def check(doc: dict[str, Any], key: str, expected: Any, places: int | None) -> str | None:
    """Compare one expected value with our document; return a failure message or None."""
    if key in ACQUISITION_TYPE_COUNTS:
        code = ACQUISITION_TYPE_COUNTS[key]
        types = [(e.get("ct_acquisition_type") or {}).get("code_value") for e in doc["ct"]["events"]]
        found: Any = sum(1 for t in types if t == code or (code == "116152004" and t == "P5-08001"))
    elif key == "study_date":
        found = doc["study_date_time"].date().isoformat() if doc["study_date_time"] else None
    elif key == "study_time":
        found = doc["study_date_time"].time().isoformat() if doc["study_date_time"] else None
    elif key == "modality_type":
        found = expected if expected in doc["modalities"] else doc["modalities"]
    else:
        path = our_path(key)
        if path is None:
            return f"{key}: no mapping rule"
        found = _normalise(lookup(doc, path))
    if places is not None and isinstance(expected, int | float) and isinstance(found, int | float):
        if not math.isclose(found, expected, abs_tol=0.5 * 10**-places):
            return f"{key}: expected {expected}, found {found}"
    elif found != expected:
        return f"{key}: expected {expected!r}, found {found!r}"
    return None
