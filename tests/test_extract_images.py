"""Dose from image headers: MG, DX/CR, NM/PET and Philips CT dose-info images."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from schemas.study import validate_study
from service.errors import NotADoseObject
from service.extract import extract
from service.ingest.document import stamp, study_document
from tests.expectations import NEVER_STORED, check
from tests.samples import image

IMAGE_FILES = [
    "CT-SC-Philips_Brilliance16P.dcm",
    "DX-Im-Carestream_DR7500-1.dcm",
    "DX-Im-Carestream_DR7500-2.dcm",
    "DX-Im-Date-Missing.dcm",
    "DX-Im-GE_XR220-1.dcm",
    "DX-Im-GE_XR220-2.dcm",
    "DX-Im-GE_XR220-3.dcm",
    "MG-Im-GE-SenDS-scaled.dcm",
    "MG-Im-GE_Seno_1_ForPresentation.dcm",
    "MG-Im-GE_Seno_1_ForProcessing.dcm",
    "NM-NmIm-Siemens.dcm",
    "NM-PetIm-GE.dcm",
    "NM-PetIm-Siemens.dcm",
]
GRID_KEY = (
    "projectionxrayradiationdose.irradeventxraydata.irradeventxraysourcedata.xraygrid[*]"
    ".xray_grid.code_meaning (contains all)"
)
NOW = datetime(2026, 1, 1)

#: OpenREM names of image values where ours differ: an image's X-Ray Tube Current is not the
#: template's Average X-Ray Tube Current; the other two have no template concept, so they take
#: the DICOM attribute's keyword.
IMAGE_RENAMED = {
    "average_xray_tube_current": "xray_tube_current",
    "magnification_factor": "estimated_radiographic_magnification_factor",
    "distance_source_to_entrance_surface": "distance_source_to_entrance",
}


def fragment_of(source: Path | Dataset, sha256: str = "0" * 64) -> dict[str, Any]:
    """Extract one object as ingest would, with the report fields ingest adds."""
    fragment = extract(pydicom.dcmread(source) if isinstance(source, Path) else source)
    fragment = stamp(fragment, sha256=sha256, received_at=NOW, via="cli")
    return fragment


def fold(fragments: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Merge fragments in order into one document per study; return the documents and outcomes."""
    docs: dict[str, dict[str, Any]] = {}
    outcomes = []
    for fragment in fragments:
        result = study_document(docs.get(fragment["study_instance_uid"]), fragment, now=NOW)
        docs[fragment["study_instance_uid"]] = result.document
        outcomes.append(result.outcome)
    return docs, outcomes


def fold_files(corpus: Path, names: list[str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Merge corpus files in order (each file's bytes are told apart by its name)."""
    return fold([fragment_of(corpus / name, sha256=name) for name in names])


def only_study(corpus: Path, names: list[str]) -> dict[str, Any]:
    """Merge corpus files of one study in order; return its document."""
    (doc,) = fold_files(corpus, names)[0].values()
    return doc


@pytest.mark.parametrize("name", IMAGE_FILES)
def test_corpus_values(corpus: Path, expected: dict[str, Any], name: str) -> None:
    doc = only_study(corpus, [name])
    entry = expected[name]
    failures = []
    for key, value in entry["expect"].items():
        if NEVER_STORED.match(key) or key == "studies.count":
            continue  # identity is never stored; counts of studies need a database (tests of ingest)
        if key == GRID_KEY:
            grids = {g["code_meaning"] for g in doc["projection"]["events"][0]["xray_grid"]}
            failures += [] if set(value) <= grids else [f"{key}: {sorted(grids)}"]
            continue
        ours = re.sub(r"\w+$", lambda m: IMAGE_RENAMED.get(m.group(0), m.group(0)), key)
        failure = check(doc, ours, value, entry.get("almost_equal_places", {}).get(key))
        failures += [failure] if failure else []
    assert not failures, "\n".join(failures)
    assert doc["reports"][0]["kind"] == "image"
    validate_study(doc)


@pytest.mark.parametrize(
    ("name", "section", "modalities"),
    [
        ("DX-Im-Date-Missing.dcm", "projection", ["DX"]),
        ("MG-Im-GE_Seno_1_ForProcessing.dcm", "projection", ["MG"]),
        ("NM-NmIm-Siemens.dcm", "radiopharmaceutical", ["NM"]),
        ("NM-PetIm-GE.dcm", "radiopharmaceutical", ["NM"]),
        ("CT-SC-Philips_Brilliance16P.dcm", "ct", ["CT"]),
    ],
)
def test_images_are_detected_by_sop_class(corpus: Path, name: str, section: str, modalities: list[str]) -> None:
    fragment = fragment_of(corpus / name)
    assert fragment["modalities"] == modalities and section in fragment
    assert fragment["report"]["kind"] == "image"


def test_image_event_is_identified_by_its_sop_instance_uid(corpus: Path) -> None:
    ds = pydicom.dcmread(corpus / "DX-Im-GE_XR220-1.dcm")
    (event,) = extract(ds)["projection"]["events"]
    assert event["irradiation_event_uid"] == ds.SOPInstanceUID
    assert event["date_time_started"] == datetime(2014, 9, 30, 14, 11, 33)
    assert event["irradiation_event_type"]["code_value"] == "113611"  # Stationary Acquisition


def test_mammography_event_has_every_header_value(corpus: Path) -> None:
    (event,) = extract(pydicom.dcmread(corpus / "MG-Im-GE-SenDS-scaled.dcm"))["projection"]["events"]
    assert event["laterality"]["code_value"] == "7771000"  # Left
    assert event["image_view"]["code_meaning"] == "cranio-caudal"
    assert event["anode_target_material"]["code_meaning"] == "Rhodium or Rhodium compound"
    assert event["exposure_control_mode"] == "AUTOMATIC"
    assert event["radiological_thickness"] == 45  # GE private tag, export column "Radiological thickness"
    assert event["detector_id"] == "98765"


# --- scenarios (../shared/corpus/scenarios.json) ---------------------------------------

DX_SCENARIO = [
    "DX-Im-GE_XR220-1.dcm",
    "DX-Im-GE_XR220-2.dcm",
    "DX-Im-GE_XR220-3.dcm",
    "DX-Im-Carestream_DR7500-1.dcm",
    "DX-Im-Carestream_DR7500-2.dcm",
    "DX-Im-GE_XR220-2.dcm",
]


def test_dx_images_accumulate_in_one_study_per_uid(corpus: Path) -> None:
    """Scenario dx_images_two_studies."""
    docs, outcomes = fold_files(corpus, DX_SCENARIO)
    assert outcomes == ["created", "merged", "merged", "created", "merged", "duplicate"]
    ge = docs["1.3.6.1.4.1.5962.99.1.2282339064.1266597797.1479751121656.24.0"]
    kodak = docs["1.2.276.0.7230010.3.1.2.8323329.11564.1483691867.34530"]
    assert ge["study_date_time"] == datetime(2014, 9, 30, 14, 10, 24)
    assert ge["equipment"]["institution_address"] == "Kvitfjell"
    assert ge["equipment"]["software_versions"] == "dm_Platform_release_superbee-FW23.1-SB"
    assert ge["patient"]["age_years"] == 56.9
    assert [r["sop_instance_uid"] for r in ge["reports"]] == [
        "1.3.6.1.4.1.5962.99.1.2282339064.1266597797.1479751121656.20.0",
        "1.3.6.1.4.1.5962.99.1.2282339064.1266597797.1479751121656.26.0",
        "1.3.6.1.4.1.5962.99.1.2282339064.1266597797.1479751121656.28.0",
    ]
    assert ge["summary"]["number_of_events"] == 3
    assert ge["summary"]["total_dap"] == pytest.approx(3.28e-05, abs=1e-12)
    assert kodak["study_description"] == "AEC" and kodak["operators_name"] == "PHYSICS"
    assert kodak["equipment"]["device_serial_number"] == "00012345abc"
    assert kodak["summary"]["number_of_events"] == 2
    assert kodak["summary"]["total_dap"] == pytest.approx(2.117e-04, abs=1e-12)
    for doc in (ge, kodak):
        planes = {e["acquisition_plane"]["code_value"] for e in doc["projection"]["events"]}
        assert planes == {"113622"}  # number_of_planes 1
        for event in doc["projection"]["events"]:
            for entry in event.get("xray_filters", []):
                assert entry["xray_filter_thickness_maximum"] >= entry["xray_filter_thickness_minimum"]


MG_PAIR = ["MG-Im-GE_Seno_1_ForProcessing.dcm", "MG-Im-GE_Seno_1_ForPresentation.dcm"]


@pytest.mark.parametrize("order", [MG_PAIR, MG_PAIR[::-1]])
def test_mammography_pair_counts_one_exposure(corpus: Path, order: list[str]) -> None:
    """For Processing and For Presentation images of one exposure are one event (DESIGN.md)."""
    docs, outcomes = fold_files(corpus, order)
    (doc,) = docs.values()
    assert outcomes == ["created", "merged"]
    (event,) = doc["projection"]["events"]
    first, second = (pydicom.dcmread(corpus / name).SOPInstanceUID for name in order)
    assert event["irradiation_event_uid"] == first and event["also_in"] == [second]
    assert [r["sop_instance_uid"] for r in doc["reports"]] == [first, second]
    assert doc["summary"]["number_of_events"] == 1
    assert doc["summary"]["total_agd_left"] == pytest.approx(0.547)


@pytest.mark.parametrize(
    ("attributes", "started"),
    [
        ({"AcquisitionDateTime": "20240102103000.5"}, datetime(2024, 1, 2, 10, 30, 0, 500000)),
        ({"AcquisitionDate": "20240102", "AcquisitionTime": "103000"}, datetime(2024, 1, 2, 10, 30)),
        ({"StudyDate": "20240102", "AcquisitionTime": "1030"}, datetime(2024, 1, 2, 10, 30)),
        ({"AcquisitionDateTime": "20240102", "AcquisitionDate": "20240102"}, None),  # a day is no exposure time
    ],
)
def test_when_an_image_was_exposed(attributes: dict[str, str], started: datetime | None) -> None:
    (event,) = extract(image(DX_IMAGE, "DX", **attributes))["projection"]["events"]
    assert event.get("date_time_started") == started


def test_mammography_image_resent_is_still_one_event(corpus: Path) -> None:
    docs, outcomes = fold_files(corpus, [*MG_PAIR, MG_PAIR[1]])
    (doc,) = docs.values()
    assert outcomes[-1] == "duplicate" and len(doc["projection"]["events"]) == 1


PET_AND_REPORT = ["NM-RRDSR-Siemens.dcm", "NM-PetIm-Siemens.dcm"]


def test_pet_image_and_its_radiopharmaceutical_report_give_one_administration(corpus: Path) -> None:
    """Scenario test_pet_image_rrdsr / test_rrdsr_pet_image: either order, the report's values win."""
    report_first = only_study(corpus, PET_AND_REPORT)
    image_first = only_study(corpus, PET_AND_REPORT[::-1])
    for doc in (report_first, image_first):
        (administration,) = doc["radiopharmaceutical"]["administrations"]
        assert administration["radiopharmaceutical_start_date_time"] == datetime(2022, 2, 24, 10, 40, 30)
        assert administration["radiopharmaceutical_administration_event_uid"].endswith("20220224104830.0")
        assert administration["effective_dose"] == 7.486  # the report's
        assert administration["radionuclide_positron_fraction"] == 0.9673  # only the image's
        assert doc["summary"]["total_administered_activity"] == 394.0
        assert doc["radiopharmaceutical"]["pet_series"][0]["number_of_slices"] == 476
    assert report_first["radiopharmaceutical"] == image_first["radiopharmaceutical"]


def _dose_report(administration: dict[str, Any], study_uid: str) -> dict[str, Any]:
    """Return a radiopharmaceutical report fragment as the RRDSR reader gives it (TID 10021)."""
    return {
        "study_instance_uid": study_uid,
        "modalities": ["NM"],
        "patient": {},
        "equipment": {},
        "radiopharmaceutical": {"administrations": [administration]},
        "report": {
            "sop_instance_uid": "1.2.3.4.5",
            "sop_class_uid": "1.2.840.10008.5.1.4.1.1.88.68",
            "kind": "rrdsr",
            "sha256": "1" * 64,
            "received_at": NOW,
            "via": "cli",
        },
    }


@pytest.mark.parametrize("report_first", [True, False])
def test_pet_image_and_radiopharmaceutical_report_merge_report_winning(corpus: Path, report_first: bool) -> None:
    image = fragment_of(corpus / "NM-PetIm-Siemens.dcm")
    report = _dose_report(
        {
            "radiopharmaceutical_administration_event_uid": "1.3.12.2.1107.5.1.4.11090.20220224104830.0",
            "radionuclide": {
                "code_value": "77004003",
                "coding_scheme_designator": "SCT",
                "code_meaning": "^18^Fluorine",
            },
            "administered_activity": 394.0,
            "radiopharmaceutical_start_date_time": datetime(2022, 2, 24, 10, 40, 30),
        },
        image["study_instance_uid"],
    )
    docs, _ = fold([report, image] if report_first else [image, report])
    (doc,) = docs.values()
    (administration,) = doc["radiopharmaceutical"]["administrations"]
    assert administration["radiopharmaceutical_administration_event_uid"].endswith("20220224104830.0")
    assert administration["radiopharmaceutical_start_date_time"] == datetime(2022, 2, 24, 10, 40, 30)
    assert administration["radionuclide_half_life"] == 6586.2  # only the image has it
    assert administration["source_sop_instance_uid"] == "1.2.3.4.5"
    assert administration["also_in"] == [image["report"]["sop_instance_uid"]]
    assert doc["summary"]["total_administered_activity"] == 394.0
    assert len(doc["radiopharmaceutical"]["pet_series"]) == 1


def test_images_of_one_injection_name_one_administration(corpus: Path) -> None:
    ds = pydicom.dcmread(corpus / "NM-NmIm-Siemens.dcm")
    other = pydicom.dcmread(corpus / "NM-NmIm-Siemens.dcm")
    other.SOPInstanceUID = "1.2.3.999"
    docs, outcomes = fold([fragment_of(ds), fragment_of(other, sha256="2" * 64)])
    (doc,) = docs.values()
    assert outcomes == ["created", "merged"]
    assert len(doc["radiopharmaceutical"]["administrations"]) == 1
    assert doc["summary"]["total_administered_activity"] == 764.0


def test_philips_dose_info_gives_ct_events(corpus: Path) -> None:
    fragment = fragment_of(corpus / "CT-SC-Philips_Brilliance16P.dcm")
    events = fragment["ct"]["events"]
    assert fragment["ct"]["accumulated"] == {
        "ct_dose_length_product_total": 1102.44609,
        "total_number_of_irradiation_events": 4,
    }
    assert [e["acquisition_protocol"] for e in events[1:]] == ["PRE KIDNEYS", "30S KIDNEYS", "100S C/A/P"]
    assert events[1]["exposure_time"] == 6.986  # ms -> s
    assert events[1]["sources"] == [{"kvp": 120.0, "xray_tube_current": 165.044374}]  # uA -> mA
    assert events[1]["dlp"] == 196.01 and events[1]["mean_ctdivol"] == pytest.approx(7.200978719)
    assert len({e["irradiation_event_uid"] for e in events}) == 4


# --- hand-built images --------------------------------------------------------------------


DX_IMAGE = "1.2.840.10008.5.1.4.1.1.1.1"


def test_radiography_units_are_normalised() -> None:
    ds = image(
        DX_IMAGE,
        "DX",
        XRayTubeCurrentInuA=250500.0,
        ExposureInmAs=4.5,
        ExposureTimeInuS=12500.0,
        ImageAndFluoroscopyAreaDoseProduct="2.5",
        EntranceDose=3,
        Laterality="R",
        FilterMaterial=["ALUMINUM", "COPPER"],
        FilterThicknessMinimum=["1.0", "0.1"],
        FilterThicknessMaximum=["1.0", "0.1"],
        Grid=["FOCUSED", "WAFFLE"],
    )
    fragment = extract(ds)
    (event,) = fragment["projection"]["events"]
    assert event["xray_tube_current"] == 250.5  # mA
    assert event["exposure"] == 4500.0  # uA.s
    assert event["exposure_time"] == 12.5  # ms
    assert event["dose_area_product"] == 2.5e-05  # dGy.cm2 -> Gy.m2
    assert event["entrance_exposure_at_rp"] == 300.0  # dGy -> mGy
    assert event["laterality"]["code_meaning"] == "Right"
    assert [f["xray_filter_material"]["code_value"] for f in event["xray_filters"]] == [
        "12503006",
        "66925006",
    ]
    assert event["xray_grid"]["code_value"] == "111642"  # one grid: a coded value, as in a dose report
    assert "Grid: defined term 'WAFFLE' is not known; left out" in fragment["report"]["notes"]


@pytest.mark.parametrize(
    ("materials", "minimum", "maximum", "thicknesses"),
    [
        ("ALUMINUM,COPPER", b"1.06,0.206", b"0.94,0.194", [(0.94, 1.06), (0.194, 0.206)]),  # Carestream
        ("COPPER", b"0,1 ", b"0,2 ", [(0.1, 0.2)]),  # one filter: the comma is a decimal mark
    ],
)
def test_filter_thicknesses_with_commas(
    materials: str, minimum: bytes, maximum: bytes, thicknesses: list[tuple[float, float]]
) -> None:
    ds = image(
        DX_IMAGE,
        "DX",
        FilterMaterial=materials,
        FilterThicknessMinimum=minimum,
        FilterThicknessMaximum=maximum,
    )
    filters = extract(ds)["projection"]["events"][0]["xray_filters"]
    found = [(f["xray_filter_thickness_minimum"], f["xray_filter_thickness_maximum"]) for f in filters]
    assert found == thicknesses


def test_carestream_distance_in_decimetres_only_for_that_model() -> None:
    kodak = image(
        DX_IMAGE, "CR", Manufacturer="KODAK", ManufacturerModelName="DR 7500", DistanceSourceToDetector="11.5"
    )
    other = image(
        DX_IMAGE, "CR", Manufacturer="Other", ManufacturerModelName="DR 7500", DistanceSourceToDetector="11.5"
    )
    assert extract(kodak)["projection"]["events"][0]["distance_source_to_detector"] == 1150.0
    assert extract(other)["projection"]["events"][0]["distance_source_to_detector"] == 11.5


def test_mammography_organ_dose_is_the_average_glandular_dose() -> None:
    ds = image("1.2.840.10008.5.1.4.1.1.1.2", "MG", OrganDose="0.01373", ImageLaterality="R", BodyPartThickness="53")
    fragment = extract(ds)
    event = fragment["projection"]["events"][0]
    assert event["average_glandular_dose"] == 1.373 and event["compression_thickness"] == 53.0
    assert fragment["modalities"] == ["MG"]
    doc = study_document(None, stamp(fragment, sha256="0", received_at=NOW, via="cli"), now=NOW).document
    assert doc["summary"]["total_agd_right"] == 1.373 and doc["summary"]["total_agd_left"] is None


def test_pet_activity_in_becquerels_is_stored_in_megabecquerels() -> None:
    item = Dataset()
    item.RadionuclideTotalDose = "370000000"
    item.RadiopharmaceuticalStartTime = "083000"
    ds = image(
        "1.2.840.10008.5.1.4.1.1.128",
        "PT",
        SeriesDate="20240101",
        RadiopharmaceuticalInformationSequence=Sequence([item]),
    )
    (administration,) = extract(ds)["radiopharmaceutical"]["administrations"]
    assert administration["administered_activity"] == 370.0
    assert administration["radiopharmaceutical_start_date_time"] == datetime(2024, 1, 1, 8, 30)


@pytest.mark.parametrize(
    ("ds", "message"),
    [
        (
            image("1.2.840.10008.5.1.4.1.1.2", "CT"),
            "it is CT Image Storage (Modality CT), which carries no dose",
        ),
        (
            image("1.2.840.10008.5.1.4.1.1.7", "OT"),
            "it is Secondary Capture Image Storage (Modality OT) without an Exposure Dose Sequence",
        ),
        (
            image("1.2.840.10008.5.1.4.1.1.20", "NM"),
            "it is Nuclear Medicine Image Storage (Modality NM) without a Radiopharmaceutical Information",
        ),
    ],
)
def test_images_without_dose_are_refused_saying_what_they_are(ds: Dataset, message: str) -> None:
    with pytest.raises(NotADoseObject, match=re.escape(message)):
        extract(ds)
