"""Routing through a real PACS: storescu sends to Debian's Orthanc, which forwards every object to DoseLedger.

Orthanc runs for the module (tests/orthanc.py) with DoseLedger's SCP as the
modality ``doseledger`` and the Orthanc Book's auto-routing script
("Auto-routing of DICOM images", server-side scripting with Lua):
``OnStoredInstance`` sends each stored instance on with ``SendToModality``. Lua
callbacks run one at a time (in mutual exclusion, says the Book) as the
instances are stored, so DoseLedger gets the objects in the order storescu sent
them, as in the one-association test of test_dicomnet_ingest.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.dicomnet.scp import StorageSCP
from service.storage import Store
from tests import dcmtk
from tests import orthanc as pacs
from tests.arrivals import Received, corpus_files, received
from tests.orthanc import Orthanc

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
ROUTE_TIMEOUT = 60.0


def modalities(orthanc: Orthanc) -> dict[str, list[object]]:
    """Return the modalities the router knows: DoseLedger, and the sender it takes objects from."""
    return {
        "doseledger": ["DOSELEDGER", "127.0.0.1", orthanc.doseledger_port],
        "sender": [SENDER_AET, "127.0.0.1", SENDER_PORT],
    }


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    """Run Orthanc for the module; stop it afterwards."""
    dcmtk.require("storescu")
    with pacs.running(tmp_path_factory.mktemp("orthanc"), ORTHANC_AET, modalities, ROUTE) as running:
        yield running


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
