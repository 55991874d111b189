"""The modality registry: every per-modality fact of the lists, filters, pages and exports, in one place.

A *list modality* is one of the study lists (``/ct``, ``/rf``...): its title,
the value of a document's ``modalities`` that puts a study in it, the document
section and event array its events live in, the event field that names its
per-protocol export sheets, its summary totals in the order lists and exports
show them, its main dose quantity (dose range filter, ``order=total_dose``),
the sections its text filters search, the columns of its events on the study
page (key quantities first, in the order a physicist reads them) and what
they can be filtered by, and the audits charted above its list. Labels and units are not here: they
come from the study schema's field metadata (:mod:`schemas.study`), shown as
:mod:`schemas.display` says. Adding a modality is adding an entry to
:data:`MODALITIES` (a test does so in memory and finds it in the list API, the
list page and the export header).

The extractors store the list modality (XA as RF, CR and PX as DX, PT as NM,
decided from the content and SOP class), so a list reads one value: an
equality the modality-and-date index serves, where ``$in`` would make
SecantusDB read every modality of the date window.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from schemas.display import Shown, label_of, shown, unit_of
from schemas.study import Summary

#: The document sections that hold events (DESIGN.md, "The study document").
SECTIONS = ("ct", "projection", "radiopharmaceutical")
AGENT = "radiopharmaceutical.administrations.radiopharmaceutical_agent"


@dataclass(frozen=True)
class Quantity:
    """A modality's main dose quantity: its summary fields, label and shown unit."""

    fields: tuple[str, ...]  # summary fields (several: one per breast for MG)
    label: str
    shown: Shown  # the unit of the key column and of dose_min/dose_max


@dataclass(frozen=True)
class ListColumn:
    """A column of the study lists: every list's own, or one a modality adds before its totals."""

    path: str  # the document path it reads (through arrays: every entry's value)
    label: str  # its header (shorter than the schema's label)
    order: str | None = None  # the ``order`` value that sorts by it
    filter: str | None = None  # the text filter its value links to (the list of that station...)
    opens_study: bool = False  # its cell links to the study page
    numeric: bool = False
    fallback: str | None = None  # the path read where ``path`` holds nothing


@dataclass(frozen=True)
class EventColumn:
    """A column of a study page's events table: an event field, its unit and label from the schema."""

    path: str  # the field in an event; through a list of sub-documents (``sources.kvp``), every entry's value
    label: str | None = None  # its header, when shorter than the schema's label
    fallback: str | None = None  # the field read where ``path`` holds nothing
    varying: bool = False  # shown only when the events differ in it (the plane, in a biplane room)


@dataclass(frozen=True)
class Modality:
    """One study list: what it selects, where its events live and what it totals."""

    key: str  # "CT": the ``modality`` argument; the list page is /<key lower-cased>
    title: str  # page title and navigation
    stored: str  # the value of a document's ``modalities`` that puts a study in this list
    section: str  # the document section of its events
    events: str  # the section's event array
    protocol: str  # the event field whose value names the per-protocol export sheets
    summary: tuple[str, ...]  # summary fields, in the order the list and the export show them
    main: tuple[str, ...]  # the summary field(s) of the main dose quantity
    searched: tuple[str, ...]  # sections whose fields its text filters search
    main_label: str | None = None  # the main quantity's label, when not its first field's
    columns: tuple[ListColumn, ...] = ()  # the list's own columns, after the common ones
    event_columns: tuple[EventColumn, ...] = ()  # the study page's events table, key quantities first
    event_filters: tuple[str, ...] = ()  # event fields (coded) its events table can be filtered by
    charts: tuple[str, ...] = ()  # audits charted above the list (service/audits/definitions), the first shown first
    per_plane: tuple[tuple[str, str], ...] = ()  # (summary field, its accumulated field per plane), for biplane rooms

    @property
    def events_path(self) -> str:
        """Return the dotted path of the event array in a study document."""
        return f"{self.section}.{self.events}"

    @cached_property
    def quantity(self) -> Quantity:
        """Return the main dose quantity, labelled and united from the summary schema."""
        field = Summary().fields[self.main[0]]
        return Quantity(self.main, self.main_label or label_of(field, self.main[0]), shown(unit_of(field)))


E = EventColumn
#: Columns of projection events the fluoroscopy, radiography and mammography tables share.
DAP, KVP, MA, MAS = E("dose_area_product", "DAP"), E("kvp", "kVp"), E("xray_tube_current", "mA"), E("exposure", "mAs")

#: The list modalities, in the order the navigation and the home page show them.
MODALITIES: dict[str, Modality] = {
    modality.key: modality
    for modality in (
        Modality(
            "CT", "CT", "CT", "ct", "events", "acquisition_protocol",
            summary=("number_of_events", "total_dlp", "max_ctdivol"),
            main=("total_dlp",), searched=("ct",),
            event_columns=(
                E("date_time_started", "Time"), E("acquisition_protocol", "Protocol"), E("target_region", "Region"),
                E("ct_acquisition_type", "Type"), E("mean_ctdivol", "CTDIvol"), E("dlp", "DLP"),
                E("ctdiw_phantom_type", "Phantom"), E("sources.kvp", "kVp"), E("sources.xray_tube_current", "mA"),
                E("sources.maximum_xray_tube_current", "Max mA"), E("exposure_time", "Exposure time"),
                E("scanning_length", "Scan length"), E("pitch_factor", "Pitch"),
            ),
            event_filters=("ct_acquisition_type",),
            charts=("ct_dlp_by_study_description", "ct_dlp_by_protocol", "ct_ctdivol_by_protocol"),
        ),
        Modality(
            "RF", "Fluoroscopy", "RF", "projection", "events", "acquisition_protocol",  # and interventional
            summary=("number_of_events", "total_dap", "total_rp_dose", "total_fluoro_time"),
            main=("total_dap",), searched=("projection",),
            event_columns=(
                E("date_time_started", "Time"), E("irradiation_event_type", "Type"),
                E("acquisition_plane", "Plane", varying=True), E("acquisition_protocol", "Protocol"), DAP,
                E("dose_rp", "Dose RP"), KVP, MA,
                E("pulse_width", "Pulse width"), E("pulse_rate", "Pulse rate"), E("number_of_pulses", "Pulses"),
                E("positioner_primary_angle", "Primary angle"), E("positioner_secondary_angle", "Secondary angle"),
            ),
            event_filters=("irradiation_event_type", "acquisition_plane"),
            per_plane=(
                ("total_dap", "dose_area_product_total"), ("total_rp_dose", "dose_rp_total"),
                ("total_fluoro_time", "total_fluoro_time"),
            ),
            charts=("rf_dap_by_study_description", "rf_dap_by_protocol", "rf_rp_dose_by_study_description"),
        ),
        Modality(
            "DX", "Radiography", "DX", "projection", "events", "acquisition_protocol",
            summary=("number_of_events", "total_dap"),
            main=("total_dap",), searched=("projection",),
            event_columns=(
                E("acquisition_protocol", "Protocol"), E("image_view", "View"), DAP, KVP, MAS,
                E("exposure_index", "EI"), E("deviation_index", "DI"), E("date_time_started", "Time"),
            ),
            charts=("dx_dap_by_protocol",),
        ),
        Modality(
            "MG", "Mammography", "MG", "projection", "events", "acquisition_protocol",
            summary=("number_of_events", "total_agd_left", "total_agd_right"),
            main=("total_agd_left", "total_agd_right"), searched=("projection",), main_label="AGD per breast",
            event_columns=(
                E("image_view", "View"), E("laterality", "Side"), E("average_glandular_dose", "AGD"),
                E("compression_thickness", "Thickness"), KVP, MAS, E("anode_target_material", "Anode"),
                E("xray_filters.xray_filter_material", "Filter"), E("date_time_started", "Time"),
            ),
            charts=("mg_agd_by_thickness",),
        ),
        Modality(
            "NM", "Nuclear medicine", "NM", "radiopharmaceutical", "administrations", "radiopharmaceutical_agent",
            summary=("total_administered_activity",),
            main=("total_administered_activity",), searched=SECTIONS,  # PET/CT: its CT part too
            columns=(ListColumn(AGENT, "Radiopharmaceutical", fallback=f"{AGENT}_text"),),
            event_columns=(
                E("radiopharmaceutical_agent", "Agent", fallback="radiopharmaceutical_agent_text"),
                E("radionuclide", "Radionuclide"), E("administered_activity", "Activity"),
                E("radiopharmaceutical_start_date_time", "Start"), E("route_of_administration", "Route"),
            ),
            charts=("nm_activity_by_agent",),
        ),
    )
}  # fmt: skip

#: The columns every list shows first; its modality's summary totals follow.
LIST_COLUMNS: tuple[ListColumn, ...] = (
    ListColumn("study_date_time", "Date and time", order="study_date_time", opens_study=True),
    ListColumn("equipment.station_name", "Station", order="station_name", filter="station_name"),
    ListColumn("equipment.manufacturer_model_name", "Model"),
    ListColumn("study_description", "Study description", order="study_description"),
    ListColumn("accession_number", "Accession"),
    ListColumn("patient.age_years", "Age", numeric=True),
    ListColumn("patient.sex", "Sex"),
    ListColumn("patient.weight_kg", "Weight", numeric=True),
)

#: The fields of a list row (the API's list items; the detail route returns the whole document).
ROW_FIELDS: tuple[str, ...] = (
    *(path for m in MODALITIES.values() for c in m.columns for path in (c.path, c.fallback) if path),
    "study_instance_uid",
    "modalities",
    "study_date_time",
    "accession_number",
    "study_description",
    "requested_procedure_description",
    "patient.age_years",
    "patient.sex",
    "patient.weight_kg",
    "patient.not_patient_indicator",
    "equipment.manufacturer",
    "equipment.manufacturer_model_name",
    "equipment.station_name",
    "equipment.institution_name",
    "summary",
)


def list_modalities(codes: list[str]) -> list[str]:
    """Return the list modalities a study with these stored modalities appears in."""
    return [key for key, modality in MODALITIES.items() if modality.stored in codes]
