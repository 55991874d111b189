"""Header modules (service.extract.header): age and the not-patient indicator."""

from datetime import datetime
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from service.extract import extract
from service.extract.header import age_years, not_patient_indicator
from service.ingest.document import stamp, study_document
from tests.samples import image

NOW = datetime(2026, 1, 1)


@pytest.mark.parametrize(
    ("age", "birth", "study", "years"),
    [
        ("042Y", datetime(1974, 1, 14), datetime(2016, 12, 6), 42.9),  # the dates refine an agreeing stated age
        ("081Y", datetime(1910, 1, 1), datetime(2024, 1, 1), 81.0),  # placeholder birth date: stated age wins
        ("075Y", datetime(1904, 2, 2), datetime(2024, 1, 1), 75.0),
        ("000Y", datetime(1700, 1, 1), datetime(2015, 10, 20), 0.0),
        (None, datetime(1700, 1, 1), datetime(2015, 10, 20), None),  # birth before 1880: no age
        (None, datetime(1880, 1, 1), datetime(2015, 10, 20), None),  # over 130 years
        (None, datetime(2030, 1, 1), datetime(2015, 10, 20), None),  # negative
        (None, datetime(1950, 7, 1), datetime(2015, 10, 20), 65.3),  # no stated age: computed
        ("063Y", datetime(9999, 1, 1), datetime(2022, 2, 24), 63.0),
        ("100Y", None, datetime(2013, 3, 13), 100.0),
        ("006M", None, None, 0.5),
        ("026W", None, None, 0.5),
        ("bad", None, None, None),
        (None, None, None, None),
    ],
)
def test_age_years(age: str | None, birth: datetime | None, study: datetime | None, years: float | None) -> None:
    assert age_years(age, birth, study) == years


def test_implausible_and_disagreeing_ages_are_noted() -> None:
    notes: list[str] = []
    assert age_years("000Y", datetime(1700, 1, 1), datetime(2015, 10, 20), notes) == 0.0
    assert notes == [
        "age_years: birth date 1700-01-01 and study date 2015-10-20 give 315.8 years, "
        "which is not a plausible age; not computed"
    ]
    notes.clear()
    assert age_years("081Y", datetime(1910, 1, 1), datetime(2024, 1, 1), notes) == 81.0
    assert notes == ["age_years: the dates give 114.0 years but Patient's Age is 081Y; kept the stated age"]


def sized_image(**attributes: Any) -> Dataset:
    """Return a DX image of a patient with ``attributes`` (Patient module and the like)."""
    return image("1.2.840.10008.5.1.4.1.1.1.1", "DX", StudyDate="20240101", KVP="70", **attributes)


@pytest.mark.parametrize(
    ("attributes", "age", "stated"),
    [
        ({"PatientAge": "081Y", "PatientBirthDate": "19100101"}, 81.0, "081Y"),
        ({"PatientAge": "075Y", "PatientBirthDate": "19040202"}, 75.0, "075Y"),
        ({"PatientAge": "000Y", "PatientBirthDate": "17000101"}, 0.0, "000Y"),
        ({"PatientBirthDate": "17000101"}, None, None),
        ({"PatientBirthDate": "19800101"}, 44.0, None),
    ],
)
def test_extracted_age_prefers_the_stated_age(
    attributes: dict[str, str], age: float | None, stated: str | None
) -> None:
    patient_fields = extract(sized_image(**attributes))["patient"]
    assert (patient_fields["age_years"], patient_fields["age"]) == (age, stated)


@pytest.mark.parametrize(("weight", "size"), [("0", "0"), ("0.0", "0.00"), ("-1", "0")])
def test_zero_weight_and_height_mean_unknown(weight: str, size: str) -> None:
    fragment = extract(sized_image(PatientWeight=weight, PatientSize=size))
    assert fragment["patient"]["weight_kg"] is None and fragment["patient"]["height_m"] is None
    assert any(note.startswith("weight_kg: PatientWeight") for note in fragment["report"]["notes"])


def test_zero_weight_does_not_clear_a_known_weight() -> None:
    study = generate_uid()
    known = extract(sized_image(PatientWeight="72.5", PatientSize="1.68", StudyInstanceUID=study))
    zero = extract(sized_image(PatientWeight="0", PatientSize="0", StudyInstanceUID=study))
    assert (known["patient"]["weight_kg"], known["patient"]["height_m"]) == (72.5, 1.68)
    doc = study_document(None, stamp(known, sha256="a", received_at=NOW, via="cli"), now=NOW).document
    doc = study_document(doc, stamp(zero, sha256="b", received_at=NOW, via="cli"), now=NOW).document
    assert (doc["patient"]["weight_kg"], doc["patient"]["height_m"]) == (72.5, 1.68)


def patient(name: str, pid: str) -> Dataset:
    ds = Dataset()
    ds.PatientName, ds.PatientID = name, pid
    return ds


@pytest.mark.parametrize(
    ("name", "pid", "indicator"),
    [
        ("Smith^Dolliquay", "278247623467", None),
        ("Smith^Dolliquay", "QA12345", "IDs: qa* | Names: "),
        ("Physics^LBDAlignment", "12345", "IDs:  | Names: phy* physics*"),
        ("Physics^LBDAlignmentTest", "12345", "IDs:  | Names: *test* phy* physics*"),
        ("Physics^LBDAlignmentTest", "PHY12345", "IDs: phy* | Names: *test* phy* physics*"),
    ],
)
def test_not_patient_globs_as_openrem_scenario(name: str, pid: str, indicator: str | None) -> None:
    # scenarios.json not_patient_indicators, with one difference by design: OpenREM keeps
    # separate ID and name pattern lists, ours applies every pattern to both (one setting).
    patterns = ["qa*", "PHY*", "*TEST*", "PHYSICS*"]
    result = not_patient_indicator(patient(name, pid), patterns)
    assert result == indicator


def test_plain_keywords_match_anywhere_and_never_echo_the_identity() -> None:
    result = not_patient_indicator(patient("Doe^Jane", "xx-Test-01"), ["phy", "test", "qa"])
    assert result == "IDs: test | Names: "
    assert "Jane" not in result and "01" not in result
