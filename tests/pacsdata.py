"""Hand-built studies for the query/retrieve tests, each with a known answer of what must be fetched.

Five studies in January 2024 and one in 2010, built with pydicom (tests/samples.py):

- ``CT``: a CT dose report (SR series) and two CT images: only the report is fetched.
- ``DX``: two DX images with DAP and no report: both are fetched (each image is an exposure).
- ``MG``: two mammography images and an X-Ray Radiation Dose SR: only the SR (it has every exposure).
- ``NM``: three NM images of one series (instance numbers 3, 1, 2): the first, instance 1, stands for it.
- ``SC``: a Secondary Capture "Dose Info" series without a dose report: fetched; ingest refuses it
  (it carries no Exposure Dose Sequence) and keeps it, so the next run does not ask for it again.
- ``OLD``: a CT dose report of 2010, outside the runs' dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from service.dicomnet.selection import Criteria
from tests.samples import ct_report, image

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
DX_IMAGE = "1.2.840.10008.5.1.4.1.1.1.1"
MG_IMAGE = "1.2.840.10008.5.1.4.1.1.1.2"
NM_IMAGE = "1.2.840.10008.5.1.4.1.1.20"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"

#: the dates the runs of the tests ask for
JANUARY = Criteria(date(2024, 1, 1), date(2024, 1, 31))


@dataclass
class Study:
    """One hand-built study: its datasets, and the SOP Instance UIDs a run must fetch."""

    uid: str
    datasets: list[Dataset] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)


def _place(ds: Dataset, study: Study, series: str, *, when: str, station: str, description: str, number: int) -> None:
    """Put ``ds`` in ``study`` and ``series`` with the study's date, station and description."""
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.InstanceNumber = study.uid, series, number
    ds.StudyDate, ds.StationName, ds.StudyDescription = when, station, description
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    study.datasets.append(ds)


def _report(study: Study, *, when: str, station: str, description: str) -> Dataset:
    report = ct_report(study_uid=study.uid)
    report.SeriesDescription = "Dose Report"
    _place(report, study, generate_uid(), when=when, station=station, description=description, number=1)
    return report


def build() -> dict[str, Study]:
    """Return the studies by name (module docstring)."""
    studies = {name: Study(generate_uid()) for name in ("CT", "DX", "MG", "NM", "SC", "OLD")}
    _ct(studies["CT"])
    _dx(studies["DX"])
    _mg(studies["MG"])
    _nm(studies["NM"])
    _sc(studies["SC"])
    old = studies["OLD"]
    _report(old, when="20100105", station="CT1", description="Chest CT")
    return studies


def _ct(study: Study) -> None:
    report = _report(study, when="20240103", station="CT1", description="Chest CT")
    study.fetched = [report.SOPInstanceUID]
    series = generate_uid()
    for n in range(2):
        _place(
            image(CT_IMAGE, "CT"), study, series, when="20240103", station="CT1", description="Chest CT", number=n + 1
        )


def _dx(study: Study) -> None:
    dx_images(study, 2)


def dx_images(study: Study, count: int) -> None:
    """Add a series of ``count`` DX images, each an exposure with its DAP, to be fetched."""
    series = generate_uid()
    for n in range(count):
        ds = image(
            DX_IMAGE,
            "DX",
            KVP="80",
            ImageAndFluoroscopyAreaDoseProduct="2.5",
            AcquisitionDateTime=f"20240102100{n}00",
        )
        _place(ds, study, series, when="20240102", station="DR1", description="Chest X-ray", number=n + 1)
        study.fetched.append(ds.SOPInstanceUID)


def _mg(study: Study) -> None:
    report = _report(study, when="20240104", station="MAMMO1", description="Mammo screening")
    study.fetched = [report.SOPInstanceUID]
    series = generate_uid()
    for n in range(2):
        ds = image(MG_IMAGE, "MG", OrganDose="0.013", ImageLaterality="LR"[n], AcquisitionDateTime=f"2024010409{n}000")
        _place(ds, study, series, when="20240104", station="MAMMO1", description="Mammo screening", number=n + 1)


def _nm(study: Study) -> None:
    series = generate_uid()
    for number in (3, 1, 2):
        item = Dataset()
        item.RadionuclideTotalDose = "500"
        item.RadiopharmaceuticalStartTime = "083000"
        ds = image(NM_IMAGE, "NM", SeriesDate="20240105", RadiopharmaceuticalInformationSequence=Sequence([item]))
        _place(ds, study, series, when="20240105", station="NM1", description="Bone scan", number=number)
        if number == 1:
            study.fetched = [ds.SOPInstanceUID]


def _sc(study: Study) -> None:
    ds = image(SECONDARY_CAPTURE, "CT", SeriesDescription="Dose Info")
    _place(ds, study, generate_uid(), when="20240106", station="CTSCREEN", description="Abdomen CT", number=1)
    study.fetched = [ds.SOPInstanceUID]


def datasets(studies: dict[str, Study]) -> list[Dataset]:
    """Return every dataset of ``studies``."""
    return [ds for study in studies.values() for ds in study.datasets]
