"""Generate the demonstration studies: realistic, reproducible for a seed, dated over the last months.

Each study is built as extraction fragments (one per dose report: a PET/CT
study has a CT report and a radiopharmaceutical report) and folded by the
real merge and validated by the study schema
(:func:`service.ingest.document.study_document`), so it carries the same
``reports``, accumulated blocks and ``summary`` that imported studies do.
Every patient is marked as a test patient (:data:`MARK`). Study times fall on
working days and hours mostly (CT and radiography also at night and at
weekends), between yesterday and ``days`` days ago, so the lists' first date
window shows them and the workload audit has a shape.

The generators of projection x-ray studies are in :mod:`service.demo.projection`,
what every study shares in :mod:`service.demo.build`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from service.demo import catalogue as c
from service.demo.build import (
    DEMO_ROOT,
    MARK,
    RADIOPHARMACEUTICAL_DOSE_SR,
    XRAY_DOSE_SR,
    Fragment,
    as_report,
    choose,
    demo_patient,
    event_uid,
    spread,
    study_fragment,
    study_uid,
)
from service.demo.projection import dx, mg, rf
from service.ingest.document import stamp, study_document

__all__ = ["COUNTS", "DEMO_ROOT", "MARK", "XRAY_DOSE_SR", "ct_section", "demo_studies", "fold", "study_uid"]

#: Studies made per list modality by default.
COUNTS = {"CT": 60, "RF": 24, "DX": 60, "MG": 30, "NM": 24}


def demo_studies(now: datetime, received_at: datetime, *, seed: int = 21, days: int = 120) -> list[dict[str, Any]]:
    """Return the demonstration study documents: :data:`COUNTS` per modality, dated before ``now`` (local time)."""
    rng = random.Random(seed)
    documents, number = [], 0
    for modality, count in COUNTS.items():
        for _ in range(count):
            number += 1
            fragments = BUILDERS[modality](number, rng, _when(rng, now, days, modality))
            documents.append(fold(fragments, received_at))
    return documents


def fold(fragments: list[Fragment], received_at: datetime) -> dict[str, Any]:
    """Merge and validate the fragments of one study, as an import of its reports would."""
    document = None
    for fragment in fragments:
        fragment = stamp(fragment, sha256=fragment["report"]["sha256"], received_at=received_at, via="demo")
        document = study_document(document, fragment, now=received_at).document
    assert document is not None
    return document


def _when(rng: random.Random, now: datetime, days: int, modality: str) -> datetime:
    """Return a study time between yesterday and ``days`` ago: mostly working days and hours."""
    day = now.date() - timedelta(days=rng.randint(1, days))
    if rng.random() < (0.15 if modality in ("CT", "DX") else 0.02):  # the emergency department never closes
        return datetime.combine(day, time(rng.randrange(24), rng.randrange(60), rng.randrange(60)))
    while day.weekday() >= 5:  # a working day, drawn again
        day = now.date() - timedelta(days=rng.randint(1, days))
    hour = min(int(rng.triangular(8, 18, 10)), 17)
    return datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)))


# -- CT ----------------------------------------------------------------------------------------


def ct_section(
    number: int, rng: random.Random, start: datetime, scans: tuple[c.Scan, ...], first: int = 0
) -> dict[str, Any]:
    """Return a ``ct`` section: one event per scan (numbered from ``first``), CTDIvol following the patient's size."""
    size = spread(rng, 0.22)
    timed = [(first + k, start + timedelta(minutes=2 * k), scan) for k, scan in enumerate(scans)]
    events = [_ct_event(number, k, rng, when, scan, size) for k, when, scan in timed]
    total = round(sum(e["dlp"] for e in events), 2)
    return {
        "events": events,
        "accumulated": {"total_number_of_irradiation_events": len(events), "ct_dose_length_product_total": total},
    }


def _ct_event(number: int, k: int, rng: random.Random, start: datetime, scan: c.Scan, size: float) -> dict[str, Any]:
    ctdivol = round(scan.ctdivol * (spread(rng, 0.07) if scan.head else size) * spread(rng, 0.08), 2)
    length = round(scan.length * rng.uniform(0.9, 1.1), 1)
    spiral = scan.kind is c.SPIRAL
    pitch, rotation = (0.55, 1.0) if scan.head else (0.98, 0.5)
    current = round(
        ctdivol * (5.5 if scan.head else 13.0) * (pitch if spiral else 1) / rotation * (120 / scan.kvp) ** 2
    )
    duration = (
        length / (40 * pitch) * rotation if spiral else (rotation * 8 if scan.kind is c.STATIONARY else length / 100)
    )
    event = {
        "irradiation_event_uid": event_uid(number, k),
        "date_time_started": start,
        "acquisition_protocol": scan.protocol,
        "target_region": scan.region,
        "ct_acquisition_type": scan.kind,
        "exposure_time": round(duration, 2),
        "scanning_length": length,
        "nominal_single_collimation_width": 0.625,
        "nominal_total_collimation_width": 40.0 if scan.kind is not c.LOCALISER else 0.625,
        "mean_ctdivol": ctdivol,
        "ctdiw_phantom_type": c.HEAD_PHANTOM if scan.head else c.BODY_PHANTOM,
        "dlp": round(ctdivol * length / 10 * (1.06 if spiral else 1.0), 2),
        "sources": [{
            "identification_of_the_xray_source": "A", "kvp": scan.kvp, "xray_tube_current": max(current, 20),
            "maximum_xray_tube_current": max(round(current * 1.3), 20), "exposure_time_per_rotation": rotation,
        }],
    }  # fmt: skip
    return event | ({"pitch_factor": pitch} if spiral else {})


def _ct(number: int, rng: random.Random, when: datetime) -> list[Fragment]:
    description, scans = choose(rng, c.CT_EXAMS)
    station = (
        "DEMO-CT2" if when.hour < 8 or when.hour >= 18 or when.weekday() >= 5 else rng.choice(["DEMO-CT1", "DEMO-CT2"])
    )
    fragment = study_fragment(number, when, description, station, demo_patient(rng, (18, 92)))
    return [as_report({**fragment, "ct": ct_section(number, rng, when + timedelta(minutes=5), scans)}, XRAY_DOSE_SR, 1)]


# -- nuclear medicine --------------------------------------------------------------------------

#: minutes from the injection to the start of imaging, per examination
UPTAKE = {"PET-CT FDG whole body": 60, "Bone scan": 180, "Myocardial perfusion": 45, "Thyroid scan": 20}


def _nm(number: int, rng: random.Random, when: datetime) -> list[Fragment]:
    description, agent = choose(rng, c.NM_EXAMS)
    patient = demo_patient(rng, (30, 85), weighed=True)
    activity = agent.activity * (patient["weight_kg"] if agent.per_kg else 1) * spread(rng, 0.06)
    injected = when - timedelta(minutes=UPTAKE[description])
    administration = {
        "radiopharmaceutical_administration_event_uid": event_uid(number, 0),
        "radiopharmaceutical_agent": agent.agent,
        "radionuclide": agent.nuclide,
        "radionuclide_half_life": agent.half_life,
        "administered_activity": round(min(max(activity, 40.0), 800.0), 1),
        "radiopharmaceutical_start_date_time": injected,
        "radiopharmaceutical_stop_date_time": injected + timedelta(seconds=30),
        "route_of_administration": c.INTRAVENOUS,
    }
    fragment = study_fragment(number, when, description, agent.room, patient)
    reports = [
        as_report(
            {**fragment, "radiopharmaceutical": {"administrations": [administration]}}, RADIOPHARMACEUTICAL_DOSE_SR, 1
        )
    ]
    if agent.room == "DEMO-PETCT1":  # the CT of a PET/CT study comes in a report of its own
        ct = ct_section(number, rng, when + timedelta(minutes=1), c.PET_CT_SCANS, first=1)
        reports.append(as_report({**fragment, "modalities": ["CT"], "ct": ct}, XRAY_DOSE_SR, 2))
    return reports


BUILDERS: dict[str, Callable[[int, random.Random, datetime], list[Fragment]]] = {
    "CT": _ct, "RF": rf, "DX": dx, "MG": mg, "NM": _nm,
}  # fmt: skip
