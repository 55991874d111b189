"""Radiopharmaceutical administrations from NM and PET image headers (PS3.3 C.8.4.10, C.8.9.2).

Each item of the Radiopharmaceutical Information Sequence becomes an entry of
``radiopharmaceutical.administrations`` with the field names and units of the
radiopharmaceutical dose report (TID 10022): ``administered_activity`` MBq,
``radionuclide_half_life`` s, ``radiopharmaceutical_start_date_time``... The
free-text agent name goes in ``radiopharmaceutical_agent_text``.

An administration is identified by the image's Radiopharmaceutical
Administration Event UID when it has one, else by a UID derived from the study,
radionuclide and start time, so every image of one injection names the same
administration. A PET image also describes its series (``pet_series``, one per
Series Instance UID). ``service.ingest.merge`` lets a radiopharmaceutical report's
values win over an image's, in whichever order they arrive.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from service import units
from service.extract.dicomtime import combine, parse_datetime
from service.extract.header import number, text
from service.extract.sr import coded

Notes = list[str]

NM_IMAGE = "1.2.840.10008.5.1.4.1.1.20"

#: Image SOP classes read here, with the unit their Radionuclide Total Dose is sent in:
#: MBq for NM (C.8.4.10), Bq for PET (C.8.9.2).
SOP_CLASSES = {
    NM_IMAGE: "MBq",  # Nuclear Medicine Image
    "1.2.840.10008.5.1.4.1.1.128": "Bq",  # Positron Emission Tomography Image
    "1.2.840.10008.5.1.4.1.1.130": "Bq",  # Enhanced PET Image
    "1.2.840.10008.5.1.4.1.1.128.1": "Bq",  # Legacy Converted Enhanced PET Image
}

#: Numbers of a Radiopharmaceutical Information item, sent in the TID 10022 unit: field -> keyword.
ADMINISTRATION_NUMBERS = {
    "radionuclide_half_life": "RadionuclideHalfLife",  # s
    "radiopharmaceutical_volume": "RadiopharmaceuticalVolume",  # cm3 (ml)
    "radionuclide_positron_fraction": "RadionuclidePositronFraction",
    "radiopharmaceutical_specific_activity": "RadiopharmaceuticalSpecificActivity",  # Bq/micromole
}

#: Coded values of a Radiopharmaceutical Information item: field -> code sequence keyword.
ADMINISTRATION_CODES = {
    "radionuclide": "RadionuclideCodeSequence",
    "radiopharmaceutical_agent": "RadiopharmaceuticalCodeSequence",
    "route_of_administration": "AdministrationRouteCodeSequence",
}

#: Texts of a Radiopharmaceutical Information item: field -> keyword.
ADMINISTRATION_TEXTS = {
    "radiopharmaceutical_agent_text": "Radiopharmaceutical",
    "route_of_administration_text": "RadiopharmaceuticalRoute",
}

#: PET Series (C.8.9.1) and PET Image (C.8.9.4) values of a series: field -> keyword.
PET_SERIES_COUNTS = {
    "number_of_slices": "NumberOfSlices",
    "number_of_rr_intervals": "NumberOfRRIntervals",
    "number_of_time_slots": "NumberOfTimeSlots",
    "number_of_time_slices": "NumberOfTimeSlices",
}
PET_SERIES_NUMBERS = {
    "coincidence_window_width": "CoincidenceWindowWidth",  # ns
    "energy_window_lower_limit": "EnergyWindowLowerLimit",  # keV, in the first Energy Window Range item
    "energy_window_upper_limit": "EnergyWindowUpperLimit",
}
PET_SERIES_TEXTS = {
    "reconstruction_method": "ReconstructionMethod",
    "scan_progression_direction": "ScanProgressionDirection",
    "units": "Units",
    "decay_correction": "DecayCorrection",
}
PET_SERIES_LISTS = {"series_type": "SeriesType", "corrected_image": "CorrectedImage"}


def _values(ds: Dataset, keyword: str) -> list[str] | None:
    raw = ds.get(keyword)
    if raw in (None, ""):
        return None
    return [str(v).strip() for v in raw] if isinstance(raw, MultiValue) else [str(raw).strip()]


def _when(item: Dataset, ds: Dataset, which: str) -> Any:
    """Return a radiopharmaceutical start or stop as a datetime: its DT, else the series date and TM."""
    clock = item.get(f"Radiopharmaceutical{which}Time")
    return parse_datetime(item.get(f"Radiopharmaceutical{which}DateTime")) or (
        combine(ds.get("SeriesDate") or ds.get("StudyDate"), clock) if clock else None
    )


def _administration_uid(ds: Dataset, entry: dict[str, Any]) -> str:
    """Return a stable UID naming one injection: the same for every image that reports it."""
    nuclide = (entry.get("radionuclide") or {}).get("code_value") or entry.get("radiopharmaceutical_agent_text")
    start = entry.get("radiopharmaceutical_start_date_time")
    key = f"{text(ds, 'StudyInstanceUID')}/{nuclide}/{start}"
    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_OID, key).int}"


def administration(item: Dataset, ds: Dataset, activity_unit: str, notes: Notes) -> dict[str, Any]:
    """Read one Radiopharmaceutical Information Sequence item (TID 10022 fields)."""
    activity = number(item, "RadionuclideTotalDose")
    entry: dict[str, Any] = {
        "administered_activity": None if activity is None else units.convert(activity, activity_unit, "MBq"),
        "radiopharmaceutical_start_date_time": _when(item, ds, "Start"),
        "radiopharmaceutical_stop_date_time": _when(item, ds, "Stop"),
        **{field: coded(item[kw][0]) if item.get(kw) else None for field, kw in ADMINISTRATION_CODES.items()},
        **{field: text(item, kw, notes) for field, kw in ADMINISTRATION_TEXTS.items()},
        **{field: number(item, kw) for field, kw in ADMINISTRATION_NUMBERS.items()},
    }
    entry["radiopharmaceutical_administration_event_uid"] = text(
        item, "RadiopharmaceuticalAdministrationEventUID"
    ) or _administration_uid(ds, entry)
    return {name: value for name, value in entry.items() if value is not None}


def pet_series(ds: Dataset) -> dict[str, Any]:
    """Describe the PET series an image belongs to."""
    energy = (ds.get("EnergyWindowRangeSequence") or [Dataset()])[0]
    entry: dict[str, Any] = {
        "series_instance_uid": text(ds, "SeriesInstanceUID"),
        "series_date_time": combine(ds.get("SeriesDate"), ds.get("SeriesTime")),
        **{
            field: next((n for d in (ds, energy) if (n := number(d, kw)) is not None), None)
            for field, kw in PET_SERIES_NUMBERS.items()
        },
        **{field: int(n) for field, kw in PET_SERIES_COUNTS.items() if (n := number(ds, kw)) is not None},
        **{field: text(ds, kw) for field, kw in PET_SERIES_TEXTS.items()},
        **{field: _values(ds, kw) for field, kw in PET_SERIES_LISTS.items()},
    }
    return {name: value for name, value in entry.items() if value is not None}


def has_administrations(ds: Dataset) -> bool:
    """Tell whether an NM or PET image says what was administered."""
    return bool(ds.get("RadiopharmaceuticalInformationSequence"))


def read_nm_image(ds: Dataset, notes: Notes) -> tuple[dict[str, Any], list[str]]:
    """Read an NM or PET image header into a radiopharmaceutical section and its modalities."""
    unit = SOP_CLASSES[str(ds.SOPClassUID)]
    section: dict[str, Any] = {
        "administrations": [
            administration(item, ds, unit, notes) for item in ds.get("RadiopharmaceuticalInformationSequence", [])
        ],
    }
    if str(ds.SOPClassUID) != NM_IMAGE:
        section["pet_series"] = [pet_series(ds)]
    return section, ["NM"]
