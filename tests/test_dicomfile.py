import io

import pydicom
import pytest

from service.errors import NotDicom
from service.ingest.dicomfile import bytes_to_keep, read_dataset
from tests.samples import NOT_DICOM, ct_report, ct_report_bytes, image_without_dose


def test_reads_a_part10_file() -> None:
    ds = read_dataset(ct_report_bytes(), "a.dcm")
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.67"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", r"empty.dcm is empty \(0 bytes\)"),
        (NOT_DICOM, r"empty.dcm is not a DICOM file: it has no 'DICM' marker .*first bytes b'%PDF-1.7"),
        (b"\x08\x00\x16\x00\x04\x00\x00\x001.2\x00" + b"\x00" * 200, r"empty.dcm has no DICOM file header"),
    ],
)
def test_refuses_what_is_not_dicom(data: bytes, message: str) -> None:
    with pytest.raises(NotDicom, match=message):
        read_dataset(data, "empty.dcm")


@pytest.mark.parametrize("fraction", [0.3, 0.5, 0.9])
def test_truncated_files_are_refused(fraction: float) -> None:
    data = ct_report_bytes()
    with pytest.raises(NotDicom, match=r"cut\.dcm is (truncated|corrupt)"):
        read_dataset(data[: int(len(data) * fraction)], "cut.dcm")


def test_a_bare_data_set_is_read_when_it_really_parses() -> None:
    ds = ct_report()
    del ds.file_meta
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, implicit_vr=True, little_endian=True)  # no preamble, no file meta
    data = buffer.getvalue()
    assert data[128:132] != b"DICM"
    assert read_dataset(data, "bare.dcm").SOPInstanceUID == ds.SOPInstanceUID


def test_pixel_data_is_removed_before_keeping() -> None:
    data = image_without_dose()
    ds = read_dataset(data, "image.dcm")
    kept = bytes_to_keep(ds)
    assert kept is not None and len(kept) < len(data) - 64 * 64 * 2 + 100
    again = pydicom.dcmread(io.BytesIO(kept))
    assert "PixelData" not in again and again.SOPInstanceUID == ds.SOPInstanceUID


def test_a_report_is_encoded_back_as_received_when_nothing_is_removed() -> None:
    data = ct_report_bytes()
    assert bytes_to_keep(read_dataset(data, "sr.dcm")) == data
