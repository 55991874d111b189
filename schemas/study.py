"""The study document's schema: the one definition of each field (DESIGN.md).

Every write is validated against it, and its field metadata (``label``,
``unit``) names export columns and page headings. Schemas list the fields that
checks, pages and exports rely on; the rest of each report is kept as sent
(``unknown = INCLUDE``), so a report never loses a value for want of a field.
Numbers are stored in the template's unit, given in each field's ``unit``.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from schemas.changed import changed_errors
from schemas.versions import SCHEMA_VERSION
from service.errors import InvalidDoseReport


class Number(fields.Field):
    """A finite int or float, never a string or a bool; optionally not negative."""

    def __init__(self, *, minimum: float | None = None, **kwargs: Any) -> None:
        super().__init__(allow_none=True, **kwargs)
        self.minimum = minimum

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValidationError(f"Expected a finite number, found {value!r}.")
        if self.minimum is not None and value < self.minimum:
            raise ValidationError(f"Expected at least {self.minimum}, found {value!r}.")
        return value


class When(fields.Field):
    """A BSON date (a Python datetime), or None."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_none=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, datetime):
            raise ValidationError(f"Expected a date-time, found {value!r}.")
        return value


def num(label: str, unit: str | None = None, *, dose: bool = False, figures: int | None = None) -> Number:
    """Declare a number with its label and unit (and significant figures shown, if not 4); doses may not be negative."""
    metadata: dict[str, Any] = {"label": label, "unit": unit}
    if figures is not None:
        metadata["figures"] = figures
    return Number(minimum=0 if dose else None, metadata=metadata)


def unit(unit: str) -> Number:
    """Declare the unit of a number kept as sent but not exported (no label: pages make one of its name)."""
    return Number(metadata={"unit": unit})


def units(unit: str) -> fields.List:
    """Declare the unit of a list of numbers kept as sent (per-pulse values), not exported."""
    return fields.List(Number(), allow_none=True, metadata={"unit": unit})


def text(label: str) -> fields.String:
    """Declare a text field with its label."""
    return fields.String(allow_none=True, metadata={"label": label})


def when(label: str) -> When:
    """Declare a date-time field with its label."""
    return When(metadata={"label": label})


class Open(Schema):
    """Base of every schema here: fields not declared are kept as they are."""

    class Meta:
        unknown = INCLUDE


class CodedValue(Open):
    """A coded value: ``{code_value, coding_scheme_designator, code_meaning}``."""

    code_value = fields.String(required=True)
    coding_scheme_designator = fields.String(required=True)
    code_meaning = fields.String(allow_none=True)


def code(label: str) -> fields.Nested:
    """Declare a coded value with its label."""
    return fields.Nested(CodedValue, allow_none=True, metadata={"label": label})


class Patient(Open):
    """Patient and Patient Study modules, without identifying data (PS3.3 C.7.1, C.7.2).

    ``key`` is the patient key (service.access.patient_key): the same for every
    study of one patient, absent without a Patient ID. It has no label, so
    exports and list columns leave it out; only the ``pid`` role may see it.
    """

    key = fields.String(allow_none=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"), metadata={"role": "pid"})
    age = text("Age as sent")
    age_years = num("Age", "years", figures=3)
    sex = text("Sex")
    weight_kg = num("Weight", "kg", figures=3)
    height_m = num("Height", "m", figures=3)
    not_patient_indicator = text("Test patient?")


class Equipment(Open):
    """General Equipment module (PS3.3 C.7.5.1) and the SR's device observer."""

    manufacturer = text("Manufacturer")
    manufacturer_model_name = text("Model name")
    station_name = text("Station name")
    institution_name = text("Institution")
    institutional_department_name = text("Department")
    device_serial_number = text("Serial number")
    software_versions = text("Software versions")
    device_observer_uid = text("Device observer UID")


class Summary(Open):
    """Per-study totals computed at write time (service.ingest.summary)."""

    number_of_events = Number(minimum=0, metadata={"label": "No. events"})
    total_dlp = num("Total DLP", "mGy·cm", dose=True)
    max_ctdivol = num("Max CTDIvol", "mGy", dose=True)
    total_dap = num("Total DAP", "Gy·m²", dose=True)
    total_rp_dose = num("Total dose at RP", "Gy", dose=True)
    total_fluoro_time = num("Total fluoro time", "s", dose=True)
    total_agd_left = num("AGD left", "mGy", dose=True)
    total_agd_right = num("AGD right", "mGy", dose=True)
    total_administered_activity = num("Administered activity", "MBq", dose=True)


class CtSource(Open):
    """CT X-Ray Source Parameters (TID 10013)."""

    identification_of_the_xray_source = text("X-ray source")
    kvp = num("kVp", "kV")
    maximum_xray_tube_current = num("Maximum tube current", "mA")
    xray_tube_current = num("Tube current", "mA")
    exposure_time_per_rotation = num("Exposure time per rotation", "s")


class IrradiationEvent(Open):
    """What every irradiation event has, CT (TID 10013) or projection (TID 10003)."""

    irradiation_event_uid = fields.String(required=True, metadata={"label": "Irradiation event UID"})
    date_time_started = when("Date time started")
    acquisition_protocol = text("Acquisition protocol")
    target_region = code("Target region")


class CtEvent(IrradiationEvent):
    """CT Irradiation Event Data (TID 10013), with parameters and dose folded in."""

    ct_acquisition_type = code("Acquisition type")
    exposure_time = num("Exposure time", "s")
    scanning_length = num("Scanning length", "mm")
    nominal_single_collimation_width = num("Nominal single collimation width", "mm")
    nominal_total_collimation_width = num("Nominal total collimation width", "mm")
    pitch_factor = num("Pitch factor")
    mean_ctdivol = num("Mean CTDIvol", "mGy", dose=True)
    ctdiw_phantom_type = code("CTDIw phantom type")
    dlp = num("DLP", "mGy·cm", dose=True)
    sources = fields.List(fields.Nested(CtSource), metadata={"label": "X-ray sources"})
    dose_check = fields.Dict(allow_none=True, metadata={"label": "Dose check"})
    exposed_range = unit("mm")  # kept as sent (Siemens), declared for its unit on pages


class CtAccumulated(Open):
    """CT Accumulated Dose Data (TID 10012)."""

    ct_dose_length_product_total = num("CT dose length product total", "mGy·cm", dose=True)
    total_number_of_irradiation_events = Number(minimum=0, metadata={"label": "Total number of irradiation events"})


class Ct(Open):
    """CT Radiation Dose (TID 10011)."""

    accumulated = fields.Nested(CtAccumulated, allow_none=True)
    events = fields.List(fields.Nested(CtEvent))


class XrayFilter(Open):
    """X-Ray Filters (TID 10003B)."""

    xray_filter_type = code("Filter type")
    xray_filter_material = code("Filter material")
    xray_filter_thickness_minimum = num("Filter thickness minimum", "mm")
    xray_filter_thickness_maximum = num("Filter thickness maximum", "mm")


class AccumulatedAgd(Open):
    """Accumulated Average Glandular Dose of one breast (TID 10005)."""

    accumulated_average_glandular_dose = num("Accumulated AGD", "mGy", dose=True)
    laterality = code("Laterality")


class ProjectionAccumulated(Open):
    """Accumulated X-Ray Dose Data of one plane (TID 10002, with TID 10004-10007)."""

    acquisition_plane = code("Acquisition plane")
    dose_area_product_total = num("DAP total", "Gy·m²", dose=True)
    dose_rp_total = num("Dose (RP) total", "Gy", dose=True)
    fluoro_dose_area_product_total = num("Fluoro DAP total", "Gy·m²", dose=True)
    fluoro_dose_rp_total = num("Fluoro dose (RP) total", "Gy", dose=True)
    total_fluoro_time = num("Total fluoro time", "s", dose=True)
    acquisition_dose_area_product_total = num("Acquisition DAP total", "Gy·m²", dose=True)
    acquisition_dose_rp_total = num("Acquisition dose (RP) total", "Gy", dose=True)
    total_acquisition_time = num("Total acquisition time", "s", dose=True)
    total_number_of_radiographic_frames = Number(minimum=0, metadata={"label": "Radiographic frames"})
    accumulated_average_glandular_dose = fields.List(
        fields.Nested(AccumulatedAgd), metadata={"label": "Accumulated AGD per breast"}
    )


class ProjectionEvent(IrradiationEvent):
    """Irradiation Event X-Ray Data (TID 10003) with source, mechanical and detector data folded in."""

    irradiation_event_type = code("Irradiation event type")
    acquisition_plane = code("Acquisition plane")
    anatomical_structure = code("Anatomical structure")
    laterality = code("Laterality")
    image_view = code("View")
    dose_area_product = num("DAP", "Gy·m²", dose=True)
    dose_rp = num("Dose (RP)", "Gy", dose=True)
    entrance_exposure_at_rp = num("Entrance exposure at RP", "mGy", dose=True)
    average_glandular_dose = num("AGD", "mGy", dose=True)
    half_value_layer = num("Half value layer", "mm")
    kvp = num("kVp", "kV")
    xray_tube_current = num("Tube current", "mA")
    average_xray_tube_current = num("Average tube current", "mA")
    exposure_time = num("Exposure time", "ms")
    pulse_width = num("Pulse width", "ms")
    pulse_rate = num("Pulse rate", "pulse/s")
    number_of_pulses = Number(minimum=0, metadata={"label": "Number of pulses"})
    exposure = num("Exposure", "µAs")
    irradiation_duration = num("Irradiation duration", "s")
    focal_spot_size = num("Focal spot size", "mm")
    anode_target_material = code("Anode target material")
    xray_filters = fields.List(fields.Nested(XrayFilter), metadata={"label": "Filters"})
    collimated_field_area = num("Collimated field area", "m²")
    positioner_primary_angle = num("Primary angle", "°")
    positioner_secondary_angle = num("Secondary angle", "°")
    distance_source_to_detector = num("Source to detector distance", "mm")
    distance_source_to_isocenter = num("Source to isocenter distance", "mm")
    compression_thickness = num("Compression thickness", "mm")
    compression_force = num("Compression force", "N")
    exposure_index = num("Exposure index")
    deviation_index = num("Deviation index")
    # read from image headers (service.extract.images); no template concept, named after the DICOM attribute
    image_view_modifier = code("View modifier")
    column_angulation = num("Column angulation", "°")
    target_exposure_index = num("Target exposure index")
    relative_xray_exposure = num("Relative x-ray exposure")
    sensitivity = num("Sensitivity")
    grid_focal_distance = num("Grid focal distance", "mm")
    distance_source_to_patient = num("Source to patient distance", "mm")
    distance_source_to_entrance = num("Source to entrance distance", "mm")
    estimated_radiographic_magnification_factor = num("Magnification")
    radiological_thickness = num("Radiological thickness", "mm")
    percent_fibroglandular_tissue = num("% Fibroglandular tissue", "%")
    exposure_control_mode = text("Exposure control mode")
    exposure_control_mode_description = text("Exposure mode description")
    # kept as sent without an export column; declared for the unit pages show
    distance_source_to_reference_point = unit("mm")
    collimated_field_height = unit("mm")
    collimated_field_width = unit("mm")
    table_longitudinal_position = unit("mm")
    table_lateral_position = unit("mm")
    table_height_position = unit("mm")
    ii_field_size = unit("mm")
    kvp_per_pulse = units("kV")
    xray_tube_current_per_pulse = units("mA")
    pulse_width_per_pulse = units("ms")
    exposure_per_pulse = units("µAs")


class Projection(Open):
    """Projection X-Ray Radiation Dose (TID 10001): one accumulated block per plane."""

    accumulated = fields.List(fields.Nested(ProjectionAccumulated), allow_none=True)
    events = fields.List(fields.Nested(ProjectionEvent))


class OrganDose(Open):
    """Organ Dose Information (TID 10022)."""

    finding_site = code("Organ")
    laterality = code("Laterality")
    organ_dose = num("Organ dose", "mGy", dose=True)
    reference_authority = text("Reference authority")


class Administration(Open):
    """Radiopharmaceutical Administration (TID 10022)."""

    radiopharmaceutical_administration_event_uid = fields.String(
        required=True, metadata={"label": "Administration event UID"}
    )
    radiopharmaceutical_agent = code("Radiopharmaceutical")
    radionuclide = code("Radionuclide")
    radionuclide_half_life = num("Half life", "s")
    administered_activity = num("Administered activity", "MBq", dose=True)
    radiopharmaceutical_start_date_time = when("Administration start")
    radiopharmaceutical_stop_date_time = when("Administration stop")
    route_of_administration = code("Route of administration")
    effective_dose = num("Effective dose", "mSv", dose=True)
    organ_doses = fields.List(fields.Nested(OrganDose), metadata={"label": "Organ doses"})
    radiopharmaceutical_agent_text = text("Radiopharmaceutical (as sent)")  # image headers' free text
    radiopharmaceutical_volume = num("Volume", "cm³")


class PetSeries(Open):
    """A PET series, from its images' PET Series and PET Image modules (PS3.3 C.8.9.1, C.8.9.4)."""

    series_instance_uid = fields.String(required=True, metadata={"label": "Series instance UID"})
    series_date_time = when("Series date time")
    number_of_slices = Number(minimum=0, metadata={"label": "Number of slices"})
    reconstruction_method = text("Reconstruction method")
    coincidence_window_width = num("Coincidence window width", "ns")
    energy_window_lower_limit = num("Energy window lower limit", "keV")
    energy_window_upper_limit = num("Energy window upper limit", "keV")
    series_type = fields.List(fields.String(), metadata={"label": "Series type"})
    corrected_image = fields.List(fields.String(), metadata={"label": "Corrections"})


class Radiopharmaceutical(Open):
    """Radiopharmaceutical Radiation Dose (TID 10021); PET series come from image headers."""

    administrations = fields.List(fields.Nested(Administration))
    pet_series = fields.List(fields.Nested(PetSeries), metadata={"label": "PET series"})
    patient_characteristics = fields.Dict(allow_none=True, metadata={"label": "Patient characteristics"})


class Report(Open):
    """One dose object that contributed to the study."""

    sop_instance_uid = fields.String(required=True)
    sop_class_uid = fields.String(required=True)
    kind = fields.String(required=True)
    sha256 = fields.String(required=True)
    received_at = When(required=True)
    via = fields.String(required=True)


class Study(Open):
    """A study document: one per Study Instance UID."""

    study_instance_uid = fields.String(required=True, metadata={"label": "Study instance UID"})
    modalities = fields.List(fields.String(), required=True)
    study_date_time = when("Study date time")
    accession_number = text("Accession number")
    study_id = text("Study ID")
    study_description = text("Study description")
    requested_procedure_description = text("Requested procedure")
    procedure_reported = code("Procedure reported")
    patient = fields.Nested(Patient, required=True, metadata={"label": "Patient"})
    equipment = fields.Nested(Equipment, required=True, metadata={"label": "Equipment"})
    summary = fields.Nested(Summary, required=True, metadata={"label": "Summary"})
    ct = fields.Nested(Ct, metadata={"label": "CT radiation dose"})
    projection = fields.Nested(Projection, metadata={"label": "Projection X-ray radiation dose"})
    radiopharmaceutical = fields.Nested(Radiopharmaceutical, metadata={"label": "Radiopharmaceutical radiation dose"})
    reports = fields.List(fields.Nested(Report), required=True, metadata={"label": "Dose reports received"})
    created_at = When(required=True)
    updated_at = When(required=True)
    revision = fields.Integer(strict=True, required=True)
    schema_version = fields.Integer(
        strict=True,
        required=True,
        validate=validate.Equal(SCHEMA_VERSION, error="Expected {other}, the version this code writes."),
        metadata={"description": "The document's shape (schemas/versions.py); doseledger migrate upgrades older ones"},
    )


_STUDY = Study()


def _describe(errors: Any, path: str = "") -> list[str]:
    if isinstance(errors, dict):
        return [line for key, value in errors.items() for line in _describe(value, f"{path}.{key}".lstrip("."))]
    if isinstance(errors, list) and all(isinstance(e, str) for e in errors):
        return [f"{path}: {' '.join(errors)}"]
    return [f"{path}: {errors}"]


def validate_study(document: dict[str, Any], *, before: dict[str, Any] | None = None) -> None:
    """Raise :class:`InvalidDoseReport` naming each field that breaks the schema (``before``: see schemas.changed)."""
    errors = _STUDY.validate(document) if before is None else changed_errors(_STUDY, document, before)
    if errors:
        raise InvalidDoseReport("the study document is invalid: " + "; ".join(_describe(errors)))
