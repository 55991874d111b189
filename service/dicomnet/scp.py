"""The Storage SCP: pynetdicom's server with DoseLedger's event handlers (PS3.4 Annex B, PS3.7 9.1.1).

Each association runs in its own thread (pynetdicom's threaded server), so a
slow or broken sender holds up only itself; pynetdicom's network timeout ends an
association that goes quiet. pynetdicom writes each data set to a temporary
file as its fragments arrive (``STORE_RECV_CHUNKED_DATASET``), so an object is
never held whole in memory before its size is checked. The C-STORE handler
passes that file *as received* (file meta information rebuilt from the
presentation context, the data set bytes untouched) to ``receive`` as a
:class:`~service.ingest.sources.Source` and answers the status of
:data:`service.dicomnet.status.STORE_STATUS` for the result. A handler error
becomes a logged failure status; the server carries on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socketserver
import threading
import time
from collections.abc import Callable

from pynetdicom import AE, _config, evt
from pynetdicom.association import Association
from pynetdicom.transport import ThreadedAssociationServer

from service.config import Settings
from service.dicomnet.acl import AllowList, Peer
from service.dicomnet.presentation import add_contexts
from service.dicomnet.status import STORE_STATUS
from service.errors import ConfigurationError, DatabaseUnavailable
from service.ingest.batch import ingest_source
from service.ingest.pipeline import Pipeline
from service.ingest.sources import Source

log = logging.getLogger(__name__)

#: ``receive(source, client)`` ingests one object and returns its STORE_STATUS key
Receive = Callable[[Source, str], str]
#: ``refused(client, reason)`` records a refused association
Refused = Callable[[str, str], None]

#: A-ASSOCIATE-RJ result and source for a refused peer (PS3.8 Table 9-21)
REJECTED_PERMANENT = 0x01
SERVICE_USER = 0x01


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
    ) -> None:
        self._receive = receive
        self._refused = refused
        self._address = (host, port)
        self._port = port
        self._allow = allow or AllowList()
        self.ae = AE(ae_title)
        self.ae.maximum_associations = max_associations
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

        def receive(source: Source, client: str) -> str:
            outcome = ingest_source(pipeline, source, via="dicom", client=client)
            return outcome.code if outcome.code in STORE_STATUS else "written"

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
        ]
        try:
            self._server = self.ae.start_server(self._address, block=False, evt_handlers=handlers)
        except OSError as e:
            raise ConfigurationError(
                f"The DICOM Storage SCP cannot listen on {self._address[0]}:{self._address[1]} ({e}); "
                "choose another DOSELEDGER_SCP_PORT (or --port), or set DOSELEDGER_SCP_ENABLED=false."
            ) from e
        self._port = int(self._server.server_address[1])
        log.info("DICOM Storage SCP %s listening on %s:%d", self.ae.ae_title, self._address[0], self.port)

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
            assoc.abort()
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0)
        server.shutdown()
        log.info("DICOM Storage SCP %s stopped", self.ae.ae_title)

    @staticmethod
    def _wait_for_associations(server: ThreadedAssociationServer, deadline: float) -> None:
        """Wait until no association is open or the deadline passes."""
        while server.active_associations and time.monotonic() < deadline:
            time.sleep(0.05)

    def _on_requested(self, event: evt.Event) -> None:
        """Refuse an association from a peer outside the allow-list (PS3.8 7.1.1.7)."""
        assoc: Association = event.assoc
        peer = Peer(assoc.requestor.primitive.calling_ae_title, assoc.requestor.address)
        refusal = self._allow.refusal(peer)
        if refusal is None:
            return
        message = f"Association from {peer.client} refused: {refusal.reason}."
        log.warning("%s", message)
        try:
            self._refused(peer.client, message)
        except Exception:
            log.exception("The refusal of %s could not be written to the event log", peer.client)
        assoc.acse.send_reject(REJECTED_PERMANENT, SERVICE_USER, refusal.diagnostic)
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

    def _ingest(self, event: evt.Event) -> str:
        """Run ingest on the data set as received; turn errors into status keys."""
        requestor = event.assoc.requestor
        client = Peer(requestor.ae_title, requestor.address).client
        name = str(event.request.AffectedSOPInstanceUID)
        path = event.dataset_path
        try:
            return self._receive(Source(name, path.stat().st_size, path.read_bytes), client)
        except DatabaseUnavailable as e:
            log.warning("Refused %s from %s for now: %s", name, client, e)
            return "database-unavailable"
        except Exception:
            log.exception("Ingest of %s from %s failed", name, client)
            return "failed"
