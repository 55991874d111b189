"""Originals without identity: what ingest keeps of an object, and what reprocessing reads back from it."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from service.access.patient_key import PatientKeys
from service.extract.identity import KeptIdentity, read_identity
from service.ingest.deidentify import PATIENT_ATTRIBUTES, deidentify, identity_of, prepare
from service.ingest.dicomfile import read_dataset
from service.ingest.pipeline import Pipeline
from service.storage import Store
from tests.arrivals import comparable
from tests.identities import DISTINCTIVE, NAME, PATIENT_ID, identified_image, identified_report
from tests.samples import ct_report, to_bytes

KEYS = PatientKeys("k" * 40)


def _kept(store: Store, data: bytes) -> bytes:
    return store.read_original(hashlib.sha256(data).hexdigest())


def _same(document: dict[str, Any]) -> dict[str, Any]:
    """Drop what reprocessing changes by nature (write times, revision) from a study document."""
    return {key: value for key, value in comparable(document).items() if key != "revision"}


def test_the_table_is_the_patient_rows_of_table_e1_1() -> None:
    keywords = {keyword for keyword, _ in PATIENT_ATTRIBUTES.values()}
    assert {"PatientName", "PatientID", "PatientBirthDate", "OtherPatientIDsSequence", "PatientAddress"} <= keywords
    assert {"PatientSex", "PatientAge", "PatientSize", "PatientWeight", "AccessionNumber"}.isdisjoint(keywords)
    for tag, (keyword, action) in PATIENT_ATTRIBUTES.items():
        assert pydicom.datadict.keyword_for_tag(tag) == keyword and action in ("X", "Z")


def test_an_original_is_kept_without_the_patient(pipeline: Pipeline, store: Store) -> None:
    data = to_bytes(identified_report())
    outcome = pipeline.ingest(data, name="identified.dcm", via="cli", client="t")
    assert outcome.outcome == "created"
    kept = _kept(store, data)
    assert [value for value in DISTINCTIVE if value.encode() in kept] == []
    assert all(value.encode() in data for value in DISTINCTIVE)  # the check above could fail
    ds = pydicom.dcmread(io.BytesIO(kept))
    assert (ds.PatientName, ds.PatientID, ds.PatientBirthDate) == ("", "", "")
    assert "OtherPatientIDsSequence" not in ds and "IssuerOfPatientID" not in ds
    assert (ds.PatientSex, ds.PatientAge, ds.PatientWeight) == ("F", "076Y", 61.5)
    assert (ds.PatientIdentityRemoved, ds.DeidentificationMethod.startswith("DoseLedger")) == ("YES", True)
    patient = store.get_study(outcome.study_instance_uid or "")["patient"]
    assert patient["key"] == pipeline.patient_keys.key("HOSP", PATIENT_ID)  # type: ignore[union-attr]
    assert patient["age_years"] == 76.9  # from the birth date (1947-02-11) and study date (2024-01-02)
    assert read_identity(ds) == KeptIdentity(patient["key"], None, pytest.approx(76.9, abs=0.05))


def test_the_hash_is_of_the_bytes_received_so_a_resend_is_a_duplicate(pipeline: Pipeline, store: Store) -> None:
    data = to_bytes(identified_report())
    first = pipeline.ingest(data, name="a.dcm", via="cli", client="t")
    again = pipeline.ingest(data, name="a-again.dcm", via="http", client="t")
    assert (first.outcome, again.outcome) == ("created", "duplicate")
    assert first.sha256 == again.sha256 == hashlib.sha256(data).hexdigest() and store.count_originals() == 1


def test_reprocessing_a_kept_original_gives_the_same_document(pipeline: Pipeline, store: Store) -> None:
    phantom = identified_report(name="PHYSICS^Phantom", patient_id="QA-0001")
    implicit = identified_report()
    implicit.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    uids = [
        pipeline.ingest(to_bytes(ds), name=name, via="cli", client="t").study_instance_uid
        for name, ds in (("phantom.dcm", phantom), ("implicit.dcm", implicit))
    ]
    before = [_same(store.get_study(uid or "")) for uid in uids]
    assert before[0]["patient"]["not_patient_indicator"] == "IDs: qa | Names: phy"
    assert before[1]["patient"]["key"] and before[1]["patient"]["age_years"] == 76.9
    assert [outcome.outcome for outcome in pipeline.reprocess(client="t")] == ["merged", "merged"]
    assert [_same(store.get_study(uid or "")) for uid in uids] == before


def test_a_rejected_object_is_kept_without_the_patient_too(pipeline: Pipeline, store: Store) -> None:
    data = identified_image()
    assert pipeline.ingest(data, name="image.dcm", via="cli", client="t").code == "not-a-dose-object"
    kept = _kept(store, data)
    assert NAME.encode() not in kept and PATIENT_ID.encode() not in kept and NAME.encode() in data


def test_bytes_that_are_not_dicom_are_kept_as_received(pipeline: Pipeline, store: Store) -> None:
    """Documented limitation: what does not parse cannot be de-identified, and is kept rather than lost."""
    data = to_bytes(identified_report())[:-300]
    assert pipeline.ingest(data, name="cut.dcm", via="cli", client="t").code == "not-dicom"
    assert _kept(store, data) == data
    [original] = store.iter_originals(unscrubbed_only=True)
    assert not original.scrubbed and original.study_instance_uid is None


def test_the_content_tree_is_parsed_only_when_it_names_the_subject() -> None:
    plain = read_dataset(to_bytes(ct_report()), "plain.dcm")
    deidentify(plain, identity_of(plain, KEYS, ()))
    assert isinstance(plain.get_item(0x0040A730), RawDataElement)
    named = read_dataset(to_bytes(identified_report()), "named.dcm")
    deidentify(named, identity_of(named, KEYS, ()))
    concepts = [item.ConceptNameCodeSequence[0].CodeValue for item in named.ContentSequence]
    assert "121029" not in concepts and "121030" not in concepts and "121031" not in concepts
    assert concepts[:2] == ["113876", "121058"]  # other items stay, nested subject items removed
    assert [item.ConceptNameCodeSequence[0].CodeValue for item in named.ContentSequence[0].ContentSequence] == []


def test_the_kept_identity_is_what_the_removed_attributes_gave() -> None:
    ds = identified_report(name="Doe^QA", patient_id="7")
    identity = identity_of(ds, KEYS, ("qa",))
    assert identity == KeptIdentity(KEYS.key("HOSP", "7"), "IDs:  | Names: qa", pytest.approx(76.9, abs=0.05))
    assert identity_of(ds, None, ()).key is None
    del ds.PatientBirthDate
    assert identity_of(ds, KEYS, ()).age_from_dates is None  # the Age String stays in the object


@pytest.mark.parametrize("kept", [True, False])
def test_prepare_trusts_a_block_only_in_a_kept_original(kept: bool) -> None:
    ds = read_dataset(to_bytes(identified_report()), "x.dcm")
    deidentify(ds, KeptIdentity("a" * 64, "IDs: qa | Names: ", 50.0))
    prepare(ds, KEYS, ("qa",), kept=kept)
    identity = read_identity(ds)
    assert identity == (KeptIdentity("a" * 64, "IDs: qa | Names: ", 50.0) if kept else KeptIdentity(None, None, None))


def test_an_unreadable_block_reads_as_none() -> None:
    ds = Dataset()
    ds.private_block(0x0011, "DOSELEDGER 1", create=True).add_new(0x01, "OB", b"not json")
    assert read_identity(ds) is None


def test_nested_sequences_are_parsed_only_when_they_may_hold_a_patient_attribute() -> None:
    ds = ct_report()
    nested, plain = Dataset(), Dataset()
    nested.ReferencedSOPClassUID, nested.PatientID = "1.2.840.10008.3.1.2.3.1", "NESTED-4242"
    plain.ReferencedSOPClassUID, plain.ReferencedSOPInstanceUID = "1.2.840.10008.3.1.2.3.3", "1.2.3"
    ds.ReferencedStudySequence = [nested]
    ds.ReferencedPerformedProcedureStepSequence = [plain]
    read = read_dataset(to_bytes(ds), "nested.dcm")
    deidentify(read, identity_of(read, KEYS, ()))
    assert read.ReferencedStudySequence[0].PatientID == ""  # Z at any depth
    assert isinstance(read.get_item("ReferencedPerformedProcedureStepSequence"), RawDataElement)
