"""Generate the projection x-ray demonstration studies: fluoroscopy, radiography, mammography (TID 10001).

Each builder returns the fragments of one study; the event totals of each
plane's accumulated block are the sums of its events, as a modality reports
them.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any

from service.demo import catalogue as c
from service.demo.build import (
    XRAY_DOSE_SR,
    Fragment,
    as_report,
    choose,
    demo_patient,
    event_uid,
    spread,
    study_fragment,
)

# -- fluoroscopy -------------------------------------------------------------------------------


def _runs(rng: random.Random, count: int, total: float) -> list[float]:
    """Split ``total`` over ``count`` runs of random weight."""
    weights = [rng.random() + 0.2 for _ in range(count)]
    return [total * w / sum(weights) for w in weights]


def rf(number: int, rng: random.Random, when: datetime) -> list[Fragment]:
    """Return a fluoroscopy study: fluoroscopy runs and acquisitions whose totals follow the procedure."""
    description, procedure = choose(rng, c.RF_PROCEDURES)
    severity = spread(rng, procedure.spread)
    dap, rp_dose = procedure.dap * severity * 1e-4, procedure.rp_dose * severity * spread(rng, 0.15)  # Gy·m², Gy
    fluoro_time = procedure.fluoro_minutes * 60 * math.sqrt(severity) * spread(rng, 0.2)
    share = rng.uniform(0.35, 0.6)  # of the dose given in fluoroscopy
    cardiac = procedure.frame_rate > 1
    runs = {"fluoro": rng.randint(4, 9), "acquisition": rng.randint(6, 14) if cardiac else rng.randint(2, 6)}
    events: list[dict[str, Any]] = []
    for kind, count in runs.items():
        part = share if kind == "fluoro" else 1 - share
        durations = (
            _runs(rng, count, fluoro_time) if kind == "fluoro" else [rng.uniform(3, 6) if cardiac else 0.1] * count
        )
        for n, (run_dap, run_rp) in enumerate(
            zip(_runs(rng, count, dap * part), _runs(rng, count, rp_dose * part), strict=True)
        ):
            events.append(_rf_event(rng, kind, procedure, durations[n], run_dap, run_rp))
    rng.shuffle(events)
    start = when + timedelta(minutes=3)
    for k, event in enumerate(events):
        event.update(irradiation_event_uid=event_uid(number, k), date_time_started=start + timedelta(seconds=50 * k))
    section = {"events": events, "accumulated": [_rf_plane(events)]}
    patient = demo_patient(rng, (40, 88), weighed=cardiac)
    return [
        as_report(
            study_fragment(number, when, description, procedure.room, patient, projection=section), XRAY_DOSE_SR, 1
        )
    ]


def _rf_event(
    rng: random.Random, kind: str, procedure: c.Procedure, duration: float, dap: float, rp_dose: float
) -> dict[str, Any]:
    fluoro = kind == "fluoro"
    rate = (15.0 if procedure.frame_rate > 1 else 7.5) if fluoro else procedure.frame_rate
    return {
        "irradiation_event_type": c.FLUOROSCOPY if fluoro else c.ACQUISITION,
        "acquisition_plane": c.SINGLE_PLANE,
        "acquisition_protocol": procedure.fluoro_protocol if fluoro else procedure.acquisition_protocol,
        "target_region": procedure.region,
        "dose_area_product": round(dap, 8),
        "dose_rp": round(rp_dose, 5),
        "irradiation_duration": round(duration, 1),
        "pulse_rate": rate,
        "number_of_pulses": max(round(duration * rate), 1),
        "pulse_width": round(rng.uniform(6, 10) if fluoro else rng.uniform(4, 8), 1),
        "kvp": round(rng.uniform(68, 88)),
        "xray_tube_current": round(rng.uniform(8, 40) if fluoro else rng.uniform(300, 700)),
        "distance_source_to_detector": round(rng.uniform(950, 1150)),
        "positioner_primary_angle": round(rng.uniform(-40, 40), 1),
        "positioner_secondary_angle": round(rng.uniform(-30, 30), 1),
    }


def _sum(events: list[dict[str, Any]], field: str, kind: c.Coded | None = None, digits: int = 8) -> float:
    return round(sum(e[field] for e in events if kind is None or e["irradiation_event_type"] is kind), digits)


def _rf_plane(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the accumulated block of the one plane: totals of the events, as a modality reports them."""
    fluoro, acquisition = c.FLUOROSCOPY, c.ACQUISITION
    return {
        "acquisition_plane": c.SINGLE_PLANE,
        "dose_area_product_total": _sum(events, "dose_area_product"),
        "dose_rp_total": _sum(events, "dose_rp", digits=5),
        "fluoro_dose_area_product_total": _sum(events, "dose_area_product", fluoro),
        "fluoro_dose_rp_total": _sum(events, "dose_rp", fluoro, 5),
        "total_fluoro_time": _sum(events, "irradiation_duration", fluoro, 1),
        "acquisition_dose_area_product_total": _sum(events, "dose_area_product", acquisition),
        "acquisition_dose_rp_total": _sum(events, "dose_rp", acquisition, 5),
        "total_acquisition_time": _sum(events, "irradiation_duration", acquisition, 1),
        "total_number_of_radiographic_frames": sum(
            e["number_of_pulses"] for e in events if e["irradiation_event_type"] is acquisition
        ),
    }


# -- radiography -------------------------------------------------------------------------------


def dx(number: int, rng: random.Random, when: datetime) -> list[Fragment]:
    """Return a radiography study: one exposure per view of the examination."""
    description, views = choose(rng, c.DX_EXAMS)
    events = [
        _dx_event(rng, view)
        | {"irradiation_event_uid": event_uid(number, k), "date_time_started": when + timedelta(minutes=1 + k)}
        for k, view in enumerate(views)
    ]
    plane = {
        "acquisition_plane": c.SINGLE_PLANE,
        "dose_area_product_total": _sum(events, "dose_area_product", digits=9),
    }
    section = {"events": events, "accumulated": [plane | {"total_number_of_radiographic_frames": len(events)}]}
    station = (
        "DEMO-XR2" if when.hour < 8 or when.hour >= 18 or when.weekday() >= 5 else rng.choice(["DEMO-XR1", "DEMO-XR2"])
    )
    return [
        as_report(
            study_fragment(number, when, description, station, demo_patient(rng, (4, 95)), projection=section),
            XRAY_DOSE_SR,
            1,
        )
    ]


def _dx_event(rng: random.Random, view: c.View) -> dict[str, Any]:
    mas = view.mas * spread(rng, 0.25)
    current = round(rng.uniform(200, 500))
    index = 400 * spread(rng, 0.25)  # the detector's exposure index; its target is 400
    return {
        "irradiation_event_type": c.ACQUISITION,
        "acquisition_plane": c.SINGLE_PLANE,
        "acquisition_protocol": view.protocol,
        "target_region": view.region,
        "dose_area_product": round(view.dap * 1e-4 * mas / view.mas * spread(rng, 0.08), 9),
        "kvp": view.kvp,
        "xray_tube_current": current,
        "exposure_time": round(mas / current * 1000, 1),
        "exposure": round(mas * 1000),
        "distance_source_to_detector": view.sid,
        "exposure_index": round(index, 1),
        "target_exposure_index": 400.0,
        "deviation_index": round(10 * math.log10(index / 400), 2),
    }


# -- mammography -------------------------------------------------------------------------------


def mg(number: int, rng: random.Random, when: datetime) -> list[Fragment]:
    """Return a mammography study: AGD, kVp and filter following each breast's compressed thickness."""
    description, exposures = choose(rng, c.MG_EXAMS)
    thickness = {side: min(max(rng.gauss(55, 11), 25.0), 90.0) for side in c.SIDES}
    events = []
    for k, (side, view) in enumerate(exposures):
        event = _mg_event(rng, side, view, thickness[side] + (4 if view is c.MLO else 0))
        events.append(
            event
            | {"irradiation_event_uid": event_uid(number, k), "date_time_started": when + timedelta(minutes=2 + k)}
        )
    per_breast = [
        {
            "laterality": code,
            "accumulated_average_glandular_dose": round(
                sum(e["average_glandular_dose"] for e in events if e["laterality"] is code), 3
            ),
        }
        for code in c.SIDES.values()
        if any(e["laterality"] is code for e in events)
    ]
    section = {
        "events": events,
        "accumulated": [{"acquisition_plane": c.SINGLE_PLANE, "accumulated_average_glandular_dose": per_breast}],
    }
    patient = demo_patient(rng, (47, 73), sex="F")
    return [
        as_report(
            study_fragment(number, when, description, "DEMO-MAMMO1", patient, projection=section), XRAY_DOSE_SR, 1
        )
    ]


def _mg_event(rng: random.Random, side: str, view: c.Coded, thickness: float) -> dict[str, Any]:
    agd = (0.55 + 0.021 * thickness) * spread(rng, 0.1)
    exposure = 60000 * math.exp((thickness - 50) / 35) * spread(rng, 0.1)  # µAs
    return {
        "irradiation_event_type": c.ACQUISITION,
        "acquisition_plane": c.SINGLE_PLANE,
        "acquisition_protocol": "Standard",
        "anatomical_structure": c.BREAST,
        "target_region": c.BREAST,
        "laterality": c.SIDES[side],
        "image_view": view,
        "compression_thickness": round(thickness),
        "compression_force": round(rng.gauss(100, 15)),
        "kvp": float(min(max(round(25 + thickness / 8), 26), 35)),
        "exposure": round(exposure),
        "xray_tube_current": 100.0,
        "exposure_time": round(exposure / 100),
        "anode_target_material": c.TUNGSTEN,
        "xray_filters": [{"xray_filter_material": c.FILTERS["Rh" if thickness < 60 else "Ag"],
                          "xray_filter_thickness_minimum": 0.05, "xray_filter_thickness_maximum": 0.05}],
        "average_glandular_dose": round(agd, 3),
        "entrance_exposure_at_rp": round(agd * (2.5 + thickness / 40), 2),
        "half_value_layer": round(0.45 + thickness / 500, 3),
        "distance_source_to_detector": 650.0,
    }  # fmt: skip
