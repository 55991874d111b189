"""Associations with a remote node: opened with the presentation contexts a service needs, or refused with why.

Every failure to associate is a :class:`~service.errors.PacsError` whose message
names the node and says what happened (the connection refused, no answer within
``DOSELEDGER_PACS_TIMEOUT``, the A-ASSOCIATE-RJ result, source and reason of
PS3.8 Table 9-21, a context the node would not accept), so that a run can
report it per study and carry on.

The connection is made with Nagle's algorithm off (``TCP_NODELAY``): pynetdicom
sends a request's command and data set in separate writes, and with Nagle's
algorithm on the second waits for the peer's delayed ACK of the first (some 40 ms
on Linux), which made each C-FIND to Orthanc take 50 ms instead of 5.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator, Sequence
from ssl import SSLContext

from pynetdicom import AE, DEFAULT_TRANSFER_SYNTAXES, evt
from pynetdicom.association import Association
from pynetdicom.events import EventHandlerType
from pynetdicom.pdu_primitives import SCP_SCU_RoleSelectionNegotiation
from pynetdicom.sop_class import Verification
from pynetdicom.transport import AddressInformation, AssociationSocket

from service.dicomnet.nodes import Node
from service.errors import PacsError

#: a requested presentation context: abstract syntax and the transfer syntaxes proposed for it
Context = tuple[str, Sequence[str]]


class _ClosingSocket(AssociationSocket):
    """pynetdicom's socket, closed even when its connection failed.

    pynetdicom shuts a socket down before closing it, and a socket that never
    connected refuses the shutdown, so it is left for the garbage collector to
    close (with a ResourceWarning) whenever a node refuses the connection.
    """

    def _shutdown_socket(self) -> None:
        super()._shutdown_socket()
        if self.socket is not None:
            with contextlib.suppress(OSError):
                self.socket.close()


class _AE(AE):
    """pynetdicom's application entity, with sockets that are always closed (:class:`_ClosingSocket`)."""

    def _create_socket(
        self, assoc: Association, address: AddressInformation, tls_args: tuple[SSLContext, str] | None
    ) -> AssociationSocket:
        sock = _ClosingSocket(assoc, address=address)
        sock.tls_args = tls_args
        return sock


def make_ae(calling_ae_title: str, timeout: float) -> AE:
    """Return an application entity whose every wait (connect, ACSE, DIMSE, network) is ``timeout``."""
    ae = _AE(calling_ae_title)
    ae.connection_timeout = timeout
    ae.acse_timeout = timeout
    ae.dimse_timeout = timeout
    ae.network_timeout = timeout
    return ae


def open_association(
    node: Node,
    calling_ae_title: str,
    timeout: float,
    contexts: Sequence[Context],
    *,
    roles: Sequence[SCP_SCU_RoleSelectionNegotiation] = (),
    handlers: Sequence[EventHandlerType] = (),
) -> Association:
    """Return an established association with ``node`` proposing ``contexts``; raise PacsError saying why not."""
    ae = make_ae(calling_ae_title, timeout)
    for abstract_syntax, transfer_syntaxes in contexts:
        ae.add_requested_context(abstract_syntax, list(transfer_syntaxes) or DEFAULT_TRANSFER_SYNTAXES)
    connected: list[bool] = []

    def on_connected(event: evt.Event) -> None:
        connected.append(True)
        _no_delay(event)

    assoc = ae.associate(
        node.host,
        node.port,
        ae_title=node.ae_title,
        ext_neg=list(roles) or None,
        evt_handlers=[(evt.EVT_CONN_OPEN, on_connected), *handlers],
    )
    if not assoc.is_established:
        raise PacsError(refusal(node, assoc, timeout, connected=bool(connected)))
    _check_contexts(node, assoc, contexts)
    return assoc


@contextlib.contextmanager
def associate(
    node: Node,
    calling_ae_title: str,
    timeout: float,
    contexts: Sequence[Context],
    *,
    roles: Sequence[SCP_SCU_RoleSelectionNegotiation] = (),
    handlers: Sequence[EventHandlerType] = (),
) -> Iterator[Association]:
    """Yield an association with ``node`` proposing ``contexts``; release it afterwards (abort on an error)."""
    assoc = open_association(node, calling_ae_title, timeout, contexts, roles=roles, handlers=handlers)
    try:
        yield assoc
    except BaseException:
        assoc.abort()
        raise
    else:
        if assoc.is_established:
            assoc.release()


def _no_delay(event: evt.Event) -> None:
    """Turn Nagle's algorithm off on the association's connection (see the module's docstring)."""
    event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def settle(assoc: Association, timeout: float = 1.0) -> None:
    """Wait until pynetdicom's reactor has woken up after a finished request, before the next one is sent.

    pynetdicom unpauses an association's reactor thread as the final response
    of a request is handed over; a request sent before that thread has woken
    finds it still marked paused, and the thread may then take the new request's
    first response off the queue and drop it ("Received unexpected C-FIND service
    message": pydicom/pynetdicom#875, a C-FIND answer lost). Seen here with quick
    answers over TCP_NODELAY; waiting for the thread to leave its pause closes the gap.
    """
    deadline = time.monotonic() + timeout
    while getattr(assoc, "_is_paused", False) and assoc.is_established and time.monotonic() < deadline:
        time.sleep(0.0001)


def refusal(node: Node, assoc: Association, timeout: float, *, connected: bool) -> str:
    """Say why an association with ``node`` was not established (PS3.8 Table 9-21)."""
    answer = assoc.acceptor.primitive
    calling = assoc.requestor.ae_title
    if assoc.is_rejected and answer is not None:
        return (
            f"{node.address} rejected the association ({answer.result_str}, source: {answer.source_str}, "
            f"reason: {answer.reason_str}); check that it knows DoseLedger's AE title {calling!r} at this address."
        )
    if not connected:
        return f"{node.address} could not be reached (connection refused, or no answer within {timeout:g} s)."
    if assoc.is_aborted and answer is None:
        return (
            f"{node.address} aborted the association request; check that it knows DoseLedger's AE title "
            f"{calling!r} at this address."
        )
    return f"{node.address} did not answer the association request within {timeout:g} s."


def _check_contexts(node: Node, assoc: Association, contexts: Sequence[Context]) -> None:
    """Refuse an association on which the node accepted none of the first context (the service's own)."""
    service = contexts[0][0]
    if not any(cx.abstract_syntax == service for cx in assoc.accepted_contexts):
        assoc.release()
        raise PacsError(f"{node.address} does not offer the service {service} that DoseLedger asked for.")


def echo(node: Node, calling_ae_title: str, timeout: float) -> float:
    """Send a C-ECHO to ``node`` (PS3.7 9.1.5) and return the seconds it took; raise PacsError on failure."""
    start = time.perf_counter()
    with associate(node, calling_ae_title, timeout, [(Verification, ())]) as assoc:
        status = assoc.send_c_echo()
    if status.get("Status") != 0x0000:
        got = f"status {status.Status:#06x}" if "Status" in status else "no answer"
        raise PacsError(f"{node.address} answered the C-ECHO with {got}.")
    return time.perf_counter() - start
