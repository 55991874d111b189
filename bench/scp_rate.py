"""Objects per second through the DICOM Storage SCP, against the HTTP import of the same objects.

Writes N CT dose reports with fresh UIDs (bench/import_rate.py's ``copies``) to
a temporary folder, starts a SecantusDB server for the run (or uses
``MONGODB_URI``), and sends them four ways, each into a fresh database:

* dcmtk's storescu to the SCP (``service.dicomnet``), over 1 association and over
  4 at once (4 storescu processes, a quarter of the files each);
* ``POST /api/imports`` of each file, one object per request, to the app served
  on a free port, over 1 connection and over 4 at once (threads);
* storescu to an SCP whose ingest does nothing, to tell the SCP's own cost from
  the pipeline's.

Every object must come back Success (201). Target on the 2-core reference
machine: at least 50 objects/s through the SCP.

    .venv/bin/python -m bench.scp_rate [--objects 500]
"""

from __future__ import annotations

import argparse
import http.client
import logging
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from werkzeug.serving import make_server

from bench.database import database
from bench.import_rate import CORPUS, CT_FILES, copies
from service import create_app
from service.config import load_settings
from service.dicomnet.scp import MoveOrigin, StorageSCP
from service.ingest.pipeline import Pipeline
from service.ingest.sources import Source
from service.storage import Store
from service.web.context import close_store
from tests import dcmtk
from tests.signin import make_token, make_user

TARGET = 50.0
#: ``send(files, parallel)`` stores the files into a fresh database and returns the seconds the sending took
Send = Callable[[list[Path], int], float]


@contextmanager
def fresh_store(uri: str) -> Iterator[Store]:
    """Yield a store on a new database of ``uri`` (indexes made), dropped afterwards."""
    store = Store.connect(uri, f"doseledger_bench_{secrets.token_hex(3)}")
    try:
        store.ensure_indexes()
        yield store
    finally:
        store.client.drop_database(store.db.name)
        store.close()


def send_dicom(uri: str) -> Send:
    """Return a sender that stores files with storescu through the SCP, into a fresh database."""

    def send(files: list[Path], associations: int) -> float:
        with fresh_store(uri) as store:
            settings = load_settings({})
            return store_all(
                StorageSCP.for_pipeline(Pipeline.from_settings(store, settings), settings, port=0), files, associations
            )

    return send


def read_only(source: Source, client: str, move: MoveOrigin | None) -> str:
    """Read the object the SCP received and do nothing else (a no-op ingest)."""
    source.read()
    return "written"


def send_dicom_no_ingest(files: list[Path], associations: int) -> float:
    """Store files with storescu through an SCP whose ingest only reads the object: the transport's own cost."""
    return store_all(StorageSCP(read_only, print, ae_title="DOSELEDGER", host="127.0.0.1", port=0), files, associations)


def store_all(scp: StorageSCP, files: list[Path], associations: int) -> float:
    """Send ``files`` to ``scp`` over ``associations`` storescu processes; return the seconds taken."""
    scp.start()
    try:
        start = time.perf_counter()
        senders = [dcmtk.start_storescu(scp.port, files[n::associations]) for n in range(associations)]
        answers = [dcmtk.responses(sender.communicate()[1]) for sender in senders]
        seconds = time.perf_counter() - start
    finally:
        scp.stop()
    statuses = {status for answer in answers for status in answer.values()}
    if sum(map(len, answers)) != len(files) or statuses != {"Success"}:
        raise SystemExit(f"storescu did not store everything: {statuses}")
    return seconds


def send_http(uri: str) -> Send:
    """Return a sender that POSTs files to the app, one object per request, one thread per connection."""

    def send(files: list[Path], connections: int) -> float:
        with fresh_store(uri) as store:
            app = create_app({"MONGODB_URI": uri, "DOSELEDGER_DB_NAME": store.db.name})
            make_user(store, "bench", ("importer",))  # the API needs a token with the importer role
            token = make_token(store, "bench", "bench")
            server = make_server("127.0.0.1", 0, app, threaded=True)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            try:
                start = time.perf_counter()
                with ThreadPoolExecutor(connections) as pool:
                    shares = [files[n::connections] for n in range(connections)]
                    list(pool.map(lambda share: post_all(server.server_port, share, token), shares))
                return time.perf_counter() - start
            finally:
                server.shutdown()
                close_store(app)

    return send


def post_all(port: int, files: list[Path], token: str) -> None:
    """POST each file as application/dicom over one keep-alive connection; require 201 Created."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for path in files:
        headers = {"Content-Type": "application/dicom", "X-Filename": path.name, "Authorization": f"Bearer {token}"}
        connection.request("POST", "/api/imports", body=path.read_bytes(), headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 201:
            raise SystemExit(f"POST {path.name} answered {response.status}")
    connection.close()


def rate(send: Send, files: list[Path], parallel: int) -> float:
    """Return objects per second of one run of ``send``."""
    return len(files) / send(files, parallel)


def write(folder: Path, corpus: Path, count: int) -> list[Path]:
    """Write ``count`` CT reports with fresh UIDs into ``folder``."""
    files = []
    for index, data in enumerate(copies(corpus, count)):
        path = folder / f"ct-{index:04d}.dcm"
        path.write_bytes(data)
        files.append(path)
    return files


def main() -> None:
    """Measure and print the rates."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=500)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    options = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    with tempfile.TemporaryDirectory(prefix="doseledger-bench-") as folder:
        files = write(Path(folder), options.corpus, options.objects)
        with database(Path(folder), os.environ.get("MONGODB_URI")) as uri:
            report(uri, files)


def report(uri: str, files: list[Path]) -> None:
    """Run each way in and print objects/s with the SCP/HTTP ratio."""
    print(f"{len(files)} CT reports ({len(CT_FILES)} samples, fresh UIDs), one fresh database per run")
    for parallel in (1, 4):
        dicom, web = rate(send_dicom(uri), files, parallel), rate(send_http(uri), files, parallel)
        transport = rate(send_dicom_no_ingest, files, parallel)
        verdict = "meets" if dicom >= TARGET else "MISSES"
        print(
            f"{parallel} association(s): C-STORE {dicom:6.1f} objects/s ({verdict} the {TARGET:.0f}/s target); "
            f"HTTP POST {web:6.1f} objects/s; ratio SCP/HTTP {dicom / web:4.2f}; "
            f"C-STORE with a no-op ingest {transport:6.1f} objects/s"
        )


if __name__ == "__main__":
    main()
