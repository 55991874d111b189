"""Drills of issue 20, items 1-3 and 5, against a real `doseledger serve` process, with its memory measured.

Starts SecantusDB (or uses ``MONGODB_URI``) and ``doseledger serve`` (web and
SCP on free loopback ports) in a process of its own, then:

* ``bomb``: POSTs a Deflated Explicit VR Little Endian report that inflates to
  1 GiB (about 1 MB sent), and C-STOREs the same file; prints each answer, its
  time and the server's resident memory before and at its peak (VmHWM);
* ``pdu``: opens a connection, sends an A-ASSOCIATE-RQ header declaring 4 GiB
  and streams zeros (up to 512 MiB) for as long as the server reads; prints how
  much it took before closing the connection, and the server's memory;
* ``idle``: opens 16 connections that say nothing (from 127.0.0.2-5, four each)
  and 4 silent associations (127.0.0.6), then runs echoscu and prints its
  outcome and time, and how many of the silent ones were closed within 12 s;
* ``frozen``: stops the database's process (SIGSTOP) for 20 s and meanwhile
  asks ``/healthz``, a study list, an HTTP import and a C-STORE, printing each
  answer and its time; then continues it and asks again.

Everything goes to 127.0.0.0/8 and stops by itself.

    .venv/bin/python -m bench.drill_abuse [bomb pdu idle frozen]

(``frozen`` needs the embedded server: it is skipped with ``MONGODB_URI`` set.)
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pydicom
from pynetdicom import AE, _config
from pynetdicom.sop_class import Verification

from bench.import_rate import CORPUS
from service.storage import Store
from service.storage.embedded import EmbeddedServer, free_port
from tests.hostile import bomb
from tests.signin import make_token, make_user

ROOT = Path(__file__).resolve().parent.parent


class Server:
    """A `doseledger serve` process on free ports."""

    def __init__(
        self, process: subprocess.Popen[str], http: int, dicom: int, token: str, database: EmbeddedServer | None
    ) -> None:
        self.process, self.http, self.dicom, self.database = process, http, dicom, database
        self.headers = {"Authorization": f"Bearer {token}"}

    def request(self, path: str, data: bytes | None = None, timeout: float = 120) -> tuple[int, float]:
        """Send one HTTP request (a POST of ``data`` as a DICOM file, if given); return its status and seconds."""
        headers = {**self.headers, **({"Content-Type": "application/dicom"} if data is not None else {})}
        request = urllib.request.Request(f"http://127.0.0.1:{self.http}{path}", data=data, headers=headers)
        began = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                status = answer.status
        except urllib.error.HTTPError as e:
            status = e.code
        return status, time.monotonic() - began

    def memory(self) -> tuple[int, int]:
        """Return the server's resident and peak resident memory in MB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        values = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines() if line.startswith("Vm")}
        return values["VmRSS"] // 1024, values["VmHWM"] // 1024


@contextmanager
def serving(workdir: Path) -> Iterator[Server]:
    """Start SecantusDB (unless MONGODB_URI) and `doseledger serve`; stop both afterwards."""
    database = None
    uri = os.environ.get("MONGODB_URI")
    if not uri:
        database = EmbeddedServer(workdir / "db", free_port())
        database.start(timeout=60)
        uri = database.uri
    token = _token(uri)
    http, dicom = free_port(), free_port()
    environment = {
        **os.environ,
        "MONGODB_URI": uri,
        "DOSELEDGER_DB_NAME": "drill",
        "DOSELEDGER_PORT": str(http),
        "DOSELEDGER_SCP_PORT": str(dicom),
        "DOSELEDGER_SCP_HOST": "127.0.0.1",
        "DOSELEDGER_SCP_ALLOWED_AE_TITLES": "ECHOSCU,MODALITY",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", "serve"], env=environment, cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stderr is not None
        while "Storage SCP" not in process.stderr.readline():
            pass
        yield Server(process, http, dicom, token, database)
    finally:
        process.terminate()
        process.communicate(timeout=60)
        if database is not None:
            database.stop()


def _token(uri: str) -> str:
    """Make a user with the importer and viewer roles in the drill's database; return an API token of theirs."""
    store = Store.connect(uri, "drill", timeout=60)
    try:
        store.ensure_indexes()
        make_user(store, "drill", ("viewer", "importer"))
        return make_token(store, "drill", "drill")
    finally:
        store.close()


def drill_bomb(server: Server, workdir: Path) -> None:
    """POST and C-STORE a report that inflates to 1 GiB."""
    data = bomb(1 << 30)
    path = workdir / "bomb.dcm"
    path.write_bytes(data)
    print(f"bomb: {len(data)} bytes deflated, inflating to 1 GiB; server memory {server.memory()[0]} MB")
    status, seconds = server.request("/api/imports", data)
    rss, peak = server.memory()
    print(f"  HTTP: {status} after {seconds:.2f} s; server memory {rss} MB, peak {peak} MB")
    _config.STORE_SEND_CHUNKED_DATASET = True  # send the file's bytes as they are, as a modality would
    ae = AE("MODALITY")
    ae.add_requested_context("1.2.840.10008.5.1.4.1.1.88.67", "1.2.840.10008.1.2.1.99")
    began = time.monotonic()
    assoc = ae.associate("127.0.0.1", server.dicom, ae_title="DOSELEDGER")
    answer = assoc.send_c_store(path)
    assoc.release()
    rss, peak = server.memory()
    print(
        f"  C-STORE: status 0x{answer.Status:04X} after {time.monotonic() - began:.2f} s; "
        f"server memory {rss} MB, peak {peak} MB"
    )


def drill_pdu(server: Server) -> None:
    """Send an A-ASSOCIATE-RQ declaring 4 GiB and stream zeros while the server reads."""
    print(f"pdu: server memory {server.memory()[0]} MB")
    sent, began = 0, time.monotonic()
    with socket.create_connection(("127.0.0.1", server.dicom), timeout=10) as sock:
        sock.sendall(struct.pack(">BBL", 0x01, 0, 0xFFFFFFF0))
        try:
            while sent < 512 << 20:
                sock.sendall(bytes(1 << 20))
                sent += 1 << 20
        except OSError:
            pass
    rss, peak = server.memory()
    print(
        f"  {sent >> 20} MiB sent before the server closed the connection ({time.monotonic() - began:.2f} s); "
        f"server memory {rss} MB, peak {peak} MB"
    )


def drill_idle(server: Server) -> None:
    """Hold 16 silent connections and 4 silent associations, then run echoscu."""
    silent = [
        socket.create_connection(("127.0.0.1", server.dicom), timeout=30, source_address=(f"127.0.0.{2 + n // 4}", 0))
        for n in range(16)
    ]
    ae = AE("MODALITY")
    ae.add_requested_context(Verification)
    held = [
        ae.associate("127.0.0.1", server.dicom, ae_title="DOSELEDGER", bind_address=("127.0.0.6", 0)) for _ in range(4)
    ]
    time.sleep(0.5)
    began = time.monotonic()
    echo = subprocess.run(
        ["echoscu", "-aet", "ECHOSCU", "-aec", "DOSELEDGER", "127.0.0.1", str(server.dicom)], capture_output=True
    )
    print(
        f"idle: 16 silent connections, {sum(a.is_established for a in held)} silent associations held; "
        f"echoscu {'succeeded' if echo.returncode == 0 else 'FAILED'} in {time.monotonic() - began:.2f} s"
    )
    time.sleep(12)
    closed = 0
    for sock in silent:
        sock.settimeout(0.1)
        try:
            closed += sock.recv(1) == b""
        except (TimeoutError, ConnectionResetError):
            closed += 0
        sock.close()
    print(
        f"  after 12 s: {closed} of 16 silent connections, {sum(a.is_aborted for a in held)} of 4 associations closed"
    )


def drill_frozen(server: Server, workdir: Path) -> None:
    """Stop the database's process for 20 s; ask the service meanwhile, and after it continues."""
    if server.database is None or server.database.process is None:
        print("frozen: skipped (the database is not the embedded server this drill started)")
        return
    sample = next(iter(sorted(CORPUS.glob("CT-RDSR-*.dcm"))), None)
    data = sample.read_bytes() if sample else None
    pid = server.database.process.pid
    os.kill(pid, signal.SIGSTOP)
    began = time.monotonic()
    try:
        _ask(server, workdir, data, "database stopped")
    finally:
        os.kill(pid, signal.SIGCONT)
        time.sleep(max(0.0, 20 - (time.monotonic() - began)))
    _ask(server, workdir, data, "database continued")


def _ask(server: Server, workdir: Path, data: bytes | None, when: str) -> None:
    """Ask /healthz, a list, an import and a C-STORE; print each answer and its time."""
    for label, path in (("/healthz", "/healthz"), ("study list", "/api/studies?page_size=5")):
        status, seconds = server.request(path, timeout=60)
        print(f"frozen ({when}): {label} {status} after {seconds:.2f} s")
    if data is None:
        print(f"frozen ({when}): no RDSR in the corpus to import (set DOSELEDGER_CORPUS)")
        return
    status, seconds = server.request("/api/imports", data, timeout=60)
    print(f"frozen ({when}): HTTP import {status} after {seconds:.2f} s")
    path = workdir / "report.dcm"
    path.write_bytes(data)
    ae = AE("MODALITY")
    ae.add_requested_context(pydicom.dcmread(path, stop_before_pixels=True).SOPClassUID)
    began = time.monotonic()
    assoc = ae.associate("127.0.0.1", server.dicom, ae_title="DOSELEDGER")
    answer = assoc.send_c_store(path) if assoc.is_established else None
    assoc.release()
    outcome = f"status 0x{answer.Status:04X}" if answer is not None and "Status" in answer else "no answer"
    print(f"frozen ({when}): C-STORE {outcome} after {time.monotonic() - began:.2f} s")


def main() -> None:
    """Run the drills named on the command line (all by default)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("drills", nargs="*", help="bomb, pdu, idle, frozen (default: all)")
    args = parser.parse_args()
    unknown = set(args.drills) - {"bomb", "pdu", "idle", "frozen"}
    if unknown:
        parser.error(f"unknown drills: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory() as folder, serving(Path(folder)) as server:
        for name in args.drills or ["bomb", "pdu", "idle", "frozen"]:
            {
                "bomb": lambda: drill_bomb(server, Path(folder)),
                "pdu": lambda: drill_pdu(server),
                "idle": lambda: drill_idle(server),
                "frozen": lambda: drill_frozen(server, Path(folder)),
            }[name]()


if __name__ == "__main__":
    main()
