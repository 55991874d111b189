"""The journal: a note of each study write in progress, so that an interrupted one can be finished.

Taking an object into its study is several writes: the study, then its tallies,
then the object's two event-log entries. A process killed between them (kill -9,
a power cut, the database gone mid-way) leaves a tally short or a stored report
the event log never mentions. So before the study is written, a journal entry
says what is being written (the study, the report's SOP Instance UID and
SHA-256, how and when the object came, the tallies the write moves, the last
event-log ``seq`` known), and it is deleted once the events are written. An
entry still there later is an interrupted write, which
:mod:`service.ingest.recovery` finishes: at the start of the processes that
ingest, and in ``doseledger check``.

An entry is interrupted when its process is gone (same machine, its process id
no longer running) or when it is older than :data:`STALE_AFTER` (a write takes
milliseconds, and the deadlines bound each of its operations to seconds).
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta
from typing import Any

from pymongo import ASCENDING, ReplaceOne
from pymongo.database import Database

from service.storage.connection import Index, guarded, utcnow

#: seconds after which a journal entry is taken as an interrupted write, whoever wrote it
STALE_AFTER = 60.0
#: this process, as its journal entries name it: host, process id, and a token of this run
WRITER = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

INDEXES: tuple[Index, ...] = (("journal", [("at", ASCENDING)], {}),)


def finished(writer: str | None) -> bool:
    """Tell whether the process that wrote a journal entry has ended (known on its own machine only)."""
    host, _, rest = (writer or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return writer != WRITER  # an earlier process that had this process id
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # running, as another user
        return False
    return False


class Journal:
    """The ``journal`` collection of a :class:`service.storage.Store`."""

    db: Database[dict[str, Any]]

    @guarded
    def note_writes(self, entries: list[dict[str, Any]]) -> None:
        """Note the objects of a study write about to happen (again, on a retry: same ``_id``s), in one round trip."""
        at = utcnow()
        notes = [ReplaceOne({"_id": e["_id"]}, {**e, "at": at, "writer": WRITER}, upsert=True) for e in entries]
        if notes:
            self.db.journal.bulk_write(notes, ordered=False)

    @guarded
    def forget_writes(self, journal_ids: list[str]) -> None:
        """Delete the notes of writes whose every part is done."""
        if journal_ids:
            self.db.journal.delete_many({"_id": {"$in": journal_ids}})

    @guarded
    def writes_in_progress(self) -> list[dict[str, Any]]:
        """Return every journal entry: the writes in flight, and interrupted ones (a handful at most)."""
        return list(self.db.journal.find({}).sort("at", ASCENDING))

    def interrupted_writes(self, *, older_than: float = STALE_AFTER) -> list[dict[str, Any]]:
        """Return the entries of writes that will not finish: their process ended, or older than ``older_than`` s."""
        return [entry for entry in self.writes_in_progress() if _interrupted(entry, older_than)]

    def writes_in_flight(self, *, older_than: float = STALE_AFTER) -> list[dict[str, Any]]:
        """Return the entries of writes still going on (not :meth:`interrupted_writes`)."""
        return [entry for entry in self.writes_in_progress() if not _interrupted(entry, older_than)]


def _interrupted(entry: dict[str, Any], older_than: float) -> bool:
    """Tell whether a journal entry is of a write that will not finish."""
    return bool(entry["at"] < utcnow() - timedelta(seconds=older_than) or finished(entry.get("writer")))
