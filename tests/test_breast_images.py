"""Mammography beyond 2D images (service.extract.breast): tomosynthesis, breast projection, captured exposures.

No such object is in the corpus; each is built here from the standard (PS3.3
A.55 Breast Tomosynthesis, A.74 Breast Projection X-Ray) and from issue 15's
description of Hologic Selenia Dimensions (tomosynthesis projections as
Secondary Capture, reconstructions as CT Image Storage).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from service.errors import NotADoseObject
from service.extract import extract
from service.ingest.pipeline import Pipeline
from service.storage import Store
from tests.samples import image, to_bytes
from tests.test_extract_images import fold, fragment_of

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
BREAST_TOMOSYNTHESIS = "1.2.840.10008.5.1.4.1.1.13.1.3"
FOR_PRESENTATION, FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.13.1.4", "1.2.840.10008.5.1.4.1.1.13.1.5"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
HOLOGIC = {"Manufacturer": "HOLOGIC, Inc.", "ManufacturerModelName": "Selenia Dimensions"}
TOMO_START, TWO_D_START = "20240301101500.000", "20240301101802.000"
#: The tomosynthesis exposure: Organ Dose 0.0153 dGy is an AGD of 1.53 mGy.
TOMO = {
    "KVP": "30",
    "ExposureInuAs": "85000",
    "BodyPartThickness": "52",
    "CompressionForce": "110",
    "OrganDose": "0.0153",
    "EntranceDoseInmGy": "5.2",
    "AnodeTargetMaterial": "TUNGSTEN",
    "FilterMaterial": "ALUMINUM",
}


def item(**attributes: Any) -> Dataset:
    """Return a sequence item holding ``attributes``."""
    found = Dataset()
    for keyword, value in attributes.items():
        setattr(found, keyword, value)
    return found


def anatomy(laterality: str) -> Dataset:
    """Return a Frame Anatomy functional group macro (C.7.6.16.2.8) of one breast."""
    breast = item(CodeValue="76752008", CodingSchemeDesignator="SCT", CodeMeaning="Breast")
    return item(FrameLaterality=laterality, AnatomicRegionSequence=Sequence([breast]))


def tomosynthesis_projections(study: str | None = None) -> Dataset:
    """Return Hologic's tomosynthesis projections: a Secondary Capture with Modality MG and the exposure."""
    return image(
        SECONDARY_CAPTURE,
        "MG",
        **HOLOGIC,
        **TOMO,
        StudyInstanceUID=study or generate_uid(),
        ViewPosition="CC",
        ImageLaterality="L",
        AcquisitionDateTime=TOMO_START,
    )


def tomosynthesis(study: str | None = None, acquisitions: int = 1) -> Dataset:
    """Return a Breast Tomosynthesis Image: the exposure in its X-Ray 3D Acquisition Sequence, the breast in its groups."""
    items = [item(**TOMO, StartAcquisitionDateTime=TOMO_START) for _ in range(acquisitions)]
    groups = item(FrameAnatomySequence=Sequence([anatomy("L")]))
    return image(
        BREAST_TOMOSYNTHESIS,
        "MG",
        **HOLOGIC,
        StudyInstanceUID=study or generate_uid(),
        AcquisitionDateTime="20240301102000.000",  # the reconstruction's, not the exposure's
        SharedFunctionalGroupsSequence=Sequence([groups]),
        XRay3DAcquisitionSequence=Sequence(items),
    )


def breast_projection(sop_class: str, study: str | None = None, *, shared: bool = True) -> Dataset:
    """Return a Breast Projection X-Ray Image of a right CC: totals at the top, the rest in functional groups."""
    dose = item(OrganDose="0.0121", EntranceDoseInmGy="4.1")
    groups = item(
        FrameAnatomySequence=Sequence([anatomy("R")]),
        XRayFilterSequence=Sequence([item(FilterMaterial="RHODIUM", FilterThicknessMinimum="0.05")]),
        XRayAcquisitionDoseSequence=Sequence([dose]),
    )
    where = "SharedFunctionalGroupsSequence" if shared else "PerFrameFunctionalGroupsSequence"
    return image(
        sop_class,
        "MG",
        **HOLOGIC,
        StudyInstanceUID=study or generate_uid(),
        AcquisitionDateTime=TWO_D_START,
        KVP="28",
        ExposureInmAs=120.0,
        BodyPartThickness="50",
        CompressionForce="95",
        AnodeTargetMaterial="TUNGSTEN",
        ViewPosition="CC",
        **{where: Sequence([groups])},
    )


def only_event(ds: Dataset) -> dict[str, Any]:
    """Extract ``ds`` as a mammography image with one event; return the event."""
    fragment = extract(ds)
    assert fragment["modalities"] == ["MG"] and fragment["report"]["kind"] == "image"
    (event,) = fragment["projection"]["events"]
    return event


def test_hologic_tomosynthesis_projections_as_secondary_capture_are_a_mammography_exposure() -> None:
    ds = tomosynthesis_projections()
    event = only_event(ds)
    assert event["irradiation_event_uid"] == ds.SOPInstanceUID
    assert (event["average_glandular_dose"], event["entrance_exposure_at_rp"]) == (1.53, 5.2)
    assert (event["kvp"], event["exposure"], event["compression_thickness"], event["compression_force"]) == (
        30.0,
        85000.0,
        52.0,
        110.0,
    )
    assert event["anode_target_material"]["code_value"] == "26194003"  # tungsten
    assert event["xray_filters"][0]["xray_filter_material"]["code_value"] == "12503006"  # aluminium
    assert (event["view_position"], event["laterality"]["code_meaning"]) == ("CC", "Left")
    assert event["date_time_started"] == datetime(2024, 3, 1, 10, 15)


def test_breast_tomosynthesis_reads_its_acquisition_and_functional_groups() -> None:
    ds = tomosynthesis()
    event = only_event(ds)
    assert event["irradiation_event_uid"] == ds.SOPInstanceUID
    assert (event["average_glandular_dose"], event["kvp"], event["compression_thickness"]) == (1.53, 30.0, 52.0)
    assert event["laterality"]["code_meaning"] == "Left"  # Frame Laterality of the shared Frame Anatomy
    assert event["anatomical_structure"]["code_meaning"] == "Breast"
    assert event["date_time_started"] == datetime(2024, 3, 1, 10, 15)  # the acquisition's start, not the recon's


def test_each_acquisition_of_a_tomosynthesis_object_is_an_event_of_its_own() -> None:
    fragment = extract(tomosynthesis(acquisitions=2))
    events = fragment["projection"]["events"]
    assert [e["average_glandular_dose"] for e in events] == [1.53, 1.53]
    assert len({e["irradiation_event_uid"] for e in events}) == 2


@pytest.mark.parametrize("sop_class", [FOR_PRESENTATION, FOR_PROCESSING])
@pytest.mark.parametrize("shared", [True, False])
def test_breast_projection_reads_the_top_level_and_the_functional_groups(sop_class: str, shared: bool) -> None:
    event = only_event(breast_projection(sop_class, shared=shared))
    assert (event["kvp"], event["exposure"], event["compression_thickness"]) == (28.0, 120000.0, 50.0)
    assert (event["average_glandular_dose"], event["entrance_exposure_at_rp"]) == (1.21, 4.1)
    assert event["laterality"]["code_meaning"] == "Right"
    assert event["xray_filters"][0]["xray_filter_material"]["code_value"] == "59801003"  # rhodium
    assert event["xray_filters"][0]["xray_filter_thickness_minimum"] == 0.05


def test_one_exposure_sent_as_projections_reconstruction_and_both_intents_is_counted_once() -> None:
    study = generate_uid()
    objects = [
        tomosynthesis_projections(study),
        tomosynthesis(study),
        breast_projection(FOR_PRESENTATION, study),
        breast_projection(FOR_PROCESSING, study),
    ]
    docs, outcomes = fold([fragment_of(ds, sha256=str(n)) for n, ds in enumerate(objects)])
    assert outcomes == ["created", "merged", "merged", "merged"]
    doc = docs[study]
    assert doc["modalities"] == ["MG"] and doc["summary"]["number_of_events"] == 2
    assert (doc["summary"]["total_agd_left"], doc["summary"]["total_agd_right"]) == (1.53, 1.21)
    tomo, two_d = doc["projection"]["events"]
    assert tomo["also_in"] == [objects[1].SOPInstanceUID] and two_d["also_in"] == [objects[3].SOPInstanceUID]
    assert len(doc["reports"]) == 4


def test_a_reconstruction_stored_as_ct_slices_is_refused_saying_what_it_is() -> None:
    ds = image(CT_IMAGE, "MG", **HOLOGIC, OrganDose="0.0153", EntranceDoseInmGy="5.2")
    message = "it is CT Image Storage (Modality MG) carrying OrganDose and EntranceDoseInmGy: a breast tomosynthesis"
    with pytest.raises(NotADoseObject, match=re.escape(message)) as refused:
        extract(ds)
    assert "carries no dose information" not in str(refused.value)
    assert "not counted again" in str(refused.value)


def test_a_secondary_capture_of_modality_mg_without_exposure_values_is_still_refused() -> None:
    with pytest.raises(NotADoseObject, match=r"without an Exposure Dose Sequence .* or Modality MG and mammography"):
        extract(image(SECONDARY_CAPTURE, "MG", **HOLOGIC))


def test_the_objects_as_files_through_ingest_give_one_study(pipeline: Pipeline, store: Store) -> None:
    study = generate_uid()
    objects = [tomosynthesis_projections(study), tomosynthesis(study), breast_projection(FOR_PROCESSING, study)]
    outcomes = [
        pipeline.ingest(to_bytes(ds), name=f"{n}.dcm", via="dicom", client="MG1").outcome
        for n, ds in enumerate(objects)
    ]
    ct_slice = image(CT_IMAGE, "MG", **HOLOGIC, StudyInstanceUID=study, OrganDose="0.0153")
    refused = pipeline.ingest(to_bytes(ct_slice), name="slice.dcm", via="dicom", client="MG1")
    assert outcomes == ["created", "merged", "merged"] and refused.code == "not-a-dose-object"
    summary = store.get_study(study)["summary"]
    assert (summary["number_of_events"], summary["total_agd_left"], summary["total_agd_right"]) == (2, 1.53, 1.21)
