"""C-ECHO to a Verification SCP (PS3.4 Annex A, PS3.7 9.1.5): the Storage SCP's health check."""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass

from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

#: seconds to wait for the association and the answer
TIMEOUT = 10.0


@dataclass(frozen=True)
class EchoResult:
    """What the C-ECHO found."""

    ok: bool
    message: str


def echo(host: str, port: int, *, ae_title: str, calling: str, tls: ssl.SSLContext | None) -> EchoResult:
    """Associate with ``ae_title`` at ``host:port``, send C-ECHO, release; say what happened."""
    ae = AE(calling)
    ae.add_requested_context(Verification)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = TIMEOUT
    ae.connection_timeout = TIMEOUT
    where = f"{ae_title}@{host}:{port}" + (" (TLS)" if tls else "")
    started = time.monotonic()
    try:  # first a plain connection: pynetdicom reports a refused one only in its log
        socket.create_connection((host, port), timeout=TIMEOUT).close()
    except OSError as e:
        return EchoResult(False, f"C-ECHO to {where}: nothing answers ({e.strerror or e}).")
    assoc = ae.associate(host, port, ae_title=ae_title, tls_args=(tls, host) if tls else None)
    if not assoc.is_established:
        _close_socket(assoc)
        if assoc.is_rejected:
            return EchoResult(False, f"C-ECHO to {where}: the association was rejected (is {calling} allowed?).")
        return EchoResult(False, f"C-ECHO to {where}: no association (a TLS mismatch, or not a DICOM service).")
    try:
        status = assoc.send_c_echo()
    finally:
        assoc.release()
    elapsed = (time.monotonic() - started) * 1000
    if status and status.Status == 0x0000:
        return EchoResult(True, f"C-ECHO to {where}: success (0x0000) in {elapsed:.0f} ms.")
    answer = f"status {status.Status:#06x}" if status else "no answer"
    return EchoResult(False, f"C-ECHO to {where}: {answer}.")


def _close_socket(assoc: Association) -> None:
    """Close the socket of a failed association, which pynetdicom 3 leaves open when the peer dropped it first.

    Its ``AssociationSocket._shutdown_socket`` closes only after a successful
    ``shutdown()``, which fails on a connection the peer already ended (a TLS
    SCP hanging up on a plain A-ASSOCIATE-RQ).
    """
    transport = getattr(assoc.dul, "socket", None)
    raw = getattr(transport, "socket", None)
    if isinstance(raw, socket.socket):
        raw.close()
