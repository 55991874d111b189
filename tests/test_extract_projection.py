"""Projection x-ray dose reports (TID 10001): corpus values, modality, units and vendor quirks.

OpenREM's keys map onto our fields through ``tests.expectations.RULES`` (the one
mapping, shared with the CT tests); below are only the keys whose value differs
by design, and those about OpenREM-only features.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from schemas.study import validate_study
from service.errors import InvalidDoseReport
from service.extract import extract
from service.ingest.document import stamp, study_document
from tests.expectations import NEVER_STORED, check
from tests.srbuild import code_item, container, num_item, projection_report, sr_dataset, uid_item

PROJECTION_FILES = {  # file -> modality decided from its content
    "DX-RDSR-Canon_CXDI.dcm": "DX",
    "Dual-RDSR-DX.dcm": "DX",
    "Dual-RDSR-RF.dcm": "RF",
    "MG-RDSR-GEPristina-2D.dcm": "MG",
    "MG-RDSR-Hologic_2D.dcm": "MG",
    "RF-ESR-Siemens-Varic.dcm": "RF",
    "RF-No-kVp-and-others.dcm": "RF",
    "RF-RDSR-GE.dcm": "RF",
    "RF-RDSR-Philips_Allura.dcm": "RF",
    "RF-RDSR-Siemens-Zee.dcm": "RF",
    "RF-RDSR-Siemens-Zee_adjusted.dcm": "RF",
}

HOLOGIC = "MG-RDSR-Hologic_2D.dcm"
ZEE = "RF-RDSR-Siemens-Zee.dcm"

#: Where our document deliberately differs from what OpenREM asserts, and why.
DIFFERS: dict[tuple[str, str], Any] = {
    # Hologic codes "X-Ray Detector Data Available" as (113745, DCM), which is Patient Table
    # Relationship; we match concepts by code, OpenREM by meaning, so it is not that field here.
    (HOLOGIC, "projectionxrayradiationdose.xray_detector_data_available.code_meaning"): None,
    # Hologic sends X-Ray Tube Current (113734), not Average X-Ray Tube Current (113767);
    # OpenREM copies one into the other, we keep what was sent (checked in test_hologic_tube_current).
    **{
        (
            HOLOGIC,
            f"projectionxrayradiationdose.irradeventxraydata[{i}].irradeventxraysourcedata.average_xray_tube_current",
        ): None
        for i in (0, 1)
    },
    # Derived from Siemens' comment, we store SNOMED CT codes; OpenREM the SNOMED RT ones
    # (F-10470 headfirst, F-10450 recumbent), which pydicom maps to these.
    (
        ZEE,
        "projectionxrayradiationdose.irradeventxraydata[0].patient_table_relationship_cid.code_value",
    ): "102540008",
    (
        ZEE,
        "projectionxrayradiationdose.irradeventxraydata[0].patient_orientation_cid.code_value",
    ): "102538003",
}

#: OpenREM-only features: equipment display names and counts of its database rows.
NOT_APPLICABLE = re.compile(r"^(studies\.count|generalequipmentmoduleattr\.unique_equipment_name\.display_name)$")

NOW = datetime(2026, 1, 1)


def document(fragment: dict[str, Any], existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """Merge a fragment as ingest does, and validate the result against the study schema."""
    fragment = stamp(fragment, sha256=fragment["report"]["sop_instance_uid"], received_at=NOW, via="cli")
    doc = study_document(existing, fragment, now=NOW).document
    validate_study(doc)
    return doc


def corpus_document(corpus: Path, name: str) -> dict[str, Any]:
    return document(extract(pydicom.dcmread(corpus / name)))


@pytest.mark.parametrize("name", sorted(PROJECTION_FILES))
def test_corpus_values(corpus: Path, expected: dict[str, Any], name: str) -> None:
    doc = corpus_document(corpus, name)
    entry = expected[name]
    failures = []
    for key, value in entry["expect"].items():
        if NEVER_STORED.match(key) or NOT_APPLICABLE.match(key):
            continue
        failure = check(doc, key, DIFFERS.get((name, key), value), entry.get("almost_equal_places", {}).get(key))
        if failure:
            failures.append(failure)
    assert not failures, failures


@pytest.mark.parametrize(("name", "modality"), sorted(PROJECTION_FILES.items()))
def test_modality_events_and_summary(corpus: Path, name: str, modality: str) -> None:
    doc = corpus_document(corpus, name)
    assert doc["modalities"] == [modality]
    events = doc["projection"]["events"]
    assert doc["summary"]["number_of_events"] == len(events)
    assert len({e["irradiation_event_uid"] for e in events}) == len(events)
    planes = doc["projection"]["accumulated"]
    assert planes and all("acquisition_plane" in p or name == "RF-ESR-Siemens-Varic.dcm" for p in planes)
    if modality != "MG":
        assert doc["summary"]["total_dap"] == pytest.approx(sum(p["dose_area_product_total"] for p in planes))


def test_siemens_zee_totals(corpus: Path) -> None:
    doc = corpus_document(corpus, ZEE)
    assert len(doc["projection"]["events"]) == 8
    assert doc["summary"]["total_dap"] == 1.6e-05
    assert doc["summary"]["total_rp_dose"] == 0.00252
    assert doc["summary"]["total_fluoro_time"] == 28
    event = doc["projection"]["events"][0]
    assert (event["kvp"], event["pulse_width"], event["exposure"], event["number_of_pulses"]) == (
        77,
        4.2,
        9586,
        24,
    )


def test_rf_totals_per_irradiation_type(corpus: Path, scenarios: dict[str, Any]) -> None:
    """The rf_detail_summary_totals scenario: fluoroscopy and acquisition totals of Philips Allura."""
    rows = {
        r[0]: r[1:]
        for r in scenarios["rf_detail_summary_totals"]["steps"][0]["expect"]["Philips Allura (2016-03-15) study_totals"]
    }
    plane = corpus_document(corpus, "RF-RDSR-Philips_Allura.dcm")["projection"]["accumulated"][0]
    for label, prefix, time in (
        ("Fluoroscopy", "fluoro", "total_fluoro_time"),
        ("Acquisition", "acquisition", "total_acquisition_time"),
    ):
        dap_cgy_cm2, rp_dose, seconds = rows[label]
        assert plane[f"{prefix}_dose_area_product_total"] * 1e6 == pytest.approx(dap_cgy_cm2)
        assert plane[f"{prefix}_dose_rp_total"] == pytest.approx(rp_dose)
        assert plane[time] == seconds


def test_hologic_tube_current(corpus: Path) -> None:
    events = corpus_document(corpus, HOLOGIC)["projection"]["events"]
    assert [e["xray_tube_current"] for e in events] == [100, 100]
    assert all("average_xray_tube_current" not in e for e in events)


def test_pristina_per_pulse_values_and_agd_per_breast(corpus: Path) -> None:
    doc = corpus_document(corpus, "MG-RDSR-GEPristina-2D.dcm")
    event = doc["projection"]["events"][0]
    assert event["kvp_per_pulse"] == [34.1, 33.99] and event["kvp"] == pytest.approx(34.045)
    assert event["xray_tube_current_per_pulse"] == [2, 30.48]
    assert event["pulse_width_per_pulse"] == [51.44, 558.06] and event["pulse_width"] == pytest.approx(304.75)
    assert len(event["xray_filters"]) == 2
    assert doc["summary"]["total_agd_left"] == 0
    assert doc["summary"]["total_agd_right"] == 9.68


def test_siemens_summary_report(corpus: Path) -> None:
    doc = corpus_document(corpus, "RF-ESR-Siemens-Varic.dcm")
    assert doc["projection"]["accumulated"] == [
        {"total_number_of_exposures": 0, "total_fluoro_time": 34.427, "dose_area_product_total": 2.359e-05}
    ]
    assert doc["summary"]["total_dap"] == 2.359e-05 and doc["summary"]["number_of_events"] == 0
    assert doc["reports"][0]["kind"] == "esr"


def test_dual_rdsrs_of_one_unit_get_their_modality_from_content(corpus: Path, scenarios: dict[str, Any]) -> None:
    step = scenarios["dual_modality_equipment"]["steps"][0]
    docs = [corpus_document(corpus, name) for name in step["import"]]
    assert [d["modalities"] for d in docs] == [
        [step["expect"]["study[0].modality_type"]],
        [step["expect"]["study[1].modality_type"]],
    ]
    assert docs[0]["equipment"] == docs[1]["equipment"]  # one physical unit


# --- units ------------------------------------------------------------------------------------


def _scenario_cases(scenarios: dict[str, Any]) -> list[tuple[str, float, str | None, float]]:
    step = scenarios["dose_unit_normalisation"]["steps"][0]["expect"]
    cases = []
    for text, stored in step.items():
        kind, value, unit = re.match(r"^(DAP|RP dose) (\S+) (\S+)", text).groups()  # type: ignore[union-attr]
        cases.append((kind, float(value), None if unit == "(no" else unit, stored))
    return cases


def test_dose_units_are_normalised(scenarios: dict[str, Any]) -> None:
    """The dose_unit_normalisation scenario (Canon Ultimax-i writes dGy·cm² and mGy)."""
    cases = _scenario_cases(scenarios)
    assert len(cases) == 6
    for kind, value, unit, stored in cases:
        concept, field = ("122130", "dose_area_product") if kind == "DAP" else ("113738", "dose_rp")
        item = num_item(concept, repr(value), unit or "")
        if unit is None:
            del item.MeasuredValueSequence[0].MeasurementUnitsCodeSequence
        fragment = extract(projection_report(item))
        assert fragment["projection"]["events"][0][field] == pytest.approx(stored, rel=1e-12), (
            kind,
            value,
            unit,
        )


def test_dgy_cm2_report_stores_gy_m2_and_keeps_the_unit_only_in_the_notes() -> None:
    fragment = extract(
        projection_report(
            num_item("122130", "1.034", "dGy.cm2"),
            num_item("113738", "1.034", "mGy"),
            accumulated=(num_item("113722", "1.034", "dGy.cm2"),),
        )
    )
    notes = fragment["report"]["notes"]
    doc = document(fragment)
    assert doc["projection"]["events"][0]["dose_area_product"] == 1.034e-05
    assert doc["projection"]["events"][0]["dose_rp"] == 0.001034
    assert doc["summary"]["total_dap"] == 1.034e-05
    assert "dGy" not in json.dumps(doc, default=str)
    assert any("1.034 dGy.cm2" in n for n in notes) and any("1.034 mGy" in n for n in notes)


def test_dap_in_a_unit_of_another_dimension_is_left_out_and_noted() -> None:
    fragment = extract(projection_report(num_item("122130", "2.5", "mGy")))
    assert "dose_area_product" not in fragment["projection"]["events"][0]
    assert any("cannot be converted" in n for n in fragment["report"]["notes"])


# --- modality from content --------------------------------------------------------------------

FLUOROSCOPY = ("P5-06000", "SRT", "Fluoroscopy")
ROTATIONAL = ("113613", "DCM", "Rotational Acquisition")
PLANE_A = ("113620", "DCM", "Plane A")
MAMMOGRAPHY = ("P5-40010", "SRT", "Mammography")


def device_type(code: str) -> Dataset:
    return code_item("122142", (code, "DCM", "device type"), "CONTAINS")


@pytest.mark.parametrize(
    ("options", "root", "modality"),
    [
        ({}, (), "DX"),
        ({"procedure": MAMMOGRAPHY}, (), "MG"),
        ({"procedure": MAMMOGRAPHY, "event_type": FLUOROSCOPY}, (), "MG"),
        ({"event_type": FLUOROSCOPY}, (), "RF"),
        ({"event_type": ROTATIONAL}, (), "RF"),
        ({"plane": PLANE_A}, (), "RF"),
        ({"accumulated": (num_item("113730", "4", "s"),)}, (), "RF"),
        ({"accumulated": (num_item("113730", "0", "s"),)}, (), "DX"),
        ({}, (device_type("113957"),), "RF"),  # Fluoroscopy-Guided Projection Radiography System
        ({"event_type": FLUOROSCOPY}, (device_type("113958"),), "DX"),  # the report's own word wins
    ],
)
def test_modality_from_content(options: dict[str, Any], root: tuple[Dataset, ...], modality: str) -> None:
    ds = projection_report(**options)
    ds.ContentSequence = DicomSequence([*ds.ContentSequence, *root])
    assert extract(ds)["modalities"] == [modality]


def test_biplane_report_has_one_accumulated_entry_per_plane() -> None:
    planes = [("113620", "DCM", "Plane A"), ("113621", "DCM", "Plane B")]
    accumulated = [
        container(
            "113702",
            code_item("113764", plane),
            num_item("113722", dap, "Gy.m2"),
            num_item("113725", rp, "Gy"),
        )
        for plane, dap, rp in zip(planes, ("2e-4", "1e-4"), ("0.2", "0.1"), strict=True)
    ]
    events = [
        container(
            "113706",
            code_item("113764", plane),
            uid_item("113769", f"1.2.3.{i}"),
            code_item("113721", FLUOROSCOPY, "CONTAINS"),
            num_item("122130", "5e-5", "Gy.m2"),
        )
        for i, plane in enumerate(planes)
    ]
    doc = document(extract(sr_dataset([*accumulated, *events])))
    assert [p["acquisition_plane"]["code_meaning"] for p in doc["projection"]["accumulated"]] == [
        "Plane A",
        "Plane B",
    ]
    assert doc["summary"]["total_dap"] == pytest.approx(3e-4)
    assert doc["summary"]["total_rp_dose"] == pytest.approx(0.3)
    assert doc["modalities"] == ["RF"] and doc["summary"]["number_of_events"] == 2


def test_xray_dose_report_without_dose_containers_is_rejected_naming_them() -> None:
    ds = sr_dataset([code_item("121058", ("113704", "DCM", "Projection X-Ray"))])
    with pytest.raises(InvalidDoseReport, match=r"projection \(113702, 113706\)"):
        extract(ds)
