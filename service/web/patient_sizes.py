"""``POST /api/patient-sizes``: patient heights and weights from a RIS CSV file.

A multipart request: the file in field ``file``, the column names in the form
fields ``id_column``, ``height_column`` (cm) and ``weight_column`` (kg), and
optionally ``si_uid`` (the id column holds Study Instance UIDs, not accession
numbers) and ``overwrite`` (replace values studies already have), as ``true``
or ``false``. The answer (200) lists what every row did and counts the rows per
outcome; a file that cannot be used is a 400 naming the problem.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from schemas.api import PatientSizesUpload, SizeImport
from schemas.patient_sizes import parse_size_form
from service.access import requires
from service.errors import InvalidArgument
from service.ingest.patient_sizes import Sender, import_sizes
from service.web.apidoc import documented
from service.web.arguments import single_values
from service.web.auth import request_client
from service.web.context import get_settings, get_store

bp = Blueprint("patient_sizes", __name__)


@bp.post("/api/patient-sizes")
@requires("importer")
@documented(
    "patient sizes",
    body={"multipart/form-data": PatientSizesUpload},
    answers={200: ("What every row of the file did.", SizeImport)},
    errors={400: "The file cannot be used (`invalid-file`: not UTF-8 CSV, a column missing) or a form field is bad."},
)
def upload_patient_sizes() -> Response:
    """Apply an uploaded patient-size CSV file and say what each row did."""
    form = parse_size_form(single_values(request.form))
    upload = request.files.get("file")
    if upload is None:
        raise InvalidArgument({"file": ["Send the CSV file in the multipart field 'file'."]})
    columns = (form["id_column"], form["height_column"], form["weight_column"])
    sender = Sender(upload.filename or "file", "http", request_client())
    result = import_sizes(
        get_store(),
        upload.read(),
        columns,
        sender,
        by_study_uid=form["si_uid"],
        overwrite=form["overwrite"],
        max_rows=get_settings().max_size_rows,
    )
    return jsonify(
        {
            "name": result.name,
            "summary": result.summary(),
            "counts": result.counts(),
            "rows": [row.as_dict() for row in result.rows],
        }
    )
