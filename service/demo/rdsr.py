"""Write a demonstration CT dose report as a DICOM file, for a newcomer's first import.

An X-Ray Radiation Dose SR (PS3.16 TID 10011: CT Accumulated Dose Data,
TID 10012; one CT Acquisition per scan, TID 10013) of a demonstration "CT
Chest" study, built with pydicom from a generated ``ct`` section
(:func:`service.demo.studies.ct_section`), with concept codes and meanings
from pydicom's tables of the standard. Its Study Instance UID is under the
demonstration root, so ``doseledger demo --remove`` removes the study an
import of it makes; its patient ID names the not-patient patterns, so the
import marks it as a test patient.
"""

from __future__ import annotations

import io
import random
from datetime import datetime, time, timedelta
from typing import Any

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import ExplicitVRLittleEndian

from service.demo import catalogue as c
from service.demo.studies import DEMO_ROOT, XRAY_DOSE_SR, ct_section

D = codes.DCM
#: The example's Study Instance UID: an arc of its own under the demonstration root.
EXAMPLE_STUDY = f"{DEMO_ROOT}.4.1"
EXAMPLE_SEED = 2021


def _concept(code: Code | c.Coded) -> Dataset:
    item = Dataset()
    if isinstance(code, Code):
        code = c.coded(code)
    item.CodeValue, item.CodingSchemeDesignator = code["code_value"], code["coding_scheme_designator"]
    item.CodeMeaning = code["code_meaning"]
    return item


def _item(value_type: str, concept: Code, relationship: str = "CONTAINS") -> Dataset:
    item = Dataset()
    item.RelationshipType, item.ValueType = relationship, value_type
    item.ConceptNameCodeSequence = Sequence([_concept(concept)])
    return item


def _container(concept: Code, *children: Dataset | None) -> Dataset:
    item = _item("CONTAINER", concept)
    item.ContinuityOfContent = "SEPARATE"
    item.ContentSequence = Sequence([child for child in children if child is not None])
    return item


def _num(concept: Code, value: float | None, unit: str, meaning: str | None = None) -> Dataset | None:
    if value is None:
        return None
    measured = Dataset()
    measured.NumericValue = f"{value:.10g}"
    measured.MeasurementUnitsCodeSequence = Sequence([_concept({
        "code_value": unit, "coding_scheme_designator": "UCUM", "code_meaning": meaning or unit})])  # fmt: skip
    item = _item("NUM", concept)
    item.MeasuredValueSequence = Sequence([measured])
    return item


def _code(concept: Code, value: c.Coded, relationship: str = "CONTAINS") -> Dataset:
    item = _item("CODE", concept, relationship)
    item.ConceptCodeSequence = Sequence([_concept(value)])
    return item


def _text(concept: Code, value: str, value_type: str = "TEXT") -> Dataset:
    item = _item(value_type, concept)
    setattr(item, {"TEXT": "TextValue", "UIDREF": "UID", "DATETIME": "DateTime"}[value_type], value)
    return item


def _acquisition(event: dict[str, Any]) -> Dataset:
    """Return one CT Acquisition container (TID 10013) from a generated event."""
    source = event["sources"][0]
    return _container(
        D.CTAcquisition,
        _text(D.AcquisitionProtocol, event["acquisition_protocol"]),
        _code(D.TargetRegion, event["target_region"]),
        _code(D.CTAcquisitionType, event["ct_acquisition_type"]),
        _text(D.IrradiationEventUID, event["irradiation_event_uid"], "UIDREF"),
        _text(D.DatetimeStarted, f"{event['date_time_started']:%Y%m%d%H%M%S}", "DATETIME"),
        _container(
            D.CTAcquisitionParameters,
            _num(D.ExposureTime, event["exposure_time"], "s"),
            _num(D.ScanningLength, event["scanning_length"], "mm"),
            _num(D.NominalSingleCollimationWidth, event["nominal_single_collimation_width"], "mm"),
            _num(D.NominalTotalCollimationWidth, event["nominal_total_collimation_width"], "mm"),
            _num(D.PitchFactor, event.get("pitch_factor"), "{ratio}", "ratio"),
            _num(D.NumberOfXRaySources, 1, "{X-Ray sources}", "X-Ray sources"),
            _container(
                D.CTXRaySourceParameters,
                _text(D.IdentificationOfTheXRaySource, source["identification_of_the_xray_source"]),
                _num(D.KVP, source["kvp"], "kV"),
                _num(D.MaximumXRayTubeCurrent, source["maximum_xray_tube_current"], "mA"),
                _num(D.XRayTubeCurrent, source["xray_tube_current"], "mA"),
                _num(D.ExposureTimePerRotation, source["exposure_time_per_rotation"], "s"),
            ),
        ),
        _container(
            D.CTDose,
            _num(D.MeanCtdivol, event["mean_ctdivol"], "mGy"),
            _code(D.CtdiwPhantomType, event["ctdiw_phantom_type"]),
            _num(D.DLP, event["dlp"], "mGy.cm"),
        ),
    )


def _header(when: datetime, patient_id: str) -> Dataset:
    """Return the patient, study, series, equipment and SR document modules of the example."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = XRAY_DOSE_SR
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"{DEMO_ROOT}.4.2"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = EXAMPLE_STUDY, f"{DEMO_ROOT}.4.3"
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "SR", 999, 1
    ds.StudyDate = ds.ContentDate = f"{when:%Y%m%d}"
    ds.StudyTime = ds.ContentTime = f"{when:%H%M%S}"
    ds.AccessionNumber, ds.StudyID, ds.StudyDescription = "DEMO-EXAMPLE", "1", "CT Chest"
    ds.PatientName, ds.PatientID = "DEMO^DOSELEDGER EXAMPLE", patient_id
    ds.PatientAge, ds.PatientSex, ds.PatientWeight = "058Y", "F", 71
    ds.PatientBirthDate = ds.ReferringPhysicianName = ""  # type 2: present, unknown
    ds.ReferencedPerformedProcedureStepSequence = ds.PerformedProcedureCodeSequence = Sequence([])
    room = c.ROOMS["DEMO-CT1"]
    ds.Manufacturer, ds.ManufacturerModelName, ds.StationName = c.MANUFACTURER, room.model, room.station
    ds.InstitutionName, ds.InstitutionalDepartmentName = c.INSTITUTION, room.department
    ds.DeviceSerialNumber, ds.SoftwareVersions = f"DEMO-{room.station}", "DoseLedger demo"
    ds.CompletionFlag, ds.VerificationFlag, ds.ValueType = "COMPLETE", "UNVERIFIED", "CONTAINER"
    ds.ConceptNameCodeSequence = Sequence([_concept(D.XRayRadiationDoseReport)])
    ds.ContinuityOfContent = "SEPARATE"
    template = Dataset()
    template.MappingResource, template.TemplateIdentifier = "DCMR", "10011"
    ds.ContentTemplateSequence = Sequence([template])
    return ds


def example_report(now: datetime, patient_id: str) -> bytes:
    """Return the example CT dose report (dated yesterday at 10:30) as a DICOM Part 10 file."""
    when = datetime.combine(now.date() - timedelta(days=1), time(10, 30))
    section = ct_section(0, random.Random(EXAMPLE_SEED), when + timedelta(minutes=5), c.CT_EXAMS["CT Chest"][1])
    ds = _header(when, patient_id)
    accumulated = section["accumulated"]
    ds.ContentSequence = Sequence([
        _code(D.ProcedureReported, c.coded(codes.SCT.ComputedTomography), "HAS CONCEPT MOD"),
        _container(
            D.CTAccumulatedDoseData,
            _num(D.TotalNumberOfIrradiationEvents, accumulated["total_number_of_irradiation_events"], "{events}",
                 "events"),
            _num(D.CTDoseLengthProductTotal, accumulated["ct_dose_length_product_total"], "mGy.cm"),
        ),
        *(_acquisition(event) for event in section["events"]),
    ])  # fmt: skip
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
