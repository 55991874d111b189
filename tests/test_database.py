import socket
from pathlib import Path

import pytest

from service.config import load_settings
from service.database import EmbeddedServer, database_uri, find_executable, free_port
from service.errors import DatabaseUnavailable


def test_executable_is_installed_beside_python() -> None:
    assert find_executable().name == "secantusd-py"


def test_mongodb_uri_wins() -> None:
    settings = load_settings({"MONGODB_URI": "mongodb://db.example:27017/"})
    assert database_uri(settings) == "mongodb://db.example:27017/"


def test_a_server_already_answering_on_the_embedded_port_is_used(mongo_uri: str, tmp_path: Path) -> None:
    if "127.0.0.1" not in mongo_uri:
        pytest.skip("needs the session's local SecantusDB server (MONGODB_URI points elsewhere)")
    port = int(mongo_uri.split(":")[2].split("/")[0])
    settings = load_settings({"DOSELEDGER_EMBEDDED_PORT": str(port), "DOSELEDGER_DATA_DIR": str(tmp_path / "db")})
    assert database_uri(settings) == f"mongodb://127.0.0.1:{port}/?directConnection=true"
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
        assert server.uri.endswith("directConnection=true")
    finally:
        server.stop()
    assert server.process is None
    server.stop()  # idempotent
