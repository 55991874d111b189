"""Projection X-Ray Radiation Dose (PS3.16 TID 10001, with TID 10002-10007) concept tables.

The section this module builds (DESIGN.md, document model):

* ``accumulated``: one entry per Accumulated X-Ray Dose Data container
  (TID 10002), i.e. per acquisition plane (two for a biplane room). The
  fluoroscopy and acquisition totals (TID 10004), the mammography totals
  (TID 10005) and the projection radiography totals (TID 10006/10007) are
  included templates, not containers, so their values sit in the plane entry;
  ``accumulated_average_glandular_dose`` is an array of per-laterality entries
  and ``calibrations`` an array.
* ``events``: one entry per Irradiation Event X-Ray Data container (TID 10003).
  Source, mechanical and detector data (TID 10003A-10003D) are included
  templates too and fold into the event. Their concept names do not collide
  with each other (each concept appears once in TID 10003-10003D); the only
  clash found in the corpus is a Philips private concept, renamed in
  :data:`NAMES`. ``xray_filters`` is an array.
* Per-pulse values (TID 10003B allows one KVP, tube current, pulse width or
  exposure per pulse, as GE Senographe Pristina sends): the field holds the
  event's value (the mean of the pulses, or the sum for exposure, which is then
  the event's total) and ``<field>_per_pulse`` lists what was sent.

The modality (RF, DX or MG) comes from the content, never from the Modality
tag: see :data:`MODALITY_RULES`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from statistics import fmean
from typing import Any

from pydicom.dataset import Dataset

from service.codes import CodeKey, stored_key
from service.extract import vendors
from service.extract.sr import Node, Notes, Template, has_root_concept, walk

D = "DCM"
PHILIPS = "99PHI-IXR-XPER"

#: Where each container (and repeatable item) of TID 10001-10007 lands.
NODES = {
    (D, "113702"): Node("accumulated", repeats=True),  # Accumulated X-Ray Dose Data, one per plane
    (D, "122505"): Node("calibrations", repeats=True),  # Calibration, TID 10002
    (D, "111637"): Node("accumulated_average_glandular_dose", repeats=True),  # per laterality, TID 10005
    (D, "113706"): Node("events", repeats=True),  # Irradiation Event X-Ray Data, TID 10003
    (D, "113771"): Node("xray_filters", repeats=True),  # X-Ray Filters, TID 10003B
    (D, "113870"): Node("person_participants", repeats=True),  # Person Participant, TID 1020
    (D, "113733"): Node("kvp", repeats=True),  # per pulse, see PER_PULSE
    (D, "113734"): Node("xray_tube_current", repeats=True),
    (D, "113793"): Node("pulse_width", repeats=True),
    (D, "113736"): Node("exposure", repeats=True),
}

#: The unit each number is stored in, as TID 10002-10007 define them.
UNITS = {
    # Accumulated X-Ray Dose Data (TID 10002, 10004-10007)
    (D, "113722"): "Gy.m2",  # Dose Area Product Total
    (D, "113725"): "Gy",  # Dose (RP) Total
    (D, "113726"): "Gy.m2",  # Fluoro Dose Area Product Total
    (D, "113728"): "Gy",  # Fluoro Dose (RP) Total
    (D, "113730"): "s",  # Total Fluoro Time
    (D, "113727"): "Gy.m2",  # Acquisition Dose Area Product Total
    (D, "113729"): "Gy",  # Acquisition Dose (RP) Total
    (D, "113855"): "s",  # Total Acquisition Time
    (D, "113731"): "{frames}",  # Total Number of Radiographic Frames
    (D, "111637"): "mGy",  # Accumulated Average Glandular Dose
    (D, "122322"): "{ratio}",  # Calibration Factor
    (D, "113763"): "%",  # Calibration Uncertainty
    # Irradiation Event X-Ray Data (TID 10003, 10003A-10003D)
    (D, "122130"): "Gy.m2",  # Dose Area Product
    (D, "113738"): "Gy",  # Dose (RP)
    (D, "111631"): "mGy",  # Average Glandular Dose
    (D, "111636"): "mGy",  # Entrance Exposure at RP
    (D, "111634"): "mm",  # Half Value Layer
    (D, "113790"): "m2",  # Collimated Field Area
    (D, "113788"): "mm",  # Collimated Field Height
    (D, "113789"): "mm",  # Collimated Field Width
    (D, "113791"): "{pulse}/s",  # Pulse Rate
    (D, "113768"): "{pulses}",  # Number of Pulses
    (D, "113733"): "kV",  # KVP
    (D, "113734"): "mA",  # X-Ray Tube Current
    (D, "113767"): "mA",  # Average X-Ray Tube Current
    (D, "113735"): "ms",  # Exposure Time
    (D, "113824"): "ms",  # Exposure Time (the CT concept, sent by Canon CXDI)
    (D, "113793"): "ms",  # Pulse Width
    (D, "113736"): "uA.s",  # Exposure
    (D, "113766"): "mm",  # Focal Spot Size
    (D, "113742"): "s",  # Irradiation Duration
    (D, "113758"): "mm",  # X-Ray Filter Thickness Minimum
    (D, "113773"): "mm",  # X-Ray Filter Thickness Maximum
    (D, "112011"): "deg",  # Positioner Primary Angle
    (D, "112012"): "deg",  # Positioner Secondary Angle
    (D, "113739"): "deg",  # Positioner Primary End Angle
    (D, "113740"): "deg",  # Positioner Secondary End Angle
    (D, "113770"): "deg",  # Column Angulation
    (D, "113754"): "deg",  # Table Head Tilt Angle
    (D, "113755"): "deg",  # Table Horizontal Rotation Angle
    (D, "113756"): "deg",  # Table Cradle Tilt Angle
    (D, "113751"): "mm",  # Table Longitudinal Position
    (D, "113752"): "mm",  # Table Lateral Position
    (D, "113753"): "mm",  # Table Height Position
    (D, "113759"): "mm",  # Table Longitudinal End Position
    (D, "113760"): "mm",  # Table Lateral End Position
    (D, "113761"): "mm",  # Table Height End Position
    (D, "113748"): "mm",  # Distance Source to Isocenter
    (D, "113750"): "mm",  # Distance Source to Detector
    (D, "113737"): "mm",  # Distance Source to Reference Point
    (D, "113792"): "mm",  # Distance Source to Table Plane
    (D, "111633"): "mm",  # Compression Thickness
    (D, "111647"): "N",  # Compression Force
    (D, "111648"): "kPa",  # Compression Pressure
    (D, "111649"): "mm2",  # Compression Contact Area
    (D, "113845"): "{index}",  # Exposure Index
    (D, "113846"): "{index}",  # Target Exposure Index
    (D, "113847"): "{index}",  # Deviation Index
}

INTEGERS = frozenset({(D, "113731"), (D, "113768")})

#: Names that differ from the snake_case of the standard meaning.
NAMES = {
    (D, "111637"): "accumulated_average_glandular_dose",  # pydicom's meaning ends in "(mammo)"
    (PHILIPS, "021"): "xper_table_height_position",  # would clash with Table Height Position (113753)
}

TEMPLATE = Template(nodes=NODES, units=UNITS, integers=INTEGERS, names=NAMES)

#: Per-pulse fields (TID 10003B) and how several pulses make the event's value.
PER_PULSE: dict[str, Callable[[list[float]], float]] = {
    "kvp": fmean,
    "xray_tube_current": fmean,
    "pulse_width": fmean,
    "exposure": sum,
}

#: Containers whose presence at the root makes an X-Ray Radiation Dose Report a projection one.
ROOT_CONTAINERS = frozenset({(D, "113702"), (D, "113706")})


def is_projection_report(ds: Dataset) -> bool:
    """Tell whether an X-Ray Radiation Dose Report follows TID 10001 (projection x-ray)."""
    return has_root_concept(ds, ROOT_CONTAINERS)


def _pulses(event: dict[str, Any], name: str, combine: Callable[[list[float]], float]) -> None:
    entries = event.pop(name, None)
    if not isinstance(entries, list):
        return
    values = [e[name] for e in entries if isinstance(e.get(name), int | float)]
    if len(values) == 1:
        event[name] = values[0]
    elif values:
        event[name] = float(f"{combine(values):.12g}")
        event[f"{name}_per_pulse"] = values


def missing_target_region(section: Content, notes: Notes) -> None:
    """Note irradiation events without the Target Region that TID 10003 requires; they stay as sent."""
    events = section.get("events", [])
    missing = [e.get("irradiation_event_uid") for e in events if not e.get("target_region")]
    if missing:
        notes.append(f"{len(missing)} events have no target region: {', '.join(map(str, missing))}")


def extract_projection(ds: Dataset, notes: Notes) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Extract a Projection X-Ray Radiation Dose report (TID 10001): (section, context, modality)."""
    tree = walk(ds, TEMPLATE, notes)
    section = {"accumulated": tree.pop("accumulated", []), "events": tree.pop("events", [])}
    for event in section["events"]:
        for name, combine in PER_PULSE.items():
            _pulses(event, name, combine)
    for fix in vendors.PROJECTION_FIXES:
        fix(tree, section, notes)
    missing_target_region(section, notes)
    return section, tree, modality(section, tree)


# --- modality from content ----------------------------------------------------------------

MAMMOGRAPHY = ("SCT", "71651007")  # Procedure Reported, CID 10005
FLUORO_EVENT_TYPES = frozenset({("SCT", "44491008"), (D, "113613")})  # Fluoroscopy, Rotational Acquisition
BIPLANE = frozenset({(D, "113620"), (D, "113621")})  # Acquisition Plane: Plane A, Plane B
DEVICE_TYPES = {  # Acquisition Device Type (122142), CID 10032
    (D, "113957"): "RF",  # Fluoroscopy-Guided Projection Radiography System
    (D, "113958"): "DX",  # Integrated Projection Radiography System
    (D, "113959"): "DX",  # Cassette-based Projection Radiography System
}

Content = dict[str, Any]


def _codes(entries: Iterable[Content], name: str) -> set[CodeKey | None]:
    return {stored_key(entry.get(name)) for entry in entries}


def _mammography(section: Content, context: Content) -> str | None:
    return "MG" if stored_key(context.get("procedure_reported")) == MAMMOGRAPHY else None


def _device_type(section: Content, context: Content) -> str | None:
    key = stored_key(context.get("acquisition_device_type"))
    return DEVICE_TYPES.get(key) if key else None


def _fluoro_events(section: Content, context: Content) -> str | None:
    return "RF" if _codes(section["events"], "irradiation_event_type") & FLUORO_EVENT_TYPES else None


def _biplane(section: Content, context: Content) -> str | None:
    planes = _codes([*section["events"], *section["accumulated"]], "acquisition_plane")
    return "RF" if planes & BIPLANE else None


def _fluoro_totals(section: Content, context: Content) -> str | None:
    names = ("total_fluoro_time", "fluoro_dose_area_product_total")
    found = [plane.get(name) for plane in section["accumulated"] for name in names]
    return "RF" if any(isinstance(v, int | float) and v > 0 for v in found) else None


#: How the content decides the modality: the first rule that answers wins, DX otherwise.
#: One unit can send both (Siemens Fluorospot Compact FD: Dual-RDSR-DX.dcm has only
#: stationary acquisitions and zero fluoroscopy totals, Dual-RDSR-RF.dcm has fluoroscopy).
MODALITY_RULES: tuple[Callable[[Content, Content], str | None], ...] = (
    _mammography,  # Procedure Reported is Mammography (TID 10001)
    _device_type,  # Acquisition Device Type, when the report says it
    _fluoro_events,  # any fluoroscopy or rotational irradiation event
    _biplane,  # plane A or B: an interventional biplane room
    _fluoro_totals,  # fluoroscopy time or DAP in the accumulated data (events may be absent)
)


def modality(section: Content, context: Content) -> str:
    """Decide RF, DX or MG from a projection report's content (see :data:`MODALITY_RULES`)."""
    return next((found for rule in MODALITY_RULES if (found := rule(section, context))), "DX")


# --- Siemens private Radiation Summary Report -------------------------------------------------

SIEMENS_SUMMARY_TITLE = ("99SMS_RADSUM", "C-10")
_RADSUM = "99SMS_RADSUM"

#: Siemens ARCADIS Varic (RF-ESR-Siemens-Varic.dcm) sends only a private "Radiation Summary
#: Report" (Enhanced SR); its concepts map onto TID 10002 / TID 10001 fields.
SIEMENS_SUMMARY = Template(
    names={
        (_RADSUM, "C-200"): "total_number_of_exposures",
        (_RADSUM, "C-202"): "total_fluoro_time",  # Cumulative fluoro time
        (_RADSUM, "C-204"): "dose_area_product_total",  # Cumulative dose area product
        (_RADSUM, "C-206"): "start_of_xray_irradiation",  # Start of the examination
        (_RADSUM, "C-208"): "end_of_xray_irradiation",  # End of the examination
        (_RADSUM, "C-210"): "dose_rp_total",  # Cumulative air kerma
    },
    units={
        (_RADSUM, "C-200"): "{exposures}",
        (_RADSUM, "C-202"): "s",
        (_RADSUM, "C-204"): "Gy.m2",
        (_RADSUM, "C-210"): "Gy",
    },
    integers=frozenset({(_RADSUM, "C-200")}),
)

_CONTEXT_FIELDS = (
    "start_of_xray_irradiation",
    "end_of_xray_irradiation",
    "language_of_content_item_and_descendants",
)


def extract_siemens_summary(ds: Dataset, notes: Notes) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Extract a Siemens Radiation Summary Report: one accumulated block, no events, RF."""
    tree = walk(ds, SIEMENS_SUMMARY, notes)
    context = {name: tree.pop(name) for name in _CONTEXT_FIELDS if name in tree}
    notes.append("Siemens private Radiation Summary Report: accumulated totals only, no irradiation events")
    return {"accumulated": [tree], "events": []}, context, "RF"
