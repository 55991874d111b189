"""Schemas of what the HTTP API answers (and the bodies it takes that no parsing schema covers).

The API description (``/api/openapi.json``, :mod:`service.web.openapi`) is
generated from these and from the schemas that parse arguments and shape
documents (:mod:`schemas.query`, :mod:`schemas.study`, :mod:`schemas.audits`,
:mod:`schemas.patient_sizes`). Where an answer's shape is fixed the schema
refuses other keys (``unknown = RAISE`` becomes ``additionalProperties:
false``), so the schemathesis test (tests/test_api_contract.py) catches an
answer that drifts from its description.
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from schemas.alert_rules import RouteSchema, RuleSchema
from schemas.audits import ReferenceLevelSchema, StandardNameSchema
from schemas.patient_sizes import PatientSizesForm
from schemas.study import Equipment, Patient, Summary, When
from service.dicomnet.progress import RUN_STATES
from service.modalities import ROW_FIELDS

#: what an uploaded file is in a description (OpenAPI's binary string)
BINARY = {"type": "string", "format": "binary"}

IMPORT_OUTCOMES = ("created", "merged", "duplicate", "rejected")
SIZE_OUTCOMES = ("updated", "unchanged", "no such study", "unreadable value")
ALERT_STATES = ("open", "acknowledged", "closed")


class Closed(Schema):
    """Base of the answers whose keys are fixed."""

    class Meta:
        unknown = RAISE


def _text(description: str, **kwargs: object) -> fields.String:
    return fields.String(required=True, metadata={"description": description}, **kwargs)  # type: ignore[arg-type]


def _maybe(description: str) -> fields.String:
    return fields.String(required=True, allow_none=True, metadata={"description": description})


def _count(description: str, **kwargs: str) -> fields.Integer:
    return fields.Integer(
        required=True, validate=validate.Range(min=0), metadata={"description": description}, **kwargs
    )


class Error(Closed):
    """The one shape of every error the API answers."""

    code = _text("Machine-readable code: `invalid-arguments`, `not-found`, `not-a-dose-object`, ...")
    status = fields.Integer(
        required=True, validate=validate.Range(min=400, max=599), metadata={"description": "HTTP status"}
    )
    message = _text("What went wrong and how to put it right, as a sentence")
    errors = fields.Raw(
        required=True,
        metadata={
            "description": "Details: per argument the messages (`{name: [message]}`), or the per-object results",
            "type": ["object", "array"],
        },
    )


class ImportResult(Closed):
    """What became of one object sent to ``POST /api/imports``."""

    name = _text("The object's name: X-Filename, the multipart file name, or `request body`")
    outcome = fields.String(required=True, validate=validate.OneOf(IMPORT_OUTCOMES))
    study_instance_uid = _maybe("The study it went into (null when it could not be read)")
    sop_instance_uid = _maybe("The object's SOP Instance UID (null when it could not be read)")
    message = _text("What happened, as a sentence")
    code = _maybe("The rejection's reason (`not-dicom`, `not-a-dose-object`, `invalid-dose-report`, `too-large`)")


class ImportCounts(Closed):
    """Objects of a batch per outcome."""

    created = _count("objects that created a study")
    merged = _count("objects merged into a study")
    duplicate = _count("objects already recorded")
    rejected = _count("objects refused")


class ImportBatch(Closed):
    """The answer to a multipart import of several objects."""

    results = fields.List(fields.Nested(ImportResult), required=True)
    counts = fields.Nested(ImportCounts, required=True)


class ImportUpload(Closed):
    """A multipart import: one or more objects in the field ``files``."""

    files = fields.List(fields.Raw(metadata=BINARY), required=True, metadata={"description": "DICOM objects"})


class _RowColumns(Closed):
    """The columns every row of the study list has."""

    study_instance_uid = fields.String(required=True)
    modalities = fields.List(fields.String(), required=True)
    study_date_time = When(metadata={"description": "As the modality sent it (local time)"})
    accession_number = fields.String(allow_none=True)
    study_description = fields.String(allow_none=True)
    requested_procedure_description = fields.String(allow_none=True)
    patient = fields.Nested(Patient(only=("age_years", "sex", "weight_kg", "not_patient_indicator")))
    equipment = fields.Nested(
        Equipment(only=("manufacturer", "manufacturer_model_name", "station_name", "institution_name"))
    )
    summary = fields.Nested(Summary)


def _study_row() -> type[Schema]:
    """Return the schema of a list row: the common columns, and each section the registry's columns read."""
    sections = dict.fromkeys(path.split(".")[0] for path in ROW_FIELDS)
    extra = {
        name: fields.Dict(metadata={"description": f"The values of `{name}` the list's columns show"})
        for name in sections
        if name not in _RowColumns._declared_fields
    }
    row: type[Schema] = type("StudyRow", (_RowColumns,), {"__doc__": "One row of the study list.", **extra})
    return row


StudyRow = _study_row()


class StudyPage(Closed):
    """One page of ``GET /api/studies``."""

    total = _count("Studies the query selects (a lower bound when total_exact is false)")
    total_exact = fields.Boolean(required=True)
    items = fields.List(fields.Nested(StudyRow), required=True)
    next = _maybe("Token of the next page, to pass back as `after`; null on the last page")


class EventEntry(Schema):
    """One event-log entry (DESIGN.md, Collections); ``details`` holds facts of its type."""

    seq = fields.Integer(required=True, validate=validate.Range(min=1))
    at = When(required=True, metadata={"description": "When it happened (UTC)"})
    type = _text("`received`, `created`, `merged`, `duplicate`, `rejected`, `export`, `patient-sizes`, ...")
    via = _text("`http`, `cli` or `dicom`")
    client = _text("Who sent it: an address, `user@host`, or `CALLING_AE@address`")
    name = fields.String(allow_none=True)
    study_instance_uid = fields.String(allow_none=True)
    sop_instance_uid = fields.String(allow_none=True)
    sha256 = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    code = fields.String(allow_none=True)
    message = fields.String(required=True)
    details = fields.Dict()


class EventLogPage(Closed):
    """Entries after ``after``, in order."""

    events = fields.List(fields.Nested(EventEntry), required=True)
    last_seq = _count("The last entry's seq (or `after` when there is none): pass it back as `after`")


class Health(Closed):
    """The service and its database answer."""

    status = fields.String(required=True, validate=validate.OneOf(["ok"]))
    database = fields.String(required=True, validate=validate.OneOf(["ok"]))


class Quantity(Schema):
    """What an audit measures, and its unit."""

    name = fields.String(required=True)
    label = fields.String(required=True)
    unit = fields.String(required=True, metadata={"description": "The unit values are given in"})
    ucum = fields.String(required=True, metadata={"description": "The same unit in UCUM"})


class AuditDescription(Schema):
    """One audit: name, title, what it groups by, its quantity and parameters."""

    name = fields.String(required=True)
    title = fields.String(required=True)
    group = fields.String(allow_none=True)
    quantity = fields.Nested(Quantity, allow_none=True, required=True)
    parameters = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True)


class AuditCatalogue(Closed):
    """Every audit."""

    audits = fields.List(fields.Nested(AuditDescription), required=True)


class AuditResult(Closed):
    """One audit's rows, with what was asked."""

    audit = fields.Nested(AuditDescription, required=True)
    parameters = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    filters = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    rows = fields.List(fields.Dict(), required=True, metadata={"description": "One object per group"})


class StandardNames(Closed):
    """The standard-name mappings."""

    standard_names = fields.List(fields.Nested(StandardNameSchema), required=True)


class StoredLevel(Closed):
    """A diagnostic reference level, in the unit of its audit."""

    name = fields.String(required=True)
    quantity = fields.String(required=True)
    value = fields.Float(required=True)
    unit = fields.String(required=True)
    given = fields.String(required=True, metadata={"description": "The value and unit as given"})


class ReferenceLevels(Closed):
    """The DRL table."""

    reference_levels = fields.List(fields.Nested(StoredLevel), required=True)


class ReferenceLevelRows(Schema):
    """A DRL table as JSON: a list of rows (``text/csv`` takes the same columns)."""

    rows = fields.List(fields.Nested(ReferenceLevelSchema))


class PatientSizesUpload(PatientSizesForm):
    """The multipart form of ``POST /api/patient-sizes``: the CSV file and which columns hold what."""

    file = fields.Raw(required=True, metadata={**BINARY, "description": "The RIS export (CSV with a header row)"})


class SizeRow(Closed):
    """What one row of a patient-size file did."""

    line = fields.Integer(required=True)
    study = _text("The accession number or Study Instance UID as the file gives it")
    outcome = fields.String(required=True, validate=validate.OneOf(SIZE_OUTCOMES))
    message = fields.String(required=True)
    study_instance_uids = fields.List(fields.String(), required=True)


class SizeCounts(Closed):
    """Rows of a patient-size file per outcome."""

    updated = _count("rows that updated studies")
    unchanged = _count("rows that changed nothing")
    no_such_study = _count("rows naming no study", data_key="no such study")
    unreadable_value = _count("rows whose height or weight could not be read", data_key="unreadable value")


class SizeImport(Closed):
    """The answer to a patient-size file."""

    name = fields.String(required=True)
    summary = fields.String(required=True)
    counts = fields.Nested(SizeCounts, required=True)
    rows = fields.List(fields.Nested(SizeRow), required=True)


#: the OpenAPI description itself (its own schema is OpenAPI's)
OPENAPI_DOCUMENT = {
    "type": "object",
    "required": ["openapi", "info", "paths"],
    "properties": {"openapi": {"type": "string", "const": "3.1.0"}},
}


class AlertTable(Closed):
    """The alert-rule table in force (``version`` 0 and no rules before any was set)."""

    rules = fields.List(fields.Nested(RuleSchema), required=True, allow_none=True)
    routes = fields.List(fields.Nested(RouteSchema), required=True, allow_none=True)
    version = fields.Integer(required=True, allow_none=True)
    updated_at = When(required=True)
    updated_by = fields.String(required=True, allow_none=True)


class Alert(Closed):
    """One alert as the API answers it: ``id`` first, then what raised it and what became of it."""

    id = _text("The alert's identifier (for acknowledge and close)")
    rule = fields.String(required=True)
    kind = fields.String(required=True, allow_none=True)
    modality = fields.String(required=True, allow_none=True)
    station_name = fields.String(required=True, allow_none=True)
    study_instance_uid = fields.String(required=True, allow_none=True)
    study_date_time = When(required=True)
    study_description = fields.String(required=True, allow_none=True)
    value = fields.Raw(required=True, metadata={"type": ["number", "null"]})
    level = fields.Raw(required=True, metadata={"type": ["number", "null"]})
    unit = fields.String(required=True, allow_none=True)
    state = fields.String(required=True, validate=validate.OneOf(ALERT_STATES))
    raised_at = When(required=True)
    test_patient = fields.Raw(required=True, metadata={"type": ["boolean", "null"]})
    details = fields.Raw(required=True, metadata={"type": ["object", "null"]})
    history = fields.List(fields.Dict(), required=True, allow_none=True)


class Alerts(Closed):
    """Alerts, newest first."""

    alerts = fields.List(fields.Nested(Alert), required=True)


class Nodes(Closed):
    """The remote PACS nodes."""

    nodes = fields.List(
        fields.Dict(), required=True, metadata={"description": "Each node as `POST /api/pacs` takes it"}
    )


#: a query/retrieve run as the API shows it (its counts and criteria follow service.dicomnet.progress)
RUN = {
    "type": "object",
    "required": ["id", "node", "status", "criteria", "interrupted", "all_modalities"],
    "properties": {
        "id": {"type": "string"},
        "node": {"type": "string"},
        "status": {"type": "string", "enum": list(RUN_STATES)},
        "criteria": {"type": "object"},
        "interrupted": {"type": "boolean", "description": "Its process stopped: it waits to be resumed"},
        "all_modalities": {"type": "boolean"},
    },
}
