"""Originals: the bytes of every object received, in a GridFS bucket keyed by their SHA-256.

The protocol: chunks first with no look-up, the ``files`` entry last (as the
GridFS spec orders it), so a file is never seen half written and concurrent
writers of the same bytes meet on the unique index (see
:meth:`OriginalStore.keep_original`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import gridfs
from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError

from service.errors import NotFound
from service.storage.connection import Index, guarded, raise_unless_duplicates, unavailable, utcnow

ORIGINALS_BUCKET = "originals"
#: GridFS's default chunk size (255 KiB). keep_original writes the bucket's documents
#: itself: pymongo's uploader looks for an existing file with an unfiltered find_one on
#: every upload, which SecantusDB answers by reading the whole collection (O(n) per upload).
GRIDFS_CHUNK_SIZE = 255 * 1024
ORIGINALS_ORDER = [("uploadDate", ASCENDING), ("_id", ASCENDING)]

INDEXES: tuple[Index, ...] = (
    (f"{ORIGINALS_BUCKET}.files", ORIGINALS_ORDER, {}),
    # the GridFS spec's own indexes, made here because keep_original writes the bucket itself
    (f"{ORIGINALS_BUCKET}.files", [("filename", ASCENDING), ("uploadDate", ASCENDING)], {}),
    (f"{ORIGINALS_BUCKET}.chunks", [("files_id", ASCENDING), ("n", ASCENDING)], {"unique": True}),
)


@dataclass(frozen=True)
class Original:
    """One kept object as received (pixel data removed from images)."""

    sha256: str
    name: str
    via: str
    client: str
    received_at: datetime
    data: bytes


class OriginalStore:
    """The ``originals`` GridFS bucket of a :class:`service.storage.Store`."""

    db: Database[dict[str, Any]]

    def __init__(self) -> None:
        self._originals = gridfs.GridFSBucket(self.db, bucket_name=ORIGINALS_BUCKET)

    @guarded
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
            raise_unless_duplicates(e)
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
            raise_unless_duplicates(e)
        self._insert_original_file(file)

    def _insert_original_file(self, file: dict[str, Any]) -> None:
        """Insert the files entry last, as the GridFS spec orders it: a file is never seen half written."""
        with contextlib.suppress(DuplicateKeyError):  # a concurrent writer of the same bytes finished first
            self.db[f"{ORIGINALS_BUCKET}.files"].insert_one(file)

    @guarded
    def has_original(self, sha256: str) -> bool:
        """Tell whether an original with this SHA-256 is kept."""
        return self.db[f"{ORIGINALS_BUCKET}.files"].find_one({"_id": sha256}, {"_id": 1}) is not None

    @guarded
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

    @guarded
    def delete_originals(self, sha256s: list[str]) -> int:
        """Delete the kept originals of these SHA-256s (the files entry first, then its chunks); return how many.

        Only ``doseledger demo --remove`` deletes originals (those of an imported demonstration
        report); what a modality sent is kept for good.
        """
        deleted = self.db[f"{ORIGINALS_BUCKET}.files"].delete_many({"_id": {"$in": sha256s}}).deleted_count
        self.db[f"{ORIGINALS_BUCKET}.chunks"].delete_many({"files_id": {"$in": sha256s}})
        return deleted

    @guarded
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
            raise unavailable(e) from e
