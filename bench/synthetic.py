"""Synthetic study documents for benchmarks: a realistic CT, RF, DX and MG mix.

Each study is built as an extraction fragment and folded by the real
``service.ingest.merge.merge``, so it carries the same ``reports``, accumulated blocks
and ``summary`` that imported studies do. Dates spread evenly over the last
``years`` years; a few stations per modality, with their own models and protocols.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from service.ingest.merge import merge

#: (modality, share of studies, events per study, stations, protocols)
MIX: tuple[tuple[str, float, tuple[int, int], tuple[str, ...], tuple[str, ...]], ...] = (
    ("CT", 0.40, (2, 8), ("CT1", "CT2", "CT3", "CTSIM"), ("Head", "Chest", "Abdomen Pelvis", "CTA Neck")),
    ("RF", 0.15, (3, 12), ("FLUORO1", "CATHLAB2", "THEATRE3"), ("Barium swallow", "PCI", "ERCP")),
    ("DX", 0.35, (1, 4), ("XR1", "XR2", "XR3", "ED-XR"), ("Chest PA", "Knee", "Hip", "Lumbar spine")),
    ("MG", 0.10, (4, 4), ("MAMMO1", "MAMMO2"), ("Screening", "Diagnostic")),
)
XRAY_DOSE_SR = "1.2.840.10008.5.1.4.1.1.88.67"
LEFT = {"code_value": "7771000", "coding_scheme_designator": "SCT", "code_meaning": "Left"}
RIGHT = {"code_value": "24028007", "coding_scheme_designator": "SCT", "code_meaning": "Right"}
VIEWS = (
    {"code_value": "399162004", "coding_scheme_designator": "SCT", "code_meaning": "cranio-caudal"},
    {"code_value": "399368009", "coding_scheme_designator": "SCT", "code_meaning": "medio-lateral oblique"},
)


def _ct_events(rng: random.Random, uid: str, start: datetime, count: int, protocols: tuple[str, ...]) -> dict:
    events = []
    for n in range(count):
        ctdi = round(rng.uniform(2, 60), 2)
        events.append(
            {
                "irradiation_event_uid": f"{uid}.{n}",
                "date_time_started": start + timedelta(minutes=n),
                "acquisition_protocol": rng.choice(protocols),
                "mean_ctdivol": ctdi,
                "dlp": round(ctdi * rng.uniform(5, 40), 2),
                "scanning_length": round(rng.uniform(100, 600), 1),
                "pitch_factor": 0.984,
                "exposure_time": round(rng.uniform(1, 15), 2),
                "sources": [{"identification_of_the_xray_source": "A", "kvp": 120.0, "xray_tube_current": 200.0}],
            }
        )
    return {"ct": {"events": events}}


def _xray_events(
    rng: random.Random, uid: str, start: datetime, count: int, protocols: tuple[str, ...], mammo: bool
) -> dict:
    events = []
    for n in range(count):
        event: dict[str, Any] = {
            "irradiation_event_uid": f"{uid}.{n}",
            "date_time_started": start + timedelta(seconds=30 * n),
            "acquisition_protocol": rng.choice(protocols),
            "dose_area_product": round(rng.uniform(1e-6, 5e-4), 9),
            "dose_rp": round(rng.uniform(1e-5, 5e-3), 7),
            "kvp": round(rng.uniform(60, 110), 1),
        }
        if mammo:
            event.update(laterality=LEFT if n % 2 else RIGHT, average_glandular_dose=round(rng.uniform(0.8, 2.5), 3))
        # derived without drawing from rng, so the rest of the data stays as it was
        if mammo:
            event.update(image_view=VIEWS[n // 2 % 2], compression_thickness=float(30 + (n * 17 + len(uid)) % 45))
        else:
            event["irradiation_duration"] = round(event["dose_area_product"] * 2e5, 1)
        events.append(event)
    planes = [{"total_fluoro_time": round(rng.uniform(10, 900), 1)}] if not mammo else []
    return {"projection": {"accumulated": planes, "events": events}}


def synthetic_study(i: int, rng: random.Random, *, now: datetime, years: float = 3.0) -> dict[str, Any]:
    """Return study document number ``i`` of a synthetic collection."""
    modality, _share, (fewest, most), stations, protocols = rng.choices(MIX, weights=[m[1] for m in MIX])[0]
    uid = f"1.2.826.0.1.3680043.10.999.{i}"
    start = (now - timedelta(days=rng.uniform(0, 365 * years))).replace(microsecond=0)
    station = rng.choice(stations)
    count = rng.randint(fewest, most)
    section = (
        _ct_events(rng, uid, start, count, protocols)
        if modality == "CT"
        else _xray_events(rng, uid, start, count, protocols, mammo=modality == "MG")
    )
    fragment = {
        "study_instance_uid": uid,
        "modalities": [modality],
        "study_date_time": start,
        "accession_number": f"ACC{i:08d}",
        "study_description": f"{rng.choice(protocols)} study",
        "patient": {"age_years": round(rng.uniform(1, 95), 1), "sex": rng.choice("FM"), "weight_kg": None},
        "equipment": {"manufacturer": "Synthetic", "manufacturer_model_name": f"{station} 9", "station_name": station},
        **section,
        "report": {
            "sop_instance_uid": f"{uid}.100",
            "sop_class_uid": XRAY_DOSE_SR,
            "kind": "rdsr",
            "sha256": f"{i:064x}",
            "received_at": now,
            "via": "cli",
        },
    }
    return merge(None, fragment, now=now).document


def synthetic_studies(count: int, *, seed: int = 5, now: datetime | None = None) -> list[dict[str, Any]]:
    """Return ``count`` synthetic study documents (reproducible for a seed)."""
    rng = random.Random(seed)
    when = now or datetime.now().replace(microsecond=0)
    return [synthetic_study(i, rng, now=when) for i in range(count)]
