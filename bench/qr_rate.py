"""Objects per second of a query/retrieve run from Orthanc, against storescu of the same objects, in one run.

Writes N CT dose reports with fresh UIDs (one study each, bench/import_rate.py's
``copies``), stores them in Debian's Orthanc started for the run (tests/orthanc.py;
not timed), starts a SecantusDB server (or uses ``MONGODB_URI``), and then, in
alternating rounds, each into a fresh database with DoseLedger's Storage SCP on
the port Orthanc sends to:

* storescu sends the files to the SCP over one association (the arrival rate of
  a modality or router that pushes);
* a run with C-MOVE: study C-FIND, then per study a series and an instance C-FIND
  and a C-MOVE, Orthanc sending each object to the SCP over an association of its own;
* a run with C-GET: the same, the objects coming back on DoseLedger's association.

Every run must end ``completed`` with every object received.

    .venv/bin/python -m bench.qr_rate [--objects 500] [--rounds 2]
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from bench.database import database
from bench.import_rate import CORPUS
from bench.scp_rate import fresh_store, store_all, write
from service.config import Settings, load_settings
from service.dicomnet.nodes import Node
from service.dicomnet.runs import Runner, new_run, owner_id
from service.dicomnet.scp import StorageSCP
from service.dicomnet.selection import Criteria
from service.ingest.pipeline import Pipeline
from tests import orthanc as pacs
from tests.orthanc import Orthanc

PACS_AET = "ORTHANC_PACS"
#: every date of the CT samples
EVERYTHING = Criteria(date(1990, 1, 1), date(2030, 12, 31))  # the samples are of 1997-2022
#: ``way(files)`` brings the files into a fresh database and returns the seconds it took
Way = Callable[[list[Path]], float]


def modalities(orthanc: Orthanc) -> dict[str, list[object]]:
    """Return the modality Orthanc knows: DoseLedger's SCP."""
    return {"doseledger": ["DOSELEDGER", "127.0.0.1", orthanc.doseledger_port]}


def storescu(uri: str, orthanc: Orthanc, settings: Settings) -> Way:
    """Return the way in of a modality that pushes: storescu to the SCP, one association."""

    def send(files: list[Path]) -> float:
        with fresh_store(uri) as store:
            scp = StorageSCP.for_pipeline(
                Pipeline.from_settings(store, settings), settings, port=orthanc.doseledger_port
            )
            return store_all(scp, files, 1)

    return send


def retrieve(uri: str, orthanc: Orthanc, settings: Settings, method: str) -> Way:
    """Return the way in of a query/retrieve run of every study in Orthanc, by C-MOVE or C-GET."""

    def fetch(files: list[Path]) -> float:
        with fresh_store(uri) as store:
            pipeline = Pipeline.from_settings(store, settings)
            node = Node("orthanc", PACS_AET, "127.0.0.1", orthanc.dicom_port, method)
            store.add_pacs_node(node.as_document())
            scp = StorageSCP.for_pipeline(pipeline, settings, port=orthanc.doseledger_port)
            scp.start()
            try:
                record = new_run(store, node, EVERYTHING, trigger="bench", client="bench", owner=owner_id())
                start = time.perf_counter()
                result = Runner(pipeline, settings, record, owner=owner_id()).execute()
                seconds = time.perf_counter() - start
            finally:
                scp.stop()
        received = result["counts"]["objects"]["received"]
        if result["status"] != "completed" or received != len(files):
            raise SystemExit(f"the {method} run did not fetch everything: {result['status']}, {received} received")
        return seconds

    return fetch


def main() -> None:
    """Measure and print the rates."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    options = parser.parse_args()
    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="doseledger-bench-") as folder:
        files = write(Path(folder), options.corpus, options.objects)
        (Path(folder) / "orthanc").mkdir()
        with (
            database(Path(folder), os.environ.get("MONGODB_URI")) as uri,
            pacs.running(Path(folder) / "orthanc", PACS_AET, modalities) as orthanc,
        ):
            start = time.perf_counter()
            orthanc.upload(files)
            print(f"{len(files)} CT reports (one study each) stored in Orthanc in {time.perf_counter() - start:.1f} s")
            report(uri, orthanc, files, options.rounds)


def report(uri: str, orthanc: Orthanc, files: list[Path], rounds: int) -> None:
    """Run the three ways in, alternating, and print objects/s and the ratio to storescu."""
    secret = os.environ.get("DOSELEDGER_PATIENT_KEY_SECRET") or secrets.token_hex(32)  # none written to var/
    settings = load_settings({}, {"DOSELEDGER_PACS_TIMEOUT": "30", "DOSELEDGER_PATIENT_KEY_SECRET": secret})
    ways = {
        "storescu -> SCP": storescu(uri, orthanc, settings),
        "run, C-MOVE": retrieve(uri, orthanc, settings, "move"),
        "run, C-GET": retrieve(uri, orthanc, settings, "get"),
    }
    rates: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, way in ways.items():
            rates[name].append(len(files) / way(files))
    base = rates["storescu -> SCP"]
    for name, measured in rates.items():
        shown = ", ".join(f"{rate:6.1f}" for rate in measured)
        ratio = ", ".join(f"{rate / b:4.2f}" for rate, b in zip(measured, base, strict=True))
        print(f"{name:16} objects/s: {shown}   ratio to storescu: {ratio}")


if __name__ == "__main__":
    main()
