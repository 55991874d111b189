"""Arrivals under mixed load: C-STORE and HTTP import latency while audits and exports run.

    .venv/bin/python -m bench.mixed_load [--studies 3500] [--seconds 60] [--uri MONGODB_URI]

Loads ``--studies`` synthetic studies (``bench/synthetic.py``) into a SecantusDB
server started for the run (or a database of its own on ``--uri``), starts
``doseledger serve`` on free ports in a process of its own (web and Storage SCP,
as in production), and for ``--seconds`` sends, from this process:

* a fresh CT dose report (the corpus's CT reports with new UIDs) by C-STORE on
  one association, every ``--interval`` seconds;
* the same by ``POST /api/imports``, every ``--interval`` seconds;
* audits back to back, cycling through every statistics audit (default
  parameters: per station, raw names, whole period), then the workload and
  the high-dose alerts;
* exports back to back: CT as CSV, then as XLSX;
* a study list page and the event log, every second.

It prints, per kind, the number of calls, failures (503 / C-STORE 0xA700 or any
other non-success), the median, p95 and maximum seconds. Target (issue #20,
item 4): C-STORE and HTTP import p95 under 1 s and max under 5 s while an audit
and an export run.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pydicom
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE

from bench.database import database
from bench.import_rate import CORPUS, copies
from bench.synthetic import synthetic_studies
from service.audits import pipeline as audits
from service.storage import Store
from service.storage.embedded import free_port
from tests.signin import make_token, make_user

ROOT = Path(__file__).resolve().parent.parent
LOAD_BATCH = 500
#: X-Ray Radiation Dose SR and Enhanced SR: the SOP classes of the corpus's CT reports
SOP_CLASSES = ("1.2.840.10008.5.1.4.1.1.88.67", "1.2.840.10008.5.1.4.1.1.88.22")


class Timings:
    """Latencies and failures per kind of call, from several threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seconds: dict[str, list[float]] = defaultdict(list)
        self.failures: dict[str, list[str]] = defaultdict(list)

    def timed(self, kind: str, call: Callable[[], str | None]) -> None:
        """Time ``call``; it returns None on success or what went wrong."""
        started = time.monotonic()
        try:
            failure = call()
        except Exception as e:  # a refused connection, a timeout: counted, the load goes on
            failure = f"{type(e).__name__}: {e}"
        took = time.monotonic() - started
        with self.lock:
            self.seconds[kind].append(took)
            if failure:
                self.failures[kind].append(failure)

    def report(self) -> None:
        """Print one line per kind."""
        print(f"{'kind':14} {'calls':>6} {'failed':>6} {'median s':>9} {'p95 s':>7} {'max s':>7}")
        for kind in sorted(self.seconds):
            values = sorted(self.seconds[kind])
            p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
            failed = len(self.failures[kind])
            line = (
                f"{kind:14} {len(values):6d} {failed:6d} {statistics.median(values):9.3f} {p95:7.3f} {values[-1]:7.3f}"
            )
            print(line)
        for kind, failures in sorted(self.failures.items()):
            for failure in sorted(set(failures))[:3]:
                print(f"  {kind} failure: {failure[:160]}")


def load(uri: str, db_name: str, count: int) -> str:
    """Insert ``count`` synthetic studies (validated, tallies kept) into a new database; return an API token."""
    store = Store.connect(uri, db_name, timeout=600, long_timeout=600)
    try:
        store.ensure_indexes()
        documents = synthetic_studies(count, now=datetime(2026, 11, 1))
        for start in range(0, count, LOAD_BATCH):
            store.insert_studies(documents[start : start + LOAD_BATCH])
        make_user(store, "bench", ("viewer", "exporter", "importer"))  # no password to change first
        return make_token(store, "bench", "bench")
    finally:
        store.close()


@contextmanager
def service(uri: str, db_name: str, environment: dict[str, str]) -> Iterator[tuple[int, int]]:
    """Run ``doseledger serve`` (web and SCP) in a process of its own; yield its HTTP and DICOM ports."""
    web, dicom = free_port(), free_port()
    env = {
        **os.environ,
        "MONGODB_URI": uri,
        "DOSELEDGER_DB_NAME": db_name,
        "DOSELEDGER_HOST": "127.0.0.1",
        "DOSELEDGER_PORT": str(web),
        "DOSELEDGER_SCP_HOST": "127.0.0.1",
        "DOSELEDGER_SCP_PORT": str(dicom),
        "DOSELEDGER_LOG_LEVEL": "ERROR",
        **environment,
    }
    command = [sys.executable, "-c", "from scripts.cli import main; raise SystemExit(main(['serve']))"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        _wait_healthy(web, process)
        yield web, dicom
    finally:
        process.terminate()
        process.wait(30)


def _wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    """Wait until the service answers /healthz."""
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise SystemExit(f"doseledger serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("doseledger serve did not become healthy within 60 s")


#: the Authorization header of every HTTP request (the token load() makes)
AUTHORIZATION: dict[str, str] = {}


def http_get(port: int, path: str) -> str | None:
    """GET ``path`` and read the whole answer; return None on 200, else the status and message."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        connection.request("GET", path, headers=AUTHORIZATION)
        response = connection.getresponse()
        body = response.read()
        return None if response.status == 200 else f"{response.status} {body[:200]!r}"
    finally:
        connection.close()


def http_import(port: int, data: bytes) -> str | None:
    """POST one object; return None on 201, else the status and message."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        headers = {"Content-Type": "application/dicom", "X-Filename": "bench.dcm", **AUTHORIZATION}
        connection.request("POST", "/api/imports", body=data, headers=headers)
        response = connection.getresponse()
        body = response.read()
        return None if response.status == 201 else f"{response.status} {json.loads(body).get('message', '')}"
    finally:
        connection.close()


def every(interval: float, stop: threading.Event, step: Callable[[], None]) -> None:
    """Run ``step`` every ``interval`` seconds (or back to back when 0) until ``stop``."""
    while not stop.is_set():
        started = time.monotonic()
        step()
        stop.wait(max(0.0, interval - (time.monotonic() - started)))


def c_store_loop(port: int, objects: Iterator[bytes], interval: float, stop: threading.Event, timings: Timings) -> None:
    """Send objects on one association every ``interval`` seconds."""
    ae = AE("BENCH_CT")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 300
    for sop_class in SOP_CLASSES:
        ae.add_requested_context(sop_class, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    assoc = ae.associate("127.0.0.1", port, ae_title="DOSELEDGER")
    if not assoc.is_established:
        raise SystemExit("the SCP refused the association")

    def send() -> str | None:
        status = assoc.send_c_store(pydicom.dcmread(io.BytesIO(next(objects))))
        code = int(getattr(status, "Status", -1))
        return None if code == 0 else f"status 0x{code:04X}"

    try:
        every(interval, stop, lambda: timings.timed("c-store", send))
    finally:
        assoc.release()


def audit_paths() -> list[str]:
    """Return the audits the load cycles through."""
    return [f"/api/audits/{name}" for name in audits.audits()]


def run(uri: str, args: argparse.Namespace) -> None:
    """Load, serve, send the load for ``args.seconds``, then print the timings."""
    db_name = f"doseledger_mixed_{secrets.token_hex(3)}"
    started = time.monotonic()
    AUTHORIZATION["Authorization"] = f"Bearer {load(uri, db_name, args.studies)}"
    print(f"loaded {args.studies} studies in {time.monotonic() - started:.1f} s", flush=True)
    reports = iter(copies(CORPUS, 2 * int(args.seconds / args.interval) + 20))
    lock = threading.Lock()

    def fresh() -> bytes:
        with lock:
            return next(reports)

    environment = {key: value for key, value in (item.split("=", 1) for item in args.env)}
    timings, stop = Timings(), threading.Event()
    with service(uri, db_name, environment) as (web, dicom):
        paths = iter(audit_paths() * 1000)
        exports = iter(["/api/exports/CT.csv", "/api/exports/CT.xlsx"] * 1000)
        loops: dict[str, Callable[[], None]] = {
            "c-store": lambda: c_store_loop(dicom, iter(fresh, None), args.interval, stop, timings),
            "http-import": lambda: every(
                args.interval, stop, lambda: timings.timed("http-import", lambda: http_import(web, fresh()))
            ),
            "audit": lambda: every(0, stop, lambda: timings.timed("audit", lambda: http_get(web, next(paths)))),
            "export": lambda: every(0, stop, lambda: timings.timed("export", lambda: http_get(web, next(exports)))),
            "list-page": lambda: every(
                1, stop, lambda: timings.timed("list-page", lambda: http_get(web, "/api/studies?modality=CT"))
            ),
            "event-log": lambda: every(
                1, stop, lambda: timings.timed("event-log", lambda: http_get(web, "/api/event-log?limit=50"))
            ),
        }
        left_out = set(args.without.split(",")) if args.without else set()
        threads = [threading.Thread(target=loop, daemon=True) for kind, loop in loops.items() if kind not in left_out]
        for thread in threads:
            thread.start()
        time.sleep(args.seconds)
        stop.set()
        for thread in threads:
            thread.join()
    timings.report()


def main() -> None:
    """Parse the arguments, start the database if needed, and run the load."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=3500)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between arrivals of each kind")
    parser.add_argument("--uri", help="an existing MongoDB-protocol server (default: embedded SecantusDB)")
    parser.add_argument("--env", action="append", default=[], help="VARIABLE=VALUE for the service (repeatable)")
    parser.add_argument("--without", help="kinds of load to leave out, comma-separated (audit,export: the baseline)")
    args = parser.parse_args()
    if args.uri:
        run(args.uri, args)
        return
    with tempfile.TemporaryDirectory(prefix="doseledger-mixed-") as folder, database(Path(folder)) as uri:
        run(uri, args)


if __name__ == "__main__":
    main()
