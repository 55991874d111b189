"""Merging fragments into one study document (service.ingest.merge), without a database."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Any

import pydicom
import pytest

from service.extract import extract
from service.ingest.document import stamp
from service.ingest.merge import combine_blocks, merge

NOW = datetime(2026, 1, 1)


def fold(corpus: Path, names: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """Merge the files in order; return (outcome, document) after each."""
    doc, steps = None, []
    for name in names:
        fragment = extract(pydicom.dcmread(corpus / name))
        fragment = stamp(fragment, sha256=name, received_at=NOW, via="cli")
        result = merge(doc, fragment, now=NOW)
        doc = result.document
        steps.append((result.outcome, doc))
    return steps


MULTI = ["CT-RDSR-Siemens-Multi-1.dcm", "CT-RDSR-Siemens-Multi-2.dcm", "CT-RDSR-Siemens-Multi-3.dcm"]


def test_cumulative_reports_supersede_each_other(corpus: Path) -> None:
    steps = fold(corpus, [*MULTI, MULTI[0]])
    assert [outcome for outcome, _ in steps] == ["created", "merged", "merged", "duplicate"]
    assert [doc["summary"]["total_dlp"] for _, doc in steps] == [7.46, 77.27, 236.09, 236.09]
    assert [len(doc["ct"]["events"]) for _, doc in steps] == [1, 2, 3, 3]
    assert len(steps[-1][1]["reports"]) == 3


@pytest.mark.parametrize("order", [[2, 0, 1], [1, 2, 0], [2, 1, 0]])
def test_cumulative_reports_in_any_order_give_the_same_total(corpus: Path, order: list[int]) -> None:
    _, doc = fold(corpus, [MULTI[i] for i in order])[-1]
    assert doc["summary"]["total_dlp"] == 236.09
    assert len(doc["ct"]["events"]) == 3


def test_continued_reports_add_up(corpus: Path) -> None:
    (_, first), (_, both) = fold(corpus, ["CT-RDSR-Siemens-Continued-1.dcm", "CT-RDSR-Siemens-Continued-2.dcm"])
    assert both["summary"]["total_dlp"] == pytest.approx(60.17 + 56.44)
    assert both["ct"]["accumulated"]["total_number_of_irradiation_events"] == 4
    first_uids = {e["irradiation_event_uid"] for e in first["ct"]["events"]}
    assert first_uids < {e["irradiation_event_uid"] for e in both["ct"]["events"]}
    assert both["revision"] == 2


def test_same_object_reprocessed_is_applied_again(corpus: Path) -> None:
    ((_, doc),) = fold(corpus, [MULTI[0]])
    fragment = extract(pydicom.dcmread(corpus / MULTI[0]))
    fragment = stamp(fragment, sha256=MULTI[0], received_at=NOW, via="cli")
    again = merge(doc, fragment, now=NOW, reprocess=True)
    assert again.outcome == "merged" and again.document["revision"] == 2
    assert len(again.document["reports"]) == 1 and again.document["summary"]["total_dlp"] == 7.46


@pytest.mark.parametrize(
    "names",
    [
        MULTI,
        ["MG-Im-GE_Seno_1_ForProcessing.dcm", "MG-Im-GE_Seno_1_ForPresentation.dcm", "MG-RDSR-GEPristina-2D.dcm"],
        ["NM-PetIm-GE.dcm", "NM-CT-RDSR-Siemens.dcm", "NM-RRDSR-Siemens.dcm"],
    ],
)
def test_merging_changes_neither_the_stored_document_nor_the_fragment(corpus: Path, names: list[str]) -> None:
    """Merging shares unchanged parts with its inputs instead of copying them, so it must never write into them."""
    doc = None
    for name in names:
        fragment = extract(pydicom.dcmread(corpus / name))
        fragment = stamp(fragment, sha256=name, received_at=NOW, via="cli")
        study = pydicom.dcmread(corpus / names[0], stop_before_pixels=True).StudyInstanceUID
        fragment["study_instance_uid"] = study  # one study, whatever the samples say
        before = copy.deepcopy((doc, fragment))
        result = merge(doc, fragment, now=NOW)
        assert (doc, fragment) == before, name
        assert merge(doc, fragment, now=NOW).document == result.document
        doc = result.document
    assert doc is not None and len(doc["reports"]) == len(names)


@pytest.mark.parametrize("order", [[0, 1], [1, 0]])
def test_applying_an_image_and_a_report_again_gives_the_same_study(corpus: Path, order: list[int]) -> None:
    """Reprocessing replays a PET image and its radiopharmaceutical report; the study must not change.

    The image fills gaps in the report's administration (agent text, positron
    fraction); a repeated report keeps them, and a report lists only entries that
    are still in the study, whichever came first.
    """
    names = ["NM-PetIm-Siemens.dcm", "NM-RRDSR-Siemens.dcm"]  # one administration, image first
    fragments = []
    for name in names:
        fragment = stamp(extract(pydicom.dcmread(corpus / name)), sha256=name, received_at=NOW, via="cli")
        fragments.append({**fragment, "study_instance_uid": "1.2.3"})
    doc = None
    for fragment in fragments:
        doc = merge(doc, fragment, now=NOW).document
    again = doc
    for index in order:
        again = merge(again, fragments[index], now=NOW, reprocess=True).document
    assert doc is not None and again is not None
    [administration] = again["radiopharmaceutical"]["administrations"]
    assert administration["radiopharmaceutical_agent_text"] == "Fluorodeoxyglucose"
    assert administration["radionuclide_positron_fraction"] == 0.9673
    assert (again["radiopharmaceutical"], again["summary"]) == (doc["radiopharmaceutical"], doc["summary"])
    by_sop = {report["sop_instance_uid"]: report for report in doc["reports"]}  # in the order last applied
    assert {report["sop_instance_uid"]: report for report in again["reports"]} == by_sop


def test_combine_blocks_sums_numbers_per_plane_and_laterality() -> None:
    plane_a = {"acquisition_plane": {"code_value": "113622"}, "dose_rp_total": 0.5, "note": "x"}
    plane_b = {"acquisition_plane": {"code_value": "113621"}, "dose_rp_total": 0.25}
    combined = combine_blocks([[plane_a, plane_b], [dict(plane_a, dose_rp_total=0.1)]])
    assert combined == [
        {"acquisition_plane": {"code_value": "113622"}, "dose_rp_total": 0.6, "note": "x"},
        plane_b,
    ]
