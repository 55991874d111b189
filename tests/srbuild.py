"""Build small SR dose reports with pydicom, for tests whose right answers are known."""

from __future__ import annotations

from collections.abc import Sequence

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import Tag
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

XRAY_DOSE_SR = "1.2.840.10008.5.1.4.1.1.88.67"
NUMERIC_VALUE = 0x0040A30A


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _item(value_type: str, concept: str, scheme: str = "DCM", relationship: str = "CONTAINS") -> Dataset:
    item = Dataset()
    item.RelationshipType = relationship
    item.ValueType = value_type
    item.ConceptNameCodeSequence = DicomSequence([_code(concept, scheme, f"concept {concept}")])
    return item


def container(concept: str, *children: Dataset, scheme: str = "DCM") -> Dataset:
    """Return a CONTAINER content item holding ``children``."""
    item = _item("CONTAINER", concept, scheme)
    item.ContinuityOfContent = "SEPARATE"
    item.ContentSequence = DicomSequence(list(children))
    return item


def num_item(concept: str, value: str, unit: str, scheme: str = "DCM") -> Dataset:
    """Return a NUM content item; ``value`` is written as sent (DS text)."""
    item = _item("NUM", concept, scheme)
    measured = Dataset()
    raw = value.encode("latin-1")
    raw += b" " * (len(raw) % 2)
    # A raw element, as read from a file: tests send invalid DS text on purpose.
    measured[NUMERIC_VALUE] = RawDataElement(Tag(NUMERIC_VALUE), "DS", len(raw), raw, 0, False, True)
    measured.MeasurementUnitsCodeSequence = DicomSequence([_code(unit, "UCUM", unit)])
    item.MeasuredValueSequence = DicomSequence([measured])
    return item


def text_item(concept: str, value: str) -> Dataset:
    """Return a TEXT content item."""
    item = _item("TEXT", concept)
    item.TextValue = value
    return item


def uid_item(concept: str, value: str) -> Dataset:
    """Return a UIDREF content item."""
    item = _item("UIDREF", concept)
    item.UID = value
    return item


def code_item(concept: str, code: tuple[str, str, str], relationship: str = "HAS CONCEPT MOD") -> Dataset:
    """Return a CODE content item whose value is ``(value, scheme, meaning)``."""
    item = _item("CODE", concept, relationship=relationship)
    item.ConceptCodeSequence = DicomSequence([_code(*code)])
    return item


def sr_dataset(content: Sequence[Dataset], *, study_uid: str | None = None, station: str = "CT1") -> Dataset:
    """Return an X-Ray Radiation Dose SR (document title 113701) with ``content``."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = XRAY_DOSE_SR
    ds.SOPClassUID = XRAY_DOSE_SR
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "SR"
    ds.StudyDate, ds.StudyTime = "20240102", "101500"
    ds.PatientName, ds.PatientID, ds.PatientAge, ds.PatientSex = "Doe^Jane", "12345", "067Y", "F"
    ds.Manufacturer, ds.StationName = "ACME", station
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = DicomSequence([_code("113701", "DCM", "X-Ray Radiation Dose Report")])
    ds.ContinuityOfContent = "SEPARATE"
    ds.ContentSequence = DicomSequence(list(content))
    return ds


SINGLE_PLANE = ("113622", "DCM", "Single Plane")
STATIONARY = ("113611", "DCM", "Stationary Acquisition")
PROJECTION_XRAY = ("113704", "DCM", "Projection X-Ray")
CHEST = ("T-D3000", "SRT", "Chest")


def projection_report(
    *event_items: Dataset,
    plane: tuple[str, str, str] = SINGLE_PLANE,
    event_type: tuple[str, str, str] = STATIONARY,
    procedure: tuple[str, str, str] = PROJECTION_XRAY,
    accumulated: tuple[Dataset, ...] = (),
    target_region: tuple[str, str, str] | None = CHEST,
) -> Dataset:
    """Return a one-event projection x-ray dose report (TID 10001) whose event UID is 1.2.3.9."""
    event = container(
        "113706",
        code_item("113764", plane),
        uid_item("113769", "1.2.3.9"),
        code_item("113721", event_type, "CONTAINS"),
        *([code_item("123014", target_region, "CONTAINS")] if target_region else []),
        *event_items,
    )
    planes = container("113702", code_item("113764", plane), *accumulated)
    return sr_dataset([code_item("121058", procedure), planes, event])
