"""Objects that carry a patient's identity in every place it can hide, and a scan of a database for identities.

:func:`identified_report` builds a CT dose report whose patient has distinctive
names, IDs and dates in the Patient module, in nested sequences, in copies of
changed attributes and in the SR's Subject Context. :func:`needles` reads the
identity of any DICOM file (with pydicom, as a test would); :func:`database_bytes`
gives every document of every collection (GridFS chunks included) as BSON, in
which a leaked value shows as its UTF-8 text or as the bytes of the object.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import bson
import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import generate_uid

from service.ingest.deidentify import PATIENT_ATTRIBUTES
from service.storage import Store
from tests.samples import ct_report, image_without_dose, to_bytes
from tests.srbuild import container, text_item

NAME, PATIENT_ID, BIRTH = "Zyxwvut^Quintessa", "ZQ-48151623", "19470211"
#: every identifying value identified_report writes, beside the three above
OTHERS = {
    "OtherPatientIDs": "OPI-99887766",
    "OtherPatientNames": "Vorpalblade^Jabberwock",
    "PatientBirthName": "Oldname^Quintessa",
    "PatientMotherBirthName": "Mothername^Ursula",
    "PatientAddress": "42 Wallaby Way Sydney",
    "PatientTelephoneNumbers": "+44 7700 900123",
    "EthnicGroup": "ETHNOGRPX",
    "PatientComments": "Comment naming Quintessa",
    "MedicalRecordLocator": "MRL-554433",
    # with its fraction: six digits alone turn up by chance in the logs' timings (pymongo's durationMS)
    "PatientBirthTime": "061530.482917",
}
NESTED_ID, FORMER_NAME, FORMER_ID, SUBJECT_NAME, SUBJECT_ID = (
    "SEQ-ID-31337",
    "Formername^Quintessa",
    "OLD-ID-27182818",
    "Subjectname^Quintessa",
    "SUBJ-ID-1618033",
)
DISTINCTIVE = (
    NAME,
    PATIENT_ID,
    BIRTH,
    *OTHERS.values(),
    NESTED_ID,
    FORMER_NAME,
    FORMER_ID,
    SUBJECT_NAME,
    SUBJECT_ID,
)


def _subject_context() -> list[Dataset]:
    """Return TID 1007 Subject Context items naming the patient (Subject Name, ID, Birth Date)."""
    name = text_item("121029", "")
    name.ValueType = "PNAME"
    del name.TextValue
    name.PersonName = SUBJECT_NAME
    birth = text_item("121031", "")
    birth.ValueType = "DATE"
    del birth.TextValue
    birth.Date = BIRTH
    return [name, text_item("121030", SUBJECT_ID), birth, container("113876", text_item("121030", SUBJECT_ID))]


def identify(ds: Dataset, *, name: str = NAME, patient_id: str = PATIENT_ID, issuer: str = "HOSP") -> Dataset:
    """Give ``ds`` a patient with an identity in every place :data:`DISTINCTIVE` lists."""
    ds.PatientName, ds.PatientID, ds.IssuerOfPatientID, ds.PatientBirthDate = name, patient_id, issuer, BIRTH
    ds.PatientSex, ds.PatientWeight, ds.PatientAge = "F", "61.5", "076Y"  # the dates give 76.9
    for keyword, value in OTHERS.items():
        setattr(ds, keyword, value)
    other = Dataset()
    other.PatientID, other.IssuerOfPatientID = NESTED_ID, "SEQ-ISSUER"
    ds.OtherPatientIDsSequence = DicomSequence([other])
    changed, original = Dataset(), Dataset()
    changed.PatientName, changed.PatientID = FORMER_NAME, FORMER_ID
    original.ModifiedAttributesSequence = DicomSequence([changed])
    original.AttributeModificationDateTime, original.ModifyingSystem = "20240101120000", "PACS"
    original.ReasonForTheAttributeModification, original.SourceOfPreviousValues = "COERCE", "RIS"
    ds.OriginalAttributesSequence = DicomSequence([original])
    return ds


def identified_report(study_uid: str | None = None, **identity: str) -> Dataset:
    """Return a CT dose report whose patient is identified everywhere (Subject Context included)."""
    ds = identify(ct_report(study_uid=study_uid), **identity)
    ds.ContentSequence = DicomSequence([*_subject_context(), *ds.ContentSequence])
    return ds


def identified_image() -> bytes:
    """Return an image without dose information (rejected on arrival) of the same patient."""
    ds = identify(pydicom.dcmread(io.BytesIO(image_without_dose())))
    ds.SOPInstanceUID = generate_uid()
    return to_bytes(ds)


@dataclass(frozen=True)
class Needle:
    """One identifying value: as text (in documents and logs) and as the bytes of the object it came from."""

    source: str
    text: str
    raw: bytes
    #: the value as the object holds it, for telling whether it also occurs where DoseLedger keeps it
    plain: str = ""

    def forms(self) -> Iterator[bytes]:
        """Yield the byte forms a leak of this value takes (UTF-8 text, the object's own encoding)."""
        yield self.text.encode("utf-8")
        if self.raw:
            yield self.raw


#: what needles reads from each file, beside the attributes of PATIENT_ATTRIBUTES that hold text
READ = ("PatientName", "PatientID", "PatientBirthDate")
SHORTEST = 4


def needles(files: dict[str, bytes]) -> list[Needle]:
    """Return the identifying values of the files that a leak would show (see :func:`_elsewhere`).

    A value that also occurs in an attribute DoseLedger keeps by design (an
    accession number that contains the patient ID, a birth date equal to the
    study date, an anonymiser's placeholder written into every field) or in a
    file name, or that is shorter than 4 characters, proves nothing and is left out.
    """
    found: list[Needle] = []
    kept_text = set(files)
    for name, data in files.items():
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        kept_text |= set(_kept_values(ds))
        found += list(_identity(name, ds))
    return [
        n
        for n in found
        if len(n.plain or n.text) >= SHORTEST and not any((n.plain or n.text) in value for value in kept_text)
    ]


def _identity(name: str, ds: Dataset) -> Iterator[Needle]:
    keywords = [*READ, *(keyword for keyword, _ in PATIENT_ATTRIBUTES.values() if keyword not in READ)]
    for keyword in keywords:
        element = ds.get_item(keyword)
        if element is None or not isinstance(element.value, bytes | str) or not element.value:
            continue
        raw = element.value if isinstance(element.value, bytes) else b""
        value = str(ds[keyword].value).strip()
        if value:
            yield Needle(f"{name} {keyword}", value, raw.rstrip(b" \x00"))
        if ds[keyword].VR == "DA" and len(value) == 8:  # a date as a message would write it
            yield Needle(f"{name} {keyword} (ISO)", f"{value[:4]}-{value[4:6]}-{value[6:]}", b"", value)
        if ds[keyword].VR == "PN":  # each name on its own: a family name alone still names the patient
            for part in value.replace("=", "^").split("^"):
                yield Needle(f"{name} {keyword} component", part.strip(), b"")


def _kept_values(ds: Dataset) -> Iterator[str]:
    """Yield the text of every attribute that is not a patient attribute, at any depth."""
    for element in ds:
        if element.tag in PATIENT_ATTRIBUTES:
            continue
        if element.VR == "SQ":
            for item in element.value:
                yield from _kept_values(item)
        elif element.VR not in ("OB", "OW", "UN", "OF", "OD", "OL", "OV"):
            yield str(element.value)


def database_bytes(store: Store) -> bytes:
    """Return every document of every collection of the store's database as BSON, GridFS chunks included."""
    return b"".join(
        bson.encode(document) for name in store.db.list_collection_names() for document in store.db[name].find()
    )


def leaks(needles: Iterable[Needle], haystack: bytes | str) -> list[str]:
    """Return the needles found in ``haystack``, each saying where it came from."""
    if isinstance(haystack, str):
        return [f"{n.source}: {n.text!r}" for n in needles if n.text in haystack]
    return [f"{n.source}: {n.text!r}" for n in needles if any(form in haystack for form in n.forms())]


def read_files(paths: Iterable[Path]) -> dict[str, bytes]:
    """Return the bytes of each file by name."""
    return {path.name: path.read_bytes() for path in paths}
