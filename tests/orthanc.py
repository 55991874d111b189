"""Debian's Orthanc as a real PACS for tests: started on free ports from a configuration in a temporary folder.

Orthanc (Debian package ``orthanc``, 1.10, ``/usr/sbin/Orthanc``) runs from a
configuration the test writes: its own free DICOM and HTTP ports, its storage
in the folder, the modalities it knows (DoseLedger's SCP among them, on a port
chosen here), and optionally a Lua script. It is started with ``TCP_NODELAY=1``,
which dcmtk (Orthanc's DICOM layer) reads: without it each C-STORE Orthanc
sends waits some 40 ms for a delayed ACK. The test's process starts and stops
the binary; it never touches the Debian service (``/etc/orthanc``, ports 4242
and 8042), which may be running. Orthanc 1.10 has no option to listen on
loopback only, so the configurations accept DICOM only from modalities at
127.0.0.1 (``DicomCheckModalityHost``) and answer HTTP from local clients only.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from service.storage.embedded import free_port
from tests import dcmtk

#: Orthanc writes this warning once its HTTP and DICOM servers listen
STARTED = "Orthanc has started"
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Orthanc:
    """A running Orthanc: its AE title and ports, the port DoseLedger's SCP is expected on, and its log."""

    ae_title: str
    dicom_port: int
    http_port: int
    doseledger_port: int
    log: Path

    def log_tail(self, lines: int = 30) -> str:
        """Return the end of Orthanc's log."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def rest(self, path: str, data: bytes | None = None) -> object:
        """Call Orthanc's REST API (POST when ``data`` is given) and return its JSON answer."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", data=data)
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.load(answer)

    def instances(self) -> str:
        """Return how many instances Orthanc holds, from its REST API, or why it did not say."""
        try:
            statistics = self.rest("/statistics")
            assert isinstance(statistics, dict)
            return str(statistics["CountInstances"])
        except (OSError, ValueError, KeyError) as e:
            return f"an unknown number of (its REST API did not answer: {e})"

    def upload(self, files: Iterable[Path]) -> None:
        """Store ``files`` in Orthanc with its REST API (``POST /instances``)."""
        for path in files:
            answer = self.rest("/instances", path.read_bytes())
            assert isinstance(answer, dict) and answer.get("Status") in ("Success", "AlreadyStored"), (path, answer)


#: ``modalities(orthanc)`` returns Orthanc's DicomModalities: name -> [AE title, host, port]
Modalities = Callable[[Orthanc], dict[str, list[object]]]


def configuration(folder: Path, orthanc: Orthanc, modalities: Modalities, script: str | None) -> dict[str, object]:
    """Return Orthanc's configuration: everything in ``folder``, the modalities given, the Lua script if any."""
    lua: list[str] = []
    if script is not None:
        (folder / "script.lua").write_text(script, encoding="utf-8")
        lua.append(str(folder / "script.lua"))
    return {
        "Name": "DoseLedger test PACS",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "LuaScripts": lua,
        "DicomAet": orthanc.ae_title,
        "DicomPort": orthanc.dicom_port,
        "HttpPort": orthanc.http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomModalities": modalities(orthanc),
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


@contextlib.contextmanager
def running(folder: Path, ae_title: str, modalities: Modalities, script: str | None = None) -> Iterator[Orthanc]:
    """Run Orthanc from a configuration written to ``folder``; stop it afterwards."""
    executable = dcmtk.require("Orthanc", "orthanc")
    dicom_port, http_port, doseledger_port = distinct_free_ports(3)
    orthanc = Orthanc(ae_title, dicom_port, http_port, doseledger_port, folder / "orthanc.log")
    config = configuration(folder, orthanc, modalities, script)
    (folder / "orthanc.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    with orthanc.log.open("w") as log:
        process = subprocess.Popen(
            [executable, str(folder / "orthanc.json")],
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **dcmtk.NO_DELAY},
        )
    try:
        _wait_for_start(process, orthanc)
        yield orthanc
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
