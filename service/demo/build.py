"""What every demonstration study is made of: UIDs under one root, a marked patient, the header, a report.

Shared by the generators of :mod:`service.demo.studies` (CT, nuclear medicine)
and :mod:`service.demo.projection` (fluoroscopy, radiography, mammography).
A demonstration report has no original bytes: its ``via`` is ``demo`` and its
``sha256`` is the hash of its SOP Instance UID, not of any object received.
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime
from typing import Any

from service.demo import catalogue as c

#: The UID root of every demonstration study, report and event (a UUID-derived root, PS3.5 B.2).
DEMO_ROOT = "2.25.166569461956058047543517101362857312195"
#: The not-patient indicator of every demonstration study.
MARK = "Demonstration study (doseledger demo), not a patient"
XRAY_DOSE_SR = "1.2.840.10008.5.1.4.1.1.88.67"
RADIOPHARMACEUTICAL_DOSE_SR = "1.2.840.10008.5.1.4.1.1.88.68"

Fragment = dict[str, Any]


def study_uid(number: int) -> str:
    """Return the Study Instance UID of demonstration study ``number``."""
    return f"{DEMO_ROOT}.1.{number}"


def spread(rng: random.Random, sigma: float) -> float:
    """Return a log-normal factor around 1 (``sigma`` its spread), for values that vary as doses do."""
    return rng.lognormvariate(0, sigma)


def demo_patient(
    rng: random.Random, ages: tuple[float, float], *, sex: str | None = None, weighed: bool = False
) -> dict[str, Any]:
    """Return a demonstration patient: age, sex, sometimes weight and height, marked as not a patient."""
    years = rng.uniform(*ages)
    sex = sex or rng.choice("FM")
    known = weighed or rng.random() < 0.5
    height = rng.gauss(1.76 if sex == "M" else 1.63, 0.07)
    weight = rng.gauss(24 * height**2, 12)
    return {
        "age": f"{int(years):03d}Y",
        "age_years": round(years, 1),
        "sex": sex,
        "weight_kg": round(min(max(weight, 40.0), 150.0), 1) if known else None,
        "height_m": round(height, 2) if known and rng.random() < 0.6 else None,
        "not_patient_indicator": MARK,
    }


def study_fragment(
    number: int, when: datetime, description: str, station: str, patient: dict[str, Any], **sections: Any
) -> Fragment:
    """Return the study-level part of a fragment (header, patient, equipment) with ``sections``."""
    room = c.ROOMS[station]
    return {
        "study_instance_uid": study_uid(number),
        "modalities": [room.modality],
        "study_date_time": when,
        "accession_number": f"DEMO{number:06d}",
        "study_id": str(number),
        "study_description": description,
        "requested_procedure_description": description,
        "patient": patient,
        "equipment": {
            "manufacturer": c.MANUFACTURER,
            "manufacturer_model_name": room.model,
            "station_name": room.station,
            "institution_name": c.INSTITUTION,
            "institutional_department_name": room.department,
            "device_serial_number": f"DEMO-{room.station}",
        },
        **sections,
    }


def as_report(fragment: Fragment, sop_class: str, part: int) -> Fragment:
    """Return ``fragment`` as dose report ``part`` of its study (stamped when folded)."""
    sop = f"{DEMO_ROOT}.2.{fragment['study_id']}.{part}"
    report = {"sop_instance_uid": sop, "sop_class_uid": sop_class, "kind": "rdsr"}
    return {**fragment, "report": report | {"sha256": hashlib.sha256(sop.encode()).hexdigest()}}


def choose(rng: random.Random, table: dict[str, tuple[float, Any]]) -> tuple[str, Any]:
    """Pick an examination from a table of (share, what) by its share."""
    names = list(table)
    name = rng.choices(names, weights=[table[n][0] for n in names])[0]
    return name, table[name][1]


def event_uid(number: int, k: int) -> str:
    """Return the UID of event ``k`` of study ``number``."""
    return f"{DEMO_ROOT}.3.{number}.{k}"
