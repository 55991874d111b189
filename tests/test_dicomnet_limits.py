"""The SCP's limits on the network: PDU sizes and times, the called AE title, places per address and in all.

Before: an association request declaring 4 GiB was read into memory as it
streamed, from anyone; ``storescu -aec WRONGAE`` succeeded; sixteen silent
associations from anyone filled every place for 60 s. Everything here is on
the loopback (127.0.0.x), bounded in time.
"""

from __future__ import annotations

import socket
import struct
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.sop_class import Verification

from service.dicomnet.acl import AllowList
from service.dicomnet.guard import ABORT, PduLimits
from service.dicomnet.scp import StorageSCP
from service.ingest.sources import Source
from tests import dcmtk
from tests.samples import ct_report

IDLE = 1.0


class Received:
    """A ``receive`` that keeps the names of the objects and answers Success."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.refusals: list[str] = []

    def receive(self, source: Source, client: str) -> str:
        self.names.append(source.name)
        return "written"

    def refused(self, client: str, message: str) -> None:
        self.refusals.append(message)


@pytest.fixture
def received() -> Received:
    return Received()


@pytest.fixture
def start(received: Received) -> Iterator[Callable[..., StorageSCP]]:
    started: list[StorageSCP] = []

    def start(**options: Any) -> StorageSCP:
        options.setdefault("limits", PduLimits(max_pdu=16384, idle_timeout=IDLE, max_object_bytes=1 << 20))
        scp = StorageSCP(received.receive, received.refused, ae_title="DOSELEDGER", host="127.0.0.1", port=0, **options)
        scp.start()
        started.append(scp)
        return scp

    yield start
    for scp in started:
        scp.stop(grace=0)


def associate(port: int, *, source: str = "127.0.0.1", called: str = "DOSELEDGER", contexts: int = 1) -> Any:
    """Return a pynetdicom association (established or not) from ``source`` to the SCP."""
    ae = AE("MODALITY")
    ae.acse_timeout = ae.network_timeout = 10
    ae.add_requested_context(Verification)
    ae.add_requested_context(ct_report().SOPClassUID, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", port, ae_title=called, bind_address=(source, 0))
    _associations.append(assoc)
    return assoc


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    """Open a TCP connection to the SCP from ``source`` and send nothing."""
    return socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))


@pytest.fixture(autouse=True)
def _close_sockets() -> Iterator[None]:
    """Close the test's raw sockets at its end, whatever happened."""
    yield
    while _open:
        _open.pop().close()
    while _associations:
        assoc = _associations.pop()
        if assoc.is_established:
            assoc.release()
        if assoc.dul.socket is not None and assoc.dul.socket.socket is not None:
            assoc.dul.socket.socket.close()


_open: list[socket.socket] = []
_associations: list[Any] = []


def closing(sock: socket.socket) -> socket.socket:
    """Remember ``sock`` so that it is closed when the test ends."""
    _open.append(sock)
    return sock


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Tell whether the SCP closes ``sock`` (anything it sends before, such as an A-ABORT, is read) in time."""
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def test_an_association_request_declaring_4_gib_is_refused_before_its_body(start: Callable[..., StorageSCP]) -> None:
    scp = start()
    tracemalloc.start()
    try:
        sock = closing(connect(scp.port))
        sock.sendall(struct.pack(">BBL", 0x01, 0, 0xFFFFFFF0))
        sent = 0
        try:
            for _ in range(256):  # up to 32 MiB, as long as the SCP reads
                sock.sendall(bytes(128 * 1024))
                sent += 128 * 1024
        except OSError:  # the SCP closed the connection
            pass
        reply = sock.recv(64)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reply == ABORT
    assert peak < 4 << 20, f"{peak} bytes traced after {sent} sent"


# pynetdicom's requestor (the test's sender) drops its socket unclosed when shutting it down fails after the abort
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_p_data_pdu_over_the_negotiated_maximum_aborts(
    start: Callable[..., StorageSCP], received: Received, monkeypatch: pytest.MonkeyPatch
) -> None:
    scp = start()
    assoc = associate(scp.port)
    assert assoc.is_established and assoc.acceptor.maximum_length == 16384
    # a sender that ignores the maximum: the data set in one PDU
    monkeypatch.setattr(DIMSEServiceProvider, "maximum_pdu_size", property(lambda self: 0))
    report = ct_report()
    report.ImageComments = "x" * 40_000
    status = assoc.send_c_store(report)
    time.sleep(0.2)
    assert not status and (assoc.is_aborted or not assoc.is_established)
    assert received.names == []


def test_a_pdu_trickling_in_is_closed_after_the_idle_time(start: Callable[..., StorageSCP]) -> None:
    scp = start()
    sock = closing(connect(scp.port))
    sock.sendall(struct.pack(">BBL", 0x01, 0, 100) + b"\x00" * 10)  # the request begins, then nothing
    began = time.monotonic()
    assert closed_within(sock, 5)
    assert IDLE * 0.8 < time.monotonic() - began < IDLE + 3


def test_a_connection_that_asks_nothing_is_closed_after_the_idle_time(start: Callable[..., StorageSCP]) -> None:
    scp = start()
    sock = closing(connect(scp.port))
    began = time.monotonic()
    assert closed_within(sock, 5)
    assert time.monotonic() - began < IDLE + 3


def test_an_idle_association_is_closed(start: Callable[..., StorageSCP]) -> None:
    scp = start()
    assoc = associate(scp.port)
    assert assoc.is_established
    time.sleep(IDLE + 1.5)
    assert not assoc.is_established and assoc.is_aborted


def test_a_called_ae_title_other_than_ours_is_rejected(start: Callable[..., StorageSCP], received: Received) -> None:
    dcmtk.require("echoscu")
    scp = start()
    done = dcmtk.echoscu(scp.port, called="WRONGAE")
    assert done.returncode != 0 and "Called AE Title Not Recognized" in done.stderr
    assert received.refusals == [
        "Association from ECHOSCU@127.0.0.1 refused: it called AE title 'WRONGAE', not 'DOSELEDGER' "
        "(DOSELEDGER_SCP_REQUIRE_CALLED_AE_TITLE=false accepts any)."
    ]
    assert dcmtk.echoscu(scp.port).returncode == 0


def test_a_router_may_call_any_ae_title_when_configured(start: Callable[..., StorageSCP]) -> None:
    dcmtk.require("echoscu")
    scp = start(require_called_ae_title=False)
    assert dcmtk.echoscu(scp.port, called="ROUTED_AE").returncode == 0


def test_associations_per_address_are_limited(start: Callable[..., StorageSCP]) -> None:
    scp = start(per_address=2)
    held = [associate(scp.port) for _ in range(2)]
    assert all(assoc.is_established for assoc in held)
    third = associate(scp.port)
    assert third.is_rejected
    other = associate(scp.port, source="127.0.0.2")
    assert other.is_established


def test_silent_connections_make_room_for_a_sender(start: Callable[..., StorageSCP]) -> None:
    """Sixteen connections that say nothing hold every place; echoscu still gets one at once."""
    dcmtk.require("echoscu")
    scp = start(max_associations=16, per_address=4, allow=AllowList.parse(["ECHOSCU"], []))
    silent = [closing(connect(scp.port, f"127.0.0.{2 + n // 4}")) for n in range(16)]
    time.sleep(0.2)
    began = time.monotonic()
    assert dcmtk.echoscu(scp.port).returncode == 0
    assert time.monotonic() - began < IDLE  # not after the silent ones timed out
    assert sum(closed_within(sock, 0.05) for sock in silent) >= 1
