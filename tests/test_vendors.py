"""Vendor tolerance (service.extract.vendors): each repair on a report built in the test."""

from __future__ import annotations

from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from service.extract import extract
from tests.srbuild import container, num_item, projection_report, text_item

PHILIPS = "99PHI-IXR-XPER"


def event_and_notes(*items: Dataset, root: tuple[Dataset, ...] = (), **options: Any) -> tuple[dict[str, Any], str]:
    """Extract a one-event projection report; return its event and its notes as one text."""
    ds = projection_report(*items, **options)
    ds.ContentSequence = DicomSequence([*ds.ContentSequence, *root])
    fragment = extract(ds)
    return fragment["projection"]["events"][0], " | ".join(fragment["report"]["notes"])


def test_decimal_in_an_integer_field_is_read_as_the_integer() -> None:
    event, notes = event_and_notes(num_item("113768", "24.00", "1"))
    assert event["number_of_pulses"] == 24 and isinstance(event["number_of_pulses"], int)
    assert notes == ""


def test_fractional_count_is_kept_as_sent_and_noted() -> None:
    event, notes = event_and_notes(num_item("113768", "24.5", "1"))
    assert event["number_of_pulses"] == 24.5
    assert "number_of_pulses: count 24.5 is not a whole number" in notes


def test_several_values_in_one_numeric_value_keep_the_first() -> None:
    event, notes = event_and_notes(num_item("113738", "0.5\\0.7", "Gy"))
    assert event["dose_rp"] == 0.5
    assert "dose_rp: 2 values sent where one is allowed; kept the first, 0.5" in notes


def test_numbers_joined_by_a_slash_are_left_out() -> None:
    event, notes = event_and_notes(num_item("113738", "10.50/ 15.00", "Gy"))
    assert "dose_rp" not in event
    assert "dose_rp: '10.50/ 15.00' is not a number; value left out" in notes


def test_empty_measured_value_sequence_is_left_out() -> None:
    item = num_item("113738", "1", "Gy")
    item.MeasuredValueSequence = DicomSequence([])
    event, notes = event_and_notes(item)
    assert "dose_rp" not in event
    assert "dose_rp: empty measured value sequence, value left out" in notes


def test_comma_decimal_is_read() -> None:
    event, notes = event_and_notes(num_item("122130", "1,5", "Gy.m2"))
    assert event["dose_area_product"] == 1.5
    assert "dose_area_product: comma decimal '1,5' read as 1.5" in notes


def test_missing_target_region_is_noted_and_the_report_imports() -> None:
    event, notes = event_and_notes(num_item("122130", "1e-5", "Gy.m2"), target_region=None)
    assert "target_region" not in event and event["dose_area_product"] == 1e-5
    assert "1 events have no target region: 1.2.3.9" in notes


def test_target_region_present_is_not_noted() -> None:
    event, notes = event_and_notes()
    assert event["target_region"]["code_meaning"] == "Chest" and "target region" not in notes


def test_utf8_text_under_latin1_declaration_is_repaired() -> None:
    mojibake = "Thorax æøå".encode().decode("latin-1")  # what pydicom reads under ISO_IR 100
    event, notes = event_and_notes(text_item("125203", mojibake))
    assert event["acquisition_protocol"] == "Thorax æøå"
    assert "acquisition_protocol: UTF-8 text under a Latin-1 character set declaration" in notes


def test_philips_private_shutters_give_the_collimated_field() -> None:
    shutters = container(
        "005",
        *(
            num_item(code, value, "mm", PHILIPS)
            for code, value in (("006", "100"), ("007", "150"), ("008", "150"), ("009", "100"))
        ),
        scheme=PHILIPS,
    )
    for item, meaning in zip(shutters.ContentSequence, ("Bottom", "Left", "Right", "Top"), strict=True):
        item.ConceptNameCodeSequence[0].CodeMeaning = f"{meaning} Shutter"
    shutters.ConceptNameCodeSequence[0].CodeMeaning = "Wedges and Shutters"
    event, notes = event_and_notes(shutters, num_item("113750", "1200", "mm"))
    assert event["collimated_field_height"] == 360.0  # (150 + 150) mm at 1 m, seen at 1.2 m
    assert event["collimated_field_width"] == 240.0
    assert event["collimated_field_area"] == pytest.approx(0.0864)
    assert "collimated field of 1 events derived from Philips private shutter positions" in notes


def test_collimated_field_sent_is_not_replaced() -> None:
    event, notes = event_and_notes(num_item("113790", "0.05", "m2"), num_item("113750", "1200", "mm"))
    assert event["collimated_field_area"] == 0.05 and "Philips" not in notes


def test_siemens_comments_give_patient_position_and_field_size() -> None:
    event_comment = text_item("121106", '<FluoroData><iiDiameter SRData="320"/></FluoroData>')
    root_comment = text_item("121106", '<Root><PatientPosition><Position SRData="FFP "/></PatientPosition></Root>')
    event, notes = event_and_notes(event_comment, root=(root_comment,))
    assert event["ii_field_size"] == 320.0
    assert event["patient_table_relationship"]["code_value"] == "102541007"  # feet-first
    assert event["patient_orientation"]["code_value"] == "102538003"  # recumbent
    assert event["patient_orientation_modifier"]["code_meaning"] == "prone"
    assert "patient position FFP of 1 events read from the Siemens comment" in notes


def test_unknown_siemens_patient_position_is_ignored() -> None:
    root_comment = text_item("121106", '<Root><Position SRData="XYZ"/></Root>')
    event, notes = event_and_notes(root=(root_comment,))
    assert "patient_orientation" not in event and "patient position" not in notes
