"""Routing through a real PACS: storescu sends to Debian's Orthanc, which forwards every object to DoseLedger.

Orthanc (Debian package ``orthanc``, 1.10) runs for the module from a
configuration written to a temporary folder: its own free DICOM and HTTP ports,
its storage in that folder, DoseLedger's SCP as the modality ``doseledger``,
and the Orthanc Book's auto-routing script ("Auto-routing of DICOM images",
server-side scripting with Lua): ``OnStoredInstance`` sends each stored
instance on with ``SendToModality``. Lua callbacks run one at a time (in mutual
exclusion, says the Book) as the instances are stored, so DoseLedger gets the
objects in the order storescu sent them, as in the one-association test of
test_dicomnet_ingest.py.

The test starts the binary itself and stops it afterwards; it never touches the
Debian service (``/etc/orthanc``, ports 4242 and 8042), which may be running.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from service.dicomnet.scp import StorageSCP
from service.storage import Store
from service.storage.embedded import free_port
from tests import dcmtk
from tests.arrivals import Received, corpus_files, received

ORTHANC_AET = "ORTHANC_ROUTER"
SENDER_AET = "CT_SCANNER"
#: a port for the sender's entry, which Orthanc requires but never connects to (the registered DICOM port)
SENDER_PORT = 104
#: the Orthanc Book's one-line auto-routing, without deleting Orthanc's copy (a PACS keeps what it forwards)
ROUTE = """\
function OnStoredInstance(instanceId, tags, metadata, origin)
  SendToModality(instanceId, 'doseledger')
end
"""
#: Orthanc writes this warning once its HTTP and DICOM servers listen
STARTED = "Orthanc has started"
START_TIMEOUT = 30.0
ROUTE_TIMEOUT = 60.0


@dataclass(frozen=True)
class Orthanc:
    """A running Orthanc: its ports, the port it forwards to, and its log."""

    dicom_port: int
    http_port: int
    doseledger_port: int
    log: Path

    def log_tail(self, lines: int = 30) -> str:
        """Return the end of Orthanc's log."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def instances(self) -> str:
        """Return how many instances Orthanc holds, from its REST API, or why it did not say."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/statistics", timeout=5) as answer:
                return str(json.load(answer)["CountInstances"])
        except (OSError, ValueError, KeyError) as e:
            return f"an unknown number of (its REST API did not answer: {e})"


def configuration(folder: Path, orthanc: Orthanc) -> dict[str, object]:
    """Return Orthanc's configuration: everything in ``folder``, forwarding to DoseLedger on 127.0.0.1.

    Orthanc 1.10 has no option to listen on loopback only, so it takes objects
    only from the test's sender at 127.0.0.1, and its HTTP server, open without
    authentication, answers only local clients.
    """
    script = folder / "route.lua"
    script.write_text(ROUTE, encoding="utf-8")
    return {
        "Name": "DoseLedger test router",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "LuaScripts": [str(script)],
        "DicomAet": ORTHANC_AET,
        "DicomPort": orthanc.dicom_port,
        "HttpPort": orthanc.http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomModalities": {
            "doseledger": ["DOSELEDGER", "127.0.0.1", orthanc.doseledger_port],
            "sender": [SENDER_AET, "127.0.0.1", SENDER_PORT],
        },
        "DicomAlwaysAllowStore": False,
        "DicomCheckModalityHost": True,
        # a throw-away store: no fsync per object, no jobs kept for a restart; fewer HTTP threads stop sooner
        "SyncStorageArea": False,
        "SaveJobs": False,
        "HttpThreadsCount": 4,
    }


def distinct_free_ports(count: int) -> list[int]:
    """Return ``count`` different ports free on 127.0.0.1 right now."""
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    """Run Orthanc for the module; stop it afterwards."""
    executable = dcmtk.require("Orthanc", "orthanc")
    dcmtk.require("storescu")
    folder = tmp_path_factory.mktemp("orthanc")
    dicom_port, http_port, doseledger_port = distinct_free_ports(3)
    running = Orthanc(dicom_port, http_port, doseledger_port, folder / "orthanc.log")
    (folder / "orthanc.json").write_text(json.dumps(configuration(folder, running), indent=2), encoding="utf-8")
    with running.log.open("w") as log:
        process = subprocess.Popen(
            [executable, str(folder / "orthanc.json")], cwd=folder, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _wait_for_start(process, running)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_start(process: subprocess.Popen[bytes], orthanc: Orthanc) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while STARTED not in orthanc.log.read_text(errors="replace"):
        if process.poll() is not None:
            pytest.fail(f"Orthanc exited with status {process.returncode} at start:\n{orthanc.log_tail()}")
        if time.monotonic() > deadline:
            pytest.fail(f"Orthanc did not start within {START_TIMEOUT:.0f} s:\n{orthanc.log_tail()}")
        time.sleep(0.05)


@pytest.fixture
def scp_port(orthanc: Orthanc) -> int:
    """Start DoseLedger's SCP where Orthanc's configuration forwards to."""
    return orthanc.doseledger_port


def wait_for_objects(store: Store, count: int, orthanc: Orthanc) -> None:
    """Wait until ``store`` has an outcome for ``count`` objects; fail saying how far Orthanc got."""
    deadline = time.monotonic() + ROUTE_TIMEOUT
    while (done := store.db.event_log.count_documents({"type": "received"})) < count:
        if time.monotonic() > deadline:
            pytest.fail(
                f"DoseLedger had {done} of {count} objects {ROUTE_TIMEOUT:.0f} s after storescu sent them to "
                f"Orthanc, which holds {orthanc.instances()} instances; the end of its log ({orthanc.log}):\n"
                f"{orthanc.log_tail()}"
            )
        time.sleep(0.1)  # SecantusDB serves one request at a time: poll gently beside the SCP's writes


def test_the_corpus_routed_through_orthanc_makes_the_studies_an_import_makes(
    corpus: Path, orthanc: Orthanc, scp: StorageSCP, store: Store, imported: Received
) -> None:
    files = corpus_files(corpus)
    answers = dcmtk.storescu(orthanc.dicom_port, files, calling=SENDER_AET, called=ORTHANC_AET)
    assert answers == {path.name: "Success" for path in files}
    wait_for_objects(store, len(files), orthanc)
    assert received(store) == imported
    entries = store.events_after(0, limit=1000)
    assert {(entry["via"], entry["client"]) for entry in entries} == {("dicom", f"{ORTHANC_AET}@127.0.0.1")}
