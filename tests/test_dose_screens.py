"""CT dose screens (service.extract.ct_dose_info): GE's comment layout, and no total of 0 from missing parts.

The GE LightSpeed dose screens of issue 15 are not in the corpus; they are
built here from its description: a Secondary Capture with Modality CT, an
Exposure Dose Sequence holding CTDIvol but no DLP, no Philips private tag,
and the DLPs written into Comments on Radiation Dose.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from service.errors import InvalidDoseReport
from service.extract import extract
from service.ingest.document import stamp, study_document
from service.ingest.pipeline import Pipeline
from service.storage import Store
from tests.samples import image, to_bytes

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
NOW = datetime(2026, 1, 1)
GE_COMMENT = "TotalDLP=1210.50\r\nEvent=3 DLP=600.25\r\nEvent=4 DLP=610.25"


def exposure(ctdivol: float, protocol: str) -> Dataset:
    """Return one Exposure Dose Sequence item (PS3.3 C.4.16) as GE writes it: CTDIvol, no DLP."""
    item = Dataset()
    item.KVP, item.XRayTubeCurrentInuA, item.ExposureTime = "120", "250000", "1000"
    item.AcquisitionType, item.ScanLength, item.CTDIvol = "SPIRAL", "350", ctdivol
    item.SeriesDescription = protocol
    return item


def ge_dose_screen(comment: str | None = GE_COMMENT, ctdivols: tuple[float, ...] = (12.5, 13.1)) -> Dataset:
    """Return a GE LightSpeed dose screen with one exposure per CTDIvol and ``comment``."""
    items = [exposure(value, f"Series {n}") for n, value in enumerate(ctdivols, start=3)]
    attributes = {"CommentsOnRadiationDose": comment} if comment is not None else {}
    return image(
        SECONDARY_CAPTURE,
        "CT",
        Manufacturer="GE MEDICAL SYSTEMS",
        ManufacturerModelName="LightSpeed VCT",
        StudyDate="20240301",
        ExposureDoseSequence=Sequence(items),
        **attributes,
    )


def test_ge_dose_screen_reads_total_and_event_dlps_from_the_comment() -> None:
    fragment = extract(ge_dose_screen())
    ct = fragment["ct"]
    assert ct["accumulated"] == {"ct_dose_length_product_total": 1210.5, "total_number_of_irradiation_events": 2}
    assert [e["dlp"] for e in ct["events"]] == [600.25, 610.25]
    assert [e["mean_ctdivol"] for e in ct["events"]] == [12.5, 13.1]
    assert fragment["modalities"] == ["CT"]
    notes = " | ".join(fragment["report"]["notes"])
    assert "total DLP 1210.5 mGy·cm read from Comments on Radiation Dose" in notes
    doc = study_document(None, stamp(fragment, sha256="0", received_at=NOW, via="cli"), now=NOW).document
    assert doc["summary"]["total_dlp"] == 1210.5 and doc["summary"]["max_ctdivol"] == 13.1


@pytest.mark.parametrize(
    "comment",
    [
        "Total DLP: 1210,50 mGy-cm; Event 3: CTDIvol 12.5 DLP 600,25; Event 4: CTDIvol 13.1 DLP 610,25",
        "Event=3 DLP=600.25 Event=4 DLP=610.25 TotalDLP=1210.5",
        "Exam dose\nEvent #3  DLP = 600.25 mGy.cm\nEvent #4  DLP = 610.25 mGy.cm\nTotal DLP = 1210.50 mGy.cm\n",
    ],
)
def test_other_comment_layouts_give_the_same_values(comment: str) -> None:
    ct = extract(ge_dose_screen(comment))["ct"]
    assert ct["accumulated"]["ct_dose_length_product_total"] == 1210.5
    assert [e["dlp"] for e in ct["events"]] == [600.25, 610.25]


def test_event_dlps_that_do_not_add_up_to_the_total_are_left_out() -> None:
    fragment = extract(ge_dose_screen("TotalDLP=1500.00\nEvent=3 DLP=600.25\nEvent=4 DLP=610.25"))
    ct = fragment["ct"]
    assert ct["accumulated"]["ct_dose_length_product_total"] == 1500.0
    assert all("dlp" not in e for e in ct["events"])
    assert any("do not match" in note for note in fragment["report"]["notes"])


def test_event_dlps_without_a_total_add_up_to_it() -> None:
    fragment = extract(ge_dose_screen("Event=3 DLP=600.25\nEvent=4 DLP=610.25"))
    assert fragment["ct"]["accumulated"]["ct_dose_length_product_total"] == 1210.5
    assert "no total DLP sent; took the sum of the events, 1210.5 mGy·cm" in fragment["report"]["notes"]


def test_a_total_alone_is_kept_without_event_dlps() -> None:
    ct = extract(ge_dose_screen("TotalDLP=1210.50"))["ct"]
    assert ct["accumulated"]["ct_dose_length_product_total"] == 1210.5
    assert all("dlp" not in e for e in ct["events"])


@pytest.mark.parametrize("comment", [None, "", "Dose report not available", "Event=3 DLP=600.25"])
def test_a_dose_screen_whose_dlp_cannot_be_read_is_refused_never_stored_as_zero(comment: str | None) -> None:
    with pytest.raises(InvalidDoseReport, match=re.escape("it is a CT dose screen (Secondary Capture, Modality CT)")):
        extract(ge_dose_screen(comment))


def test_the_refusal_is_logged_and_the_bytes_kept(pipeline: Pipeline, store: Store) -> None:
    outcome = pipeline.ingest(to_bytes(ge_dose_screen(None)), name="ge-screen.dcm", via="http", client="t")
    assert outcome.rejected and outcome.code == "invalid-dose-report"
    assert "whose DLP cannot be read" in outcome.message
    assert store.db.studies.count_documents({}) == 0 and store.count_originals() == 1
    assert store.events_after(0, limit=10)[-1]["type"] == "rejected"
