"""Vendor fixes: values a vendor sends outside the standard's concepts, recovered one small function each.

One signature: ``fix(source, target, notes)`` reads ``source`` (the report's
root content for SR fixes, the image's Dataset for image fixes), completes or
corrects ``target`` (the report's section, or one image's event) in place and
appends a note of what it did for the event log. Each docstring names the
vendor, the model and the sample file that shows the quirk. General lenient
readers are in :mod:`service.extract.lenient`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from pydicom.dataset import Dataset

from service.extract.lenient import Notes, labelled_numbers, number_from_text

Content = dict[str, Any]


def _coded(value: str, meaning: str) -> dict[str, str]:
    return {"code_value": value, "coding_scheme_designator": "SCT", "code_meaning": meaning}


def _float(text: Any) -> float | None:
    try:
        return float(str(text).strip())
    except ValueError:
        return None


def _private_number(block: Any, name: str) -> float | None:
    """Return a private NUM stored as ``{value, unit}`` (or a bare number), else None."""
    value = block.get(name) if isinstance(block, dict) else None
    value = value.get("value") if isinstance(value, dict) else value
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _shutter_field(event: Content) -> tuple[float, float] | None:
    shutters = event.get("wedges_and_shutters")
    sides = [_private_number(shutters, f"{side}_shutter") for side in ("left", "right", "top", "bottom")]
    distance = _private_number(event, "distance_source_to_detector")
    if "collimated_field_area" in event or distance is None or None in sides:
        return None
    left, right, top, bottom = (side or 0.0 for side in sides)
    return (left + right) * distance / 1000, (top + bottom) * distance / 1000


def philips_shutter_collimation(context: Content, section: Content, notes: Notes) -> None:
    """Derive each event's collimated field from Philips private shutter positions.

    Philips Allura Xper (RF-RDSR-Philips_Allura.dcm) sends no Collimated Field
    Height, Width or Area (TID 10003B) but a private Wedges and Shutters
    container (99PHI-IXR-XPER) with shutter positions in mm at 1 m from the
    focus; scaled by Distance Source to Detector they give the field at the
    detector: height = left + right, width = top + bottom.
    """
    derived = 0
    for event in section.get("events", []):
        field = _shutter_field(event)
        if field:
            height, width = field
            event["collimated_field_height"] = float(f"{height:.12g}")
            event["collimated_field_width"] = float(f"{width:.12g}")
            event["collimated_field_area"] = float(f"{height * width / 1e6:.12g}")
            derived += 1
    if derived:
        notes.append(f"collimated field of {derived} events derived from Philips private shutter positions")


_SIEMENS_DATA = re.compile(r'<(\w+) SRData="([^"]*)"')


def _siemens_data(text: Any) -> dict[str, str]:
    """Read ``<Name SRData="value"/>`` pairs from a Siemens XML comment (no XML parser needed)."""
    return dict(_SIEMENS_DATA.findall(text)) if isinstance(text, str) else {}


def siemens_ii_field_size(context: Content, section: Content, notes: Notes) -> None:
    """Read each event's image receptor field size from its Siemens comment.

    Siemens AXIOM-Artis (RF-RDSR-Siemens-Zee.dcm) puts ``<iiDiameter SRData="220"/>``
    (mm) in each event's Comment; TID 10003 has no concept for it, so it is
    stored as ``ii_field_size``.
    """
    read = 0
    for event in section.get("events", []):
        size = _float(_siemens_data(event.get("comment")).get("iiDiameter", ""))
        if size is not None and "ii_field_size" not in event:
            event["ii_field_size"] = size
            read += 1
    if read:
        notes.append(f"ii_field_size of {read} events read from their Siemens comments (mm)")


#: DICOM Patient Position (PS3.3 C.7.3.1.1.2) as TID 10003C codes: relationship, then modifier.
PATIENT_POSITION_PARTS = {
    "HF": ("patient_table_relationship", _coded("102540008", "headfirst")),
    "FF": ("patient_table_relationship", _coded("102541007", "feet-first")),
    "S": ("patient_orientation_modifier", _coded("40199007", "supine")),
    "P": ("patient_orientation_modifier", _coded("1240000", "prone")),
    "DR": ("patient_orientation_modifier", _coded("102535000", "right lateral decubitus")),
    "DL": ("patient_orientation_modifier", _coded("102536004", "left lateral decubitus")),
}
RECUMBENT = _coded("102538003", "recumbent")


def siemens_patient_position(context: Content, section: Content, notes: Notes) -> None:
    """Give each event the patient position a Siemens report keeps in its root comment.

    Siemens AXIOM-Artis (RF-RDSR-Siemens-Zee.dcm) sends no Patient Table
    Relationship or Patient Orientation (TID 10003C) but ``<Position
    SRData="HFS "/>`` in the report's Comment.
    """
    position = _siemens_data(context.get("comment")).get("Position", "").strip().upper()
    parts = [PATIENT_POSITION_PARTS.get(part) for part in (position[:2], position[2:])]
    if not position or None in parts:
        return
    fields = {"patient_orientation": RECUMBENT, **{name: code for name, code in filter(None, parts)}}
    events = [event for event in section.get("events", []) if "patient_orientation" not in event]
    for event in events:
        event.update(fields)
    if events:
        notes.append(f"patient position {position} of {len(events)} events read from the Siemens comment")


SrFix = Callable[[Content, Content, Notes], None]

#: Fixes applied to every projection report, in order, after the walk (each checks its own vendor's content).
PROJECTION_FIXES: tuple[SrFix, ...] = (philips_shutter_collimation, siemens_ii_field_size, siemens_patient_position)


# --- image headers (service.extract.images) ---------------------------------------------


_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def ge_senographe_fibroglandular(ds: Dataset, event: dict[str, Any], notes: Notes) -> None:
    """Read the breast's percent fibroglandular tissue from Comments on Radiation Dose.

    GE Senographe DS writes it there as ``31 %`` (MG-Im-GE-SenDS-scaled.dcm).
    """
    match = _PERCENT.match(str(ds.get("CommentsOnRadiationDose", "")))
    if match:
        event["percent_fibroglandular_tissue"] = float(match.group(1))
        notes.append("percent_fibroglandular_tissue: read from Comments on Radiation Dose (GE Senographe)")


def ge_senographe_radiological_thickness(ds: Dataset, event: dict[str, Any], notes: Notes) -> None:
    """Read the radiological breast thickness (mm) from GE's private tag (0045,xx49).

    GE Senographe DS, private creator GEMS_SENO_02 (MG-Im-GE-SenDS-scaled.dcm: 45 mm
    beside a compression thickness of 53 mm).
    """
    try:
        value = ds.private_block(0x0045, "GEMS_SENO_02")[0x49].value
    except KeyError:
        return
    if value not in (None, ""):
        event["radiological_thickness"] = number_from_text(str(value), "radiological_thickness", notes)


def carestream_distance_in_decimetres(ds: Dataset, event: dict[str, Any], notes: Notes) -> None:
    """Read Distance Source to Detector sent in decimetres instead of millimetres.

    Carestream (KODAK) DR 7500 sends 11.5 for a 1150 mm source-to-detector
    distance (DX-Im-Carestream_DR7500-1.dcm); no x-ray unit has a source within
    100 mm of its detector, so only values below 100 are scaled.
    """
    distance = event.get("distance_source_to_detector")
    if isinstance(distance, float) and distance < 100:
        event["distance_source_to_detector"] = float(f"{distance * 100:.12g}")
        notes.append(f"distance_source_to_detector: {distance} read as decimetres, {distance * 100:g} mm")


ImageFix = Callable[[Dataset, dict[str, Any], Notes], None]


# --- CT dose screens (service.extract.ct_dose_info) ------------------------------------

_TOTAL_DLP = r"\btotal\s*dlp"
#: ``Event=3 ... DLP=600.25``: the event's number, then its DLP before the next event's label.
_EVENT_DLP = r"\b(?:event|series)\s*[=:#]?\s*(\d+)(?:(?!event|series)[^\n])*?\bdlp"
#: mGy·cm by which rounded event DLPs may miss their total, per event.
ROUNDING = 0.01


def ge_dose_screen_comments(ds: Dataset, section: Content, notes: Notes) -> None:
    """Read a CT dose screen's total and event DLPs from Comments on Radiation Dose (0040,0310).

    GE LightSpeed scanners (VCT, 16, Pro; dose screens built in tests after
    issue 15, no sample in the corpus) send a Secondary Capture whose Exposure
    Dose Sequence holds CTDIvol but no DLP, and write ``TotalDLP=1210.50`` and
    one ``Event=3 DLP=600.25`` per event into the comment, laid out differently
    by software version. The events are taken in order as the sequence's items
    when there are as many and they add up to the total (within rounding);
    otherwise only the total is kept, and the discrepancy noted.
    """
    comment = str(ds.get("CommentsOnRadiationDose", "") or "")
    totals = labelled_numbers(comment, _TOTAL_DLP, "TotalDLP", notes)
    parts = sorted((int(groups[0]), dlp) for groups, dlp in labelled_numbers(comment, _EVENT_DLP, "DLP", notes))
    events, total = section["events"], totals[0][1] if totals else None
    if total is not None:
        section["accumulated"]["ct_dose_length_product_total"] = total
        notes.append(f"total DLP {total} mGy·cm read from Comments on Radiation Dose")
    if not parts:
        return
    summed = float(f"{sum(dlp for _, dlp in parts):.12g}")
    if len(parts) != len(events) or (total is not None and abs(summed - total) > ROUNDING * len(parts)):
        notes.append(
            f"Comments on Radiation Dose: {len(parts)} event DLPs summing to {summed} mGy·cm do not match "
            f"the {len(events)} exposures and total {total} mGy·cm; event DLPs left out"
        )
        return
    for event, (_number, dlp) in zip(events, parts, strict=True):
        event["dlp"] = dlp
    notes.append(f"DLP of events {', '.join(str(n) for n, _ in parts)} read from Comments on Radiation Dose")


#: Readers of CT dose screens without Philips' private DLP, tried in order until one finds a total.
DOSE_SCREEN_READERS: tuple[Callable[[Dataset, Content, Notes], None], ...] = (ge_dose_screen_comments,)

#: Image fixes by the start of the manufacturer's and model's names (lower case).
IMAGE_FIXES: Mapping[tuple[str, str], tuple[ImageFix, ...]] = {
    ("ge medical systems", "senograph"): (ge_senographe_fibroglandular, ge_senographe_radiological_thickness),
    ("kodak", "dr 7500"): (carestream_distance_in_decimetres,),
    ("carestream", "dr 7500"): (carestream_distance_in_decimetres,),
}
