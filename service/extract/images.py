"""Projection x-ray dose from image headers: mammography, radiography (PS3.3 C.8.7, C.8.11).

Rooms that send no dose report still write the exposure into every image. One
image is one irradiation event in the ``projection`` section, identified by the
image's SOP Instance UID, with the fields and units of the projection dose
report (TID 10003, 10003A-10003C): DAP Gy·m², AGD and entrance exposure mGy,
exposure µAs, times ms, distances mm, kVp kV. A value with a TID 10003 concept
takes that concept's field name (``kvp``, ``average_glandular_dose``); one
without takes the snake_case of its DICOM attribute keyword
(``grid_focal_distance``, ``relative_xray_exposure``).

Images carry no accumulated block: the study's totals come from its events
(``service.ingest.summary``). A For Processing and a For Presentation image of one
exposure are counted once by ``service.ingest.merge`` (same ``date_time_started``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydicom.dataset import Dataset

from service import units
from service.codes import make_code
from service.extract import lenient, vendors
from service.extract.dicomtime import combine, parse_datetime
from service.extract.header import number, text
from service.extract.sr import coded

Notes = list[str]
Event = dict[str, Any]
Sources = tuple[tuple[str, str], ...]  # (attribute keyword, the unit it is sent in), best first

#: Image storage SOP classes read here, with the modality their study is listed under (PS3.4 B.5).
SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.1.2": "MG",  # Digital Mammography X-Ray Image - For Presentation
    "1.2.840.10008.5.1.4.1.1.1.2.1": "MG",  # Digital Mammography X-Ray Image - For Processing
    "1.2.840.10008.5.1.4.1.1.1": "DX",  # Computed Radiography Image
    "1.2.840.10008.5.1.4.1.1.1.1": "DX",  # Digital X-Ray Image - For Presentation (DX, PX)
    "1.2.840.10008.5.1.4.1.1.1.1.1": "DX",  # Digital X-Ray Image - For Processing
    "1.2.840.10008.5.1.4.1.1.1.3": "DX",  # Digital Intra-Oral X-Ray Image - For Presentation
    "1.2.840.10008.5.1.4.1.1.1.3.1": "DX",  # Digital Intra-Oral X-Ray Image - For Processing
}

#: Numbers every projection image may carry: field -> (template unit, sources).
NUMBERS: dict[str, tuple[str, Sources]] = {
    "kvp": ("kV", (("KVP", "kV"),)),
    "xray_tube_current": (
        "mA",
        (("XRayTubeCurrentInmA", "mA"), ("XRayTubeCurrentInuA", "uA"), ("XRayTubeCurrent", "mA")),
    ),
    "exposure_time": ("ms", (("ExposureTimeInms", "ms"), ("ExposureTimeInuS", "us"), ("ExposureTime", "ms"))),
    "exposure": ("uA.s", (("ExposureInuAs", "uA.s"), ("ExposureInmAs", "mA.s"), ("Exposure", "mA.s"))),
    "focal_spot_size": ("mm", (("FocalSpots", "mm"),)),
    "dose_area_product": ("Gy.m2", (("ImageAndFluoroscopyAreaDoseProduct", "dGy.cm2"),)),
    "entrance_exposure_at_rp": ("mGy", (("EntranceDoseInmGy", "mGy"), ("EntranceDose", "dGy"))),
    "half_value_layer": ("mm", (("HalfValueLayer", "mm"),)),
    "distance_source_to_detector": ("mm", (("DistanceSourceToDetector", "mm"),)),
    "distance_source_to_patient": ("mm", (("DistanceSourceToPatient", "mm"),)),
    "distance_source_to_entrance": ("mm", (("DistanceSourceToEntrance", "mm"),)),
    "grid_focal_distance": ("mm", (("GridFocalDistance", "mm"),)),
    "exposure_index": ("1", (("ExposureIndex", "1"),)),
    "target_exposure_index": ("1", (("TargetExposureIndex", "1"),)),
    "deviation_index": ("1", (("DeviationIndex", "1"),)),
    "sensitivity": ("1", (("Sensitivity", "1"),)),
    "relative_xray_exposure": ("1", (("RelativeXRayExposure", "1"),)),
}

#: Numbers whose meaning depends on the family (the Positioner Primary Angle of a
#: mammography unit is its column angulation; Organ Dose of a breast is its AGD).
FAMILY_NUMBERS: dict[str, dict[str, tuple[str, Sources]]] = {
    "MG": {
        "average_glandular_dose": ("mGy", (("OrganDose", "dGy"),)),
        "compression_thickness": ("mm", (("BodyPartThickness", "mm"),)),
        "compression_force": ("N", (("CompressionForce", "N"),)),
        "column_angulation": ("deg", (("PositionerPrimaryAngle", "deg"),)),
        "estimated_radiographic_magnification_factor": (
            "1",
            (("EstimatedRadiographicMagnificationFactor", "1"),),
        ),
    },
    "DX": {
        "positioner_primary_angle": ("deg", (("PositionerPrimaryAngle", "deg"),)),
        "positioner_secondary_angle": ("deg", (("PositionerSecondaryAngle", "deg"),)),
        "body_part_thickness": ("mm", (("BodyPartThickness", "mm"),)),
    },
}

#: Text fields: field -> attribute keywords, best first.
TEXTS: dict[str, tuple[str, ...]] = {
    "acquisition_protocol": ("ProtocolName", "SeriesDescription"),
    "view_position": ("ViewPosition",),
    "body_part_examined": ("BodyPartExamined",),
    "exposure_control_mode": ("ExposureControlMode",),
    "exposure_control_mode_description": ("ExposureControlModeDescription",),
    "detector_id": ("DetectorID",),
    "detector_description": ("DetectorDescription",),
    "presentation_intent_type": ("PresentationIntentType",),
}

#: Coded fields sent as a code sequence: field -> attribute keyword.
CODE_SEQUENCES = {
    "anatomical_structure": "AnatomicRegionSequence",
    "image_view": "ViewCodeSequence",
    "image_view_modifier": "ViewModifierCodeSequence",
}


#: Image Laterality / Laterality (PS3.3 C.8.7.x, C.7.3.1) as CID 244 codes; U (unpaired) has none.
LATERALITY = {
    "L": make_code("7771000", "SCT", "Left"),
    "R": make_code("24028007", "SCT", "Right"),
    "B": make_code("51440002", "SCT", "Right and left"),
}

#: Anode and filter materials (defined terms of PS3.3 C.8.7.10) as CID 10016 / 10006 codes.
MATERIALS = {
    "MOLYBDENUM": make_code("71128006", "SCT", "Molybdenum or Molybdenum compound"),
    "RHODIUM": make_code("59801003", "SCT", "Rhodium or Rhodium compound"),
    "TUNGSTEN": make_code("26194003", "SCT", "Tungsten or Tungsten compound"),
    "ALUMINUM": make_code("12503006", "SCT", "Aluminum or Aluminum compound"),
    "ALUMINIUM": make_code("12503006", "SCT", "Aluminum or Aluminum compound"),
    "COPPER": make_code("66925006", "SCT", "Copper or Copper compound"),
    "SILVER": make_code("41967008", "SCT", "Silver or Silver compound"),
    "NIOBIUM": make_code("767776000", "SCT", "Niobium or Niobium compound"),
    "EUROPIUM": make_code("767775001", "SCT", "Europium or Europium compound"),
    "LEAD": make_code("88488004", "SCT", "Lead or Lead compound"),
    "TANTALUM": make_code("45215009", "SCT", "Tantalum or Tantalum compound"),
    "TIN": make_code("12597001", "SCT", "Tin or Tin compound"),
}

#: Grid (0018,1166) defined terms as CID 10017 codes.
GRIDS = {
    "FIXED": make_code("111641", "DCM", "Fixed grid"),
    "FOCUSED": make_code("111642", "DCM", "Focused grid"),
    "RECIPROCATING": make_code("111643", "DCM", "Reciprocating grid"),
    "PARALLEL": make_code("111644", "DCM", "Parallel grid"),
    "CROSSED": make_code("111645", "DCM", "Crossed grid"),
    "NONE": make_code("111646", "DCM", "No grid"),
}

#: Filter Type (0018,1160) defined terms as CID 10007 codes.
FILTER_TYPES = {
    "STRIP": make_code("113650", "DCM", "Strip filter"),
    "WEDGE": make_code("113651", "DCM", "Wedge filter"),
    "BUTTERFLY": make_code("113652", "DCM", "Butterfly filter"),
    "FLAT": make_code("113653", "DCM", "Flat filter"),
    "NONE": make_code("111609", "DCM", "No filter"),
}

STATIONARY_ACQUISITION = make_code("113611", "DCM", "Stationary Acquisition")  # CID 10002
SINGLE_PLANE = make_code("113622", "DCM", "Single Plane")  # CID 10003


def read_number(ds: Dataset, field: str, unit: str, sources: Sources, notes: Notes) -> float | None:
    """Return the first source attribute present, converted to the template unit."""
    for keyword, sent in sources:
        value = number(ds, keyword)
        if value is None:
            continue
        try:
            return units.convert(value, sent, unit)
        except units.UnknownUnit:
            notes.append(f"{field}: {keyword} in {sent} cannot be stored in {unit}; value left out")
    return None


def _first_text(ds: Dataset, keywords: tuple[str, ...], notes: Notes) -> str | None:
    return next((found for kw in keywords if (found := text(ds, kw, notes))), None)


def _values(ds: Dataset, keyword: str, notes: Notes) -> list[str]:
    """Return the values of a multi-valued attribute, upper-case, however they were separated."""
    raw = text(ds, keyword)
    return [v.upper() for v in lenient.comma_separated_values(raw, keyword, notes)] if raw else []


def _coded_terms(ds: Dataset, keyword: str, table: Mapping[str, dict[str, str]], notes: Notes) -> list[dict]:
    found = []
    for term in _values(ds, keyword, notes):
        if term in table:
            found.append(dict(table[term]))
        else:
            notes.append(f"{keyword}: defined term {term!r} is not known; left out")
    return found


def _one_or_all(values: list[Any]) -> Any:
    """Return one value as itself and several as a list, as the SR walk stores a repeated concept."""
    return values[0] if len(values) == 1 else values or None


def date_time_started(ds: Dataset) -> Any:
    """Return when the exposure was made: Acquisition DateTime, else Acquisition Date and Time.

    Without a time of day there is none: a date alone would make every image of
    the day look like one exposure to ``service.ingest.merge``.
    """
    clock = parse_datetime(ds.get("AcquisitionDateTime"))
    if clock is not None and str(ds.get("AcquisitionDateTime")).strip()[8:]:
        return clock
    day = ds.get("AcquisitionDate") or ds.get("ContentDate") or ds.get("StudyDate")
    return combine(day, ds.get("AcquisitionTime")) if ds.get("AcquisitionTime") else None


def xray_filters(ds: Dataset, notes: Notes) -> list[dict[str, Any]]:
    """Return one X-Ray Filters entry (TID 10003A) per Filter Material value."""
    materials = _values(ds, "FilterMaterial", notes)
    minimums = lenient.comma_separated_numbers(ds, "FilterThicknessMinimum", len(materials), notes)
    maximums = lenient.comma_separated_numbers(ds, "FilterThicknessMaximum", len(materials), notes)
    filter_type = FILTER_TYPES.get((text(ds, "FilterType") or "").upper())
    filters = []
    for material, low, high in zip(materials, minimums, maximums, strict=True):
        entry = {"xray_filter_type": filter_type, "xray_filter_material": MATERIALS.get(material)}
        if entry["xray_filter_material"] is None:
            entry["xray_filter_material_text"] = material
        entry.update(lenient.ordered_thicknesses(low, high, material, notes))
        filters.append({k: v for k, v in entry.items() if v is not None})
    return filters


def collimated_field(ds: Dataset) -> dict[str, float]:
    """Return the collimated field height, width (mm) and area (m²) from Field of View Dimensions."""
    dimensions = ds.get("FieldOfViewDimensions")
    if not dimensions or len(dimensions) != 2 or str(ds.get("FieldOfViewShape", "RECTANGLE")) != "RECTANGLE":
        return {}
    try:
        height, width = (float(d) for d in dimensions)
    except ValueError:  # not numbers: the field is unknown, not an error of the exposure
        return {}
    return {
        "collimated_field_height": height,
        "collimated_field_width": width,
        "collimated_field_area": float(f"{height * width / 1e6:.12g}"),
    }


def _numbers(ds: Dataset, table: Mapping[str, tuple[str, Sources]], notes: Notes) -> Event:
    return {field: read_number(ds, field, unit, sources, notes) for field, (unit, sources) in table.items()}


def vendor_fixes(ds: Dataset) -> list[vendors.ImageFix]:
    """Return the vendor fixes that apply to this image's manufacturer and model."""
    manufacturer = (text(ds, "Manufacturer") or "").lower()
    model = (text(ds, "ManufacturerModelName") or "").lower()
    return [
        fix
        for (vendor, family), fixes in vendors.IMAGE_FIXES.items()
        if manufacturer.startswith(vendor) and model.startswith(family)
        for fix in fixes
    ]


def projection_event(ds: Dataset, family: str, notes: Notes) -> Event:
    """Build the one irradiation event (TID 10003) an image header describes."""
    laterality = text(ds, "ImageLaterality") or text(ds, "Laterality")
    anodes = _coded_terms(ds, "AnodeTargetMaterial", MATERIALS, notes)
    event: Event = {
        "irradiation_event_uid": text(ds, "SOPInstanceUID"),
        "date_time_started": date_time_started(ds),
        "irradiation_event_type": dict(STATIONARY_ACQUISITION),
        "acquisition_plane": dict(SINGLE_PLANE),
        "laterality": dict(LATERALITY[laterality.upper()]) if laterality and laterality.upper() in LATERALITY else None,
        "anode_target_material": anodes[0] if anodes else None,
        "xray_grid": _one_or_all(_coded_terms(ds, "Grid", GRIDS, notes)),
        "xray_filters": xray_filters(ds, notes) or None,
        **{field: _first_text(ds, keywords, notes) for field, keywords in TEXTS.items()},
        **{field: coded(ds[kw][0]) if ds.get(kw) else None for field, kw in CODE_SEQUENCES.items()},
        **_numbers(ds, NUMBERS, notes),
        **_numbers(ds, FAMILY_NUMBERS[family], notes),
        **collimated_field(ds),
    }
    for fix in vendor_fixes(ds):
        fix(ds, event, notes)
    return {name: value for name, value in event.items() if value is not None}


def read_projection_image(ds: Dataset, notes: Notes) -> tuple[dict[str, Any], list[str]]:
    """Read a mammography or radiography image header into a projection section and its modalities."""
    family = SOP_CLASSES[str(ds.SOPClassUID)]
    return {"events": [projection_event(ds, family, notes)]}, [family]
