"""Hostile input on every route and command: a 4xx naming the problem (or a one-line CLI error), never a 500.

Each HTTP case asserts the status and that the uniform JSON error names the
argument (a key of ``errors``) or the problem (in ``message``). User text that
looks like a MongoDB operator (``$gt``, ``$where``) or a regular expression
must stay text.
"""

from __future__ import annotations

import base64
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from scripts.cli import main
from service.ingest.document import save_fragment
from service.storage import Store
from tests.conftest import Runner
from tests.studies import fragment

LONG = "a" * 5000
DEEP = b"[" * 100_000 + b"]" * 100_000  # deeper than the JSON parser can recurse
JSON = {"Accept": "application/json"}  # the HTML pages answer API clients in JSON

GETS = [  # (url, status, what the error names)
    ("/api/studies?page_size=-1", 400, "page_size"),
    ("/api/studies?page_size=abc", 400, "page_size"),
    ("/api/studies?page_size=99999999999999999999999", 400, "page_size"),
    ("/api/studies?modality=XX", 400, "modality"),
    ("/api/studies?date_from=2020-13-45", 400, "date_from"),
    ("/api/studies?date_from=99999-01-01", 400, "date_from"),
    ("/api/studies?age_min=1e400", 400, "age_min"),
    ("/api/studies?age_min=nan", 400, "age_min"),
    ("/api/studies?age_min=-1", 400, "age_min"),
    ("/api/studies?page_size=1&page_size=2", 400, "page_size"),
    ("/api/studies?station_name=%ff%fe", 400, "query string"),
    ("/api/studies?%ff=1", 400, "query string"),
    (f"/api/studies?station_name={LONG}", 400, "station_name"),
    (f"/api/studies?after={LONG}", 400, "after"),
    ("/api/studies?after=%24gt", 400, "after"),
    ("/api/studies?order=%24natural", 400, "order"),
    ("/api/studies?%24where=1", 400, "$where"),
    ("/api/studies?dose_min=1", 400, "dose_min"),
    ("/api/studies?date_to=9999-12-31", 400, "date_to"),
    ("/api/audits/ct_dlp_by_protocol?date_to=9999-12-31", 400, "date_to"),
    ("/api/studies/%24gt", 404, "$gt"),
    (f"/api/studies/{LONG}", 404, LONG),
    ("/api/exports/XX.csv", 400, "modality"),
    ("/api/exports/CT.pdf", 404, "not found"),
    ("/api/exports/CT.csv?page_size=-1", 400, "page_size"),
    ("/api/exports/CT.xlsx?date_from=bad", 400, "date_from"),
    ("/api/exports/CT.csv?station_name=%ff", 400, "query string"),
    ("/api/event-log?after=-1", 400, "after"),
    ("/api/event-log?after=abc", 400, "after"),
    ("/api/event-log?after=99999999999999999999999", 400, "after"),
    ("/api/event-log?limit=0", 400, "limit"),
    ("/api/event-log?limit=99999999999999999999999", 400, "limit"),
    ("/api/event-log?after=1&after=2", 400, "after"),
    ("/api/event-log?bogus=1", 400, "bogus"),
    ("/api/audits/nope", 404, "nope"),
    ("/api/audits/%24gt", 404, "$gt"),
    ("/api/audits/ct_dlp_by_protocol?format=pdf", 400, "format"),
    ("/api/audits/ct_dlp_by_protocol?names=%24gt", 400, "names"),
    ("/api/audits/ct_dlp_by_protocol?date_from=bad", 400, "date_from"),
    ("/api/audits/ct_dlp_by_protocol?bogus=1", 400, "bogus"),
    ("/api/standard-names?modality=XX", 400, "modality"),
    ("/api/standard-names?modality=%24gt", 400, "modality"),
    ("/healthz?x=%ff", 400, "query string"),
    ("/?x=1&x=2", 400, "x"),
    ("/ct?page_size=-1", 400, "page_size"),
    ("/rf?order=bogus", 400, "order"),
    ("/dx?page_size=1e9", 400, "page_size"),
    ("/mg?bogus=1", 400, "bogus"),
    ("/nm?dose_min=abc", 400, "dose_min"),
    ("/xx", 404, "not found"),
    ("/studies/%24gt", 404, "$gt"),
    ("/audits?audit=%ff", 400, "query string"),
]


def _names(body: dict[str, Any], what: str) -> bool:
    """Tell whether the error names ``what``: a key of ``errors`` or words of ``message``."""
    errors = body["errors"]
    return (isinstance(errors, dict) and what in errors) or what.lower() in body["message"].lower()


@pytest.mark.parametrize(("url", "status", "what"), GETS, ids=[case[0][:60] for case in GETS])
def test_bad_query_is_a_4xx_naming_it(client: FlaskClient, url: str, status: int, what: str) -> None:
    response = client.get(url, headers=JSON)
    body = response.get_json()
    assert (response.status_code, body["status"]) == (status, status)
    assert _names(body, what), body


def _form(**fields: Any) -> dict[str, Any]:
    return {"data": fields, "content_type": "multipart/form-data"}


def _sizes(content: bytes, **fields: str | list[str]) -> dict[str, Any]:
    columns = {"id_column": "id", "height_column": "h", "weight_column": "w", **fields}
    return _form(file=(io.BytesIO(content), "sizes.csv"), **columns)


def _body(data: bytes, content_type: str) -> dict[str, Any]:
    return {"data": data, "content_type": content_type}


NAME = {"modality": "CT", "field": "acquisition_protocol", "raw": "HEAD ROUTINE", "standard": "Head"}
UNREADABLE_PART = b'--b\r\nContent-Disposition: form-data; name="files"; filename="\xff.dcm"\r\n\r\nx\r\n--b--\r\n'
LEVEL = {"name": "Head", "quantity": "dlp", "value": 30, "unit": "mGy.cm"}
WRITES = [  # (method, url, request, status, what the error names)
    ("post", "/api/imports", _body(b"", "application/dicom"), 400, "not a DICOM"),
    ("post", "/api/imports", _body(b"\xff\xfe junk", "application/dicom"), 400, "not a DICOM"),
    ("post", "/api/imports", _body(b"{}", "application/json"), 415, "application/json"),
    ("post", "/api/imports", _body(b"a,b\n", "text/csv"), 415, "text/csv"),
    ("post", "/api/imports", _form(), 400, "files"),
    ("post", "/api/imports", _body(b"--x\r\n", "multipart/form-data"), 400, "files"),
    ("post", "/api/imports", _body(UNREADABLE_PART, "multipart/form-data; boundary=b"), 400, "not UTF-8"),
    ("post", "/api/patient-sizes", _form(), 400, "id_column"),
    ("post", "/api/patient-sizes", _body(b'{"id_column": "id"}', "application/json"), 400, "id_column"),
    ("post", "/api/patient-sizes", _form(id_column="id", height_column="h", weight_column="w"), 400, "file"),
    ("post", "/api/patient-sizes", _sizes(b"id,h,w\n1,2,3\n", si_uid="maybe"), 400, "si_uid"),
    ("post", "/api/patient-sizes", _sizes(b"id,h,w\n1,2,3\n", weight_column=["w", "id"]), 400, "weight_column"),
    ("post", "/api/patient-sizes", _sizes(b'{"id": "1", "h": 2}'), 400, "not readable as CSV"),
    ("post", "/api/patient-sizes", _sizes(b""), 400, "empty"),
    ("post", "/api/standard-names", _body(b"a,b", "text/csv"), 400, "_schema"),
    ("post", "/api/standard-names", _body(b"\xff", "application/json"), 400, "_schema"),
    ("post", "/api/standard-names", {"json": []}, 400, "_schema"),
    ("post", "/api/standard-names", {"json": {**NAME, "modality": {"$gt": ""}}}, 400, "modality"),
    ("post", "/api/standard-names", {"json": {**NAME, "raw": {"$ne": 1}}}, 400, "raw"),
    ("post", "/api/standard-names", {"json": {**NAME, "raw": LONG}}, 400, "raw"),
    ("delete", "/api/standard-names", {}, 400, "raw"),
    ("put", "/api/reference-levels", _body(b"\xff\xfe", "text/csv"), 400, "file"),
    ("put", "/api/reference-levels", _body(b"\xff\xfe", "application/json"), 400, "file"),
    ("put", "/api/reference-levels", _body(b"name,quantity,value,unit\nHead,dlp\n", "text/csv"), 400, "row 1: value"),
    ("put", "/api/reference-levels", _body(b"name,quantity,value,unit\n", "application/json"), 400, "file"),
    ("put", "/api/reference-levels", _body(b'[{"name": "Head"}]', "text/csv"), 400, "file"),
    ("put", "/api/reference-levels", _body(b"", "text/csv"), 400, "file"),
    ("put", "/api/reference-levels", _body(b"name,quantity,value,unit\n" + b"x" * 200_000, "text/csv"), 400, "file"),
    ("put", "/api/reference-levels", _body(DEEP, "application/json"), 400, "file"),
    ("post", "/api/standard-names", _body(DEEP, "application/json"), 400, "_schema"),
    ("put", "/api/reference-levels", _body(b'{"name": "Head"}', "application/json"), 400, "file"),
    ("put", "/api/reference-levels", {"json": [{**LEVEL, "name": {"$gt": ""}}]}, 400, "row 1: name"),
    ("put", "/api/reference-levels", {"json": [{**LEVEL, "quantity": "$gt"}]}, 400, "row 1: quantity"),
    ("put", "/api/reference-levels", {"json": [{**LEVEL, "value": "1e400"}]}, 400, "row 1: value"),
    ("post", "/api/studies", {}, 405, "not allowed"),
    ("delete", "/api/studies/1.2.3", {}, 400, "reason"),
    ("delete", "/api/studies/1.2.3", {"json": {"reason": {"$ne": ""}}}, 400, "reason"),
    ("delete", "/api/studies/1.2.3", {"json": ["reason"]}, 400, "body"),
    ("delete", "/api/studies/1.2.3", {"json": {"reason": "x" * 1001}}, 400, "reason"),
    ("put", "/api/studies/1.2.3", {}, 405, "not allowed"),
    ("post", "/healthz", {}, 405, "not allowed"),
]


@pytest.mark.parametrize(
    ("method", "url", "request_", "status", "what"), WRITES, ids=[f"{c[0]} {c[1]} {c[4]}" for c in WRITES]
)
def test_bad_body_is_a_4xx_naming_it(
    client: FlaskClient, method: str, url: str, request_: dict[str, Any], status: int, what: str
) -> None:
    response = getattr(client, method)(url, **request_)
    body = response.get_json()
    assert (response.status_code, body["status"]) == (status, status)
    assert _names(body, what), body


def test_a_browser_gets_the_error_as_a_page(client: FlaskClient) -> None:
    response = client.get("/ct?page_size=-1", headers={"Accept": "text/html"})
    assert response.status_code == 400
    assert response.mimetype == "text/html" and "page_size" in response.get_data(as_text=True)


@pytest.fixture
def operator_named(store: Store) -> Store:
    """Two CT studies, one from a station whose name looks like an operator and a regular expression."""
    save_fragment(store, fragment("7.1", station="$where.*"), now=datetime(2024, 3, 5))
    save_fragment(store, fragment("7.2", station="CT1"), now=datetime(2024, 3, 5))
    return store


@pytest.mark.parametrize(
    ("text", "found"), [("%24where.*", ["7.1"]), ("%24", ["7.1"]), (".*", ["7.1"]), ("%24ne", []), ("CT", ["7.2"])]
)
def test_operator_and_pattern_text_is_matched_literally(
    client: FlaskClient, operator_named: Store, text: str, found: list[str]
) -> None:
    items = client.get(f"/api/studies?modality=CT&station_name={text}").get_json()["items"]
    assert sorted(item["study_instance_uid"] for item in items) == found


def test_operator_text_is_stored_as_text(client: FlaskClient) -> None:
    mapping = {"modality": "CT", "field": "acquisition_protocol", "raw": "$gt", "standard": "$set"}
    assert client.post("/api/standard-names", json=mapping).status_code == 201
    assert client.get("/api/standard-names?modality=CT").get_json()["standard_names"] == [mapping]
    assert client.delete("/api/standard-names?modality=CT&field=acquisition_protocol&raw=%24gt").status_code == 204


FILES = {
    "NOT_UTF8": ("levels.csv", b"name,quantity,value,unit\nH\xffad,dlp,30,mGy.cm\n"),
    "SHORT": ("levels.csv", b"name,quantity,value,unit\nHead,dlp\n"),
}
COMMANDS = [  # (arguments, what the one-line message names)
    (["patient-sizes", "DIR", "id", "h", "w"], "Is a directory"),
    (["reference-levels", "DIR"], "Is a directory"),
    (["reference-levels", "NOT_UTF8"], "UTF-8"),
    (["reference-levels", "SHORT"], "row 1: value"),
    (["standard-names", "list", "--modality", "XX"], "modality"),
    (["standard-names", "add", "CT", "acquisition_protocol", "", "Head"], "raw"),
    (["export", "CT", "-o", "/nonexistent/x.csv"], "No such file"),
    (["export", "CT", "-o", "OUT.csv", "--date-from", "bad"], "date_from"),
    (["export", "CT", "-o", "OUT.csv", "--age-min", "1e400"], "age_min"),
]


def _paths(arguments: list[str], tmp_path: Path) -> list[str]:
    """Replace placeholders by a folder (DIR), a file of :data:`FILES` or an output file (OUT...)."""
    real = []
    for argument in arguments:
        if argument in FILES:
            name, content = FILES[argument]
            (tmp_path / name).write_bytes(content)
            argument = str(tmp_path / name)
        elif argument == "DIR" or argument.startswith("OUT"):
            argument = str(tmp_path / argument.removeprefix("DIR"))
        real.append(argument)
    return real


@pytest.mark.parametrize(("arguments", "what"), COMMANDS, ids=[" ".join(c[0][:3]) for c in COMMANDS])
def test_bad_command_input_is_one_line_and_non_zero(
    runner: Runner, tmp_path: Path, arguments: list[str], what: str
) -> None:
    result = runner.invoke(_paths(arguments, tmp_path))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("doseledger") and what in result.stderr


@pytest.mark.parametrize(
    ("arguments", "what"),
    [
        (["serve", "--port", "99999"], "--port: value=99999 is out of range"),
        (["scp", "--port", "-5"], "--port: value=-5 is out of range"),
        (["scp", "--port", "abc"], "--port: value='abc' is not a whole number"),
        (["scp", "--ae-title", "A" * 17], "--ae-title: value="),
        (["export", "XX", "-o", "x.csv"], "argument MODALITY"),
    ],
)
def test_bad_option_is_a_usage_error(capsys: pytest.CaptureFixture[str], arguments: list[str], what: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(arguments)
    assert exit_.value.code == 2 and what in capsys.readouterr().err.splitlines()[-1]


def _token(**fields: Any) -> str:
    data = {"o": "-study_date_time", "n": 0, "d": "2024-03-01T09:30:00", "u": "7.1", "x": False, **fields}
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


@pytest.mark.parametrize(
    ("order", "token"),
    [
        ("study_date_time", _token(o="study_date_time", n=10**30)),
        ("study_date_time", _token(o="study_date_time", n=1.5)),
        ("study_date_time", _token(o="study_date_time", n=-1)),
        ("-study_date_time", _token(d="2024-03-01T09:30:00+05:00")),
        ("-study_date_time", _token(u={"$gt": ""})),
        ("-study_date_time", _token(x="yes")),
        ("-study_date_time", base64.urlsafe_b64encode(b"[1, 2]").decode()),
    ],
)
def test_forged_paging_token_is_refused(client: FlaskClient, operator_named: Store, order: str, token: str) -> None:
    response = client.get(f"/api/studies?order={order}&after={token}")
    assert response.status_code == 400 and "after" in response.get_json()["errors"]


def test_paging_reaches_studies_dated_near_the_ends_of_the_calendar(client: FlaskClient, store: Store) -> None:
    for uid, year in (("6.1", 1), ("6.2", 9999), ("6.3", 2024)):
        save_fragment(store, fragment(uid, when=datetime(year, 1, 1)), now=datetime(2024, 3, 5))
    seen, url = [], "/api/studies?page_size=1"
    while url:
        body = client.get(url).get_json()
        seen += [item["study_instance_uid"] for item in body["items"]]
        url = body["next"] and f"/api/studies?page_size=1&after={body['next']}"
    assert seen == ["6.2", "6.3", "6.1"]
