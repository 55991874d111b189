"""The data layer: the only package that talks to MongoDB (pymongo and GridFS), behind one :class:`Store`.

Collections (DESIGN.md, "Collections"), one module each with its own
concurrency protocol:

- ``studies`` (:mod:`.studies`): one document per Study Instance UID, written
  with optimistic concurrency on ``revision``.
- ``event_log`` (:mod:`.event_log`): append-only, ``seq`` strictly increasing
  without gaps, never updated or deleted.
- ``originals`` (:mod:`.originals`, a GridFS bucket): the bytes received,
  keyed by their SHA-256.
- ``tallies`` (:mod:`.tallies`): studies per list modality and station with the
  latest study date-time, moved by every study write that changes them.
- ``standard_names`` and ``reference_levels`` (:mod:`.catalogue`).
- ``users``, ``tokens`` and ``sign_in_failures`` (:mod:`.accounts`).
- ``site`` (:mod:`.site`): named facts of the installation, such as the
  fingerprint of the patient-key secret.
- ``alert_rules``, ``alerts`` and the notification ``outbox`` (:mod:`.alerts`).
- ``pacs_nodes`` and ``pacs_moves`` (:mod:`.pacs`); ``pacs_runs`` and
  ``pacs_run_studies`` (:mod:`.runs`): query/retrieve from remote PACS.
- ``journal`` (:mod:`.journal`): a note of each study write in progress, so
  that one a stopped process left half done can be finished.

:mod:`.embedded` starts the embedded SecantusDB server when ``MONGODB_URI`` is unset.

Timestamps the service makes (``created_at``, ``updated_at``, ``received_at``,
the event log's ``at``) are UTC, stored and returned as naive datetimes like the
DICOM date-times beside them, which are the modality's local time as sent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pymongo
from pymongo.database import Database

from service.config import Settings
from service.storage import accounts, alerts, catalogue, event_log, journal, originals, pacs, runs, studies, tallies
from service.storage.accounts import AccountStore
from service.storage.alerts import AlertStore
from service.storage.catalogue import STANDARD_NAME_KEY, Catalogue
from service.storage.connection import deadline, guarded, ping_uri, utcnow
from service.storage.embedded import database_uri
from service.storage.event_log import EventLog, event_entry
from service.storage.journal import Journal
from service.storage.originals import Original, OriginalStore
from service.storage.pacs import PacsStore
from service.storage.runs import RunStore
from service.storage.site import SiteStore
from service.storage.studies import StudyStore

__all__ = [
    "STANDARD_NAME_KEY",
    "Original",
    "Store",
    "deadline",
    "event_entry",
    "open_store",
    "opened_store",
    "ping_uri",
    "utcnow",
]

#: seconds a heartbeat may wait for a busy server before pymongo gives it up (see Store.connect)
HEARTBEAT_TIMEOUT = 600.0
#: default seconds of each operation of an audit or an export (DOSELEDGER_DB_LONG_TIMEOUT)
LONG_TIMEOUT = 60.0

#: (collection, keys, options) created at start
INDEXES = (
    *studies.INDEXES,
    *tallies.INDEXES,
    *event_log.INDEXES,
    *originals.INDEXES,
    *catalogue.INDEXES,
    *accounts.INDEXES,
    *alerts.INDEXES,
    *pacs.INDEXES,
    *runs.INDEXES,
    *journal.INDEXES,
)


class Store(
    StudyStore, EventLog, OriginalStore, Catalogue, AccountStore, SiteStore, AlertStore, PacsStore, RunStore, Journal
):
    """Every collection of one DoseLedger database, each part with its own protocol (see the module)."""

    def __init__(
        self, client: pymongo.MongoClient[dict[str, Any]], db_name: str, *, long_timeout: float = LONG_TIMEOUT
    ) -> None:
        self.client = client
        self.db: Database[dict[str, Any]] = client[db_name]
        #: seconds each database operation of an audit or an export may take (see long_operations)
        self.long_timeout = long_timeout
        StudyStore.__init__(self)
        EventLog.__init__(self)
        OriginalStore.__init__(self)

    @classmethod
    def connect(cls, uri: str, db_name: str, *, timeout: float = 5.0, long_timeout: float = LONG_TIMEOUT) -> Store:
        """Open a client on ``uri`` (connections are made lazily) and bind database ``db_name``.

        ``timeout`` is the deadline of each operation (``timeoutMS``), the wait
        for a server included: past it the operation raises
        :class:`DatabaseUnavailable` (503). ``long_timeout`` is that of each
        operation inside :meth:`long_operations`. The connect timeout, which
        pymongo applies to its heartbeats, is at least
        :data:`HEARTBEAT_TIMEOUT`: SecantusDB answers no heartbeat while it is
        busy with another operation, and a missed heartbeat makes pymongo
        cancel the operations in flight; an operation's own connection
        attempts are bounded by its deadline all the same.
        """
        ms = int(timeout * 1000)
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            uri,
            timeoutMS=ms,
            serverSelectionTimeoutMS=ms,
            connectTimeoutMS=max(ms, int(HEARTBEAT_TIMEOUT * 1000)),
            appname="doseledger",
        )
        return cls(client, db_name, long_timeout=long_timeout)

    def long_operations(self) -> contextlib.AbstractContextManager[None]:
        """Give one database operation of an audit, an export or a recount the long deadline.

        Enter it around one bounded operation (a slice), not around a whole
        audit: the deadline counts for everything inside the block.
        """
        return deadline(self.long_timeout)

    def close(self) -> None:
        """Close the client and its connection pool."""
        self.client.close()

    @guarded
    def ping(self, timeout: float | None = None) -> None:
        """Check that the database answers (within ``timeout`` seconds); raise :class:`DatabaseUnavailable` if not."""
        with deadline(timeout) if timeout is not None else contextlib.nullcontext():
            self.db.command("ping")

    @guarded
    def ensure_indexes(self) -> None:
        """Create the indexes of :data:`INDEXES` (idempotent) and count the tallies once."""
        for collection, keys, options in INDEXES:
            with self.long_operations():  # building an index on a large collection takes a while
                self.db[collection].create_index(keys, **options)
        if not self.tallies_built():
            with self.long_operations():
                self.rebuild_tallies()


@contextlib.contextmanager
def opened_store(settings: Settings) -> Iterator[Store]:
    """Open the store for one command (:func:`open_store`) and close it afterwards."""
    store = open_store(settings)
    try:
        yield store
    finally:
        store.close()


def open_store(settings: Settings) -> Store:
    """Connect to the configured database (starting the embedded one if needed) and create indexes."""
    uri = database_uri(settings)
    store = Store.connect(uri, settings.db_name, timeout=settings.db_timeout, long_timeout=settings.db_long_timeout)
    try:
        store.ensure_indexes()
    except BaseException:
        store.close()
        raise
    return store
