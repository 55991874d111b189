"""Studies: one document per Study Instance UID, written with optimistic concurrency on ``revision``.

The protocol (:meth:`StudyStore.save_study`): read the current document, fold
the new object into it, then insert (a concurrent insert of the same study is
refused by the unique index) or replace only if ``revision`` is still the one
read. Either race means another writer got there first: read again and fold
again. So concurrent imports of parts of one study never lose an event nor
create a second document. What folding means (merging a report into a study)
is the caller's: :func:`service.ingest.document.save_fragment`.
"""

from __future__ import annotations

import contextlib
import random
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.errors import DuplicateKeyError

from schemas.study import validate_study
from service.errors import DatabaseUnavailable, NotFound
from service.storage.connection import Index, deadline, guarded, translated
from service.storage.recent import Recent
from service.storage.tallies import TallyStore, tally_changes

#: the comment of the read-fold-write cycle's commands (service.storage.sharding: they fix the shard key)
SAVE = "studies.save"
#: attempts of the read-fold-write cycle before giving up on a hot study
MAX_SAVE_ATTEMPTS = 64
#: how many Study Instance UIDs a store remembers having written (a hint, see save_study)
RECENT_STUDIES = 10_000
#: documents per reply of a slice's find (a slice is meant to be read in one round trip)
SLICE_BATCH = 10_000
#: studies whose last written document a store keeps, to merge the next object into without reading it all
WRITTEN_STUDIES = 8

#: list filters read these
INDEXES: tuple[Index, ...] = (
    ("studies", [("study_instance_uid", ASCENDING)], {"unique": True}),
    ("studies", [("modalities", ASCENDING), ("study_date_time", DESCENDING)], {}),
    ("studies", [("equipment.station_name", ASCENDING), ("study_date_time", DESCENDING)], {}),
    ("studies", [("ct.events.acquisition_protocol", ASCENDING)], {}),
    ("studies", [("projection.events.acquisition_protocol", ASCENDING)], {}),
    ("studies", [("reports.sop_instance_uid", ASCENDING)], {}),
    ("studies", [("patient.key", ASCENDING), ("study_date_time", DESCENDING)], {}),  # one patient's studies (pid)
    # the newest-first list reads date windows (service.reading.listing)
    ("studies", [("study_date_time", DESCENDING)], {}),
    ("studies", [("accession_number", ASCENDING)], {}),  # patient sizes from the RIS
)


class Folded(Protocol):
    """What folding an object into a study gives: the new document, and created, merged or duplicate."""

    @property
    def document(self) -> dict[str, Any]:
        """The study document to write (validated)."""

    @property
    def outcome(self) -> str:
        """``created``, ``merged`` or ``duplicate`` (nothing to write)."""


class StudyStore(TallyStore):
    """The ``studies`` collection of a :class:`service.storage.Store`; every write moves the tallies."""

    long_operations: Callable[[], contextlib.AbstractContextManager[None]]
    note_writes: Callable[[list[dict[str, Any]]], None]  # the journal's (service.storage.journal)
    known_seq: Callable[[], int]  # the event log's

    def __init__(self) -> None:
        #: studies this process wrote lately: save_study reads these before writing
        self._recent_studies = Recent(RECENT_STUDIES)
        #: the last documents this process wrote, by Study Instance UID (see _stored); never changed once kept
        self._written: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._written_lock = threading.Lock()

    @guarded
    def save_study(
        self,
        uid: str,
        fold: Callable[[dict[str, Any] | None], Folded],
        *,
        read_first: bool = False,
        journal: Callable[[Folded], list[dict[str, Any]]] | None = None,
    ) -> Folded:
        """Fold an object into study ``uid`` with ``fold(existing)`` and write it, retrying on concurrent writes.

        With ``journal`` (the notes of a fold's objects, as
        :mod:`service.storage.journal` keeps them), each write is noted in the
        journal first, with the tallies it moves, so that an interrupted one can
        be finished.

        A study this process has not written lately is most likely new (one CT
        report per study), so its first attempt inserts without reading (unless
        ``read_first``); the unique index tells when the study exists after
        all, and the usual cycle follows. Measured on SecantusDB, a read that
        finds nothing costs the server 0.4-0.65 ms and a refused insert
        0.75-1.0 ms, so inserting blind into every study would cost more than it
        saves once a study has a second object (4 mammography images, Siemens
        Multi-1..3).
        """
        read = read_first or uid in self._recent_studies
        for attempt in range(MAX_SAVE_ATTEMPTS):
            existing = self._stored(uid) if read else None
            result = fold(existing)
            if result.outcome == "duplicate" or self._write(existing, result, journal):
                self._recent_studies.add(uid)
                return result
            if read:  # a lost race, not a blind insert into an existing study: let the winner finish
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
            read = True
        raise DatabaseUnavailable(
            f"Study {uid} changed {MAX_SAVE_ATTEMPTS} times while this report was merged; send it again."
        )

    def _write(
        self,
        existing: dict[str, Any] | None,
        result: Folded,
        journal: Callable[[Folded], list[dict[str, Any]]] | None,
    ) -> bool:
        """Note the write, then insert or conditionally replace; return False when another writer won the race.

        A replace, not an update of what changed: SecantusDB rewrites the whole
        document either way, and its updates cost more (measured on a study of
        900 events: a replace 23 ms, ``$push`` of one event 83 ms, ``$set`` by
        its index 90 ms, ``$set`` of one summary field 18 ms).
        """
        document = {key: value for key, value in result.document.items() if key != "_id"}
        if journal is not None:
            keys = [list(key) for key in sorted({key for key, _, _ in tally_changes(existing, document)}, key=str)]
            self.note_writes([{**note, "tallies": keys, "seq": self.known_seq()} for note in journal(result)])
        if existing is None:
            try:
                self.db.studies.insert_one(document, comment=SAVE)  # gives the document its _id
            except DuplicateKeyError:
                return False
        else:
            # the shard key first: on a sharded cluster the replace goes to the study's shard only
            uid = document["study_instance_uid"]
            current = {"study_instance_uid": uid, "_id": existing["_id"], "revision": existing.get("revision")}
            if self.db.studies.replace_one(current, document, comment=SAVE).matched_count != 1:
                return False
            document["_id"] = existing["_id"]
        self._remember(document)
        self.move_tallies(existing, document)
        return True

    def _stored(self, uid: str) -> dict[str, Any] | None:
        """Return study ``uid`` as stored: the document this process last wrote when it still is, else read it.

        Whether it still is costs a read of its ``_id`` and ``revision`` only, not of
        a study of 900 events (another process's write changes the revision).
        """
        with self._written_lock:
            kept = self._written.get(uid)
        if kept is not None:
            stamp = self.db.studies.find_one({"study_instance_uid": uid}, {"_id": 1, "revision": 1}, comment=SAVE)
            if stamp is not None and (stamp["_id"], stamp.get("revision")) == (kept["_id"], kept.get("revision")):
                return kept
        return self.db.studies.find_one({"study_instance_uid": uid}, comment=SAVE)

    def _remember(self, document: dict[str, Any]) -> None:
        """Keep the document just written (as stored, ``_id`` included) for the next object of its study."""
        with self._written_lock:
            self._written[document["study_instance_uid"]] = document
            self._written.move_to_end(document["study_instance_uid"])
            while len(self._written) > WRITTEN_STUDIES:
                self._written.popitem(last=False)

    @guarded
    def report_stored(self, study_instance_uid: str, sop_instance_uid: str, sha256: str) -> bool:
        """Tell whether study ``study_instance_uid`` holds the report of this SOP Instance UID and SHA-256."""
        fields = {"reports.sop_instance_uid": 1, "reports.sha256": 1}
        found = self.db.studies.find_one({"study_instance_uid": study_instance_uid}, fields) or {}
        return any(
            (r.get("sop_instance_uid"), r.get("sha256")) == (sop_instance_uid, sha256) for r in found.get("reports", [])
        )

    @guarded
    def get_study(self, study_instance_uid: str) -> dict[str, Any]:
        """Return the study document without ``_id``; raise :class:`NotFound` if there is none."""
        document = self.db.studies.find_one(
            {"study_instance_uid": study_instance_uid}, {"_id": 0}, comment="studies.get"
        )
        if document is None:
            raise NotFound(f"There is no study with Study Instance UID {study_instance_uid}.")
        return document

    @guarded
    def delete_study(self, study_instance_uid: str) -> dict[str, Any] | None:
        """Delete a study document and take it out of the tallies; return what was deleted (None: no such study)."""
        document = self.db.studies.find_one_and_delete(
            {"study_instance_uid": study_instance_uid}, {"_id": 0}, comment="studies.delete"
        )
        if document is not None:
            self.remove_from_tallies(document)
        return document

    @guarded
    def studies_before(self, cutoff: datetime, limit: int) -> list[str]:
        """Return up to ``limit`` Study Instance UIDs of studies before ``cutoff`` (see :func:`_before`)."""
        fields = {"_id": 0, "study_instance_uid": 1}
        found = self.db.studies.find(_before(cutoff), fields, limit=limit, comment="studies.retention")
        return [document["study_instance_uid"] for document in found]

    @guarded
    def count_studies_before(self, cutoff: datetime) -> int:
        """Count the studies before ``cutoff`` (see :func:`_before`)."""
        return self.db.studies.count_documents(_before(cutoff), comment="studies.retention")

    @guarded
    def count_studies(self) -> int:
        """Return the approximate number of studies (cheap on large collections)."""
        return self.db.studies.estimated_document_count(comment="studies.estimate")

    @guarded
    def study_keys(
        self,
        window: dict[str, Any],
        conditions: list[dict[str, Any]],
        fields: Mapping[str, Any],
        *,
        seconds: float | None,
    ) -> list[dict[str, Any]]:
        """Return ``_id`` and ``fields`` (expressions too) of the studies in a date ``window`` meeting ``conditions``.

        One slice of a long read (service.reading.slices), within ``seconds``
        (None: the long deadline; past them, :class:`DatabaseTimeout`). An
        aggregation whose first stage is the window alone: SecantusDB serves a
        filter from an index only when no ``$or``, ``$and`` or ``$expr`` sits
        beside it (measured: a 3-day window of 3,500 studies 5 ms alone, 500 ms
        with any of them), so each condition is a stage after it.
        """
        stages = [{"$match": window}, *({"$match": c} for c in conditions if c), {"$project": {**fields, "_id": 1}}]
        with deadline(seconds) if seconds is not None else self.long_operations():
            return list(self.db.studies.aggregate(stages, batchSize=SLICE_BATCH, comment="studies.keys"))

    @guarded
    def studies_by_id(self, ids: list[Any], fields: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Return the studies with these ``_id``s, with ``fields`` (a projection), in the order of ``ids``."""
        with self.long_operations():
            cursor = self.db.studies.find({"_id": {"$in": ids}}, {**fields, "_id": 1}, comment="studies.by-id")
            found = {doc["_id"]: doc for doc in cursor}
        keep_id = fields.get("_id", 1) != 0
        return [found[i] if keep_id else _without_id(found[i]) for i in ids if i in found]

    def iter_studies(
        self, filter: dict[str, Any], *, sort: list[tuple[str, int]], fields: dict[str, int], batch_size: int = 200
    ) -> Iterator[dict[str, Any]]:
        """Yield the matching studies in ``sort`` order with ``fields`` only, fetched ``batch_size`` at a time.

        One cursor over the whole selection (audits and exports read in slices instead,
        :mod:`service.reading.slices`): its first batch gets the long deadline, since
        SecantusDB gathers the whole result before it, and every later one the short one.
        """
        with (
            translated(),
            self.db.studies.find(filter, fields, sort=sort, batch_size=batch_size, comment="studies.scan") as cursor,
        ):
            with self.long_operations():
                first = next(cursor, None)
            if first is not None:
                yield first
                yield from cursor

    @guarded
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
        cursor = self.db.studies.find(filter, projection, skip=skip, limit=limit, comment="studies.list")
        return list(cursor.sort(sort) if sort else cursor)

    @guarded
    def count_studies_matching(self, filter: dict[str, Any], *, limit: int) -> int:
        """Count the studies matching ``filter``, stopping at ``limit``."""
        return self.db.studies.count_documents(filter, limit=limit, comment="studies.count") if limit > 0 else 0

    @guarded
    def insert_studies(self, documents: list[dict[str, Any]]) -> None:
        """Insert complete, new study documents in bulk (benchmarks, restores), validated, tallies kept."""
        for document in documents:
            validate_study(document)
        self.db.studies.insert_many(documents, ordered=True, comment="studies.insert-many")
        self.add_to_tallies(documents)

    @guarded
    def studies_under(self, uid_root: str) -> list[dict[str, Any]]:
        """Return the studies whose Study Instance UID is under ``uid_root``: what a removal needs of them."""
        query = {"study_instance_uid": {"$regex": f"^{re.escape(uid_root)}\\."}}
        fields = ("study_instance_uid", "modalities", "equipment.station_name", "study_date_time", "patient", "reports")
        return list(self.db.studies.find(query, dict.fromkeys(fields, 1), comment="studies.by-uid-root"))

    @guarded
    def patients_of(self, field: str, value: str) -> list[dict[str, Any]]:
        """Return the Study Instance UID and ``patient`` block of every study whose ``field`` is ``value``."""
        projection = {"_id": 0, "study_instance_uid": 1, "patient": 1}
        cursor = self.db.studies.find({field: value}, projection, comment="studies.by-field")
        return list(cursor.sort("study_instance_uid", ASCENDING))

    @guarded
    def patients_of_many(self, field: str, values: list[str]) -> list[dict[str, Any]]:
        """Return UID, ``field``, ``patient`` and ``revision`` of every study whose ``field`` is one of ``values``."""
        projection = {"_id": 0, "study_instance_uid": 1, field: 1, "patient": 1, "revision": 1}
        if not values:
            return []
        return list(self.db.studies.find({field: {"$in": values}}, projection, comment="studies.by-field"))

    @guarded
    def set_patients_fields(self, updates: list[tuple[str, dict[str, Any], Any]], *, now: datetime) -> bool:
        """Set ``patient`` fields of many studies in one bulk write, each if its revision is still the one read.

        ``updates``: (Study Instance UID, fields to set, the revision read). Tell whether every one was
        written; when not, which were the caller reads back (a bulk write does not say).
        """
        writes = [
            UpdateOne(
                {"study_instance_uid": uid, "revision": revision},
                {
                    "$set": {**{f"patient.{k}": v for k, v in changes.items()}, "updated_at": now},
                    "$inc": {"revision": 1},
                },
            )
            for uid, changes, revision in updates
        ]
        result = self.db.studies.bulk_write(writes, ordered=False, comment="studies.sizes") if writes else None
        return result is None or result.matched_count == len(writes)

    @guarded
    def set_patient_fields(
        self, study_instance_uid: str, changes: dict[str, Any], *, expected: dict[str, Any], now: datetime
    ) -> bool:
        """Set ``patient`` fields of a study if they still hold ``expected``; tell whether it was updated."""
        query = {"study_instance_uid": study_instance_uid, **{f"patient.{k}": v for k, v in expected.items()}}
        update = {
            "$set": {**{f"patient.{k}": v for k, v in changes.items()}, "updated_at": now},
            "$inc": {"revision": 1},
        }
        return self.db.studies.update_one(query, update, comment="studies.sizes").matched_count == 1

    @guarded
    def studies_off_version(self, version: int, *, newer: bool = False, after: str = "", limit: int = 500) -> list[str]:
        """Return Study Instance UIDs after ``after`` (in order) of documents older (or ``newer``) than ``version``."""
        if newer:
            off: dict[str, Any] = {"schema_version": {"$gt": version}}
        else:
            off = {"$or": [{"schema_version": {"$lt": version}}, {"schema_version": {"$exists": False}}]}
        query = {"study_instance_uid": {"$gt": after}, **off}
        fields = {"_id": 0, "study_instance_uid": 1}
        cursor = self.db.studies.find(query, fields, sort=[("study_instance_uid", 1)], comment="studies.versions")
        return [document["study_instance_uid"] for document in cursor.limit(limit)]

    @guarded
    def aggregate(self, stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run an aggregation pipeline over ``studies`` (service.audits) and return its documents."""
        with self.long_operations():
            return list(self.db.studies.aggregate(stages, comment="studies.audit"))

    @guarded
    def aggregate_documents(
        self, documents: list[dict[str, Any]], stages: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Run pipeline ``stages`` over ``documents`` given here (``$documents``) and return its documents."""
        with self.long_operations():
            return list(self.db.aggregate([{"$documents": documents}, *stages], comment="studies.documents"))


def _without_id(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "_id"}


def _before(cutoff: datetime) -> dict[str, Any]:
    """Select the studies dated before ``cutoff``; a study without a date counts from when it was created here."""
    return {
        "$or": [
            {"study_date_time": {"$lt": cutoff}},
            {"study_date_time": None, "created_at": {"$lt": cutoff}},
        ]
    }
