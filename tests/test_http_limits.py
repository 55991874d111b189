"""HTTP limits that say what they are: parts of a multipart request, bodies sent in chunks, the Host header.

Before: a multipart request of 1,001 parts answered 413 "request body is 72971
bytes, more than the limit of 67108864 bytes"; a chunked body over the limit was
cut at the limit, ingested, answered 400 and its cut bytes kept; any Host header
was served.
"""

from __future__ import annotations

import http.client
import io
import json
import socket
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from service.config import load_settings
from service.errors import ConfigurationError
from service.hosts import served_hosts
from service.storage import Store
from service.web.context import close_store
from tests.samples import ct_report_bytes
from tests.signin import TEST_TOKEN, secret_of

LIMIT = 1 << 20
#: the token of the ``client`` fixture's user, who holds every role
BEARER = f"Bearer {secret_of(TEST_TOKEN)}"


@pytest.fixture
def test_config(test_config: dict[str, Any]) -> dict[str, Any]:
    """Serve this module's app with an upload limit of 1 MiB."""
    return {**test_config, "DOSELEDGER_MAX_UPLOAD_BYTES": LIMIT}


def test_too_many_parts_says_the_limit_is_the_number_of_parts(client: FlaskClient, store: Store) -> None:
    files = [(io.BytesIO(b"x"), f"{n}.dcm") for n in range(1001)]
    response = client.post("/api/imports", data={"files": files}, content_type="multipart/form-data")
    assert response.status_code == 413 and response.json["code"] == "too-large"
    message = response.json["message"]
    assert "more than 1000 parts" in message and "bytes" not in message
    assert store.count_originals() == 0
    assert [(e["type"], e["name"]) for e in store.events_after(0, 10)] == [
        ("received", "multipart request"),
        ("rejected", "multipart request"),
    ]


def test_a_multipart_body_over_the_limit_says_bytes(client: FlaskClient) -> None:
    part = b'--B\r\nContent-Disposition: form-data; name="files"; filename="big.dcm"\r\n\r\n'
    body = part + bytes(LIMIT) + b"\r\n--B--\r\n"  # encoded here: the test client would spool it to a file
    response = client.post("/api/imports", data=body, content_type="multipart/form-data; boundary=B")
    assert response.status_code == 413 and f"more than the limit of {LIMIT} bytes" in response.json["message"]


def chunks(data: bytes, size: int = 65536) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def post_chunked(base: str, data: bytes, name: str) -> tuple[int, dict[str, Any]]:
    """POST ``data`` with Transfer-Encoding: chunked (no Content-Length) and return the status and JSON."""
    address = urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=60)
    try:
        headers = {"Content-Type": "application/dicom", "X-Filename": name, "Authorization": BEARER}
        connection.request("POST", "/api/imports", body=chunks(data), headers=headers, encode_chunked=True)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_chunked_body_over_the_limit_is_413_and_keeps_nothing(
    live_server: str, client: FlaskClient, store: Store
) -> None:
    status, body = post_chunked(live_server, ct_report_bytes() + bytes(LIMIT), "chunked.dcm")
    assert status == 413 and body["code"] == "too-large"
    assert body["message"] == (
        f"chunked.dcm was sent without its length and is more than the limit of {LIMIT} bytes "
        "(DOSELEDGER_MAX_UPLOAD_BYTES); it was not stored."
    )
    assert store.count_originals() == 0


def test_a_chunked_body_within_the_limit_is_imported(live_server: str, client: FlaskClient) -> None:
    status, body = post_chunked(live_server, ct_report_bytes(), "chunked.dcm")
    assert (status, body["outcome"]) == (201, "created")


def test_a_host_header_of_another_site_is_refused(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"Host": "evil.example"})
    assert response.status_code == 400 and "evil.example" in response.json["message"]
    assert client.get("/healthz", headers={"Host": "localhost:8080"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "127.0.0.1:8080"}).status_code == 200


def test_the_live_server_is_served_on_its_address(live_server: str) -> None:
    with urllib.request.urlopen(f"{live_server}/healthz", timeout=30) as response:
        assert response.status == 200


@pytest.mark.parametrize(
    ("environ", "served"),
    [
        ({}, ["localhost", "127.0.0.1"]),
        ({"DOSELEDGER_HOST": "10.1.2.3"}, ["localhost", "127.0.0.1", "10.1.2.3"]),
        ({"DOSELEDGER_HOST": "0.0.0.0"}, ["localhost", "127.0.0.1", socket.gethostname().lower()]),
        (
            {"DOSELEDGER_TRUSTED_HOSTS": "dose.example.org, .hospital.example"},
            ["dose.example.org", ".hospital.example"],
        ),
        ({"DOSELEDGER_TRUSTED_HOSTS": "*"}, None),
    ],
)
def test_served_hosts(environ: dict[str, str], served: list[str] | None) -> None:
    settings = load_settings(environ)
    found = served_hosts(settings.trusted_hosts, settings.host)
    if served is None:
        assert found is None
    else:
        assert found is not None and found[: len(served)] == served


def test_a_configured_name_is_served_and_localhost_no_more(test_config: dict[str, Any]) -> None:
    from service import create_app

    app = create_app({**test_config, "DOSELEDGER_TRUSTED_HOSTS": "dose.example.org"})
    try:
        client = app.test_client()
        assert client.get("/healthz", headers={"Host": "dose.example.org"}).status_code == 200
        assert client.get("/healthz", headers={"Host": "localhost"}).status_code == 400
    finally:
        close_store(app)


def test_a_bad_host_name_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="DOSELEDGER_TRUSTED_HOSTS holds 'dose example'"):
        load_settings({"DOSELEDGER_TRUSTED_HOSTS": "dose example"})
