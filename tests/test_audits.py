"""Each audit against hand-built studies whose statistics are known, and against the corpus."""

from __future__ import annotations

import statistics
from datetime import datetime
from pathlib import Path
from typing import Any

import pydicom
import pytest

from schemas.audits import parse_reference_levels
from service.audits.run import run_audit
from service.errors import InvalidArgument, NotFound
from service.extract import extract
from service.ingest.document import save_fragment, stamp
from service.storage import Store
from tests import auditdata as data
from tests.auditdata import NOW

LEVELS = {"fluoroscopy": {"modalities": ["RF"], "levels": {"total_dap": 2.0, "total_rp_dose": 2.0}}}
HEAD = {"modality": "CT", "field": "acquisition_protocol"}


def expected(values: list[float]) -> dict[str, float]:
    """Return the statistics an audit must give for ``values`` (quartiles interpolated between ranks)."""
    p25, median, p75 = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
    return {
        "count": len(values), "mean": statistics.fmean(values), "p25": p25, "median": median, "p75": p75,
        "min": min(values), "max": max(values),
    }  # fmt: skip


def run(store: Store, name: str, **args: str) -> list[dict[str, Any]]:
    return run_audit(store, name, args, alert_levels=LEVELS).rows


def stats(row: dict[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in ("count", "mean", "p25", "median", "p75", "min", "max")}


def by(rows: list[dict[str, Any]], *keys: str) -> dict[Any, dict[str, Any]]:
    return {tuple(row[k] for k in keys) if len(keys) > 1 else row[keys[0]]: row for row in rows}


@pytest.fixture
def ct_store(store: Store) -> Store:
    return data.seed_ct(store)


def test_ct_dlp_per_protocol_and_station(ct_store: Store) -> None:
    rows = by(run(ct_store, "ct_dlp_by_protocol"), "name", "station")
    assert list(rows) == [("CHEST", "CT-SOUTH"), ("HEAD ROUTINE", "CT-NORTH"), ("Routine Head", "CT-SOUTH")]
    assert stats(rows["HEAD ROUTINE", "CT-NORTH"]) == pytest.approx(expected([10, 20, 30, 40]))
    assert rows["HEAD ROUTINE", "CT-NORTH"]["median"] == 25 and rows["HEAD ROUTINE", "CT-NORTH"]["p25"] == 17.5
    assert stats(rows["Routine Head", "CT-SOUTH"]) == pytest.approx(expected([50, 70]))
    assert stats(rows["CHEST", "CT-SOUTH"]) == pytest.approx(expected([200]))


def test_ct_ctdivol_per_protocol_and_per_study_description(ct_store: Store) -> None:
    protocols = by(run(ct_store, "ct_ctdivol_by_protocol", per_station="no"), "name")
    assert stats(protocols["HEAD ROUTINE"]) == pytest.approx(expected([1, 2, 3, 4]))
    descriptions = by(run(ct_store, "ct_ctdivol_by_study_description", per_station="no"), "name")
    assert stats(descriptions["CT HEAD"]) == pytest.approx(expected([1, 2, 3, 4]))
    assert stats(descriptions["Head CT"]) == pytest.approx(expected([5, 7]))


def test_ct_total_dlp_per_study_description_counts_studies(ct_store: Store) -> None:
    rows = by(run(ct_store, "ct_dlp_by_study_description", per_station="no"), "name")
    assert stats(rows["CT HEAD"]) == pytest.approx(expected([30, 70]))  # two studies' totals
    assert rows["Head CT"]["count"] == 1 and rows["Head CT"]["median"] == 120


def test_standard_names_group_raw_names_together(ct_store: Store) -> None:
    for raw in ("HEAD ROUTINE", "Routine Head"):
        ct_store.set_standard_name({**HEAD, "raw": raw, "standard": "Head"})
    ct_store.set_standard_name({"modality": "DX", "field": "acquisition_protocol", "raw": "CHEST", "standard": "X"})
    rows = by(run(ct_store, "ct_dlp_by_protocol", names="standard", per_station="no"), "name")
    assert set(rows) == {"Head", "CHEST"}  # unmapped names stay as sent; other modalities' mappings don't apply
    assert stats(rows["Head"]) == pytest.approx(expected([10, 20, 30, 40, 50, 70]))
    assert rows["Head"]["median"] == 35 and rows["Head"]["p75"] == 47.5
    assert rows["Head"]["raw_names"] == ["HEAD ROUTINE", "Routine Head"]
    per_station = by(run(ct_store, "ct_dlp_by_protocol", names="standard"), "name", "station")
    assert stats(per_station["Head", "CT-SOUTH"]) == pytest.approx(expected([50, 70]))


def test_reference_levels_flag_medians_above_them(ct_store: Store) -> None:
    ct_store.set_standard_name({**HEAD, "raw": "HEAD ROUTINE", "standard": "Head"})
    ct_store.set_standard_name({**HEAD, "raw": "Routine Head", "standard": "Head"})
    table = "name,quantity,value,unit\nHead,dlp,30,mGy.cm\nCHEST,dlp,0.5,Gy.cm\nHead,ctdivol,60,mGy\n"
    ct_store.replace_reference_levels(parse_reference_levels(table.encode(), kind="csv"))
    rows = by(run(ct_store, "ct_dlp_by_protocol", names="standard", per_station="no"), "name")
    assert (rows["Head"]["reference_level"], rows["Head"]["above_reference"]) == (30, True)
    assert (rows["CHEST"]["reference_level"], rows["CHEST"]["above_reference"]) == (500, False)  # 0.5 Gy·cm
    ctdi = by(run(ct_store, "ct_ctdivol_by_protocol", names="standard", per_station="no"), "name")
    assert (ctdi["Head"]["reference_level"], ctdi["Head"]["above_reference"]) == (60, False)
    assert (ctdi["CHEST"]["reference_level"], ctdi["CHEST"]["above_reference"]) == (None, None)


def test_monthly_trend_and_list_filters(ct_store: Store) -> None:
    rows = run(ct_store, "ct_dlp_by_protocol", per_station="no", interval="month")
    assert [(r["name"], r["month"], r["count"]) for r in rows] == [
        ("CHEST", "2025-02", 1), ("HEAD ROUTINE", "2025-01", 4), ("Routine Head", "2025-02", 2),
    ]  # fmt: skip
    february = run(ct_store, "ct_dlp_by_protocol", date_from="2025-02-01", date_to="2025-02-03")
    assert [(r["name"], r["count"]) for r in february] == [("Routine Head", 2)]  # date_to is inclusive
    south = run(ct_store, "ct_dlp_by_protocol", station_name="south")
    assert {r["station"] for r in south} == {"CT-SOUTH"}


def test_workload_counts_studies_per_weekday_and_hour(ct_store: Store) -> None:
    rows = run(ct_store, "workload", modality="CT")
    assert [(r["weekday"], r["hour"], r["count"]) for r in rows] == [(1, 9, 2), (2, 10, 1), (2, 14, 1)]


def test_fluoroscopy_audits_and_high_dose_alerts(store: Store) -> None:
    for fragment in (
        data.fluoro(0.001, 0.1, 60.0, ["Cardiac", "Cardiac"], when=datetime(2025, 3, 1), description="ANGIO"),
        data.fluoro(0.003, 0.3, 120.0, ["Cardiac"], when=datetime(2025, 3, 2), description="ANGIO"),
        data.fluoro(2.5, 1.0, 600.0, ["Cardiac"], when=datetime(2025, 3, 3), description="ANGIO"),
        data.fluoro(0.01, 2.5, 900.0, ["Abdomen"], when=datetime(2025, 3, 4), description="TIPS"),
    ):  # fmt: skip
        save_fragment(store, fragment, now=NOW)
    dap = by(run(store, "rf_dap_by_study_description", per_station="no"), "name")
    assert stats(dap["ANGIO"]) == pytest.approx(expected([1000, 3000, 2_500_000]))  # cGy·cm²
    rp = by(run(store, "rf_rp_dose_by_study_description", per_station="no"), "name")
    assert stats(rp["ANGIO"]) == pytest.approx(expected([0.1, 0.3, 1.0]))
    time = by(run(store, "rf_fluoro_time_by_study_description", per_station="no"), "name")
    assert stats(time["TIPS"]) == pytest.approx(expected([900]))
    events = by(run(store, "rf_dap_by_protocol", per_station="no"), "name")
    assert stats(events["Cardiac"]) == pytest.approx(expected([500, 500, 3000, 2_500_000]))
    assert by(run(store, "rf_rp_dose_by_protocol", per_station="no"), "name")["Abdomen"]["median"] == 2.5
    assert by(run(store, "rf_fluoro_time_by_protocol", per_station="no"), "name")["Cardiac"]["max"] == 600
    alerts = run(store, "high_dose_alerts")
    assert [(a["study_description"], a["total_dap"], a["total_rp_dose"]) for a in alerts] == [
        ("TIPS", 0.01, 2.5), ("ANGIO", 2.5, 1.0),
    ]  # fmt: skip
    assert run_audit(store, "high_dose_alerts", {}, alert_levels={}).rows == []


def test_radiography_mammography_and_nuclear_medicine(store: Store) -> None:
    for fragment in (
        data.radiography([("CHEST PA", 1e-5), ("CHEST LAT", 4e-5)], when=datetime(2025, 4, 1)),
        data.radiography([("CHEST PA", 3e-5)], when=datetime(2025, 4, 2)),
        data.mammography([("cranio-caudal", 45, 1.2), ("cranio-caudal", 48, 1.6), ("medio-lateral oblique", 52, 1.5)],
                         when=datetime(2025, 4, 3)),
        data.nuclear("Fluorodeoxyglucose", 350.0, when=datetime(2025, 4, 4)),
        data.nuclear("Fluorodeoxyglucose", 250.0, when=datetime(2025, 4, 5)),
    ):  # fmt: skip
        save_fragment(store, fragment, now=NOW)
    dx = by(run(store, "dx_dap_by_protocol", per_station="no"), "name")
    assert stats(dx["CHEST PA"]) == pytest.approx(expected([10, 30]))  # cGy·cm²
    mg = by(run(store, "mg_agd_by_thickness", per_station="no"), "name", "band")
    assert list(mg) == [("cranio-caudal", 40), ("medio-lateral oblique", 50)]
    assert stats(mg["cranio-caudal", 40]) == pytest.approx(expected([1.2, 1.6]))
    nm = by(run(store, "nm_activity_by_agent", per_station="no"), "name")
    assert stats(nm["Fluorodeoxyglucose"]) == pytest.approx(expected([250, 350]))  # MBq


def test_unknown_audit_and_bad_arguments(store: Store) -> None:
    with pytest.raises(NotFound, match="no audit called 'nope'"):
        run(store, "nope")
    with pytest.raises(InvalidArgument) as raised:
        run(store, "ct_dlp_by_protocol", names="bogus", date_from="yesterday", colour="red")
    assert set(raised.value.errors) == {"names", "date_from", "colour"}
    with pytest.raises(InvalidArgument) as raised:
        run(store, "workload", names="standard")  # workload has no names parameter
    assert set(raised.value.errors) == {"names"}


def test_corpus_ct_dlp_per_protocol(store: Store, corpus: Path) -> None:
    """Siemens Multi-1..3 (one cumulative study) count each event once; two more scanners add theirs."""
    for name in data.CORPUS_CT:
        fragment = extract(pydicom.dcmread(corpus / name), not_patient_patterns=())
        fragment = stamp(fragment, sha256=name, received_at=NOW, via="cli")
        save_fragment(store, fragment, now=NOW)
    values: dict[tuple[str, str], list[float]] = {}
    for study in store.db.studies.find():
        for event in study["ct"]["events"]:
            if isinstance(event.get("dlp"), float):
                key = (event.get("acquisition_protocol"), study["equipment"].get("station_name"))
                values.setdefault(key, []).append(event["dlp"])
    rows = by(run(store, "ct_dlp_by_protocol"), "name", "station")
    assert set(rows) == set(values) and len(rows) > 3
    for key, dlps in values.items():
        assert stats(rows[key]) == pytest.approx(expected(dlps))
    assert sum(r["count"] for r in rows.values()) == sum(len(v) for v in values.values())


def _summary(field: str, factor: float = 1.0) -> Any:
    return lambda study: [(study.get("study_description"), study["summary"][field] * factor)]


def _events(section: str, array: str, name: Any, field: str) -> Any:
    return lambda study: [(name(e), e[field]) for e in study.get(section, {}).get(array, []) if field in e]


@pytest.mark.parametrize(
    ("audit", "files", "values"),
    [
        ("rf_dap_by_study_description", ["RF-RDSR-Siemens-Zee.dcm", "RF-RDSR-GE.dcm", "RF-RDSR-Philips_Allura.dcm"],
         _summary("total_dap", 1_000_000)),
        ("rf_rp_dose_by_protocol", ["RF-RDSR-Siemens-Zee.dcm", "RF-RDSR-GE.dcm"],
         _events("projection", "events", lambda e: e.get("acquisition_protocol"), "dose_rp")),
        ("mg_agd_by_thickness", ["MG-RDSR-Hologic_2D.dcm"],
         _events("projection", "events", lambda e: (e.get("image_view") or {}).get("code_meaning"),
                 "average_glandular_dose")),
        ("nm_activity_by_agent", ["NM-RRDSR-Siemens.dcm"],
         _events("radiopharmaceutical", "administrations",
                 lambda e: e["radiopharmaceutical_agent"]["code_meaning"], "administered_activity")),
    ],
)  # fmt: skip
def test_corpus_samples_per_modality(store: Store, corpus: Path, audit: str, files: list[str], values: Any) -> None:
    """Each modality's audit over its corpus reports gives the statistics of the stored values."""
    for name in files:
        fragment = extract(pydicom.dcmread(corpus / name), not_patient_patterns=())
        fragment = stamp(fragment, sha256=name, received_at=NOW, via="cli")
        save_fragment(store, fragment, now=NOW)
    groups: dict[Any, list[float]] = {}
    for study in store.db.studies.find():
        for key, value in values(study):
            if isinstance(value, float | int):
                groups.setdefault(key, []).append(value)
    rows = run(store, audit, per_station="no")
    assert groups and sum(r["count"] for r in rows) == sum(len(v) for v in groups.values())
    if audit != "mg_agd_by_thickness":  # grouped by thickness band too
        assert {r["name"]: stats(r) for r in rows} == {k: pytest.approx(expected(v)) for k, v in groups.items()}
