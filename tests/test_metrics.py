"""/metrics: objects received per way in and outcome, ingest latency, associations; for allowed addresses only."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from service import create_app, metrics
from service.dicomnet.echo import echo
from service.dicomnet.scp import StorageSCP
from service.errors import DatabaseUnavailable
from service.web.context import close_store
from tests.signin import signed_in_client

CT = "CT-RDSR-Siemens-Multi-1.dcm"


def sample(name: str, **labels: str) -> float:
    """Return a metric's current value in this process (0 before its first count)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def upload(client: FlaskClient, data: bytes, name: str) -> Any:
    headers = {"Content-Type": "application/dicom", "X-Filename": name}
    return client.post("/api/imports", data=data, headers=headers)


def test_objects_are_counted_per_way_in_and_outcome(client: FlaskClient, corpus: Path) -> None:
    data = (corpus / CT).read_bytes()
    created = sample("doseledger_objects_received_total", via="http", outcome="created")
    duplicate = sample("doseledger_objects_received_total", via="http", outcome="duplicate")
    rejected = sample("doseledger_objects_received_total", via="http", outcome="rejected")
    timed = sample("doseledger_ingest_seconds_count", via="http")

    assert upload(client, data, CT).status_code == 201
    assert upload(client, data, CT).status_code == 200
    assert upload(client, b"not dicom", "junk.txt").status_code == 400

    assert sample("doseledger_objects_received_total", via="http", outcome="created") == created + 1
    assert sample("doseledger_objects_received_total", via="http", outcome="duplicate") == duplicate + 1
    assert sample("doseledger_objects_received_total", via="http", outcome="rejected") == rejected + 1
    assert sample("doseledger_ingest_seconds_count", via="http") == timed + 3
    assert sample("doseledger_ingest_seconds_bucket", via="http", le="+Inf") >= timed + 3


@pytest.fixture
def app_with(test_config: dict[str, Any]) -> Iterator[Callable[..., Flask]]:
    """Return a maker of apps with extra settings (closed afterwards)."""
    made: list[Flask] = []

    def make(**settings: str) -> Flask:
        made.append(create_app({**test_config, **settings}))
        return made[-1]

    yield make
    for app in made:
        close_store(app)


def test_an_object_refused_for_its_size_is_counted_rejected(app_with: Callable[..., Flask]) -> None:
    app = app_with(DOSELEDGER_MAX_UPLOAD_BYTES="10")
    before = sample("doseledger_objects_received_total", via="http", outcome="rejected")
    assert upload(signed_in_client(app), b"x" * 11, "big.dcm").status_code == 413
    assert sample("doseledger_objects_received_total", via="http", outcome="rejected") == before + 1


def test_metrics_are_served_in_the_prometheus_format_to_loopback(client: FlaskClient, corpus: Path) -> None:
    upload(client, (corpus / CT).read_bytes(), CT)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type == "text/plain; version=1.0.0; charset=utf-8"
    text = response.get_data(as_text=True)
    assert "# TYPE doseledger_objects_received_total counter" in text
    assert 'doseledger_objects_received_total{outcome="created",via="http"}' in text
    assert "# TYPE doseledger_ingest_seconds histogram" in text
    assert "doseledger_scp_associations_open" in text


def test_metrics_are_refused_to_other_addresses(app: Flask) -> None:
    outsider = app.test_client()
    outsider.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    response = outsider.get("/metrics")
    error = response.get_json()
    assert response.status_code == 403 and error["code"] == "forbidden" and error["status"] == 403
    assert "DOSELEDGER_METRICS_ALLOWED_ADDRESSES" in error["message"]


def test_the_allowed_networks_are_configurable(app_with: Callable[..., Flask]) -> None:
    app = app_with(DOSELEDGER_METRICS_ALLOWED_ADDRESSES="10.1.0.0/16")
    prometheus = app.test_client()
    prometheus.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    assert prometheus.get("/metrics").status_code == 200
    assert app.test_client().get("/metrics").status_code == 403  # loopback is no longer listed


def test_associations_are_counted_and_the_open_ones_shown(scp: StorageSCP) -> None:
    accepted = sample("doseledger_scp_associations_total", outcome="accepted")
    ae = AE("PROBE")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", scp.port, ae_title="DOSELEDGER")
    assert assoc.is_established
    assert sample("doseledger_scp_associations_open") == 1
    assert sample("doseledger_scp_associations_total", outcome="accepted") == accepted + 1
    assoc.release()
    deadline = time.monotonic() + 10  # the server's thread ends the released association a moment later
    while sample("doseledger_scp_associations_open") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sample("doseledger_scp_associations_open") == 0


def test_associations_refused_by_the_allow_list_are_counted(pipeline: Any) -> None:
    from service.config import load_settings

    settings = load_settings({"DOSELEDGER_SCP_ALLOWED_AE_TITLES": "CT_ROOM1"})
    server = StorageSCP.for_pipeline(pipeline, settings, port=0)
    server.start()
    try:
        rejected = sample("doseledger_scp_associations_total", outcome="rejected")
        assert not echo("127.0.0.1", server.port, ae_title="DOSELEDGER", calling="STRANGER", tls=None).ok
        assert sample("doseledger_scp_associations_total", outcome="rejected") == rejected + 1
    finally:
        server.stop(grace=0)


def test_the_scp_alone_serves_its_metrics_on_its_own_port() -> None:
    with metrics.serve_metrics("127.0.0.1", 0, ["127.0.0.0/8"]) as port:
        assert port
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
    assert "doseledger_scp_associations_total" in text or "doseledger_scp_associations_open" in text


def test_the_scp_metrics_port_answers_only_the_allowed_addresses() -> None:
    with (
        metrics.serve_metrics("127.0.0.1", 0, ["10.0.0.0/8"]) as port,
        pytest.raises(urllib.error.HTTPError) as refused,
    ):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert refused.value.code == 403
    message = refused.value.read().decode()
    assert "127.0.0.1" in message and "DOSELEDGER_METRICS_ALLOWED_ADDRESSES" in message
    assert "doseledger_" not in message


def test_no_metrics_port_serves_nothing() -> None:
    with metrics.serve_metrics("127.0.0.1", None, ["127.0.0.0/8"]) as port:
        assert port is None


@pytest.mark.parametrize("value", ["10.0.0.0/33", "nowhere"])
def test_a_bad_allowed_address_stops_the_start(value: str) -> None:
    from service.config import load_settings
    from service.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="DOSELEDGER_METRICS_ALLOWED_ADDRESSES"):
        load_settings({"DOSELEDGER_METRICS_ALLOWED_ADDRESSES": value})


def test_the_outbox_depth_is_read_from_the_database(client: FlaskClient, store: Any) -> None:
    base = {"recipient": "physics@example.org", "channel": "email", "created_at": datetime(2026, 1, 1)}
    store.db.outbox.insert_many(
        [
            {**base, "_id": "a", "state": "pending", "attempts": 0},
            {**base, "_id": "b", "state": "pending", "attempts": 2},
            {**base, "_id": "c", "state": "sent", "attempts": 1},
        ]
    )
    text = client.get("/metrics").get_data(as_text=True)
    assert 'doseledger_notification_outbox{state="pending"} 2.0' in text
    assert 'doseledger_notification_outbox{state="retrying"} 1.0' in text


def test_the_other_metrics_go_out_when_the_outbox_cannot_be_counted() -> None:
    def unavailable(entries: dict[str, Any]) -> int:
        raise DatabaseUnavailable("The database does not answer.")

    text = metrics.exposition(metrics.Outbox(unavailable)).decode()
    assert "doseledger_objects_received" in text and "doseledger_notification_outbox" not in text
