"""CT dose from a Philips "Dose Info" secondary capture image (PS3.3 C.4.16 Exposure Dose Sequence).

Philips scanners without dose reports (Brilliance 16P, CT-SC-Philips_Brilliance16P.dcm)
send a secondary capture whose Exposure Dose Sequence holds one item per
acquisition, with CTDIvol in a standard attribute and DLP in Philips' private
tag (00E1,xx21) of private creator ELSCINT1; the same private tag at the root
holds the study's total DLP. Each item becomes a ``ct`` event with the fields
and units of TID 10013 (times in s, currents in mA, lengths in mm); events get
their UIDs from ``service.extract`` (the image has none).

Other scanners (GE LightSpeed) leave the private tag out and write the DLPs
into Comments on Radiation Dose; :data:`service.extract.vendors.DOSE_SCREEN_READERS`
read them. The total is the private one, else the one a reader found, else the
sum of the events' DLPs when every event has one; a dose screen whose DLP
cannot be read is refused as invalid, never stored with a total of 0.
"""

from __future__ import annotations

from typing import Any

from pydicom.dataset import Dataset

from service.codes import make_code
from service.errors import InvalidDoseReport
from service.extract import vendors
from service.extract.dicomtime import parse_datetime
from service.extract.header import number, text
from service.extract.lenient import number_from_text

Notes = list[str]

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
PHILIPS_PRIVATE = (0x00E1, "ELSCINT1", 0x21)  # (group, private creator, element) of the DLP


#: Acquisition Type (0018,9302) defined terms as CID 10013 codes.
ACQUISITION_TYPES = {
    "SEQUENCED": make_code("113804", "DCM", "Sequenced Acquisition"),
    "SPIRAL": make_code("116152004", "SCT", "Spiral Acquisition"),
    "CONSTANT_ANGLE": make_code("113805", "DCM", "Constant Angle Acquisition"),
    "STATIONARY": make_code("113806", "DCM", "Stationary Acquisition"),
    "FREE": make_code("113807", "DCM", "Free Acquisition"),
}

#: Event numbers of an Exposure Dose Sequence item: field -> (keyword, factor to the TID 10013 unit).
EVENT_NUMBERS = {
    "exposure_time": ("ExposureTime", 1e-3),  # ms -> s
    "scanning_length": ("ScanLength", 1.0),  # mm
    "nominal_single_collimation_width": ("SingleCollimationWidth", 1.0),  # mm
    "nominal_total_collimation_width": ("TotalCollimationWidth", 1.0),  # mm
    "pitch_factor": ("SpiralPitchFactor", 1.0),
    "mean_ctdivol": ("CTDIvol", 1.0),  # mGy
}

#: X-ray source numbers of an item: field -> (keyword, factor to the TID 10013 unit).
SOURCE_NUMBERS = {
    "kvp": ("KVP", 1.0),  # kV
    "xray_tube_current": ("XRayTubeCurrentInuA", 1e-3),  # uA -> mA
}


def is_dose_info(ds: Dataset) -> bool:
    """Tell whether a secondary capture carries CT exposures (an Exposure Dose Sequence)."""
    return bool(ds.get("ExposureDoseSequence"))


def private_dlp(ds: Dataset, notes: Notes) -> float | None:
    """Return the DLP (mGy·cm) in Philips' private tag of a dataset or sequence item."""
    group, creator, element = PHILIPS_PRIVATE
    try:
        value = ds.private_block(group, creator)[element].value
    except KeyError:
        return None
    return number_from_text(str(value), "dlp", notes) if value not in (None, "") else None


def _scaled(ds: Dataset, table: dict[str, tuple[str, float]]) -> dict[str, float | None]:
    found = {field: number(ds, kw) for field, (kw, _factor) in table.items()}
    return {
        field: float(f"{value * table[field][1]:.12g}") if value is not None else None for field, value in found.items()
    }


def ct_event(item: Dataset, notes: Notes) -> dict[str, Any]:
    """Read one Exposure Dose Sequence item as a CT irradiation event (TID 10013)."""
    source = {name: value for name, value in _scaled(item, SOURCE_NUMBERS).items() if value is not None}
    event = {
        "date_time_started": parse_datetime(item.get("AcquisitionDateTime")),
        "acquisition_protocol": text(item, "SeriesDescription", notes),
        "ct_acquisition_type": ACQUISITION_TYPES.get((text(item, "AcquisitionType") or "").upper()),
        "dlp": private_dlp(item, notes),
        "sources": [source] if source else None,
        **_scaled(item, EVENT_NUMBERS),
    }
    return {name: value for name, value in event.items() if value is not None}


def read_ct_dose_info(ds: Dataset, notes: Notes) -> tuple[dict[str, Any], list[str]]:
    """Read a CT dose-info secondary capture into a ``ct`` section and its modalities."""
    events = [ct_event(item, notes) for item in ds.ExposureDoseSequence]
    accumulated = {
        "ct_dose_length_product_total": private_dlp(ds, notes),
        "total_number_of_irradiation_events": len(events),
    }
    section = {"accumulated": accumulated, "events": events}
    for reader in vendors.DOSE_SCREEN_READERS:
        if accumulated["ct_dose_length_product_total"] is None:
            reader(ds, section, notes)
    if accumulated["ct_dose_length_product_total"] is None:
        accumulated["ct_dose_length_product_total"] = _sum_of_events(events, ds, notes)
    return section, ["CT"]


def _sum_of_events(events: list[dict[str, Any]], ds: Dataset, notes: Notes) -> float:
    """Return the sum of the events' DLPs when every event has one, else refuse the dose screen."""
    if not events or any(not isinstance(e.get("dlp"), float) for e in events):
        comment = " ".join(str(ds.get("CommentsOnRadiationDose", "") or "").split())[:200] or None
        raise InvalidDoseReport(
            "it is a CT dose screen (Secondary Capture, Modality CT) whose DLP cannot be read: "
            f"{sum(isinstance(e.get('dlp'), float) for e in events)} of its {len(events)} exposures have a DLP, "
            "and there is no total in Philips' private tag (00E1,xx21) or in Comments on Radiation Dose "
            f"(0040,0310) (which holds {comment!r}); it is kept, and no total is stored rather than a wrong one"
        )
    total = float(f"{sum(e['dlp'] for e in events):.12g}")
    notes.append(f"no total DLP sent; took the sum of the events, {total} mGy·cm")
    return total
