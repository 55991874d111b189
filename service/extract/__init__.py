"""Pure extraction: a pydicom Dataset becomes a study document fragment.

``extract(ds, not_patient_patterns=...)`` returns a *fragment*: the study-level
fields of DESIGN.md (``study_instance_uid``, ``modalities``, ``study_date_time``,
``patient``, ``equipment``...), one section (``ct``, ``projection`` or
``radiopharmaceutical``) and ``report``, which identifies the object itself
(``sop_instance_uid``, ``sop_class_uid``, ``series_instance_uid``, ``kind``),
holds the report's own context (observer, irradiation start and end...) and
``notes``, the repairs made on the way, for the event log. ``service.ingest.merge``
folds fragments into the stored study document. Raises
:class:`service.errors.NotADoseObject` or :class:`service.errors.InvalidDoseReport`;
never touches a database.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydicom import config as pydicom_config
from pydicom.dataset import Dataset
from pydicom.uid import UID

from service.errors import InvalidDoseReport, NotADoseObject, RejectedObject
from service.extract import (
    breast,
    ct,
    ct_dose_info,
    header,
    images,
    nm_images,
    projection,
    radiopharmaceutical,
    structure,
)
from service.extract.header import DEFAULT_NOT_PATIENT_PATTERNS
from service.extract.sr import Notes, code_key, describe_code, document_title

#: SR storage SOP classes that can carry a dose report (PS3.4 B.5).
SR_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.88.67",  # X-Ray Radiation Dose SR
        "1.2.840.10008.5.1.4.1.1.88.68",  # Radiopharmaceutical Radiation Dose SR
        "1.2.840.10008.5.1.4.1.1.88.22",  # Enhanced SR (early GE and Siemens dose reports)
        "1.2.840.10008.5.1.4.1.1.88.33",  # Comprehensive SR
        "1.2.840.10008.5.1.4.1.1.88.34",  # Comprehensive 3D SR
        "1.2.840.10008.5.1.4.1.1.88.35",  # Extensible SR
    }
)

# Invalid values are the norm in vendor dose reports; lenient.py and vendors.py repair them and
# notes each repair for the event log, so pydicom's own warnings would only be noise.
pydicom_config.settings.reading_validation_mode = pydicom_config.IGNORE

XRAY_DOSE_REPORT = ("DCM", "113701")
RADIOPHARMACEUTICAL_DOSE_REPORT = ("DCM", "113500")


@dataclass(frozen=True)
class Extracted:
    """What one template or header reader found in an object."""

    section: str  # "ct", "projection" or "radiopharmaceutical"
    content: dict[str, Any]  # the section: accumulated blocks and event arrays
    modalities: list[str]
    context: dict[str, Any]  # report-level items that are not study fields
    kind: str  # "rdsr", "rrdsr", "esr" or "image"


Reader = Callable[[Dataset, Notes], Extracted]


def _sr_kind(ds: Dataset) -> str:
    return "esr" if ds.SOPClassUID != "1.2.840.10008.5.1.4.1.1.88.67" else "rdsr"


def read_ct(ds: Dataset, notes: Notes) -> Extracted:
    """Read a CT Radiation Dose report (TID 10011)."""
    section, context = ct.extract_ct(ds, notes)
    return Extracted("ct", section, ["CT"], context, _sr_kind(ds))


def read_projection(ds: Dataset, notes: Notes) -> Extracted:
    """Read a Projection X-Ray Radiation Dose report (TID 10001); the modality comes from its content."""
    section, context, modality = projection.extract_projection(ds, notes)
    return Extracted("projection", section, [modality], context, _sr_kind(ds))


def read_siemens_summary(ds: Dataset, notes: Notes) -> Extracted:
    """Read a Siemens private Radiation Summary Report (fluoroscopy totals only)."""
    section, context, modality = projection.extract_siemens_summary(ds, notes)
    return Extracted("projection", section, [modality], context, "esr")


def read_radiopharmaceutical(ds: Dataset, notes: Notes) -> Extracted:
    """Read a Radiopharmaceutical Radiation Dose report (TID 10021), NM or PET."""
    section, context = radiopharmaceutical.extract_radiopharmaceutical(ds, notes)
    return Extracted("radiopharmaceutical", section, ["NM"], context, "rrdsr")


#: An X-Ray Radiation Dose Report is CT (TID 10011) or projection (TID 10001) by its root containers.
XRAY_READERS: tuple[tuple[Callable[[Dataset], bool], Reader], ...] = (
    (ct.is_ct_report, read_ct),
    (projection.is_projection_report, read_projection),
)


def read_xray_dose_report(ds: Dataset, notes: Notes) -> Extracted:
    """Read an X-Ray Radiation Dose Report (TID 10001 or TID 10011)."""
    for applies, reader in XRAY_READERS:
        if applies(ds):
            return reader(ds, notes)
    raise InvalidDoseReport(
        "it is an X-Ray Radiation Dose Report without CT (113811, 113819) or projection "
        "(113702, 113706) accumulated dose or irradiation event containers"
    )


#: Readers of dose SRs by document title.
SR_READERS: dict[tuple[str, str], Reader] = {
    XRAY_DOSE_REPORT: read_xray_dose_report,
    RADIOPHARMACEUTICAL_DOSE_REPORT: read_radiopharmaceutical,
    projection.SIEMENS_SUMMARY_TITLE: read_siemens_summary,
}


@dataclass(frozen=True)
class ImageReader:
    """Read dose from the header of one kind of image, when its content holds any."""

    section: str
    read: Callable[[Dataset, Notes], tuple[dict[str, Any], list[str]]]
    accepts: Callable[[Dataset], bool] = lambda ds: True
    needs: str = ""  # what ``accepts`` looks for, to say why an image is refused

    def __call__(self, ds: Dataset, notes: Notes) -> Extracted:
        """Read the image into its section."""
        content, modalities = self.read(ds, notes)
        return Extracted(self.section, content, modalities, {}, "image")


MAMMOGRAPHY_IMAGE = ImageReader(
    "projection",
    breast.read_breast_image,
    breast.is_mammography_capture,
    "Modality MG and mammography exposure attributes (Organ Dose, Entrance Dose, KVP, Exposure)",
)

#: Readers of image headers by SOP class (PS3.4 B.5), the first that accepts the image wins.
IMAGE_READERS: dict[str, tuple[ImageReader, ...]] = {
    **{uid: (ImageReader("projection", images.read_projection_image),) for uid in images.SOP_CLASSES},
    **{uid: (ImageReader("projection", breast.read_breast_image),) for uid in breast.SOP_CLASSES},
    **{
        uid: (
            ImageReader(
                "radiopharmaceutical",
                nm_images.read_nm_image,
                nm_images.has_administrations,
                "a Radiopharmaceutical Information Sequence",
            ),
        )
        for uid in nm_images.SOP_CLASSES
    },
    ct_dose_info.SECONDARY_CAPTURE: (
        ImageReader(
            "ct",
            ct_dose_info.read_ct_dose_info,
            ct_dose_info.is_dose_info,
            "an Exposure Dose Sequence (as a CT dose-info image has)",
        ),
        MAMMOGRAPHY_IMAGE,  # Hologic Selenia Dimensions tomosynthesis projections
    ),
}

#: Objects not read although they carry dose values, each with why: returns the reason or None.
NOT_READ: tuple[Callable[[Dataset], str | None], ...] = (breast.ct_stored_reconstruction,)


def _describe(ds: Dataset, sop_class: str) -> str:
    name = UID(sop_class).name if sop_class else "an object without a SOP Class UID"
    return f"{name} (Modality {ds.get('Modality', 'unknown')})"


def choose_reader(ds: Dataset) -> Reader:
    """Pick the reader for an object from its SOP class and content, or refuse it."""
    sop_class = str(ds.get("SOPClassUID", ""))
    if sop_class in SR_CLASSES:
        title = document_title(ds)
        if title in SR_READERS:
            return SR_READERS[title]
        found = describe_code(ds.ConceptNameCodeSequence[0]) if title else "missing"
        raise NotADoseObject(f"it is not a dose report: its document title is {found}")
    for reason in filter(None, (not_read(ds) for not_read in NOT_READ)):
        raise NotADoseObject(reason)
    readers = IMAGE_READERS.get(sop_class)
    if readers is None:
        raise NotADoseObject(f"it is {_describe(ds, sop_class)}, which carries no dose information")
    for image in readers:
        if image.accepts(ds):
            return image
    needs = " or ".join(image.needs for image in readers)
    raise NotADoseObject(f"it is {_describe(ds, sop_class)} without {needs}, so it carries no dose information")


#: Event arrays whose entries must carry a UID: (field, what the notes call an entry, concept).
EVENT_UIDS = {
    "events": ("irradiation_event_uid", "event", "Irradiation Event UID"),
    "administrations": (
        "radiopharmaceutical_administration_event_uid",
        "administration",
        "Radiopharmaceutical Administration Event UID",
    ),
}


def _identify_events(content: dict[str, Any], sop_instance_uid: str, notes: Notes) -> None:
    """Give every event without its UID a stable one (UUID-derived 2.25 UID)."""
    for array, (identity, label, concept) in EVENT_UIDS.items():
        for index, event in enumerate(content.get(array, [])):
            if not event.get(identity):
                uid = f"2.25.{uuid.uuid5(uuid.NAMESPACE_OID, f'{sop_instance_uid}/{index}').int}"
                event[identity] = uid
                notes.append(f"{label} {index + 1} has no {concept}; identified as {uid}")


def extract(ds: Dataset, *, not_patient_patterns: Sequence[str] = DEFAULT_NOT_PATIENT_PATTERNS) -> dict[str, Any]:
    """Build a study document fragment from one dose object; name a broken element when reading it fails."""
    try:
        return _extract(ds, not_patient_patterns)
    except (RejectedObject, RecursionError, MemoryError):
        raise
    except Exception:
        structure.check(ds)  # raises InvalidDoseReport naming the element, when one is broken
        raise


def _extract(ds: Dataset, not_patient_patterns: Sequence[str]) -> dict[str, Any]:
    """Build a study document fragment from one dose object."""
    reader = choose_reader(ds)
    notes: Notes = []
    study = header.study_fields(ds, notes)
    sop_instance_uid = header.text(ds, "SOPInstanceUID")
    if not study["study_instance_uid"] or not sop_instance_uid:
        raise InvalidDoseReport("it has no Study Instance UID or no SOP Instance UID")
    found = reader(ds, notes)
    _identify_events(found.content, sop_instance_uid, notes)
    procedure = found.context.pop("procedure_reported", None)
    return {
        **study,
        "modalities": found.modalities,
        "procedure_reported": procedure,
        "patient": header.patient_fields(ds, study["study_date_time"], not_patient_patterns, notes),
        "equipment": {
            **header.equipment_fields(ds, notes),
            "device_observer_uid": found.context.get("device_observer_uid"),
        },
        found.section: found.content,
        "report": {
            "sop_instance_uid": sop_instance_uid,
            "sop_class_uid": str(ds.SOPClassUID),
            "series_instance_uid": header.text(ds, "SeriesInstanceUID"),
            "kind": found.kind,
            "context": found.context,
            "notes": notes,
        },
    }


__all__ = [
    "DEFAULT_NOT_PATIENT_PATTERNS",
    "IMAGE_READERS",
    "SR_READERS",
    "Extracted",
    "choose_reader",
    "code_key",
    "extract",
]
