"""Originals without identity: remove the patient-identifying attributes before an object is kept.

:data:`PATIENT_ATTRIBUTES` is the part of PS3.15 Annex E, Table E.1-1
(Application Level Confidentiality Profile Attributes) that identifies the
patient: the attributes of the Patient module (PS3.3 C.7.1.1), the Patient
Study module (C.7.2.2) and the patient's visit and admission that the Basic
Application Level Confidentiality Profile removes (``X``) or replaces with an
empty value (``Z``). Each is given the profile's action, at any depth (the
Content Sequence aside, see below). Kept, as the study document keeps them (the
profile's Retain Patient Characteristics Option): Patient's Sex, Age, Size and
Weight. Also kept, because they describe the examination rather than who had it
and the study document stores them: UIDs, dates and times, accession number,
study ID, descriptions, staff names, institution and device (the profile's
Retain UIDs, Retain Longitudinal Temporal Information with Full Dates, Retain
Device Identity and Retain Institution Identity Options), and private
attributes (extraction reads some; Retain Safe Private Option). So a kept
original is not a fully de-identified object in the profile's sense and does
not claim to be one; it says what was done in De-identification Method
(0012,0063) and Patient Identity Removed (0012,0062) ``YES``.

In an SR's Content Sequence, the Subject Context items that name the patient
(TID 1007: Subject Name 121029, Subject ID 121030, Subject Birth Date 121031)
are removed; the tree is parsed for that only when their code values occur in
its bytes.

What the study document derives from the removed attributes (the patient key,
the not-patient indicator, the age from the birth date) is written first into
DoseLedger's private block (:mod:`service.extract.identity`), so that
extraction reads the same values from the kept original as from the object
received.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence

from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag

from service.access.patient_key import PatientKeys
from service.extract.dicomtime import combine, parse_date
from service.extract.header import computed_age, not_patient_indicator, text
from service.extract.identity import IDENTITY_ELEMENT, PRIVATE_CREATOR, PRIVATE_GROUP, KeptIdentity, has_block

log = logging.getLogger(__name__)

REMOVE, EMPTY = "X", "Z"

#: PS3.15 Table E.1-1: tag -> (keyword, Basic Profile action), the patient-identifying rows.
#: ``X/Z`` rows are removed. Sex (Z), Age, Size and Weight (X) are kept (see the module docstring).
PATIENT_ATTRIBUTES: dict[int, tuple[str, str]] = {
    0x00100010: ("PatientName", EMPTY),
    0x00100020: ("PatientID", EMPTY),
    0x00100021: ("IssuerOfPatientID", REMOVE),
    0x00100030: ("PatientBirthDate", EMPTY),
    0x00100032: ("PatientBirthTime", REMOVE),
    0x00100050: ("PatientInsurancePlanCodeSequence", REMOVE),
    0x00100101: ("PatientPrimaryLanguageCodeSequence", REMOVE),
    0x00100102: ("PatientPrimaryLanguageModifierCodeSequence", REMOVE),
    0x00101000: ("OtherPatientIDs", REMOVE),
    0x00101001: ("OtherPatientNames", REMOVE),
    0x00101002: ("OtherPatientIDsSequence", REMOVE),
    0x00101005: ("PatientBirthName", REMOVE),
    0x00101040: ("PatientAddress", REMOVE),
    0x00101050: ("InsurancePlanIdentification", REMOVE),
    0x00101060: ("PatientMotherBirthName", REMOVE),
    0x00101080: ("MilitaryRank", REMOVE),
    0x00101081: ("BranchOfService", REMOVE),
    0x00101090: ("MedicalRecordLocator", REMOVE),
    0x00101100: ("ReferencedPatientPhotoSequence", REMOVE),
    0x00102000: ("MedicalAlerts", REMOVE),
    0x00102110: ("Allergies", REMOVE),
    0x00102150: ("CountryOfResidence", REMOVE),
    0x00102152: ("RegionOfResidence", REMOVE),
    0x00102154: ("PatientTelephoneNumbers", REMOVE),
    0x00102155: ("PatientTelecomInformation", REMOVE),
    0x00102160: ("EthnicGroup", REMOVE),
    0x00102180: ("Occupation", REMOVE),
    0x001021A0: ("SmokingStatus", REMOVE),
    0x001021B0: ("AdditionalPatientHistory", REMOVE),
    0x001021C0: ("PregnancyStatus", REMOVE),
    0x001021D0: ("LastMenstrualDate", REMOVE),
    0x001021F0: ("PatientReligiousPreference", REMOVE),
    0x00102203: ("PatientSexNeutered", REMOVE),
    0x00102297: ("ResponsiblePerson", REMOVE),
    0x00102299: ("ResponsibleOrganization", REMOVE),
    0x00104000: ("PatientComments", REMOVE),
    0x00081080: ("AdmittingDiagnosesDescription", REMOVE),
    0x00081084: ("AdmittingDiagnosesCodeSequence", REMOVE),
    0x00081120: ("ReferencedPatientSequence", REMOVE),
    0x00380004: ("ReferencedPatientAliasSequence", REMOVE),
    0x00380010: ("AdmissionID", REMOVE),
    0x00380011: ("IssuerOfAdmissionID", REMOVE),
    0x00380014: ("IssuerOfAdmissionIDSequence", REMOVE),
    0x00380020: ("AdmittingDate", REMOVE),
    0x00380021: ("AdmittingTime", REMOVE),
    0x00380050: ("SpecialNeeds", REMOVE),
    0x00380060: ("ServiceEpisodeID", REMOVE),
    0x00380061: ("IssuerOfServiceEpisodeID", REMOVE),
    0x00380062: ("ServiceEpisodeDescription", REMOVE),
    0x00380064: ("IssuerOfServiceEpisodeIDSequence", REMOVE),
    0x00380300: ("CurrentPatientLocation", REMOVE),
    0x00380400: ("PatientInstitutionResidence", REMOVE),
    0x00380500: ("PatientState", REMOVE),
    0x00384000: ("VisitComments", REMOVE),
    # copies of attributes as they were before a change (Table E.1-1 Note 12): may hold the old name and ID
    0x04000550: ("ModifiedAttributesSequence", REMOVE),
    0x04000561: ("OriginalAttributesSequence", REMOVE),
}

#: PS3.16 TID 1007 Subject Context, Patient: the items that identify the patient, (scheme, code value)
SUBJECT_IDENTITY_CODES = frozenset({("DCM", "121029"), ("DCM", "121030"), ("DCM", "121031")})
CONTENT_SEQUENCE = 0x0040A730
PATIENT_IDENTITY_REMOVED = 0x00120062
DEIDENTIFICATION_METHOD = 0x00120063
METHOD = "DoseLedger: patient attributes of PS3.15 Table E.1-1 removed"


def identity_of(ds: Dataset, keys: PatientKeys | None, patterns: Sequence[str]) -> KeptIdentity:
    """Return what the study document derives from ``ds``'s identifying attributes (no key without ``keys``).

    An implausible age from the dates is left out without the note extraction
    would make: the note names the birth date, and the event log must not.
    """
    study = combine(ds.get("StudyDate"), ds.get("StudyTime"))
    return KeptIdentity(
        key=keys.key(text(ds, "IssuerOfPatientID"), text(ds, "PatientID")) if keys else None,
        not_patient_indicator=not_patient_indicator(ds, patterns),
        age_from_dates=computed_age(parse_date(ds.get("PatientBirthDate")), study, []),
    )


def deidentify(ds: Dataset, identity: KeptIdentity) -> None:
    """Remove the patient-identifying attributes from ``ds`` and write ``identity`` into DoseLedger's block."""
    _remove_block(ds)
    _scrub(ds)
    _scrub_content(ds)
    ds[PATIENT_IDENTITY_REMOVED] = DataElement(PATIENT_IDENTITY_REMOVED, "CS", "YES")
    ds[DEIDENTIFICATION_METHOD] = DataElement(DEIDENTIFICATION_METHOD, "LO", METHOD)
    block = ds.private_block(PRIVATE_GROUP, PRIVATE_CREATOR, create=True)
    block.add_new(IDENTITY_ELEMENT, "OB", identity.encode())


def prepare(ds: Dataset, keys: PatientKeys | None, patterns: Sequence[str], *, kept: bool) -> None:
    """De-identify ``ds`` unless it is a ``kept`` original that already was (it holds DoseLedger's block).

    An object arriving is never ``kept``: a block it brings is replaced by the one computed here.
    """
    if kept and has_block(ds):
        return
    deidentify(ds, identity_of(ds, keys, patterns))


def _remove_block(ds: Dataset) -> None:
    """Remove a DoseLedger block the object came with (a sender must not choose its key)."""
    while has_block(ds):
        slot = ds.private_block(PRIVATE_GROUP, PRIVATE_CREATOR).block_start >> 8
        tags = list(ds.keys())
        for tag in tags:
            if tag.group == PRIVATE_GROUP and (tag.element == slot or tag.element >> 8 == slot):
                del ds[tag]


#: the tags of PATIENT_ATTRIBUTES as little endian encodes them: a sequence without any is not parsed
_ENCODED_TAGS = tuple(struct.pack("<HH", tag >> 16, tag & 0xFFFF) for tag in PATIENT_ATTRIBUTES)


def _scrub(ds: Dataset) -> None:
    """Apply :data:`PATIENT_ATTRIBUTES` to ``ds`` and every sequence item in it (the Content Sequence aside).

    A sequence still in its raw little-endian bytes is parsed only when one of
    the tags occurs in them: parsing costs, and so does writing back a parsed
    sequence instead of its bytes.
    """
    for tag in list(ds.keys()):
        if tag in PATIENT_ATTRIBUTES:
            _apply(ds, tag, PATIENT_ATTRIBUTES[tag][1])
        elif tag != CONTENT_SEQUENCE and _is_sequence(ds, tag) and _may_hold_patient_attributes(ds.get_item(tag)):
            for item in ds[tag].value:
                _scrub(item)


def _may_hold_patient_attributes(element: DataElement | RawDataElement) -> bool:
    """Tell whether a sequence may hold a patient attribute (a parsed or big-endian one always may)."""
    if not isinstance(element, RawDataElement) or not element.is_little_endian:
        return True
    value = element.value or b""
    return any(tag in value for tag in _ENCODED_TAGS)


def _apply(ds: Dataset, tag: BaseTag, action: str) -> None:
    if action == EMPTY:
        ds[tag] = DataElement(tag, dictionary_VR(tag), "")
    else:
        del ds[tag]


def _is_sequence(ds: Dataset, tag: BaseTag) -> bool:
    """Tell whether ``tag`` holds a sequence, without parsing any other element."""
    element = ds.get_item(tag)
    vr = element.VR if element is not None else None
    if vr is None and not tag.is_private:
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            return False
    return vr == "SQ"


def _scrub_content(ds: Dataset) -> None:
    """Remove the Subject Context items that identify the patient from an SR's content tree."""
    element = ds.get_item(CONTENT_SEQUENCE)
    if element is None:
        return
    if isinstance(element, RawDataElement) and not any(
        code.encode("ascii") in (element.value or b"") for _, code in SUBJECT_IDENTITY_CODES
    ):
        return
    ds.ContentSequence = _without_subject(ds.ContentSequence)


def _without_subject(items: DicomSequence) -> DicomSequence:
    kept = []
    for item in items:
        concept = item.get("ConceptNameCodeSequence") or [Dataset()]
        if (concept[0].get("CodingSchemeDesignator"), concept[0].get("CodeValue")) in SUBJECT_IDENTITY_CODES:
            continue
        if "ContentSequence" in item:
            item.ContentSequence = _without_subject(item.ContentSequence)
        kept.append(item)
    return DicomSequence(kept)
