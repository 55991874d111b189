import socket
from pathlib import Path
from typing import Any

import pymongo
import pytest
from pymongo import monitoring

from service.config import load_settings
from service.errors import DatabaseUnavailable
from service.storage.embedded import EmbeddedServer, database_uri, find_executable, free_port, uri_for


def test_executable_is_installed_beside_python() -> None:
    assert find_executable().name == "secantusd-py"


def test_mongodb_uri_wins() -> None:
    settings = load_settings({"MONGODB_URI": "mongodb://db.example:27017/"})
    assert database_uri(settings) == "mongodb://db.example:27017/"


class _Writes(monitoring.CommandListener):
    """Remember the insert commands a client sends."""

    def __init__(self) -> None:
        self.inserts: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "insert":
            self.inserts.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def _local_port(mongo_uri: str) -> int:
    if "127.0.0.1" not in mongo_uri:
        pytest.skip("needs the session's local SecantusDB server (MONGODB_URI points elsewhere)")
    return int(mongo_uri.split(":")[2].split("/")[0])


@pytest.mark.parametrize(("uri_of", "retryable"), [(uri_for, False), (lambda h, p: f"mongodb://{h}:{p}/", True)])
def test_writes_to_the_embedded_server_are_not_retryable(
    mongo_uri: str, db_name: str, uri_of: Any, retryable: bool
) -> None:
    """SecantusDB scans every retryable-write record on each write: its URI turns them off.

    The plain URI is the control: the same server, written the driver's default
    way, does get a transaction number (a retryable write).
    """
    writes = _Writes()
    with pymongo.MongoClient(uri_of("127.0.0.1", _local_port(mongo_uri)), event_listeners=[writes]) as client:
        client[db_name]["probe"].insert_one({"x": 1})
    assert len(writes.inserts) == 1
    assert ("txnNumber" in writes.inserts[0]) is retryable


def test_a_server_already_answering_on_the_embedded_port_is_used(mongo_uri: str, tmp_path: Path) -> None:
    port = _local_port(mongo_uri)
    settings = load_settings({"DOSELEDGER_EMBEDDED_PORT": str(port), "DOSELEDGER_DATA_DIR": str(tmp_path / "db")})
    assert database_uri(settings) == f"mongodb://127.0.0.1:{port}/?directConnection=true&retryWrites=false"
    assert not (tmp_path / "db").exists()  # nothing was started


def test_a_server_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    with socket.socket() as taken:  # the port is taken by something that is not a database
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = EmbeddedServer(tmp_path / "db", taken.getsockname()[1])
        with pytest.raises(DatabaseUnavailable) as raised:
            server.start(timeout=30)
    message = str(raised.value)
    assert "The embedded database exited" in message and str(server.log_path) in message
    server.stop()


def test_start_and_stop(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / "db", free_port())
    server.start(timeout=60)
    try:
        assert server.process is not None and server.process.poll() is None
        assert "directConnection=true" in server.uri
    finally:
        server.stop()
    assert server.process is None
    server.stop()  # idempotent
