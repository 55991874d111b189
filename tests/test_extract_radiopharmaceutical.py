"""Radiopharmaceutical dose reports (TID 10021/10022): corpus values, units, PET/CT merging.

OpenREM's keys map onto our fields through ``tests.expectations.RULES``.
"""

from __future__ import annotations

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
from tests.srbuild import code_item, container, num_item, sr_dataset, uid_item

RRDSR = "NM-RRDSR-Siemens.dcm"
PET_CT = ["NM-CT-RDSR-Siemens.dcm", RRDSR]  # one PET/CT study: its CT report and its RRDSR
NOW = datetime(2026, 1, 1)


def fold(fragments: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge fragments in order as ingest does; validate each step's document."""
    doc = None
    for fragment in fragments:
        fragment = stamp(fragment, sha256=fragment["report"]["sop_instance_uid"], received_at=NOW, via="cli")
        doc = study_document(doc, fragment, now=NOW).document
        validate_study(doc)
    assert doc is not None
    return doc


def corpus_fragments(corpus: Path, names: list[str]) -> list[dict[str, Any]]:
    return [extract(pydicom.dcmread(corpus / name)) for name in names]


def test_corpus_values(corpus: Path, expected: dict[str, Any]) -> None:
    doc = fold(corpus_fragments(corpus, [RRDSR]))
    entry = expected[RRDSR]
    failures = []
    for key, value in entry["expect"].items():
        if NEVER_STORED.match(key) or key == "studies.count":
            continue
        failure = check(doc, key, value, entry.get("almost_equal_places", {}).get(key))
        if failure:
            failures.append(failure)
    assert not failures, failures


def test_rrdsr_document(corpus: Path) -> None:
    doc = fold(corpus_fragments(corpus, [RRDSR]))
    assert doc["modalities"] == ["NM"] and doc["reports"][0]["kind"] == "rrdsr"
    (administration,) = doc["radiopharmaceutical"]["administrations"]
    assert administration["administered_activity"] == 394  # MBq, the unit of TID 10022
    assert administration["radionuclide_half_life"] == 6586.2
    assert len(administration["organ_doses"]) == 22
    assert {o["organ_dose"] for o in administration["organ_doses"]} >= {4.73, 51.22}
    assert doc["summary"]["total_administered_activity"] == 394
    assert doc["summary"]["number_of_events"] == 1


@pytest.mark.parametrize("order", [PET_CT, PET_CT[::-1]])
def test_pet_ct_reports_land_in_one_document_in_either_order(corpus: Path, order: list[str]) -> None:
    ct_alone = fold(corpus_fragments(corpus, [PET_CT[0]]))
    doc = fold(corpus_fragments(corpus, order))
    assert doc["modalities"] == ["CT", "NM"]
    assert len(doc["reports"]) == 2
    assert len(doc["ct"]["events"]) == len(ct_alone["ct"]["events"]) == 2
    assert doc["ct"]["accumulated"] == ct_alone["ct"]["accumulated"]
    assert len(doc["radiopharmaceutical"]["administrations"]) == 1
    assert doc["summary"]["total_dlp"] == ct_alone["summary"]["total_dlp"]
    assert doc["summary"]["total_administered_activity"] == 394
    assert doc["summary"]["number_of_events"] == 3


def _sct(item: Dataset, value: str, meaning: str) -> Dataset:
    """Give a content item a SNOMED concept name (the walker reads the code, not the meaning)."""
    item.ConceptNameCodeSequence[0].CodeValue = value
    item.ConceptNameCodeSequence[0].CodingSchemeDesignator = "SCT"
    item.ConceptNameCodeSequence[0].CodeMeaning = meaning
    return item


def rrdsr(*administrations: Dataset) -> Dataset:
    """Build a Radiopharmaceutical Radiation Dose report holding ``administrations``."""
    ds = sr_dataset(list(administrations), station="PET1")
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.68"
    ds.ConceptNameCodeSequence[0].CodeValue = "113500"
    ds.ConceptNameCodeSequence[0].CodeMeaning = "Radiopharmaceutical Radiation Dose Report"
    return ds


def administration(activity: str, unit: str, *extra: Dataset) -> Dataset:
    agent = _sct(code_item("x", ("35321007", "SCT", "Fluorodeoxyglucose F^18^"), "CONTAINS"), "349358000", "agent")
    return container("113502", agent, num_item("113507", activity, unit), *extra)


def test_activity_in_mci_is_stored_in_mbq_and_a_missing_uid_is_made_stable() -> None:
    ds = rrdsr(administration("10", "mCi"))
    first, again = extract(ds), extract(ds)
    (entry,) = first["radiopharmaceutical"]["administrations"]
    assert entry["administered_activity"] == 370.0
    assert entry["radiopharmaceutical_agent"]["code_meaning"] == "Fluorodeoxyglucose F^18^"
    uid = entry["radiopharmaceutical_administration_event_uid"]
    assert uid.startswith("2.25.")
    assert uid == again["radiopharmaceutical"]["administrations"][0]["radiopharmaceutical_administration_event_uid"]
    notes = " ".join(first["report"]["notes"])
    assert "converted 10.0 mCi to 370.0 MBq" in notes and "administration 1 has no" in notes
    assert fold([first])["summary"]["total_administered_activity"] == 370.0


def test_two_administrations_add_up() -> None:
    ds = rrdsr(
        administration("200", "MBq", uid_item("113503", "1.2.3.1")),
        administration("0.1", "GBq", uid_item("113503", "1.2.3.2")),
    )
    doc = fold([extract(ds)])
    assert [a["administered_activity"] for a in doc["radiopharmaceutical"]["administrations"]] == [200, 100]
    assert doc["summary"]["total_administered_activity"] == 300


def test_report_without_administration_is_rejected() -> None:
    ds = rrdsr(container("121118", num_item("121033", "63", "a")))
    with pytest.raises(InvalidDoseReport, match=r"no Radiopharmaceutical Administration \(113502, DCM\)"):
        extract(ds)


def test_patient_characteristics_are_kept_in_their_units() -> None:
    characteristics = container("121118", num_item("121033", "24", "mo"), num_item("29463-7", "70000", "g", "LN"))
    ds = rrdsr(administration("100", "MBq"), characteristics)
    section = extract(ds)["radiopharmaceutical"]
    assert section["patient_characteristics"] == {"subject_age": 2.0, "patient_weight": 70.0}


def test_rrdsr_title_with_unknown_root_items_still_reads() -> None:
    ds = rrdsr(administration("100", "MBq"))
    ds.ContentSequence = DicomSequence([*ds.ContentSequence, code_item("121058", ("x", "99LOCAL", "local"))])
    assert extract(ds)["modalities"] == ["NM"]
