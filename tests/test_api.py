import io
import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.access import requires
from service.storage import Store
from service.web.context import close_store
from tests.samples import EXPECTED_CODES, bad_inputs, ct_report_bytes
from tests.signin import TEST_TOKEN, secret_of, signed_in_client
from tests.test_extract_ct import CT_FILES

DICOM = {"Content-Type": "application/dicom"}
STATUS = {"not-dicom": 400, "too-large": 413, "not-a-dose-object": 422, "invalid-dose-report": 422}


def post(client: FlaskClient, data: bytes, name: str = "x.dcm") -> Any:
    return client.post("/api/imports", data=data, headers={**DICOM, "X-Filename": name})


def test_import_created_merged_duplicate(client: FlaskClient) -> None:
    study = "1.2.826.0.1.3680043.8.498.77"
    first, second = ct_report_bytes(study_uid=study, dlp="10"), ct_report_bytes(study_uid=study, dlp="5")
    created = post(client, first, "first.dcm")
    assert created.status_code == 201
    assert created.json["outcome"] == "created" and created.json["study_instance_uid"] == study
    assert set(created.json) >= {"name", "outcome", "study_instance_uid", "sop_instance_uid", "message"}
    merged = post(client, second, "second.dcm")
    assert (merged.status_code, merged.json["outcome"]) == (200, "merged")
    duplicate = post(client, second, "second.dcm")
    assert (duplicate.status_code, duplicate.json["outcome"]) == (200, "duplicate")
    study_json = client.get(f"/api/studies/{study}").json
    assert study_json["summary"]["total_dlp"] == 15 and len(study_json["reports"]) == 2


def test_name_from_content_disposition(client: FlaskClient) -> None:
    response = client.post(
        "/api/imports", data=b"", headers={**DICOM, "Content-Disposition": 'attachment; filename="cd.dcm"'}
    )
    assert response.json["errors"][0]["name"] == "cd.dcm"


def test_every_bad_input_gets_a_4xx_naming_the_file(client: FlaskClient, store: Store, corpus: Path) -> None:
    for name, data in bad_inputs(corpus).items():
        response = post(client, data, name)
        code = EXPECTED_CODES[name]
        assert response.status_code == STATUS[code], name
        body = response.json
        assert set(body) == {"code", "status", "message", "errors"}
        assert (body["code"], body["status"]) == (code, response.status_code)
        assert name in body["message"] and body["errors"][0]["outcome"] == "rejected"
    assert store.count_originals() == len(bad_inputs(corpus))
    rejected = [e for e in store.events_after(0, limit=1000) if e["type"] == "rejected"]
    assert len(rejected) == len(bad_inputs(corpus))
    assert client.get("/healthz").status_code == 200  # still serving


def test_non_dose_sr_message(client: FlaskClient, corpus: Path) -> None:
    response = post(client, (corpus / "ESR_non-dose.dcm").read_bytes(), "ESR_non-dose.dcm")
    assert response.status_code == 422
    assert "ESR_non-dose.dcm was rejected: it is not a dose report" in response.json["message"]


def test_body_over_the_limit_is_refused_before_reading(test_config: dict[str, Any]) -> None:
    app = create_app({**test_config, "DOSELEDGER_MAX_UPLOAD_BYTES": 1000})
    try:
        client = signed_in_client(app)
        response = post(client, ct_report_bytes(), "big.dcm")
        assert response.status_code == 413
        assert response.json["code"] == "too-large" and "big.dcm is" in response.json["message"]
        events = client.get("/api/event-log").json["events"]
        assert [(e["type"], e["name"]) for e in events] == [("received", "big.dcm"), ("rejected", "big.dcm")]
    finally:
        close_store(app)


def test_multipart_batches(client: FlaskClient) -> None:
    files = [(io.BytesIO(ct_report_bytes()), "a.dcm"), (io.BytesIO(ct_report_bytes()), "b.dcm")]
    response = client.post("/api/imports", data={"files": files}, content_type="multipart/form-data")
    assert response.status_code == 201
    assert [r["outcome"] for r in response.json["results"]] == ["created", "created"]
    assert response.json["counts"]["created"] == 2


def test_multipart_with_mixed_outcomes_is_207(client: FlaskClient) -> None:
    files = [(io.BytesIO(ct_report_bytes()), "good.dcm"), (io.BytesIO(b"nope"), "bad.txt")]
    response = client.post("/api/imports", data={"files": files}, content_type="multipart/form-data")
    assert response.status_code == 207
    assert [(r["name"], r["outcome"]) for r in response.json["results"]] == [
        ("good.dcm", "created"),
        ("bad.txt", "rejected"),
    ]


def test_multipart_all_rejected_is_an_error(client: FlaskClient) -> None:
    files = [(io.BytesIO(b""), "empty.dcm"), (io.BytesIO(b"nope"), "bad.txt")]
    response = client.post("/api/imports", data={"files": files}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.json["code"] == "rejected" and len(response.json["errors"]) == 2


def test_multipart_without_files(client: FlaskClient) -> None:
    response = client.post("/api/imports", data={"other": "x"}, content_type="multipart/form-data")
    assert (response.status_code, response.json["code"]) == (400, "no-files")


def test_wrong_media_type(client: FlaskClient) -> None:
    response = client.post("/api/imports", data="{}", content_type="application/json")
    assert response.status_code == 415 and "application/dicom" in response.json["message"]


def test_study_json_has_iso_datetimes(client: FlaskClient) -> None:
    uid = post(client, ct_report_bytes()).json["study_instance_uid"]
    body = client.get(f"/api/studies/{uid}").json
    assert body["study_date_time"] == "2024-01-02T10:15:00"
    assert "T" in body["created_at"] and "T" in body["reports"][0]["received_at"]
    assert "_id" not in body


def test_unknown_study_is_404(client: FlaskClient) -> None:
    response = client.get("/api/studies/1.2.3.4")
    assert response.status_code == 404
    assert response.json == {
        "code": "not-found",
        "status": 404,
        "message": "There is no study with Study Instance UID 1.2.3.4.",
        "errors": [],
    }


def test_event_log_paging(client: FlaskClient) -> None:
    for _ in range(3):
        post(client, ct_report_bytes())
    everything = client.get("/api/event-log").json
    assert [e["seq"] for e in everything["events"]] == [1, 2, 3, 4, 5, 6]
    assert [e["type"] for e in everything["events"][:2]] == ["received", "created"]
    page = client.get("/api/event-log?after=2&limit=3").json
    assert [e["seq"] for e in page["events"]] == [3, 4, 5] and page["last_seq"] == 5
    assert client.get("/api/event-log?after=6").json == {"events": [], "last_seq": 6}
    assert "T" in page["events"][0]["at"]


@pytest.mark.parametrize("query", ["after=-1", "after=x", "limit=0", "limit=5000", "colour=red"])
def test_event_log_bad_arguments(client: FlaskClient, query: str) -> None:
    response = client.get(f"/api/event-log?{query}")
    assert response.status_code == 400
    assert response.json["code"] == "invalid-arguments" and response.json["errors"]


def test_healthz(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok", "database": "ok"}


def test_healthz_when_the_database_is_down() -> None:
    app = create_app({"MONGODB_URI": "mongodb://127.0.0.1:1/?directConnection=true", "DOSELEDGER_DB_TIMEOUT": 0.2})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.json["code"] == "database-unavailable"


def test_browsers_get_html_errors(client: FlaskClient) -> None:
    response = client.get("/no/such/page", headers={"Accept": "text/html"})
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert b"<h1>404</h1>" in response.data
    api = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert api.status_code == 404 and api.json["code"] == "not-found"


def test_unexpected_errors_are_a_generic_500(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    @app.get("/api/boom")
    @requires("viewer")
    def boom() -> str:
        raise RuntimeError("secret detail")

    response = signed_in_client(app).get("/api/boom")
    assert response.status_code == 500
    assert response.json["code"] == "internal-error" and b"secret detail" not in response.data
    assert b"Traceback" not in response.data
    assert "secret detail" in caplog.text


def test_parallel_imports_of_one_study_lose_nothing(live_server: str, client: FlaskClient, store: Store) -> None:
    study = "1.2.826.0.1.3680043.8.498.99"
    parts = [ct_report_bytes(study_uid=study, dlp=str(n)) for n in range(1, 13)]

    def send(data: bytes) -> tuple[int, dict[str, Any]]:
        headers = {**DICOM, "Authorization": f"Bearer {secret_of(TEST_TOKEN)}"}
        request = urllib.request.Request(f"{live_server}/api/imports", data=data, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)

    with ThreadPoolExecutor(max_workers=6) as executor:
        results = list(executor.map(send, parts))
    assert sorted(status for status, _ in results) == [200] * 11 + [201]
    assert store.db.studies.count_documents({}) == 1
    document = store.get_study(study)
    assert len(document["ct"]["events"]) == 12 and len(document["reports"]) == 12
    assert document["summary"]["total_dlp"] == sum(range(1, 13))
    outcomes = [e["outcome"] for e in store.events_after(0, limit=1000) if e["type"] != "received"]
    assert sorted(outcomes) == ["created"] + ["merged"] * 11


@pytest.mark.parametrize("name", CT_FILES)
def test_every_ct_sample_imports_over_http(client: FlaskClient, corpus: Path, name: str) -> None:
    response = post(client, (corpus / name).read_bytes(), name)
    assert response.status_code in (200, 201), response.json
    assert client.get(f"/api/studies/{response.json['study_instance_uid']}").status_code == 200
