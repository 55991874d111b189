"""The Storage SCP: pynetdicom's server with DoseLedger's event handlers (PS3.4 Annex B, PS3.7 9.1.1).

Each association runs in its own thread (pynetdicom's threaded server), so a
slow or broken sender holds up only itself. Every connection is read through a
:class:`~service.dicomnet.guard.PduGuard` (PDU lengths and times checked before
anything is buffered) and let in by :class:`~service.dicomnet.admission.Admission`
(addresses, places per address and in all); an association, or a connection
that has not asked for one, that stays silent for ``idle_timeout`` seconds is
closed (pynetdicom's network and ACSE timeouts). The association request is
checked before anything else is read: the allow-list, the called AE title
(unless a router needs another), the number of associations. pynetdicom writes each data set to a temporary
file as its fragments arrive (``STORE_RECV_CHUNKED_DATASET``), so an object is
never held whole in memory before its size is checked. The C-STORE handler
passes that file *as received* (file meta information rebuilt from the
presentation context, the data set bytes untouched) to ``receive`` as a
:class:`~service.ingest.sources.Source` and answers the status of
:data:`service.dicomnet.status.STORE_STATUS` for the result. A handler error
becomes a logged failure status; the server carries on.

An object sent by a C-MOVE that a query/retrieve run asked for carries the run's
AE title and message ID (Move Originator, PS3.7 9.1.1.1); the SCP looks the move
up in the store (:mod:`service.storage.pacs`), so the event log names the node
and the run, and records what became of the object for the run, whichever
process runs the SCP.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pynetdicom import AE, _config, evt
from pynetdicom.association import Association
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.transport import ThreadedAssociationServer

from service import metrics
from service.config import DEFAULT_MAX_UPLOAD_BYTES, Settings
from service.dicomnet.acl import AllowList, Peer, Refusal
from service.dicomnet.admission import Admission
from service.dicomnet.guard import PduGuard, PduLimits
from service.dicomnet.presentation import add_contexts
from service.dicomnet.status import STORE_STATUS
from service.dicomnet.tls import server_context
from service.errors import ConfigurationError, DatabaseUnavailable
from service.ingest.batch import ingest_source
from service.ingest.pipeline import Outcome, Pipeline
from service.ingest.sources import Source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MoveOrigin:
    """The C-MOVE a C-STORE sub-operation belongs to: the originator's AE title and message ID (PS3.7 9.1.1.1).

    ``sender`` is the AE title of the node sending the sub-operation: pynetdicom's
    Move SCP names itself as the originator rather than the AE that asked for the
    move, so the store also recognises a move by its node's AE title.
    """

    ae_title: str
    message_id: int
    sender: str = ""


#: ``receive(source, client, move)`` ingests one object and returns its STORE_STATUS key
Receive = Callable[[Source, str, MoveOrigin | None], str]
#: ``refused(client, reason)`` records a refused association
Refused = Callable[[str, str], None]

#: A-ASSOCIATE-RJ result, source and reason (PS3.8 Table 9-21)
REJECTED_PERMANENT, REJECTED_TRANSIENT = 0x01, 0x02
SERVICE_USER, SERVICE_PROVIDER_PRESENTATION = 0x01, 0x03
CALLED_AE_TITLE_NOT_RECOGNIZED, LOCAL_LIMIT_EXCEEDED = 0x07, 0x02


#: association events counted in service.metrics, with their outcome (EVT_REJECTED: pynetdicom's own refusals)
ASSOCIATION_OUTCOMES = {evt.EVT_ACCEPTED: "accepted", evt.EVT_REJECTED: "rejected", evt.EVT_ABORTED: "aborted"}


def _counter(outcome: str) -> Callable[[evt.Event], None]:
    """Return a handler that counts an association event as ``outcome``."""

    def count(event: evt.Event) -> None:
        metrics.count_association(outcome)

    return count


class StorageSCP:
    """A Storage and Verification SCP that hands every object it receives to ``receive``."""

    def __init__(
        self,
        receive: Receive,
        refused: Refused,
        *,
        ae_title: str,
        host: str,
        port: int,
        allow: AllowList | None = None,
        max_associations: int = 16,
        per_address: int = 4,
        limits: PduLimits | None = None,
        require_called_ae_title: bool = True,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._receive = receive
        self._refused = refused
        self._address = (host, port)
        self._port = port
        self._allow = allow or AllowList()
        self._admission = Admission(max_associations=max_associations, per_address=per_address)
        self.limits = limits or PduLimits(max_pdu=65536, idle_timeout=10.0, max_object_bytes=DEFAULT_MAX_UPLOAD_BYTES)
        self._require_called_ae_title = require_called_ae_title
        self._tls = tls
        self.ae = AE(ae_title)
        # Admission counts associations; pynetdicom's own count (connections included) is only a backstop.
        self.ae.maximum_associations = 2 * max_associations
        self.ae.maximum_pdu_size = self.limits.max_pdu
        self.ae.network_timeout = self.ae.acse_timeout = self.ae.dimse_timeout = self.limits.idle_timeout
        add_contexts(self.ae)
        self._server: ThreadedAssociationServer | None = None
        self._in_flight = 0
        self._closing = False
        self._idle = threading.Condition()

    @classmethod
    def for_pipeline(
        cls, pipeline: Pipeline, settings: Settings, *, port: int | None = None, ae_title: str | None = None
    ) -> StorageSCP:
        """Build the SCP that ``settings`` describe, ingesting into ``pipeline`` with ``via="dicom"``."""

        def receive(source: Source, client: str, move: MoveOrigin | None) -> str:
            found = pipeline.store.find_move(move.ae_title, move.message_id, move.sender) if move else None
            origin = {"node": found["node"], "run": found["run"]} if found else None
            outcome = ingest_source(pipeline, source, via="dicom", client=client, origin=origin)
            if found:
                pipeline.store.record_move_arrival(found["_id"], source.name, outcome.outcome, outcome.code)
            return status_key(outcome)

        def refused(client: str, message: str) -> None:
            pipeline.store.append_event("association-refused", via="dicom", client=client, message=message)

        return cls(
            receive,
            refused,
            ae_title=ae_title or settings.scp_ae_title,
            host=settings.scp_host,
            port=settings.scp_port if port is None else port,
            allow=AllowList.parse(settings.scp_allowed_ae_titles, settings.scp_allowed_addresses),
            max_associations=settings.scp_max_associations,
            per_address=settings.scp_max_associations_per_address,
            limits=PduLimits(settings.scp_max_pdu_bytes, settings.scp_idle_timeout, pipeline.max_bytes),
            require_called_ae_title=settings.scp_require_called_ae_title,
            tls=server_context(settings),
        )

    @property
    def port(self) -> int:
        """Return the TCP port the server listens on (the one chosen when started on port 0)."""
        return self._port

    def start(self) -> None:
        """Start listening in a background thread."""
        _config.STORE_RECV_CHUNKED_DATASET = True  # pynetdicom's documented switch; it deletes the file after
        handlers = [
            (evt.EVT_REQUESTED, self._on_requested),
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_CONN_CLOSE, self._on_closed),
            *((event, _counter(outcome)) for event, outcome in ASSOCIATION_OUTCOMES.items()),
        ]
        try:
            self._server = self.ae.start_server(
                self._address, block=False, evt_handlers=handlers, ssl_context=self._tls
            )
        except OSError as e:
            raise ConfigurationError(
                f"The DICOM Storage SCP cannot listen on {self._address[0]}:{self._address[1]} ({e}); "
                "choose another DOSELEDGER_SCP_PORT (or --port), or set DOSELEDGER_SCP_ENABLED=false."
            ) from e
        self._guard_connections(self._server)
        self._port = int(self._server.server_address[1])
        server = self._server
        metrics.watch_open_associations(lambda: len(server.active_associations))
        tls = " (TLS)" if self._tls else ""
        log.info("DICOM Storage SCP %s listening on %s:%d%s", self.ae.ae_title, self._address[0], self.port, tls)

    def stop(self, grace: float = 10.0) -> None:
        """Stop accepting associations, let open ones finish for ``grace`` seconds, then abort the rest.

        Objects already being written are finished before this returns; an
        object that arrives after the grace period is refused with a failure
        status, so its sender keeps it and sends it again later.
        """
        if self._server is None:
            return
        server, self._server = self._server, None
        socketserver.BaseServer.shutdown(server)  # stop the accept loop only; connections stay open
        self._wait_for_associations(server, time.monotonic() + grace)
        with self._idle:
            self._closing = True
        for assoc in server.active_associations:
            self._end(assoc)
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0)
        server.shutdown()
        log.info("DICOM Storage SCP %s stopped", self.ae.ae_title)

    def _guard_connections(self, server: ThreadedAssociationServer) -> None:
        """Read every new connection through a PduGuard, once Admission lets it in (else close it unread)."""
        process = server.process_request

        def admit(request: socket.socket, client_address: tuple[str, int]) -> None:
            address = str(client_address[0])
            guard = self._admission.connect(address, lambda closed: PduGuard(request, address, self.limits, closed))
            if guard is None:
                server.shutdown_request(request)
                return
            process(guard, client_address)  # type: ignore[arg-type]

        server.process_request = admit  # type: ignore[method-assign]

    @staticmethod
    def _end(assoc: Association) -> None:
        """Abort an association; close a connection that has not associated (it cannot take an A-ABORT)."""
        guard = getattr(assoc.dul.socket, "socket", None)
        if assoc.is_established or not isinstance(guard, PduGuard):
            assoc.abort()
        else:
            guard.evict()

    @staticmethod
    def _wait_for_associations(server: ThreadedAssociationServer, deadline: float) -> None:
        """Wait until no association is open or the deadline passes."""
        while server.active_associations and time.monotonic() < deadline:
            time.sleep(0.05)

    def _on_requested(self, event: evt.Event) -> None:
        """Refuse a peer outside the allow-list, calling another AE, or over the limits (PS3.8 7.1.1.7)."""
        assoc: Association = event.assoc
        primitive = assoc.requestor.primitive
        peer = Peer(primitive.calling_ae_title, assoc.requestor.address)
        refusal = self._allow.refusal(peer) or self._called_refusal(str(primitive.called_ae_title).strip())
        if refusal is not None:
            message = f"Association from {peer.client} refused: {refusal.reason}."
            self._log_refusal(peer, message)
            self._reject(assoc, REJECTED_PERMANENT, SERVICE_USER, refusal.diagnostic)
            return
        guard = getattr(assoc.dul.socket, "socket", None)
        over = self._admission.associate(guard) if isinstance(guard, PduGuard) else None
        if over is not None:
            log.warning("Association from %s refused for now: %s.", peer.client, over)
            metrics.count_association("rejected")
            self._reject(assoc, REJECTED_TRANSIENT, SERVICE_PROVIDER_PRESENTATION, LOCAL_LIMIT_EXCEEDED)

    def _called_refusal(self, called: str) -> Refusal | None:
        """Refuse an association addressed to another AE title, unless told not to (a router's)."""
        if not self._require_called_ae_title or called == self.ae.ae_title.strip():
            return None
        reason = (
            f"it called AE title {called!r}, not {self.ae.ae_title!r} "
            "(DOSELEDGER_SCP_REQUIRE_CALLED_AE_TITLE=false accepts any)"
        )
        return Refusal(reason, CALLED_AE_TITLE_NOT_RECOGNIZED)

    def _log_refusal(self, peer: Peer, message: str) -> None:
        log.warning("%s", message)
        metrics.count_association("rejected")
        try:
            self._refused(peer.client, message)
        except Exception:
            log.exception("The refusal of %s could not be written to the event log", peer.client)

    @staticmethod
    def _reject(assoc: Association, result: int, source: int, diagnostic: int) -> None:
        assoc.acse.send_reject(result, source, diagnostic)
        assoc.kill()

    @staticmethod
    def _on_closed(event: evt.Event) -> None:
        """Delete the spool file of a data set whose transfer the connection's end cut short.

        pynetdicom deletes a spool file once its C-STORE is answered, but not
        the one of a message still arriving when the sender aborts or vanishes.
        """
        message = getattr(event.assoc.dimse, "message", None)
        spool = getattr(message, "_data_set_file", None)  # pynetdicom's own, for want of a public hook
        if spool is None:
            return
        spool.close()
        with contextlib.suppress(OSError):
            os.unlink(spool.name)
        log.info("Deleted the spool file of an object whose transfer ended with its connection")

    def _on_store(self, event: evt.Event) -> int:
        """Ingest one C-STORE data set and answer its status (PS3.4 B.2.3)."""
        with self._idle:
            if self._closing:
                return STORE_STATUS["shutting-down"]
            self._in_flight += 1
        try:
            return STORE_STATUS[self._ingest(event)]
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()
            self._answered(event.assoc)

    @staticmethod
    def _answered(assoc: Association) -> None:
        """Start the next object's data count, and its silence from now: ingest time is not the sender's."""
        guard = getattr(assoc.dul.socket, "socket", None)
        if isinstance(guard, PduGuard):
            guard.answered()
        idle = getattr(assoc.dul, "_idle_timer", None)  # pynetdicom's, restarted only when a PDU arrives
        if idle is not None:
            idle.restart()

    def _ingest(self, event: evt.Event) -> str:
        """Run ingest on the data set as received; turn errors into status keys."""
        requestor = event.assoc.requestor
        client = Peer(requestor.ae_title, requestor.address).client
        move = move_origin(event.request, requestor.ae_title)
        return receive_safely(lambda source: self._receive(source, client, move), event, client)


def status_key(outcome: Outcome) -> str:
    """Return the STORE_STATUS key of an ingest outcome: a rejection answered as such, else ``written``."""
    return outcome.code if outcome.code in STORE_STATUS else "written"


def move_origin(request: C_STORE, sender: str) -> MoveOrigin | None:
    """Return the C-MOVE a C-STORE request from ``sender`` belongs to, or None when it is a C-STORE of its own."""
    ae_title = getattr(request, "MoveOriginatorApplicationEntityTitle", None)
    message_id = getattr(request, "MoveOriginatorMessageID", None)
    if not ae_title or message_id is None:
        return None
    return MoveOrigin(str(ae_title).strip(), int(message_id), str(sender).strip())


def source_of(event: evt.Event) -> Source:
    """Return the data set of a C-STORE request as received: its spool file, or its bytes in memory."""
    name = str(event.request.AffectedSOPInstanceUID)
    try:
        path = event.dataset_path
    except AttributeError:  # STORE_RECV_CHUNKED_DATASET is off in this process: the data set is in memory
        data = event.encoded_dataset()
        return Source(name, len(data), lambda: data)
    return Source(name, path.stat().st_size, path.read_bytes)


def receive_safely(receive: Callable[[Source], str], event: evt.Event, client: str) -> str:
    """Hand a C-STORE data set to ``receive``; turn errors into status keys, logging them."""
    name = str(event.request.AffectedSOPInstanceUID)
    try:
        return receive(source_of(event))
    except DatabaseUnavailable as e:
        log.warning("Refused %s from %s for now: %s", name, client, e)
        return "database-unavailable"
    except Exception:
        log.exception("Ingest of %s from %s failed", name, client)
        return "failed"
