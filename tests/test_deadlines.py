"""A frozen database: every operation has a deadline, then 503 (HTTP) or 0xA700 (C-STORE); /healthz within 2 s.

The database is a SecantusDB server of the test's own, stopped with SIGSTOP
(it keeps its sockets open and answers nothing, as a hung server does) and
always continued in a ``finally``. Each request runs in a thread the test waits
for at most a few seconds, so a request that hangs fails the test instead of
hanging it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from pydicom.uid import generate_uid
from pynetdicom import AE

from service import create_app
from service.config import load_settings
from service.dicomnet.scp import StorageSCP
from service.errors import DatabaseUnavailable
from service.ingest.pipeline import Pipeline
from service.storage import Store
from service.storage.embedded import EmbeddedServer, free_port
from service.web.context import close_store, get_pipeline, get_store
from tests.samples import ct_report, ct_report_bytes
from tests.signin import signed_in_client

DB_TIMEOUT, LONG_TIMEOUT = 1.0, 2.0
#: what a request may take beyond its deadline (thread start, Flask, JSON) on a busy machine
SLACK = 1.0


@pytest.fixture(scope="module")
def own_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """A SecantusDB server of this module alone, which its tests may freeze."""
    server = EmbeddedServer(tmp_path_factory.mktemp("frozen") / "db", free_port())
    server.start(timeout=60)
    try:
        yield server
    finally:
        if server.process is not None:
            os.kill(server.process.pid, signal.SIGCONT)
        server.stop()


@contextlib.contextmanager
def frozen(server: EmbeddedServer) -> Iterator[None]:
    """Stop the server's process (SIGSTOP) for the block, and continue it afterwards whatever happens."""
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


def within(seconds: float, call: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``call`` in a thread; fail unless it returns within ``seconds``; return the time taken and its result."""
    done: dict[str, Any] = {}

    def run() -> None:
        started = time.monotonic()
        try:
            done["result"] = call()
        except BaseException as e:
            done["error"] = e
        done["took"] = time.monotonic() - started

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    if "error" in done:
        raise done["error"]
    return done["took"], done["result"]


_databases = itertools.count(1)


@pytest.fixture
def frozen_app(own_database: EmbeddedServer) -> Iterator[Flask]:
    """An application on a new database of ``own_database`` with one CT study in it, its store open."""
    app = create_app(
        {
            "TESTING": True,
            "MONGODB_URI": own_database.uri,
            "DOSELEDGER_DB_NAME": f"doseledger_{next(_databases)}",
            "DOSELEDGER_DB_TIMEOUT": DB_TIMEOUT,
            "DOSELEDGER_DB_LONG_TIMEOUT": LONG_TIMEOUT,
        }
    )
    with app.app_context():
        get_pipeline().ingest(ct_report_bytes(), name="first.dcm", via="http", client="test")
    signed_in_client(app)  # the test user and token are made while the database answers
    yield app
    close_store(app)


def test_healthz_answers_within_two_seconds_whatever_the_database_does(
    frozen_app: Flask, own_database: EmbeddedServer
) -> None:
    for client in (frozen_app.test_client(), signed_in_client(frozen_app)):  # a probe with a token too
        assert client.get("/healthz").status_code == 200
        with frozen(own_database):
            took, response = within(2.0 + SLACK, lambda client=client: client.get("/healthz"))
        assert took < 2.0
        assert response.status_code == 503
        assert response.get_json()["code"] == "database-unavailable"
        assert answers_again(client)


def test_healthz_of_an_application_whose_store_is_not_open_yet(own_database: EmbeddedServer) -> None:
    name = f"fresh_{next(_databases)}"
    app = create_app({"TESTING": True, "MONGODB_URI": own_database.uri, "DOSELEDGER_DB_NAME": name})
    try:
        with frozen(own_database):
            took, response = within(2.0 + SLACK, lambda: app.test_client().get("/healthz"))
        assert (response.status_code, took < 2.0) == (503, True)
    finally:
        close_store(app)


@pytest.mark.parametrize(
    ("method", "path", "deadline"),
    [
        ("post", "/api/imports", DB_TIMEOUT),
        ("get", "/api/studies?modality=CT", DB_TIMEOUT),
        ("get", "/api/event-log", DB_TIMEOUT),
        ("get", "/api/audits/ct_dlp_by_protocol", DB_TIMEOUT),
        ("get", "/api/exports/CT.xlsx", DB_TIMEOUT),
    ],
)
def test_requests_answer_503_once_their_deadline_passes(
    frozen_app: Flask, own_database: EmbeddedServer, method: str, path: str, deadline: float
) -> None:
    client = signed_in_client(frozen_app)  # its token is looked up first: an operation with the short deadline
    body: dict[str, Any] = {}
    if method == "post":
        body = {"data": ct_report_bytes(), "headers": {"Content-Type": "application/dicom", "X-Filename": "b.dcm"}}
    with frozen(own_database):
        # an import's operations each have the short deadline, and its last word in the event log one more second
        took, response = within(2 * deadline + 1 + SLACK * 2, lambda: getattr(client, method)(path, **body))
    assert response.status_code == 503, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == "database-unavailable" and "did not answer in time" in body["message"]
    assert took >= deadline * 0.9
    assert answers_again(frozen_app.test_client())


def test_a_store_operation_raises_database_unavailable_at_its_deadline(own_database: EmbeddedServer) -> None:
    name = f"store_{next(_databases)}"
    store = Store.connect(own_database.uri, name, timeout=DB_TIMEOUT, long_timeout=LONG_TIMEOUT)
    try:
        store.ensure_indexes()
        with frozen(own_database):
            took, error = within(DB_TIMEOUT + 2 * SLACK, lambda: _raised(lambda: store.count_studies()))
            assert isinstance(error, DatabaseUnavailable) and took >= DB_TIMEOUT * 0.9
            took, error = within(LONG_TIMEOUT + 2 * SLACK, lambda: _raised(lambda: store.aggregate([{"$match": {}}])))
            assert isinstance(error, DatabaseUnavailable) and took >= LONG_TIMEOUT * 0.9
        assert store.count_studies() == 0
    finally:
        store.close()


def answers_again(client: Any, seconds: float = 15.0) -> bool:
    """Tell whether /healthz says ok within ``seconds`` (the server catches up with what piled up while frozen)."""
    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        if client.get("/healthz").status_code == 200:
            return True
        time.sleep(0.2)
    return False


def _raised(call: Callable[[], Any]) -> BaseException | None:
    try:
        call()
    except BaseException as e:
        return e
    return None


def test_c_store_is_refused_out_of_resources_while_the_database_is_frozen(
    frozen_app: Flask, own_database: EmbeddedServer
) -> None:
    with frozen_app.app_context():
        pipeline: Pipeline = get_pipeline()
        get_store().ping()
    scp = StorageSCP.for_pipeline(pipeline, load_settings({}), port=0)
    scp.start()
    try:
        with frozen(own_database):
            took, status = within(2 * DB_TIMEOUT + 1 + SLACK * 3, lambda: _c_store(scp.port))
        assert status == 0xA700 and took >= DB_TIMEOUT * 0.9
        assert _c_store(scp.port) == 0x0000  # and stored once the database answers again
    finally:
        scp.stop(grace=0)


def _c_store(port: int) -> int:
    """Send one fresh CT dose report with pynetdicom and return the C-STORE status."""
    ds = ct_report(study_uid=generate_uid())
    ae = AE("TEST_SCU")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 15
    ae.add_requested_context(ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", port, ae_title="DOSELEDGER")
    assert assoc.is_established
    try:
        status = assoc.send_c_store(ds)
        return int(status.Status)
    finally:
        assoc.release()
