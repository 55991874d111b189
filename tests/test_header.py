"""Header modules (service.extract.header): age and the not-patient indicator."""

from datetime import datetime

import pytest
from pydicom.dataset import Dataset

from service.extract.header import age_years, not_patient_indicator


@pytest.mark.parametrize(
    ("age", "birth", "study", "years"),
    [
        ("042Y", datetime(1974, 1, 14), datetime(2016, 12, 6), 42.9),  # birth date wins over the age string
        ("100Y", None, datetime(2013, 3, 13), 100.0),
        ("006M", None, None, 0.5),
        ("026W", None, None, 0.5),
        ("bad", None, None, None),
        (None, None, None, None),
    ],
)
def test_age_years(age: str | None, birth: datetime | None, study: datetime | None, years: float | None) -> None:
    assert age_years(age, birth, study) == years


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
