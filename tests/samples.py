"""Objects built with pydicom for ingest, API and CLI tests: good parts of a study and every bad input."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pydicom
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import Tag
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from tests.srbuild import code_item, container, num_item, sr_dataset, text_item, uid_item

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
NOT_DICOM = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n" * 4


def to_bytes(ds: Dataset) -> bytes:
    """Encode ``ds`` as a DICOM Part 10 file."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def ct_report(
    *, study_uid: str | None = None, event_uid: str | None = None, dlp: str = "100", dlp_total: str | None = None
) -> Dataset:
    """Return a one-event CT dose report (TID 10011); ``dlp_total`` defaults to ``dlp``."""
    event = container(
        "113819",
        text_item("125203", "Chest routine"),
        uid_item("113769", event_uid or generate_uid()),
        container("113829", num_item("113830", "10", "mGy"), num_item("113838", dlp, "mGy.cm")),
    )
    accumulated = container(
        "113811", num_item("113812", "1", "{events}"), num_item("113813", dlp_total or dlp, "mGy.cm")
    )
    ct = code_item("121058", ("P5-08000", "SRT", "Computed Tomography X-Ray"))
    return sr_dataset([ct, accumulated, event], study_uid=study_uid)


def ct_report_bytes(**kwargs: str | None) -> bytes:
    """Return :func:`ct_report` encoded."""
    return to_bytes(ct_report(**kwargs))  # type: ignore[arg-type]


def image_without_dose() -> bytes:
    """Return a CT image (with pixel data) that carries no dose information."""
    ds = image(CT_IMAGE_STORAGE, "CT")
    ds.Rows = ds.Columns = 64
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit, ds.PixelRepresentation, ds.SamplesPerPixel = 15, 0, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = bytes(64 * 64 * 2)
    return to_bytes(ds)


def bad_inputs(corpus: Path | None = None) -> dict[str, bytes]:
    """Return every bad input of issue 2 by file name (ESR_non-dose.dcm only with the corpus)."""
    good = ct_report_bytes()
    inputs = {
        "not-dicom.pdf": NOT_DICOM,
        "truncated.dcm": good[: len(good) // 2],
        "empty.dcm": b"",
        "image-no-dose.dcm": image_without_dose(),
        "malformed-dlp.dcm": ct_report_bytes(dlp_total="abc"),
        "missing-dlp-total.dcm": ct_report_bytes(dlp_total=" "),
    }
    if corpus is not None:
        inputs["ESR_non-dose.dcm"] = (corpus / "ESR_non-dose.dcm").read_bytes()
    return inputs


#: the rejection code of each bad input
EXPECTED_CODES = {
    "not-dicom.pdf": "not-dicom",
    "truncated.dcm": "not-dicom",
    "empty.dcm": "not-dicom",
    "image-no-dose.dcm": "not-a-dose-object",
    "malformed-dlp.dcm": "invalid-dose-report",
    "missing-dlp-total.dcm": "invalid-dose-report",
    "ESR_non-dose.dcm": "not-a-dose-object",
}


def image(sop_class: str, modality: str, **attributes: Any) -> Dataset:
    """Build a minimal image dataset of ``sop_class``; bytes values are stored raw, as read from a file."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = modality
    for keyword, value in attributes.items():
        if isinstance(value, bytes):
            tag = Tag(keyword)
            ds[tag] = RawDataElement(tag, dictionary_VR(tag), len(value), value, 0, False, True)
        else:
            setattr(ds, keyword, value)
    return ds


def exposure_copies(path: Path, count: int, study: str | None = None) -> list[bytes]:
    """Return ``count`` copies of an image with its dose in its header, of one study, each an exposure of its own.

    The study is ``study`` or a new one; each copy has its own SOP Instance UID and acquisition time.
    """
    template = pydicom.dcmread(path)
    template.StudyInstanceUID = study or generate_uid()
    found = []
    for n in range(count):
        template.SOPInstanceUID = template.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        when = datetime(2014, 9, 30, 14, 11, 33) + timedelta(seconds=n)
        template.AcquisitionDateTime = when.strftime("%Y%m%d%H%M%S.000000")
        template.AcquisitionTime = template.ContentTime = when.strftime("%H%M%S.000")
        found.append(to_bytes(template))
    return found
