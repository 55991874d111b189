"""Repairs for values that break the standard, one small function each.

Each function returns the best value it can (or None to leave the value out)
and appends a note saying what it did; ingest writes the notes to the event log.
Vendor- and model-specific repairs name the vendor, model and sample file.
"""

from __future__ import annotations

import re
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from service.extract.elements import FLOATING_POINT_VALUE, NUMERIC_VALUE, value

Notes = list[str]

_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


def numeric_value(measured: Dataset, name: str, notes: Notes) -> float | None:
    """Read a Measured Value item's number (PS3.3 C.18.1), repairing what can be.

    Prefers Floating Point Value (FD) when present. Handles a DS with several
    values, comma decimals and any other text that is not a number.
    """
    floating = value(measured, FLOATING_POINT_VALUE)
    if floating is not None:
        return float(floating)
    raw = value(measured, NUMERIC_VALUE)
    if raw is None or raw == "":
        notes.append(f"{name}: no numeric value, value left out")
        return None
    if isinstance(raw, MultiValue | list):
        return multi_valued_number(raw, name, notes)
    if isinstance(raw, int | float):
        return float(raw)
    return number_from_text(str(raw), name, notes)


def multi_valued_number(values: MultiValue | list[str], name: str, notes: Notes) -> float | None:
    """Take a Numeric Value that holds several numbers (VM > 1, invalid) as its first."""
    numbers = [number_from_text(str(v), name, notes) for v in values]
    numbers = [n for n in numbers if n is not None]
    if not numbers:
        return None
    notes.append(f"{name}: {len(values)} values sent where one is allowed; kept the first, {numbers[0]}")
    return numbers[0]


def number_from_text(text: str, name: str, notes: Notes) -> float | None:
    """Read a number from DS text, accepting a comma as the decimal mark.

    Text that holds more than one number (Toshiba Aquilion ONE sends
    ``10.50/ 15.00`` for a variable helical pitch's standard deviation,
    CT-RDSR-Toshiba_MultiValSD.dcm) is left out: no single value is right.
    """
    stripped = text.strip()
    if _NUMBER.match(stripped):
        if "," in stripped:
            notes.append(f"{name}: comma decimal {stripped!r} read as {stripped.replace(',', '.')}")
        return float(stripped.replace(",", "."))
    notes.append(f"{name}: {stripped!r} is not a number; value left out")
    return None


def integer_count(value: float, name: str, notes: Notes) -> int | float:
    """Store a count as an integer; a fractional count is kept as sent and noted."""
    if float(value).is_integer():
        return int(value)
    notes.append(f"{name}: count {value} is not a whole number; kept as sent")
    return value


def repair_text(value: str, name: str, notes: Notes) -> str:
    """Repair text whose bytes were UTF-8 but declared as Latin-1 (ISO_IR 100).

    Siemens SOMATOM Definition Flash writes UTF-8 under ISO_IR 100
    (CT-RDSR-Siemens_Flash-TAP-SS.dcm: protocol ``testæøå`` decodes as
    ``testÃ¦Ã¸Ã¥``). Text is re-decoded only when its Latin-1 bytes form valid
    UTF-8, which mis-declared UTF-8 always does and real Latin-1 text practically
    never does.
    """
    if value.isascii():
        return value
    try:
        repaired = value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value
    notes.append(f"{name}: UTF-8 text under a Latin-1 character set declaration; read {value!r} as {repaired!r}")
    return repaired


# --- Projection x-ray: standard values recovered from vendor-specific content (TID 10003) ---

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


def philips_shutter_collimation(section: Content, context: Content, notes: Notes) -> None:
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


def siemens_ii_field_size(section: Content, context: Content, notes: Notes) -> None:
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


def siemens_patient_position(section: Content, context: Content, notes: Notes) -> None:
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


def missing_target_region(section: Content, context: Content, notes: Notes) -> None:
    """Note irradiation events without the Target Region that TID 10003 requires; they stay as sent."""
    events = section.get("events", [])
    missing = [e.get("irradiation_event_uid") for e in events if not e.get("target_region")]
    if missing:
        notes.append(f"{len(missing)} events have no target region: {', '.join(map(str, missing))}")


#: Repairs applied to a projection report, in order, after the walk.
PROJECTION_REPAIRS = (
    philips_shutter_collimation,
    siemens_ii_field_size,
    siemens_patient_position,
    missing_target_region,
)


# --- image headers (service.extract.images) ---------------------------------------------


def comma_separated_values(raw: str, name: str, notes: Notes) -> list[str]:
    """Split a multi-valued attribute on backslashes, and on commas where a vendor used those.

    Carestream (KODAK) DR 7500 writes two filters as ``ALUMINUM,COPPER`` in one
    value (DX-Im-Carestream_DR7500-2.dcm); a CS value never holds a comma.
    """
    values = [v.strip() for v in raw.split("\\") if v.strip()]
    if any("," in v for v in values):
        notes.append(f"{name}: values separated by commas ({raw!r}); read as {raw.count(',') + 1} values")
        values = [part.strip() for v in values for part in v.split(",") if part.strip()]
    return values


def comma_separated_numbers(ds: Dataset, keyword: str, count: int, notes: Notes) -> list[float | None]:
    """Return ``count`` numbers of a DS attribute that may separate them with commas (see above).

    Carestream DR 7500 sends Filter Thickness Minimum as ``1.06,0.206`` for two
    filters (DX-Im-Carestream_DR7500-2.dcm). With a single value expected, a
    comma is a decimal mark instead (:func:`number_from_text`).
    """
    raw = ds.get(keyword)
    if raw is None or raw == "" or count == 0:
        return [None] * count
    texts = [str(v) for v in raw] if isinstance(raw, MultiValue) else [str(raw)]
    if count > 1 and len(texts) == 1 and texts[0].count(",") == count - 1:
        texts = comma_separated_values(texts[0], keyword, notes)
    numbers = [number_from_text(t, keyword, notes) for t in texts[:count]]
    return numbers + [None] * (count - len(numbers))


def ordered_thicknesses(low: float | None, high: float | None, material: str, notes: Notes) -> dict[str, float | None]:
    """Return filter thickness minimum and maximum, swapped when sent the wrong way round.

    Carestream DR 7500 sends minimum 1.06 and maximum 0.94 mm of aluminium
    (DX-Im-Carestream_DR7500-2.dcm).
    """
    if low is not None and high is not None and low > high:
        notes.append(f"{material} filter: thickness minimum {low} exceeds maximum {high}; swapped")
        low, high = high, low
    return {"xray_filter_thickness_minimum": low, "xray_filter_thickness_maximum": high}


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
