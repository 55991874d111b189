"""The production server for real: gunicorn with deploy/gunicorn.conf.py, two workers, metrics added up, JSON logs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from service.storage import Store
from service.storage.embedded import free_port
from tests.signin import make_token, make_user

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
FILES = (
    "CT-RDSR-Siemens-Multi-1.dcm",
    "CT-RDSR-GEPixelMed.dcm",
    "CT-RDSR-ToshibaPixelMed.dcm",
    "DX-RDSR-Canon_CXDI.dcm",
)


@dataclass
class Served:
    """A running gunicorn: its URL, process and the file its standard error goes to."""

    url: str
    token: str
    process: subprocess.Popen[bytes]
    log: Path
    metrics_dir: Path


@pytest.fixture
def token(mongo_uri: str, db_name: str) -> Iterator[str]:
    """Write an importer with a token into the test's database (as tests.signin does); return its secret."""
    store = Store.connect(mongo_uri, db_name)
    try:
        make_user(store, "importer", ["importer"])
        yield make_token(store, "importer", "gunicorn")
    finally:
        store.close()


@pytest.fixture
def gunicorn(mongo_uri: str, db_name: str, tmp_path: Path, token: str) -> Iterator[Served]:
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DOSELEDGER_")}
    metrics_dir = tmp_path / "prometheus"
    environment.update(
        MONGODB_URI=mongo_uri,
        DOSELEDGER_DB_NAME=db_name,
        DOSELEDGER_DATA_DIR=str(tmp_path / "state" / "db"),
        DOSELEDGER_LOG_FORMAT="json",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        WEB_CONCURRENCY="2",
        GUNICORN_CMD_ARGS=f"--bind 127.0.0.1:{port}",
    )
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(GUNICORN), "-c", "deploy/gunicorn.conf.py", "service.wsgi:app"],
            cwd=ROOT,
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    served = Served(f"http://127.0.0.1:{port}", token, process, log, metrics_dir)
    try:
        _wait_until_healthy(served)
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def _wait_until_healthy(served: Served) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            pytest.fail(f"gunicorn exited {served.process.returncode}: {served.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{served.url}/healthz", timeout=10) as answer:
                if answer.status == 200:
                    return
        except OSError:  # not listening yet (URLError), or a worker still starting (a timeout)
            time.sleep(0.2)
    pytest.fail(f"gunicorn did not answer /healthz within 60 s: {served.log.read_text()[-3000:]}")


def _post(url: str, data: bytes, name: str, token: str) -> int:
    headers = {"Content-Type": "application/dicom", "X-Filename": name, "Authorization": f"Bearer {token}"}
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=60) as answer:
        return answer.status


def _created(metrics: str) -> float:
    found = re.search(r'^doseledger_objects_received_total\{outcome="created",via="http"\} (\S+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


def test_two_workers_serve_and_their_metrics_add_up(gunicorn: Served, corpus: Path) -> None:
    for name in FILES:
        assert _post(f"{gunicorn.url}/api/imports", (corpus / name).read_bytes(), name, gunicorn.token) == 201
    answers = []
    for _ in range(6):  # new connections, so that both workers answer some
        with urllib.request.urlopen(f"{gunicorn.url}/metrics", timeout=30) as answer:
            answers.append(_created(answer.read().decode()))
    assert answers == [len(FILES)] * 6
    assert len({path.name for path in gunicorn.metrics_dir.glob("counter_*.db")}) >= 1


def test_every_log_line_is_json(gunicorn: Served) -> None:
    with urllib.request.urlopen(f"{gunicorn.url}/healthz", timeout=30) as answer:
        assert json.loads(answer.read()) == {"status": "ok", "database": "ok"}
    time.sleep(0.5)  # the access line is written after the answer
    lines = [json.loads(line) for line in gunicorn.log.read_text().splitlines() if line.strip()]
    assert any(line["logger"] == "gunicorn.error" and "Booting worker" in line["message"] for line in lines)
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    assert any(line["path"] == "/healthz" and line["status"] == 200 for line in access)
