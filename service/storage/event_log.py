"""The event log: append-only, ``seq`` strictly increasing without gaps, never updated or deleted.

Numbering is the protocol here: an ordered insert numbered after the last entry
this process knows of, refused by the unique index on ``seq`` when another
process took those numbers first (see :meth:`EventLog.append_events`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from service.errors import DatabaseUnavailable
from service.storage.connection import Index, guarded, raise_unless_duplicates, translated, utcnow

#: inserts of one append whose numbers another process took first, before giving up
_EVENT_LOG_ATTEMPTS = 100
#: entries read at once when the whole log is read (service.ingest.check)
SEQ_SLICE = 5000

INDEXES: tuple[Index, ...] = (("event_log", [("seq", ASCENDING)], {"unique": True}),)


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


class EventLog:
    """The ``event_log`` collection of a :class:`service.storage.Store`."""

    db: Database[dict[str, Any]]

    def __init__(self) -> None:
        # Keeps this process's event-log inserts in seq order (see append_events).
        self._event_lock = threading.Lock()
        #: the last event-log seq this process wrote or read; None: read it
        self._known_seq: int | None = None

    @guarded
    def append_event(self, type: str, **fields: Any) -> int:
        """Append one entry (``fields`` as :func:`event_entry` takes them) and return its ``seq``."""
        return self.append_events([event_entry(type, **fields)])[0]

    @guarded
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
                    raise_unless_duplicates(e)
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

    def known_seq(self) -> int:
        """Return the last event-log ``seq`` this process knows of (0 when it has read none yet): a floor."""
        return self._known_seq or 0

    def events_from(self, after: int, *, fields: tuple[str, ...]) -> Iterator[dict[str, Any]]:
        """Yield every entry with ``seq > after`` in order, with ``seq`` and ``fields``, :data:`SEQ_SLICE` at a time.

        Each read is a range of ``seq`` (its index serves it, whatever the
        log's length); the log has no gaps, so a range not full is its end,
        which one look past it confirms.
        """
        projection = {"_id": 0, "seq": 1, **dict.fromkeys(fields, 1)}
        low = after
        while True:
            with translated():
                found = list(self.db.event_log.find({"seq": {"$gt": low, "$lte": low + SEQ_SLICE}}, projection))
                beyond = len(found) < SEQ_SLICE and self.db.event_log.find_one({"seq": {"$gt": low + SEQ_SLICE}})
            yield from sorted(found, key=lambda entry: entry["seq"])
            if len(found) < SEQ_SLICE and not beyond:
                return
            low += SEQ_SLICE

    @guarded
    def events_after(self, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Return up to ``limit`` event-log entries with ``seq > after``, in order."""
        cursor = self.db.event_log.find({"seq": {"$gt": after}}, {"_id": 0}).sort("seq", ASCENDING).limit(limit)
        return list(cursor)
