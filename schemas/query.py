"""Query arguments of the API: the study list, its pages and exports; the event log.

One schema parses the arguments of every way of asking for a list of studies:
the API, the list pages' filter form (so a filtered list is a bookmarkable URL)
and the CSV/XLSX exports. :func:`parse_study_query` turns a mapping of strings
(``request.args``) into a frozen :class:`StudyQuery`, or raises
:class:`service.errors.InvalidArgument` naming each bad argument and what was
expected. ``service.reading.filters`` turns a :class:`StudyQuery` into a MongoDB filter
and sort.

Decisions:

* Text filters are case-insensitive "contains" matches; the text is matched
  literally (never as a regular expression).
* ``date_from`` and ``date_to`` are calendar dates (YYYY-MM-DD), both inclusive,
  compared with the study date-time as the modality sent it (local time).
* ``dose_min``/``dose_max`` apply to the modality's main quantity
  (:mod:`service.modalities`) in the unit the list pages show it in
  (:mod:`schemas.display`): DLP in mGy·cm, DAP in cGy·cm², AGD in mGy (either
  breast), activity in MBq. They need a ``modality``, as does
  ``order=total_dose``.
* ``test_patients`` (``include``, ``exclude``, ``only``) selects by the
  not-patient indicator (a QA phantom, a test or demonstration patient: the
  study's ``patient.not_patient_indicator`` is set). Decision: the lists
  include them unless told otherwise (marked "test", so a QA run can be
  found), while exports and audits leave them out unless asked
  (:meth:`StudyQuery.for_reports`), so no dose figure mixes phantoms with
  patients by default. A list's export link carries only what the list was
  given, so exporting a list leaves its test patients out unless they were
  asked for.
* ``patient_key`` selects one patient's studies by the pseudonymous key
  (``patient.key``, 64 hexadecimal digits; service.access.patient_key), exactly.
  Only the ``pid`` role may send it (service.access.redact).
* Empty arguments (an empty field of the filter form) mean "no filter";
  unknown arguments are refused, so a misspelt filter never silently lists
  everything.
* The tables below (with the registry's ``searched`` sections) are the one definition of
  the filters; the mongosh audits read them from ``service/audits/filters.json``,
  generated from them by :mod:`service.audits.filters` (regenerate it after
  changing them; a test fails while it is stale).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, ClassVar

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, pre_load, validate, validates_schema

from service.errors import InvalidArgument
from service.modalities import MODALITIES

#: Text filters: argument -> document path(s); several paths match if any does.
TEXT_FILTERS: dict[str, tuple[str, ...]] = {
    "station_name": ("equipment.station_name",),
    "manufacturer": ("equipment.manufacturer",),
    "manufacturer_model_name": ("equipment.manufacturer_model_name",),
    "institution_name": ("equipment.institution_name",),
    "study_description": ("study_description",),
    "requested_procedure_description": ("requested_procedure_description",),
    "acquisition_protocol": ("ct.events.acquisition_protocol", "projection.events.acquisition_protocol"),
    "accession_number": ("accession_number",),
}

#: Numeric range filters: argument stem -> document path (``<stem>_min``, ``<stem>_max``, inclusive).
RANGE_FILTERS: dict[str, str] = {
    "age": "patient.age_years",
    "weight": "patient.weight_kg",
    "events": "summary.number_of_events",
}

#: The not-patient indicator (service.extract.header): set for QA, test and demonstration patients.
TEST_PATIENT_PATH = "patient.not_patient_indicator"
#: ``test_patients`` value -> condition on :data:`TEST_PATIENT_PATH` (``include``: none).
TEST_PATIENT_CONDITIONS: dict[str, dict[str, None]] = {"exclude": {"$eq": None}, "only": {"$ne": None}}
TEST_PATIENT_CHOICES = ("include", "exclude", "only")
#: what exports and audits do when ``test_patients`` is not given
REPORTS_TEST_PATIENTS = "exclude"

#: the pseudonymous patient key: an HMAC-SHA256 in lower-case hexadecimal
PATIENT_KEY_PATH = "patient.key"
PATIENT_KEY_PATTERN = r"\A[0-9a-f]{64}\Z"
PATIENT_KEY_ERROR = "Expected a patient key: 64 hexadecimal digits."

#: Orderings: ``order`` value (``-`` prefix = descending) -> document path;
#: ``total_dose`` -> the modality's main quantity.
ORDERS: dict[str, str | None] = {
    "study_date_time": "study_date_time",
    "station_name": "equipment.station_name",
    "study_description": "study_description",
    "total_dose": None,
}
ORDER_CHOICES = tuple(f"{sign}{name}" for name in ORDERS for sign in ("-", ""))
DEFAULT_ORDER = "-study_date_time"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
MAX_TEXT = 200
MAX_SEQ = 2**63 - 1  # the largest integer MongoDB stores (int64)


@dataclass(frozen=True)
class StudyQuery:
    """Parsed list arguments; ``None`` means "no filter"."""

    modality: str | None = None
    text: tuple[tuple[str, str], ...] = ()  # (argument, text) of each text filter given
    date_from: date | None = None
    date_to: date | None = None
    ranges: tuple[tuple[str, float | None, float | None], ...] = ()  # (stem, min, max)
    dose_min: float | None = None
    dose_max: float | None = None
    test_patients: str | None = None  # include, exclude, only; None: the reader's default (lists include)
    patient_key: str | None = None  # one patient's studies (role pid)
    order: str = DEFAULT_ORDER
    page_size: int = DEFAULT_PAGE_SIZE
    after: str | None = None  # paging token from the previous answer's ``next``

    def arguments(self) -> dict[str, str]:
        """Return the query as URL arguments (without paging), for links and export URLs."""
        found: dict[str, Any] = {"modality": self.modality, **dict(self.text)}
        found.update(date_from=self.date_from, date_to=self.date_to, dose_min=self.dose_min, dose_max=self.dose_max)
        for stem, low, high in self.ranges:
            found.update({f"{stem}_min": low, f"{stem}_max": high})
        found.update(test_patients=self.test_patients, patient_key=self.patient_key)
        if self.order != DEFAULT_ORDER:
            found["order"] = self.order
        return {key: _format(value) for key, value in found.items() if value is not None}

    def for_reports(self) -> StudyQuery:
        """Return the query as exports and audits read it: test patients left out unless asked for."""
        return replace(self, test_patients=self.test_patients or REPORTS_TEST_PATIENTS)


def _format(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value.isoformat() if isinstance(value, date) else str(value)


def _text() -> fields.String:
    return fields.String(validate=validate.Length(max=MAX_TEXT, error=f"Expected at most {MAX_TEXT} characters."))


def _number() -> fields.Float:
    return fields.Float(
        validate=validate.Range(min=0, error="Expected a number of at least 0."),
        error_messages={"invalid": "Expected a number.", "special": "Expected a finite number."},
    )


def _range_fields() -> dict[str, fields.Field]:
    return {f"{stem}_{end}": _number() for stem in (*RANGE_FILTERS, "dose") for end in ("min", "max")}


_DATE = {"format": "%Y-%m-%d", "error_messages": {"invalid": "Expected a date as YYYY-MM-DD."}}


class StudyQuerySchema(Schema.from_dict(_range_fields())):  # type: ignore[misc]
    """The arguments of ``GET /api/studies``, the list pages and the exports."""

    #: an empty argument (an empty field of the filter form) is no argument (the API description says so)
    EMPTY_MEANS_ABSENT: ClassVar[bool] = True

    class Meta:
        unknown = RAISE

    modality = fields.String(validate=validate.OneOf(MODALITIES, error=f"Expected one of {', '.join(MODALITIES)}."))
    station_name = _text()
    manufacturer = _text()
    manufacturer_model_name = _text()
    institution_name = _text()
    study_description = _text()
    requested_procedure_description = _text()
    acquisition_protocol = _text()
    accession_number = _text()
    date_from = fields.Date(**_DATE)
    date_to = fields.Date(  # inclusive: the range ends the next day, which must exist
        **_DATE, validate=validate.Range(max=date.max - timedelta(days=1), error="Expected a date before 9999-12-31.")
    )
    test_patients = fields.String(
        validate=validate.OneOf(TEST_PATIENT_CHOICES, error=f"Expected one of {', '.join(TEST_PATIENT_CHOICES)}.")
    )
    patient_key = fields.String(validate=validate.Regexp(PATIENT_KEY_PATTERN, error=PATIENT_KEY_ERROR))
    order = fields.String(
        load_default=DEFAULT_ORDER,
        validate=validate.OneOf(ORDER_CHOICES, error=f"Expected one of {', '.join(ORDER_CHOICES)}."),
    )
    page_size = fields.Integer(
        load_default=DEFAULT_PAGE_SIZE,
        validate=validate.Range(min=1, max=MAX_PAGE_SIZE, error=f"Expected a whole number from 1 to {MAX_PAGE_SIZE}."),
        error_messages={"invalid": f"Expected a whole number from 1 to {MAX_PAGE_SIZE}."},
    )
    after = fields.String(validate=validate.Length(max=1000, error="Expected a token from a previous answer."))

    @pre_load
    def _drop_empty(self, data: Mapping[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Treat empty and blank arguments as absent and upper-case the modality."""
        cleaned = {key: value.strip() if isinstance(value, str) else value for key, value in data.items()}
        cleaned = {key: value for key, value in cleaned.items() if value not in ("", None)}
        if isinstance(cleaned.get("modality"), str):
            cleaned["modality"] = cleaned["modality"].upper()
        return cleaned

    @validates_schema
    def _check_consistency(self, data: dict[str, Any], **kwargs: Any) -> None:
        """Refuse reversed ranges, and dose arguments without a modality."""
        for low, high in [("date_from", "date_to"), *((f"{s}_min", f"{s}_max") for s in (*RANGE_FILTERS, "dose"))]:
            if data.get(low) is not None and data.get(high) is not None and data[low] > data[high]:
                raise ValidationError(f"Expected {high} on or after {low}.", high)
        if data.get("modality") is None:
            for name in ("dose_min", "dose_max"):
                if name in data:
                    raise ValidationError("Expected together with modality (the dose is the modality's).", name)
            if data["order"].lstrip("-") == "total_dose":
                raise ValidationError("Expected together with modality (the dose is the modality's).", "order")

    @post_load
    def _to_query(self, data: dict[str, Any], **kwargs: Any) -> StudyQuery:
        """Build the frozen :class:`StudyQuery`."""
        ranges = tuple(
            (stem, data.get(f"{stem}_min"), data.get(f"{stem}_max"))
            for stem in RANGE_FILTERS
            if f"{stem}_min" in data or f"{stem}_max" in data
        )
        return StudyQuery(
            modality=data.get("modality"),
            text=tuple((name, data[name]) for name in TEXT_FILTERS if name in data),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            ranges=ranges,
            dose_min=data.get("dose_min"),
            dose_max=data.get("dose_max"),
            test_patients=data.get("test_patients"),
            patient_key=data.get("patient_key"),
            order=data["order"],
            page_size=data["page_size"],
            after=data.get("after"),
        )


_SCHEMA = StudyQuerySchema()


def parse_study_query(args: Mapping[str, Any], *, modality: str | None = None) -> StudyQuery:
    """Parse list arguments (``modality``, when given, comes from the URL path and wins)."""
    data = {key: args[key] for key in args}
    if modality is not None:
        data["modality"] = modality
    try:
        return _SCHEMA.load(data)
    except ValidationError as e:
        errors = e.messages if isinstance(e.messages, dict) else {"_schema": e.messages}
        raise InvalidArgument(errors) from e


class EventLogArgs(Schema):
    """Arguments of ``GET /api/event-log``."""

    class Meta:
        """Refuse arguments the endpoint does not know."""

        unknown = RAISE

    after = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_SEQ, error=f"Expected a whole number from 0 to {MAX_SEQ}."),
        metadata={"label": "After seq"},
    )
    limit = fields.Integer(
        load_default=100,
        validate=validate.Range(min=1, max=1000, error="Expected a whole number from 1 to 1000."),
        metadata={"label": "Page size"},
    )
