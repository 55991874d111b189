"""The data layer: the only module that talks to MongoDB (pymongo and GridFS).

Collections (DESIGN.md, "Collections"):

- ``studies``: one document per Study Instance UID, written with optimistic
  concurrency on ``revision`` so that concurrent imports of parts of one study
  never lose an event nor create a second document.
- ``event_log``: append-only, ``seq`` strictly increasing without gaps (a unique
  index; see :meth:`Store.append_events`), never updated or deleted.
- ``originals`` (GridFS bucket): the bytes received, keyed by their SHA-256.
- ``tallies``: studies per list modality and station with the latest study
  date-time (:mod:`service.storage.tallies`), moved by every study write that changes
  them, so the home page and unfiltered list totals never count the collection.
  A write that removes a study must move them too (``tally_changes(document, None)``).

Timestamps the service makes (``created_at``, ``updated_at``, ``received_at``,
the event log's ``at``) are UTC, stored and returned as naive datetimes like the
DICOM date-times beside them, which are the modality's local time as sent.
"""

from __future__ import annotations

import contextlib
import functools
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

import gridfs
import pymongo
from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError, PyMongoError

from schemas.study import validate_study
from service.errors import DatabaseUnavailable, NotFound
from service.ingest.merge import MergeResult, merge
from service.storage.recent import Recent
from service.storage.tallies import Key, tally_changes, tally_documents

P = ParamSpec("P")
R = TypeVar("R")

#: attempts of the read-merge-write cycle before giving up on a hot study
MAX_SAVE_ATTEMPTS = 64
#: how many Study Instance UIDs a store remembers having written (a hint, see save_fragment)
RECENT_STUDIES = 10_000
#: inserts of one append whose numbers another process took first, before giving up
_EVENT_LOG_ATTEMPTS = 100
ORIGINALS_BUCKET = "originals"
#: MongoDB's error code of a unique-index violation
DUPLICATE_KEY = 11000
#: GridFS's default chunk size (255 KiB). keep_original writes the bucket's documents
#: itself: pymongo's uploader looks for an existing file with an unfiltered find_one on
#: every upload, which SecantusDB answers by reading the whole collection (O(n) per upload).
GRIDFS_CHUNK_SIZE = 255 * 1024
#: seconds a heartbeat may wait for a busy server before pymongo gives it up (see Store.connect)
HEARTBEAT_TIMEOUT = 600.0
ORIGINALS_ORDER = [("uploadDate", ASCENDING), ("_id", ASCENDING)]
#: the ``counters`` entry saying the tallies have been counted from the studies once
TALLIES_BUILT = "tallies"

#: what identifies a standard-name mapping (service.audits): one standard name per raw name
STANDARD_NAME_KEY = ("modality", "field", "raw")

#: (collection, keys, options) created at start; list filters read these
INDEXES: tuple[tuple[str, list[tuple[str, int]], dict[str, Any]], ...] = (
    ("studies", [("study_instance_uid", ASCENDING)], {"unique": True}),
    ("studies", [("modalities", ASCENDING), ("study_date_time", DESCENDING)], {}),
    ("studies", [("equipment.station_name", ASCENDING), ("study_date_time", DESCENDING)], {}),
    ("studies", [("ct.events.acquisition_protocol", ASCENDING)], {}),
    ("studies", [("projection.events.acquisition_protocol", ASCENDING)], {}),
    ("studies", [("reports.sop_instance_uid", ASCENDING)], {}),
    # the newest-first list reads date windows (service.reading.listing)
    ("studies", [("study_date_time", DESCENDING)], {}),
    ("tallies", [("modality", ASCENDING), ("station_name", ASCENDING)], {"unique": True}),
    ("studies", [("accession_number", ASCENDING)], {}),  # patient sizes from the RIS
    ("event_log", [("seq", ASCENDING)], {"unique": True}),
    (f"{ORIGINALS_BUCKET}.files", ORIGINALS_ORDER, {}),
    # the GridFS spec's own indexes, made here because keep_original writes the bucket itself
    (f"{ORIGINALS_BUCKET}.files", [("filename", ASCENDING), ("uploadDate", ASCENDING)], {}),
    (f"{ORIGINALS_BUCKET}.chunks", [("files_id", ASCENDING), ("n", ASCENDING)], {"unique": True}),
    ("standard_names", [("modality", ASCENDING), ("field", ASCENDING), ("raw", ASCENDING)], {"unique": True}),
    ("reference_levels", [("name", ASCENDING), ("quantity", ASCENDING)], {"unique": True}),
)


def _raise_unless_duplicates(error: BulkWriteError) -> None:
    """Raise ``error`` again unless every write it reports failed on a unique index only."""
    if any(write["code"] != DUPLICATE_KEY for write in error.details["writeErrors"]):
        raise error


def utcnow() -> datetime:
    """Return the current UTC time as BSON stores it (naive, millisecond precision)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _guarded(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a lost connection into :class:`DatabaseUnavailable`."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ConnectionFailure as e:
            raise DatabaseUnavailable(f"The database cannot be reached: {e}") from e

    return wrapper


def ping_uri(uri: str, timeout: float) -> bool:
    """Tell whether a MongoDB-protocol server at ``uri`` answers ``ping`` within ``timeout`` seconds."""
    ms = max(int(timeout * 1000), 1)
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        uri, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def event_entry(
    type: str,
    *,
    via: str,
    client: str,
    message: str,
    name: str | None = None,
    study_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    sha256: str | None = None,
    outcome: str | None = None,
    code: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return an event-log entry (DESIGN.md, "Collections") without the ``seq`` and ``at`` that appending adds.

    ``details`` holds type-specific facts.
    """
    entry: dict[str, Any] = {
        "type": type,
        "via": via,
        "client": client,
        "name": name,
        "study_instance_uid": study_instance_uid,
        "sop_instance_uid": sop_instance_uid,
        "sha256": sha256,
        "outcome": outcome,
        "code": code,
        "message": message,
    }
    if details is not None:
        entry["details"] = details
    return entry


@dataclass(frozen=True)
class Original:
    """One kept object as received (pixel data removed from images)."""

    sha256: str
    name: str
    via: str
    client: str
    received_at: datetime
    data: bytes


class Store:
    """Studies, event log and originals in one MongoDB database."""

    def __init__(self, client: pymongo.MongoClient[dict[str, Any]], db_name: str) -> None:
        self.client = client
        self.db: Database[dict[str, Any]] = client[db_name]
        self._originals = gridfs.GridFSBucket(self.db, bucket_name=ORIGINALS_BUCKET)
        # Keeps this process's event-log inserts in seq order (see append_events).
        self._event_lock = threading.Lock()
        #: the last event-log seq this process wrote or read; None: read it
        self._known_seq: int | None = None
        #: studies this process wrote lately: save_fragment reads these before writing
        self._recent_studies = Recent(RECENT_STUDIES)

    @classmethod
    def connect(cls, uri: str, db_name: str, *, timeout: float = 5.0) -> Store:
        """Open a client on ``uri`` (connections are made lazily) and bind database ``db_name``.

        ``timeout`` bounds the wait for a server (then 503). The connect timeout,
        which pymongo also applies to its heartbeats, is at least
        :data:`HEARTBEAT_TIMEOUT`: SecantusDB answers no heartbeat while it
        gathers a large result (about 30 s for a 100,000-study export), and a
        missed heartbeat makes pymongo cancel the operations in flight.
        """
        ms = int(timeout * 1000)
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            uri,
            serverSelectionTimeoutMS=ms,
            connectTimeoutMS=max(ms, int(HEARTBEAT_TIMEOUT * 1000)),
            appname="doseledger",
        )
        return cls(client, db_name)

    def close(self) -> None:
        """Close the client and its connection pool."""
        self.client.close()

    @_guarded
    def ping(self) -> None:
        """Check that the database answers; raise :class:`DatabaseUnavailable` if not."""
        self.db.command("ping")

    @_guarded
    def ensure_indexes(self) -> None:
        """Create the indexes of :data:`INDEXES` (idempotent) and count the tallies once."""
        for collection, keys, options in INDEXES:
            self.db[collection].create_index(keys, **options)
        if self.db.counters.find_one({"_id": TALLIES_BUILT}) is None:
            self.rebuild_tallies()

    # -- studies ---------------------------------------------------------------

    @_guarded
    def save_fragment(self, fragment: dict[str, Any], *, now: datetime, reprocess: bool = False) -> MergeResult:
        """Merge ``fragment`` into its study document and write it, retrying on concurrent writes.

        Read the current document, merge, validate, then insert (a concurrent
        insert of the same study raises DuplicateKeyError on the unique index)
        or replace only if ``revision`` is still the one read. Either race means
        another writer got there first: read again and redo the merge.

        A study this process has not written lately is most likely new (one CT
        report per study), so its first attempt inserts without reading; the
        unique index tells when the study exists after all, and the usual cycle
        follows. Measured on SecantusDB, a read that finds nothing costs the
        server 0.4-0.65 ms and a refused insert 0.75-1.0 ms, so inserting blind
        into every study would cost more than it saves once a study has a
        second object (4 mammography images, Siemens Multi-1..3).
        """
        uid = fragment["study_instance_uid"]
        read = reprocess or uid in self._recent_studies
        for attempt in range(MAX_SAVE_ATTEMPTS):
            existing = self.db.studies.find_one({"study_instance_uid": uid}) if read else None
            result = merge(existing, fragment, now=now, reprocess=reprocess)
            if result.outcome == "duplicate":
                self._recent_studies.add(uid)
                return result
            document = {key: value for key, value in result.document.items() if key != "_id"}
            validate_study(document)
            if self._write(existing, document):
                self._recent_studies.add(uid)
                return result
            if read:  # a lost race, not a blind insert into an existing study: let the winner finish
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
            read = True
        raise DatabaseUnavailable(
            f"Study {uid} changed {MAX_SAVE_ATTEMPTS} times while this report was merged; send it again."
        )

    def _write(self, existing: dict[str, Any] | None, document: dict[str, Any]) -> bool:
        """Insert or conditionally replace; return False when another writer won the race."""
        if existing is None:
            try:
                self.db.studies.insert_one(document)
            except DuplicateKeyError:
                return False
        else:
            current = {"_id": existing["_id"], "revision": existing.get("revision")}
            if self.db.studies.replace_one(current, document).matched_count != 1:
                return False
        for key, change, when in tally_changes(existing, document):
            self._add_to_tally(key, change, when)
        return True

    @_guarded
    def get_study(self, study_instance_uid: str) -> dict[str, Any]:
        """Return the study document without ``_id``; raise :class:`NotFound` if there is none."""
        document = self.db.studies.find_one({"study_instance_uid": study_instance_uid}, {"_id": 0})
        if document is None:
            raise NotFound(f"There is no study with Study Instance UID {study_instance_uid}.")
        return document

    @_guarded
    def count_studies(self) -> int:
        """Return the approximate number of studies (cheap on large collections)."""
        return self.db.studies.estimated_document_count()

    @_guarded
    def most_events(self, filter: dict[str, Any], events: str) -> int:
        """Return the largest number of events in one matching study (``events``: ``ct.events``...)."""
        size = {"$size": {"$ifNull": [f"${events}", []]}}
        pipeline = [{"$match": filter}, {"$group": {"_id": None, "most": {"$max": size}}}]
        found = list(self.db.studies.aggregate(pipeline))
        return int(found[0]["most"]) if found else 0

    def iter_studies(
        self, filter: dict[str, Any], *, sort: list[tuple[str, int]], fields: dict[str, int], batch_size: int = 200
    ) -> Iterator[dict[str, Any]]:
        """Yield the matching studies in ``sort`` order with ``fields`` only, fetched ``batch_size`` at a time."""
        try:
            with self.db.studies.find(filter, fields, sort=sort, batch_size=batch_size) as cursor:
                yield from cursor
        except ConnectionFailure as e:
            raise DatabaseUnavailable(f"The database cannot be reached: {e}") from e

    # -- the study list and its tallies (service.reading.listing, service.storage.tallies) -------------

    @_guarded
    def find_studies(
        self,
        filter: dict[str, Any],
        *,
        sort: list[tuple[str, int]],
        limit: int,
        skip: int = 0,
        fields: tuple[str, ...] = (),
    ) -> list[dict[str, Any]]:
        """Return the studies matching ``filter`` in ``sort`` order, with only ``fields`` when given."""
        projection = {"_id": 0, **dict.fromkeys(fields, 1)}
        cursor = self.db.studies.find(filter, projection, skip=skip, limit=limit)
        return list(cursor.sort(sort) if sort else cursor)

    @_guarded
    def count_studies_matching(self, filter: dict[str, Any], *, limit: int) -> int:
        """Count the studies matching ``filter``, stopping at ``limit``."""
        return self.db.studies.count_documents(filter, limit=limit) if limit > 0 else 0

    @_guarded
    def tallies(self) -> list[dict[str, Any]]:
        """Return the tallies: ``{modality, station_name, count, latest}`` per list modality and station."""
        return list(self.db.tallies.find({"count": {"$gt": 0}}, {"_id": 0}))

    def _add_to_tally(self, key: Key, change: int, when: datetime | None) -> None:
        """Add ``change`` to a tally and raise its latest date-time to ``when``."""
        update: dict[str, Any] = {"$inc": {"count": change}}
        if when is not None:
            update["$max"] = {"latest": when}
        for _ in range(2):  # two first upserts of one tally can race; the loser updates
            with contextlib.suppress(DuplicateKeyError):
                self.db.tallies.update_one({"modality": key[0], "station_name": key[1]}, update, upsert=True)
                return

    @_guarded
    def rebuild_tallies(self) -> None:
        """Count the tallies again from the studies (first start on an existing database, or repair)."""
        fields = {"_id": 0, "modalities": 1, "equipment.station_name": 1, "study_date_time": 1}
        counted = tally_documents(self.db.studies.find({}, fields))
        self.db.tallies.delete_many({})
        for (modality, station), (count, latest) in counted.items():
            tally = {"modality": modality, "station_name": station, "count": count, "latest": latest}
            self.db.tallies.insert_one(tally)
        self.db.counters.update_one({"_id": TALLIES_BUILT}, {"$set": {"at": utcnow()}}, upsert=True)

    @_guarded
    def insert_studies(self, documents: list[dict[str, Any]]) -> None:
        """Insert complete, new study documents in bulk (benchmarks, restores), validated, tallies kept."""
        for document in documents:
            validate_study(document)
        self.db.studies.insert_many(documents, ordered=True)
        for key, (count, latest) in tally_documents(documents).items():
            self._add_to_tally(key, count, latest)

    @_guarded
    def patients_of(self, field: str, value: str) -> list[dict[str, Any]]:
        """Return the Study Instance UID and ``patient`` block of every study whose ``field`` is ``value``."""
        projection = {"_id": 0, "study_instance_uid": 1, "patient": 1}
        return list(self.db.studies.find({field: value}, projection).sort("study_instance_uid", ASCENDING))

    @_guarded
    def set_patient_fields(
        self, study_instance_uid: str, changes: dict[str, Any], *, expected: dict[str, Any], now: datetime
    ) -> bool:
        """Set ``patient`` fields of a study if they still hold ``expected``; tell whether it was updated."""
        query = {"study_instance_uid": study_instance_uid, **{f"patient.{k}": v for k, v in expected.items()}}
        update = {
            "$set": {**{f"patient.{k}": v for k, v in changes.items()}, "updated_at": now},
            "$inc": {"revision": 1},
        }
        return self.db.studies.update_one(query, update).matched_count == 1

    # -- audits (service.audits) ---------------------------------------------------

    @_guarded
    def aggregate(self, stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run an aggregation pipeline over ``studies`` and return its documents."""
        return list(self.db.studies.aggregate(stages))

    @_guarded
    def standard_names(self, modality: str | None = None) -> list[dict[str, Any]]:
        """Return the standard-name mappings (of one modality), sorted."""
        query = {} if modality is None else {"modality": modality}
        return list(self.db.standard_names.find(query, {"_id": 0}).sort([(k, ASCENDING) for k in STANDARD_NAME_KEY]))

    @_guarded
    def set_standard_name(self, mapping: dict[str, str]) -> None:
        """Map one raw name to a standard name, replacing an earlier mapping of it."""
        key = {name: mapping[name] for name in STANDARD_NAME_KEY}
        self.db.standard_names.replace_one(key, {**key, "standard": mapping["standard"]}, upsert=True)

    @_guarded
    def delete_standard_name(self, mapping: dict[str, str]) -> bool:
        """Delete the mapping of one raw name; tell whether there was one."""
        key = {name: mapping[name] for name in STANDARD_NAME_KEY}
        return self.db.standard_names.delete_one(key).deleted_count == 1

    @_guarded
    def reference_levels(self) -> list[dict[str, Any]]:
        """Return the diagnostic reference levels, sorted by quantity and name."""
        return list(self.db.reference_levels.find({}, {"_id": 0}).sort([("quantity", ASCENDING), ("name", ASCENDING)]))

    @_guarded
    def replace_reference_levels(self, levels: list[dict[str, Any]]) -> None:
        """Replace the whole DRL table with ``levels``."""
        self.db.reference_levels.delete_many({})
        if levels:
            self.db.reference_levels.insert_many([dict(level) for level in levels])

    # -- event log ---------------------------------------------------------------

    @_guarded
    def append_event(self, type: str, **fields: Any) -> int:
        """Append one entry (``fields`` as :func:`event_entry` takes them) and return its ``seq``."""
        return self.append_events([event_entry(type, **fields)])[0]

    @_guarded
    def append_events(self, entries: list[dict[str, Any]]) -> list[int]:
        """Append entries made by :func:`event_entry`, in order; return their ``seq``s.

        One round trip: an ordered insert numbered after the last entry this
        process knows of. Where another process took those numbers meanwhile,
        the unique index on ``seq`` refuses them, and what is left is numbered
        again after the last entry in the database (so the entries of one call
        are consecutive unless another process appends at the same moment). An
        entry is thus inserted only once the one before it exists: a follower
        paging with ``after`` never sees a gap that fills later.
        """
        seqs: list[int] = []
        if not entries:
            return seqs
        with self._event_lock:
            for _ in range(_EVENT_LOG_ATTEMPTS):
                first = self._last_seq() + 1
                at = utcnow()
                documents = [{**entry, "at": at, "seq": first + n} for n, entry in enumerate(entries[len(seqs) :])]
                try:
                    self.db.event_log.insert_many(documents, ordered=True)
                    inserted = len(documents)
                except BulkWriteError as e:
                    _raise_unless_duplicates(e)
                    inserted = e.details["nInserted"]
                seqs += [document["seq"] for document in documents[:inserted]]
                self._known_seq = seqs[-1] if inserted == len(documents) else None
                if len(seqs) == len(entries):
                    return seqs
        raise DatabaseUnavailable(
            f"The event log could not be appended to: its numbers were taken {_EVENT_LOG_ATTEMPTS} times running."
        )

    def _last_seq(self) -> int:
        """Return the last event-log ``seq`` this process knows of, reading it after a refused insert."""
        if self._known_seq is None:
            last = self.db.event_log.find_one({}, {"seq": 1}, sort=[("seq", DESCENDING)])
            self._known_seq = int(last["seq"]) if last else 0
        return self._known_seq

    @_guarded
    def events_after(self, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Return up to ``limit`` event-log entries with ``seq > after``, in order."""
        cursor = self.db.event_log.find({"seq": {"$gt": after}}, {"_id": 0}).sort("seq", ASCENDING).limit(limit)
        return list(cursor)

    # -- originals ---------------------------------------------------------------

    @_guarded
    def keep_original(
        self, sha256: str, data: bytes, *, name: str, via: str, client: str, received_at: datetime, size: int
    ) -> bool:
        """Store ``data`` under ``sha256`` in the GridFS bucket unless it is kept; tell whether it was new.

        ``size`` is the length of the bytes received, which differs from
        ``len(data)`` when pixel data was removed before keeping. The chunks go
        first, with no look-up before them: the unique index on (files_id, n)
        tells when the original is there already. The same SHA-256 means the
        same kept bytes, so the same chunks, whoever writes them: a writer that
        meets chunks already there makes sure the file is complete (the rest of
        a concurrent or interrupted write) and says it was not new.
        """
        metadata = {"name": name, "via": via, "client": client, "received_at": received_at, "size": size}
        chunks = [
            {"files_id": sha256, "n": n, "data": data[start : start + GRIDFS_CHUNK_SIZE]}
            for n, start in enumerate(range(0, max(len(data), 1), GRIDFS_CHUNK_SIZE))
        ]
        file = {"_id": sha256, "length": len(data), "chunkSize": GRIDFS_CHUNK_SIZE, "uploadDate": utcnow()}
        file |= {"filename": name, "metadata": metadata}
        try:
            self.db[f"{ORIGINALS_BUCKET}.chunks"].insert_many(chunks)  # ordered: stops at the first one there
        except BulkWriteError as e:
            _raise_unless_duplicates(e)
            new = e.details["nInserted"] > 0  # this writer's first chunk went in: the original is its own
            if new or not self.has_original(sha256):
                self._complete_original(chunks, file)
            return new
        self._insert_original_file(file)
        return True

    def _complete_original(self, chunks: list[dict[str, Any]], file: dict[str, Any]) -> None:
        """Insert the chunks that are missing, then the files entry, if another writer has not."""
        try:
            self.db[f"{ORIGINALS_BUCKET}.chunks"].insert_many(chunks, ordered=False)
        except BulkWriteError as e:
            _raise_unless_duplicates(e)
        self._insert_original_file(file)

    def _insert_original_file(self, file: dict[str, Any]) -> None:
        """Insert the files entry last, as the GridFS spec orders it: a file is never seen half written."""
        with contextlib.suppress(DuplicateKeyError):  # a concurrent writer of the same bytes finished first
            self.db[f"{ORIGINALS_BUCKET}.files"].insert_one(file)

    @_guarded
    def has_original(self, sha256: str) -> bool:
        """Tell whether an original with this SHA-256 is kept."""
        return self.db[f"{ORIGINALS_BUCKET}.files"].find_one({"_id": sha256}, {"_id": 1}) is not None

    @_guarded
    def read_original(self, sha256: str) -> bytes:
        """Return the kept bytes of ``sha256``; raise :class:`NotFound` if none are kept."""
        try:
            return self._originals.open_download_stream(sha256).read()
        except gridfs.errors.NoFile:
            raise NotFound(f"No original with SHA-256 {sha256} is kept.") from None

    def _original(self, sha256: str) -> Original:
        """Read one kept original with its metadata."""
        grid_out = self._originals.open_download_stream(sha256)
        metadata = grid_out.metadata or {}
        return Original(
            sha256=sha256,
            name=metadata.get("name", grid_out.filename or ""),
            via=metadata.get("via", ""),
            client=metadata.get("client", ""),
            received_at=metadata.get("received_at", grid_out.upload_date),
            data=grid_out.read(),
        )

    @_guarded
    def count_originals(self) -> int:
        """Return the number of kept originals."""
        return self.db[f"{ORIGINALS_BUCKET}.files"].count_documents({})

    def iter_originals(self, batch: int = 200) -> Iterator[Original]:
        """Yield every kept original, oldest first.

        Pages by (uploadDate, _id) instead of holding one cursor open, so a long
        reprocess never outlives a server-side cursor timeout.
        """
        files = self.db[f"{ORIGINALS_BUCKET}.files"]
        after: dict[str, Any] = {}
        try:
            while True:
                page = list(files.find(after, {"uploadDate": 1}).sort(ORIGINALS_ORDER).limit(batch))
                for entry in page:
                    yield self._original(entry["_id"])
                if len(page) < batch:
                    return
                last = page[-1]
                after = {
                    "$or": [
                        {"uploadDate": {"$gt": last["uploadDate"]}},
                        {"uploadDate": last["uploadDate"], "_id": {"$gt": last["_id"]}},
                    ]
                }
        except ConnectionFailure as e:
            raise DatabaseUnavailable(f"The database cannot be reached: {e}") from e
