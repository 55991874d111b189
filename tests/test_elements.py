"""Fast element reading (service.extract.elements) agrees with pydicom's own conversion."""

from __future__ import annotations

from io import BytesIO

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from service.extract.elements import value


def read_back(**elements: tuple[str, object]) -> Dataset:
    """Write a data set with the given (VR, value) elements and read it again, lazily."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.67"
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3"
    ds.SpecificCharacterSet = "ISO_IR 100"
    for keyword, (vr, content) in elements.items():
        ds.add_new(keyword, vr, content)
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return pydicom.dcmread(BytesIO(out.getvalue()))


@pytest.mark.parametrize(
    ("keyword", "vr", "content", "expected"),
    [
        ("CodeValue", "SH", "113813", "113813"),
        ("UID", "UI", "1.2.3.4", "1.2.3.4"),  # written with a trailing NUL pad
        ("NumericValue", "DS", "12.5", "12.5"),
        ("NumericValue", "DS", ["10.5", "15"], ["10.5", "15"]),  # several values: a list
        ("TextValue", "UT", "a\\b", "a\\b"),  # UT holds one value, backslash and all
        ("CodeMeaning", "LO", "centre médical", "centre médical"),  # not ASCII: pydicom decodes it
    ],
)
def test_value_reads_what_pydicom_would(keyword: str, vr: str, content: object, expected: object) -> None:
    ds = read_back(**{keyword: (vr, content)})
    assert value(ds, ds.data_element(keyword).tag) == expected


def test_iso_2022_text_is_not_taken_as_ascii() -> None:
    ds = read_back(CodeValue=("SH", "1"))
    ds.SpecificCharacterSet = ["", "ISO 2022 IR 87"]
    ds.CodeMeaning = "胸部"
    encoded = BytesIO()
    ds.save_as(encoded, enforce_file_format=True)
    raw = encoded.getvalue()
    assert b"\x1b$B" in raw and raw.count(b"\x1b") == 2  # 7-bit bytes, yet not ASCII text
    assert value(pydicom.dcmread(BytesIO(raw)), 0x00080104) == "胸部"


def test_missing_element_gives_the_default() -> None:
    ds = read_back(CodeValue=("SH", "1"))
    assert value(ds, 0x00080104, "none") == "none"


def test_an_element_already_converted_is_read_from_pydicom() -> None:
    ds = read_back(NumericValue=("DS", "3.25"))
    assert ds.NumericValue == 3.25  # converted by pydicom first
    assert value(ds, 0x0040A30A) == 3.25
