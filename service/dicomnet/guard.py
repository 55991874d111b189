"""The SCP's side of each TCP connection: PDU sizes and times checked as the bytes arrive (PS3.8 9.3).

pynetdicom reads a whole PDU into memory before it looks at it, whatever length
its header declares, from anyone: an association request declaring 4 GiB grew
the server by hundreds of megabytes before the allow-list was consulted.
:class:`PduGuard` stands between pynetdicom and the socket (pynetdicom reads
PDUs from it in order, a 6-byte header then the body) and follows the PDU
boundaries in the stream, so that:

- a PDU whose header declares more than its type may carry is refused before
  its body is read: a P-DATA-TF over the maximum PDU length DoseLedger
  announced (``DOSELEDGER_SCP_MAX_PDU_BYTES``, PS3.8 D.1), any other PDU over
  :data:`OTHER_PDU_LIMIT` (an association request of 128 presentation
  contexts is some 20 KB);
- a PDU must arrive whole within ``idle_timeout`` seconds of its first byte,
  so that a sender trickling bytes holds its connection no longer than a
  silent one;
- the data of one object may not exceed the object size limit by more than
  :data:`DATA_SLACK` before the SCP answers it (pynetdicom spools it to disk
  until then).

A refusal is raised as :class:`PduRefused` (an OSError, which pynetdicom
treats as the connection closing) after an A-ABORT is sent.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

#: PS3.8 9.3.1: PDU types
P_DATA_TF = 0x04
PDU_NAMES = {1: "A-ASSOCIATE-RQ", 2: "A-ASSOCIATE-AC", 3: "A-ASSOCIATE-RJ", 4: "P-DATA-TF", 5: "A-RELEASE-RQ"}
#: the largest PDU other than P-DATA-TF accepted (an association request with user identity fits many times)
OTHER_PDU_LIMIT = 256 * 1024
#: command sets and PDV headers of one object, beyond its data set
DATA_SLACK = 1024 * 1024
#: A-ABORT (PS3.8 9.3.8): source 2 (service provider), reason 6 (invalid PDU parameter value)
ABORT = struct.pack(">BBLBBBB", 0x07, 0, 4, 0, 0, 2, 6)


class PduRefused(OSError):
    """A PDU broke a limit; the connection is closed."""


@dataclass(frozen=True)
class PduLimits:
    """What one connection may send."""

    max_pdu: int
    idle_timeout: float
    max_object_bytes: int


class PduGuard:
    """A socket that checks each PDU's declared length and arrival time as pynetdicom reads it.

    Everything but :meth:`recv` and :meth:`close` is the socket's own.
    """

    def __init__(self, sock: socket.socket, address: str, limits: PduLimits, on_close: Callable[[PduGuard], None]):
        self._socket = sock
        self.address = address
        self.limits = limits
        self.opened = time.monotonic()
        #: complete PDUs received: 0 until the association request has arrived
        self.pdus = 0
        #: whether the association was accepted (set by the SCP)
        self.associated = False
        self._on_close = on_close
        self._header = bytearray()
        self._body_left = 0
        self._deadline: float | None = None
        self._data_bytes = 0
        self._closed = threading.Event()
        self._timeout = sock.gettimeout()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._socket, name)

    def recv(self, size: int) -> bytes:
        """Receive up to ``size`` bytes of the current PDU, refusing it as soon as it breaks a limit."""
        if self._closed.is_set():
            return b""  # refused or evicted: what the peer sent after is not read
        if self._deadline is None:
            self._deadline = time.monotonic() + self.limits.idle_timeout
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            self._refuse(f"a PDU did not arrive whole within {self.limits.idle_timeout:g} s")
        self._socket.settimeout(remaining)
        try:
            data = self._socket.recv(size)
        except TimeoutError:
            self._refuse(f"a PDU did not arrive whole within {self.limits.idle_timeout:g} s")
        finally:
            with contextlib.suppress(OSError):
                self._socket.settimeout(self._timeout)  # sending keeps the socket's own
        self._follow(data)
        return data

    def _follow(self, data: bytes) -> None:
        """Track PDU boundaries over ``data``."""
        view = memoryview(data)
        while view:
            if self._body_left == 0 and len(self._header) < 6:
                taken = min(6 - len(self._header), len(view))
                self._header += view[:taken]
                view = view[taken:]
                if len(self._header) == 6:
                    self._start_body()
                continue
            taken = min(self._body_left, len(view))
            self._body_left -= taken
            view = view[taken:]
            if self._body_left == 0:
                self._end_pdu()

    def _start_body(self) -> None:
        """Check a complete header: the declared length against the limit of its type."""
        pdu_type, _, length = struct.unpack(">BBL", self._header)
        limit = self.limits.max_pdu if pdu_type == P_DATA_TF else OTHER_PDU_LIMIT
        if length > limit:
            name = PDU_NAMES.get(pdu_type, f"PDU type 0x{pdu_type:02X}")
            self._refuse(f"a {name} declares {length} bytes, more than the limit of {limit}")
        if pdu_type == P_DATA_TF:
            self._data_bytes += length
            if self._data_bytes > self.limits.max_object_bytes + DATA_SLACK:
                self._refuse(
                    f"it sent {self._data_bytes} bytes of data without an answer, more than the object limit of "
                    f"{self.limits.max_object_bytes} bytes (DOSELEDGER_MAX_UPLOAD_BYTES)"
                )
        self._body_left = length
        if length == 0:
            self._end_pdu()

    def _end_pdu(self) -> None:
        self._header.clear()
        self._deadline = None
        self.pdus += 1

    def answered(self) -> None:
        """Start counting the data of the next object: the SCP has answered one."""
        self._data_bytes = 0

    def _refuse(self, reason: str) -> None:
        """Abort the association (A-ABORT) and close the connection, saying why in the log."""
        log.warning("DICOM connection from %s closed: %s.", self.address, reason)
        with contextlib.suppress(OSError):
            self._socket.settimeout(1)
            self._socket.sendall(ABORT)
        self.evict()
        raise PduRefused(reason)

    def evict(self) -> None:
        """Shut the connection down from outside; pynetdicom's reader sees it closed."""
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._release()

    def shutdown(self, how: int) -> None:
        """Shut the socket down; one already shut down is no error (pynetdicom then skips closing it)."""
        with contextlib.suppress(OSError):
            self._socket.shutdown(how)

    def close(self) -> None:
        """Close the socket and give its place back."""
        self._socket.close()
        self._release()

    def _release(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._on_close(self)
